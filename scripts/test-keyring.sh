#!/usr/bin/env bash
# Runs the secret store's tests against a real Secret Service (SECURITY test 13):
# a private session bus (dbus-run-session) with gnome-keyring started and its login
# collection unlocked with a throwaway password, in a temporary HOME, so the user's
# own keychain is never touched (the tests use their own service name too); then a
# second private session whose keyring is never unlocked, where storing must fail.
#
# Needs the Debian packages dbus, gnome-keyring and libsecret-tools (secret-tool,
# used to check the item from outside PrintScout); scripts/setup.sh installs them.
# Anything after the script name is passed to the test binary.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in dbus-run-session gnome-keyring-daemon; do
  if ! command -v "$tool" >/dev/null; then
    echo "test-keyring: $tool is missing (apt-get install dbus gnome-keyring libsecret-tools)" >&2
    exit 1
  fi
done

# Build outside the private session, so its time is not spent with a keyring running
# (--workspace: the same features as the rest of the suite, so nothing is rebuilt).
cargo test --workspace --test secrets --no-run

# cargo and rustup must still be found once HOME points elsewhere.
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
homes=()
trap 'rm -rf "${homes[@]}"' EXIT

# Runs "$@" in a private session bus with a fresh HOME.
private_session() {
  local home
  home=$(mktemp -d)
  homes+=("$home")
  HOME="$home" XDG_DATA_HOME="$home/.local/share" XDG_RUNTIME_DIR="$home" \
    dbus-run-session -- "$@"
}

echo "== unlocked Secret Service: set, get, delete"
private_session sh -c '
  printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  exec cargo test --workspace --test secrets -- --ignored keyring_ "$@"
' sh "$@"

echo "== locked Secret Service (D-Bus activated, never unlocked): refused, nothing on disk"
private_session cargo test --workspace --test secrets -- \
  --ignored secret_service_locked_ "$@"
