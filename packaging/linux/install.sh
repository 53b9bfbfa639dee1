#!/bin/sh
# Install codatdesk for this user only (no root): run it from the unpacked codatdesk-<version>-linux folder.
#   ./install.sh              installs into ~/.local (programs, menu entry, icon)
#   ./install.sh --uninstall  removes them again (your data folder stays)
# The data folder (~/.local/share/codatdesk) is never touched: an upgrade keeps your expenses and settings.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
data=${XDG_DATA_HOME:-$HOME/.local/share}
app="$prefix/lib/codatdesk"
bin="$prefix/bin"

if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$app"
  rm -f "$bin/codatdesk" "$bin/codatdesk-cli" "$data/applications/codatdesk.desktop" \
        "$data/icons/hicolor/256x256/apps/codatdesk.png"
  echo "codatdesk removed (your data folder is kept)."
  exit 0
fi

[ -x "$here/codatdesk/codatdesk" ] || { echo "install.sh: no codatdesk/codatdesk beside this script; unpack the whole archive first" >&2; exit 1; }
mkdir -p "$prefix/lib" "$bin" "$data/applications" "$data/icons/hicolor/256x256/apps"
# Replace the program folder as a whole, so no file of an older version stays behind.
rm -rf "$app.new"
cp -R "$here/codatdesk" "$app.new"
rm -rf "$app"
mv "$app.new" "$app"
ln -sf "$app/codatdesk" "$bin/codatdesk"
ln -sf "$app/codatdesk-cli" "$bin/codatdesk-cli"
cp "$here/codatdesk.png" "$data/icons/hicolor/256x256/apps/codatdesk.png"
sed "s|@BIN@|$app|" "$here/codatdesk.desktop" > "$data/applications/codatdesk.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$data/applications" 2>/dev/null || true
echo "codatdesk $("$app/codatdesk-cli" --version | cut -d' ' -f2) installed in $app"
case ":$PATH:" in *":$bin:"*) ;; *) echo "Add $bin to your PATH to run codatdesk and codatdesk-cli from a terminal." ;; esac
