#!/bin/sh
# DIST/codatdesk -> DIST/codatdesk-<version>-linux-<arch>.tar.gz with install.sh, the .desktop file and the icon.
#   packaging/linux/make-archive.sh [DIST]     (DIST defaults to dist, where pyinstaller puts the build)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
dist=$(cd "${1:-$root/dist}" && pwd)
version=$("$dist/codatdesk/codatdesk-cli" --version | cut -d' ' -f2)
name="codatdesk-$version-linux-$(uname -m)"
work="$dist/../package"
stage="$work/$name"
rm -rf "$work" && mkdir -p "$stage"
cp -R "$dist/codatdesk" "$stage/codatdesk"
cp "$root/packaging/linux/install.sh" "$root/packaging/linux/codatdesk.desktop" "$root/resources/icons/codatdesk.png" "$stage/"
tar -C "$work" -czf "$dist/$name.tar.gz" "$name"
rm -rf "$work"
echo "$dist/$name.tar.gz"
