#!/usr/bin/env bash
# Regenerate docs/report.png, the README's picture of the visual report: `fix --unsafe-fixes
# --report` on a few committed fixtures (an EXIF-rotated portrait, two people in a clip, a clip with
# a cut), in a scratch folder, photographed by headless Chromium.
# Run by hand after a change to the page (not part of make test); needs a release build and
# chromium (`make setup-test` installs it). BIN overrides the binary, WIDTH/HEIGHT the window.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$(realpath "${BIN:-target/release/kling-preflight}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/assets"
cp fixtures/rejects/videos/two_people.mp4 fixtures/rejects/videos/two_shots.mp4 \
  fixtures/rejects/images/hopper_128_exif6.jpg "$work/assets/"
# fix exits 1 when something cannot be fixed (the warnings here are not fixable): expected.
(cd "$work" && "$bin" fix assets --out-dir fixed --unsafe-fixes --no-cache --isolated -q \
  --report report.html >/dev/null) || true
[ -s "$work/report.html" ] || { echo "no report was written" >&2; exit 1; }
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size="${WIDTH:-1100},${HEIGHT:-1900}" \
  --screenshot="$root/docs/report.png" "file://$work/report.html" 2>/dev/null
ls -l docs/report.png
