#!/usr/bin/env bash
# Install the Debian packages given as arguments when any is missing; a no-op when all are present.
# Run as root on Debian 12 (CI and fresh machines); elsewhere it says what to install.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
      echo "setup: not root; install these Debian packages: ${missing[*]}" >&2; exit 1; fi
  else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  for d in "$HOME/.cargo/bin" /usr/local/cargo/bin; do
    [ -x "$d/cargo" ] && { echo "setup: cargo is in $d; add it to PATH" >&2; exit 1; }
  done
  echo "setup: no Rust toolchain found (needs Rust >= 1.88, e.g. from rustup)" >&2
  exit 1
fi
