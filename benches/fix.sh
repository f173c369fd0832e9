#!/usr/bin/env bash
# `fix` speed against the tools users would otherwise run, as ratios from one run (best of 3 each;
# the machine is shared and noisy):
#   (ours and the other tool run alternately so both see the same load; wall and CPU time)
#   1. stream-copy trim: a 60 s 1280x720 H.264 clip trimmed to the 29.8 s cap, in × real time
#      (output seconds per wall second, including the check before and the re-check after);
#   2. re-encode: a 10 s 1280x720 MPEG-4 Part 2 AVI → H.264 yuv420p MP4 (libx264 preset medium,
#      CRF 19, threads auto, +faststart) vs the `ffmpeg` CLI with the same encoder settings and filter;
#   3. image: 6000x4000 JPEG → 3850 long edge (Lanczos3) + JPEG q90 vs ImageMagick `convert`.
# Run: benches/fix.sh   (needs a release build, the ffmpeg CLI and ImageMagick)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/kling-preflight}
work=${BENCH_DIR:-bench-out/fix}
mkdir -p "$work"
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }
now() { date +%s.%N; }
# best_of CMD...: the fastest wall time of 3 runs, in seconds.
best_of() {
  local best=""
  for _ in 1 2 3; do
    rm -rf "$work/out" "$work/cli.mp4" "$work/im.jpg"
    local t0 t1; t0=$(now); "$@" >/dev/null 2>&1 || true; t1=$(now)
    local d; d=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$d < $best" | bc -l)" = 1 ]; then best=$d; fi
  done
  echo "$best"
}
. benches/lib.sh
RACE_CLEAN="rm -rf '$work/out' '$work/cli.mp4' '$work/im.jpg'"

[ -f "$work/long.mp4" ] || ff -f lavfi -i "testsrc2=s=1280x720:r=30:d=60" -c:v libx264 -preset veryfast -g 60 -pix_fmt yuv420p "$work/long.mp4"
[ -f "$work/legacy.avi" ] || ff -f lavfi -i "testsrc2=s=1280x720:r=30:d=10" -c:v mpeg4 -q:v 3 "$work/legacy.avi"
[ -f "$work/camera.jpg" ] || cp fixtures/rejects/images/camera_6000x4000.jpg "$work/camera.jpg"

echo "1. stream-copy trim (60 s 720p H.264 → 29.8 s, analysis off)"
t=$(best_of "$BIN" fix "$work/long.mp4" --out-dir "$work/out" --no-analyze)
printf "   kling-preflight fix: %.3f s → %.0f× real time\n" "$t" "$(echo "29.8 / $t" | bc -l)"
t2=$(best_of "$BIN" fix "$work/long.mp4" --out-dir "$work/out")
printf "   with decoded-frame analysis (cuts/motion) before and after: %.3f s → %.0f× real time\n" "$t2" "$(echo "29.8 / $t2" | bc -l)"

echo "2. re-encode (10 s 720p MPEG-4 AVI → H.264 MP4, preset medium, CRF 19, threads auto)"
read -r ow oc cw cc < <(race \
  "$BIN fix $work/legacy.avi --out-dir $work/out --unsafe-fixes --no-analyze" \
  "ffmpeg -hide_banner -loglevel error -nostdin -y -i $work/legacy.avi -vf scale=w=1280:h=720:flags=bicubic,setsar=1,format=yuv420p -c:v libx264 -preset medium -crf 19 -threads 0 -an -movflags +faststart $work/cli.mp4")
printf "   wall: kling-preflight fix %.2f s, ffmpeg CLI %.2f s, ratio %.2f× (bar: ≤ 1.10×)\n" "$ow" "$cw" "$(echo "$ow / $cw" | bc -l)"
printf "   cpu:  kling-preflight fix %.2f s, ffmpeg CLI %.2f s, ratio %.2f×\n" "$oc" "$cc" "$(echo "$oc / $cc" | bc -l)"

echo "3. image (6000x4000 JPEG → 3850x2567 Lanczos3, JPEG q90, metadata stripped)"
read -r ow oc cw cc < <(race \
  "$BIN fix $work/camera.jpg --out-dir $work/out --unsafe-fixes" \
  "convert $work/camera.jpg -filter Lanczos -resize 3850x3850 -quality 90 -strip $work/im.jpg")
printf "   wall: kling-preflight fix %.2f s, ImageMagick convert %.2f s, ratio %.2f×\n" "$ow" "$cw" "$(echo "$ow / $cw" | bc -l)"
printf "   cpu:  kling-preflight fix %.2f s, ImageMagick convert %.2f s, ratio %.2f×\n" "$oc" "$cc" "$(echo "$oc / $cc" | bc -l)"
