#!/bin/sh
# dist/codatdesk.app -> dist/codatdesk-<version>-macos-<arch>.dmg, signed and notarised when the
# environment names how; skipped with a message otherwise (the .dmg then opens only after
# right-click > Open, as for any unsigned app).
#   MACOS_SIGN_IDENTITY   "Developer ID Application: Name (TEAMID)"  (codesign identity in the keychain)
#   APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD   an app-specific password, for xcrun notarytool
set -eu
cd "$(dirname "$0")/../.."
app=dist/codatdesk.app
[ -d "$app" ] || { echo "make-dmg.sh: no $app; run pyinstaller build.spec first" >&2; exit 1; }
version=$(/usr/libexec/PlistBuddy -c "Print :CFBundleShortVersionString" "$app/Contents/Info.plist")
dmg="dist/codatdesk-$version-macos-$(uname -m).dmg"

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  codesign --force --deep --options runtime --timestamp --sign "$MACOS_SIGN_IDENTITY" "$app"
  codesign --verify --strict --verbose=2 "$app"
else
  echo "make-dmg.sh: MACOS_SIGN_IDENTITY is not set: the app is not signed (ad-hoc signature only)."
fi

stage=$(mktemp -d)
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"  # drag the app onto it to install
rm -f "$dmg"
hdiutil create -volname "codatdesk $version" -srcfolder "$stage" -fs HFS+ -format UDZO "$dmg"
rm -rf "$stage"

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$dmg"
fi
if [ -n "${MACOS_SIGN_IDENTITY:-}" ] && [ -n "${APPLE_ID:-}" ] && [ -n "${APPLE_TEAM_ID:-}" ] && [ -n "${APPLE_APP_PASSWORD:-}" ]; then
  xcrun notarytool submit "$dmg" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" --password "$APPLE_APP_PASSWORD" --wait
  xcrun stapler staple "$dmg"
else
  echo "make-dmg.sh: APPLE_ID, APPLE_TEAM_ID or APPLE_APP_PASSWORD (or the identity) missing: not notarised."
fi
echo "$dmg"
