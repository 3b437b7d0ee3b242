#!/usr/bin/env bash
# Builds the installable packages of the tray app: a .deb and an .rpm
# (Tauri's bundler), with the web UI embedded and a copy of it served to
# browsers by the loopback API (installed under /usr/lib/PrintScout/ui).
#   scripts/package.sh            release build (what users install; ~10-15 min clean on 2 cores)
#   scripts/package.sh --debug    debug build, reusing target/debug (what the tests install)
# Prints where the packages are and their sizes. `npm run package` runs this. The
# packaged binary has no debug sections (`objcopy --strip-debug`).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
args=()
if [ "${1:-}" = "--debug" ]; then
  profile=debug
  args+=(--debug)
fi
[ -d node_modules ] || npm install --no-save --no-audit --no-fund --loglevel=error
npm run build --silent
log=target/package-$profile.log
run() {
  "$@" >> "$log" 2>&1 || {
    tail -n 40 "$log" >&2
    echo "package.sh: $* failed (full log: $log)" >&2
    exit 1
  }
}
: > "$log"
# Build, then drop the debug sections from the binary that goes into the packages
# (release: 86 MB with line tables -> 23 MB; a source build keeps its line tables),
# then bundle that binary.
run node_modules/.bin/tauri build --config src-tauri/tauri.conf.json --no-bundle "${args[@]}"
run objcopy --strip-debug "target/$profile/printscout-app"
run node_modules/.bin/tauri bundle --config src-tauri/tauri.conf.json --bundles deb,rpm "${args[@]}"
out=target/$profile/bundle
for f in "$out"/deb/*.deb "$out"/rpm/*.rpm; do
  [ -f "$f" ] || continue
  awk -v f="$f" -v s="$(stat -c %s "$f")" 'BEGIN { printf "%-70s %6.2f MiB\n", f, s / 1048576 }'
done
awk -v f="target/$profile/printscout-app (binary)" -v s="$(stat -c %s "target/$profile/printscout-app")" \
  'BEGIN { printf "%-70s %6.2f MiB\n", f, s / 1048576 }'
