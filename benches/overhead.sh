#!/usr/bin/env bash
# What the optional work costs `check`, as ratios from one run (each pair raced 3 times, alternately,
# minimum wall and CPU; the machine is shared and noisy):
#   1. subject checks on videos (V014–V018, V020: face/pose/blur detectors on ~1 frame/s from the
#      analysis pass) — six 10 s 1080p30 H.264 clips with a moving portrait in them, default vs those rules off;
#   2. subject checks on images (I010–I013, I016: one pixel decode + face/pose/sharpness/exposure) — 40 photos
#      (1080x1920 JPEG), default vs those rules off vs the header path (`--no-analyze`);
#   3. the visual report (`--report`) on the same videos and photos, vs without.
# Run: benches/overhead.sh   (needs a release build and the ffmpeg CLI; BENCH_DIR picks the folder)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
BIN=${BIN:-target/release/kling-preflight}
work=${BENCH_DIR:-bench-out/overhead}
mkdir -p "$work/videos" "$work/images"
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }
face=fixtures/pairs/hopper/character.jpg

for i in 1 2 3 4 5 6; do
  out="$work/videos/clip$i.mp4"
  [ -f "$out" ] && continue
  # A portrait drifting over testsrc2 (hue varies per clip), so the detectors have a face to find.
  ff -f lavfi -i "testsrc2=s=1920x1080:r=30:d=10,hue=h=$((i * 50))" -i "$face" -filter_complex \
    "[1:v]scale=-2:720[p];[0:v][p]overlay=x='200+40*t':y=180" \
    -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p "$out"
done
for i in $(seq 1 40); do
  out="$work/images/photo$i.jpg"
  [ -f "$out" ] && continue
  ff -i "$face" -vf "scale=1080:1920,hue=h=$((i * 9))" -q:v 3 "$out"
done

ratio() { echo "scale=2; $1 / $2" | bc -l; }
report() { # label wallA cpuA wallB cpuB
  printf "  %-44s %6.2f s %6.2f s | %6.2f s %6.2f s | wall %sx  CPU %sx\n" "$1" "$2" "$3" "$4" "$5" \
    "$(ratio "$2" "$4")" "$(ratio "$3" "$5")"
}
C="$BIN check --no-cache --isolated -q"
echo "                                               with: wall    CPU  |  without: wall   CPU"
echo "1. subject checks, 6 × 10 s 1080p videos"
read -r wa ca wb cb < <(race "$C $work/videos" "$C --rule V014=off --rule V015=off --rule V016=off --rule V017=off --rule V018=off --rule V020=off $work/videos")
report "V014–V018, V020 on vs off" "$wa" "$ca" "$wb" "$cb"
echo "2. subject checks, 40 photos 1080x1920"
read -r wa ca wb cb < <(race "$C $work/images" "$C --rule I010=off --rule I011=off --rule I012=off --rule I013=off --rule I016=off $work/images")
report "I010–I013, I016 on vs off" "$wa" "$ca" "$wb" "$cb"
read -r wa ca wb cb < <(race "$C $work/images" "$C --no-analyze $work/images")
report "default vs header path (--no-analyze)" "$wa" "$ca" "$wb" "$cb"
echo "3. visual report, the videos and photos above"
read -r wa ca wb cb < <(race "$C --report $work/r.html $work/videos $work/images" "$C $work/videos $work/images")
report "--report vs none" "$wa" "$ca" "$wb" "$cb"
ls -l "$work/r.html" | awk '{printf "  page: %.2f MB\n", $5 / 1048576}'
