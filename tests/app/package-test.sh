#!/usr/bin/env bash
# Installs the tray app's .deb (built by `scripts/package.sh [--debug]`) on this machine
# with apt, checks what it put where, runs the installed app through tests/app/app-test.sh
# (window, single instance, a notification, the tray menu, Quit), checks that the .rpm
# lists the same files, and removes the package again.
# usage: tests/app/package-test.sh [debug|release]      (default debug; needs root)
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${1:-debug}
deb=$(ls target/"$profile"/bundle/deb/*.deb 2> /dev/null | head -n 1)
rpm=$(ls target/"$profile"/bundle/rpm/*.rpm 2> /dev/null | head -n 1)
[ -n "$deb" ] || { echo "package-test: no .deb in target/$profile/bundle (run scripts/package.sh)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "package-test: installing a package needs root" >&2; exit 1; }
name=$(dpkg-deb -f "$deb" Package)
fail() { echo "package-test: FAILED: $*" >&2; exit 1; }
remove() { DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$name" > /dev/null 2>&1 || true; }
trap remove EXIT

echo "package-test: installing $deb ($name, $(du -h "$deb" | cut -f1))"
cache=$(mktemp -d /tmp/printscout-apt.XXXXXX)
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -o Dir::Cache::Archives="$cache" \
  install -y -qq --no-install-recommends "./$deb" > /dev/null
rm -rf "$cache"
dpkg -s "$name" | grep -q '^Status: install ok installed' || fail "dpkg does not list $name as installed"
for f in /usr/bin/printscout-app /usr/share/applications/PrintScout.desktop \
  /usr/share/icons/hicolor/128x128/apps/printscout-app.png /usr/lib/PrintScout/ui/index.html; do
  [ -e "$f" ] || fail "$f is not installed"
done
grep -q '^Exec=printscout-app' /usr/share/applications/PrintScout.desktop || fail "the desktop entry does not start printscout-app"
echo "package-test: installed files are in place; starting the installed app"
PRINTSCOUT_APP_TEST_EXPECT_UI=1 bash tests/app/app-test.sh /usr/bin/printscout-app

if [ -n "$rpm" ] && command -v rpm > /dev/null; then
  rpm -qlp "$rpm" 2> /dev/null | grep -q '^/usr/bin/printscout-app$' || fail "the .rpm has no /usr/bin/printscout-app"
  echo "package-test: the .rpm lists /usr/bin/printscout-app and $(rpm -qlp "$rpm" 2> /dev/null | wc -l) files"
fi
remove
dpkg -s "$name" > /dev/null 2>&1 && fail "$name is still installed after removal"
echo "package-test: installed, started, quit and removed cleanly"
