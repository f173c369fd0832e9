#!/usr/bin/env bash
# Peak memory of `check` on a large mixed folder (issue 15: memory bounded by the work, not by what a
# header claims). One run per line, peak RSS from GNU time (/usr/bin/time -v):
#   1,000 files: 10 4K H.264 clips (3840x2160, 3 s), 10 100-megapixel images (10000x10000 PNG and
#   JPEG), 10 100 MB Matroska streams without cues (the packet scan reads every packet), and 970
#   small photos and 720p clips — hard links of a few generated files, so the folder costs little
#   disk yet every file is judged (`--no-cache`).
# Runs: default (analysis, one worker per core), `-j 6`, `--no-analyze -j1`.
# Run: benches/memory.sh   (needs a release build, ffmpeg and GNU time; BENCH_DIR picks the folder)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/kling-preflight}
work=${BENCH_DIR:-bench-out/memory}
mkdir -p "$work/src" "$work/folder"
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }
s=$work/src
[ -f $s/4k.mp4 ] || ff -f lavfi -i testsrc2=s=3840x2160:r=30:d=3 -c:v libx264 -preset ultrafast -pix_fmt yuv420p $s/4k.mp4
[ -f $s/100mp.png ] || ff -f lavfi -i "gradients=s=10000x10000:d=1" -frames:v 1 $s/100mp.png
[ -f $s/100mp.jpg ] || ff -i $s/100mp.png -q:v 4 $s/100mp.jpg
[ -f $s/raw.mkv ] || ff -f lavfi -i testsrc2=s=640x360:r=30:d=10 -c:v rawvideo -pix_fmt yuv420p -f matroska pipe:1 > $s/raw.mkv
[ -f $s/720p.mp4 ] || ff -f lavfi -i testsrc2=s=1280x720:r=30:d=4 -c:v libx264 -preset veryfast $s/720p.mp4
[ -f $s/photo.jpg ] || ff -f lavfi -i testsrc2=s=1080x1920 -frames:v 1 -q:v 3 $s/photo.jpg
f=$work/folder
rm -f "$f"/*
for i in $(seq -w 1 10); do
  ln $s/4k.mp4 $f/4k-$i.mp4
  if [ $((10#$i % 2)) = 0 ]; then ln $s/100mp.png $f/big-$i.png; else ln $s/100mp.jpg $f/big-$i.jpg; fi
  ln $s/raw.mkv $f/raw-$i.mkv
done
for i in $(seq -w 1 485); do ln $s/photo.jpg $f/photo-$i.jpg; ln $s/720p.mp4 $f/clip-$i.mp4; done
echo "files: $(ls $f | wc -l)"
run() {
  /usr/bin/time -v "$BIN" check --no-cache --isolated -q "$@" "$f" > /dev/null 2> "$work/time.txt" || true
  printf '%-28s peak %6.0f MB  wall %s\n' "check $*" \
    "$(awk '/Maximum resident/ {print $6 / 1024}' "$work/time.txt")" \
    "$(awk '/Elapsed/ {print $8}' "$work/time.txt")"
}
run
run -j 6
run --no-analyze -j1
