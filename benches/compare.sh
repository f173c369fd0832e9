#!/usr/bin/env bash
# Throughput of the header path, compared with the tools users would otherwise script:
#   1,000 generated images (500 JPEG + 500 PNG): `kling-preflight check --no-analyze` vs
#     ImageMagick `identify -ping` (one process) and `identify` per file;
#   200 small videos: `kling-preflight check --no-analyze` (container probes) vs `ffprobe` per file;
#   the whole 1,200-file folder: peak RSS.
# Figures are ratios from one run (the machine is shared and noisy). Run: make bench
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/kling-preflight}
work=${BENCH_DIR:-bench-out}
mkdir -p "$work"
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }

if [ ! -f "$work/.made" ]; then
  rm -rf "$work/images" "$work/videos"
  mkdir -p "$work/images" "$work/videos"
  echo "generating 500 JPEG (1080x1920), 500 PNG (720x1280), 200 videos..." >&2
  ff -f lavfi -i "testsrc2=s=1080x1920:r=25:d=20" -q:v 4 "$work/images/portrait_%04d.jpg"
  ff -f lavfi -i "testsrc2=s=720x1280:r=25:d=20" -compression_level 1 "$work/images/still_%04d.png"
  i=0
  for spec in "540x960:mp4" "720x1280:mov" "1080x1920:mp4" "480x480:mp4"; do
    size=${spec%%:*}; ext=${spec##*:}
    ff -f lavfi -i "testsrc2=s=$size:r=30:d=5" -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$work/seed.$ext"
    for k in $(seq 1 50); do i=$((i+1)); cp "$work/seed.$ext" "$work/videos/clip_$(printf %03d $i).$ext"; done
    rm "$work/seed.$ext"
  done
  touch "$work/.made"
fi
nimg=$(ls "$work/images" | wc -l); nvid=$(ls "$work/videos" | wc -l)

# wall seconds, user+sys seconds, peak RSS KB of a command, from GNU time.
measure() {
  local f; f=$(mktemp)
  /usr/bin/time -o "$f" -f "%e %U %S %M" "$@" >/dev/null 2>&1 || true
  tail -1 "$f"; rm -f "$f"
}
row() { # name files wall user sys rss
  awk -v n="$1" -v f="$2" -v w="$3" -v u="$4" -v s="$5" -v r="$6" -v base="$7" \
    'BEGIN { rate = (w > 0 ? f / w : 0); printf "| %-44s | %6d | %7.2f | %7.2f | %8.0f | %6.1f | %s |\n", n, f, w, u + s, rate, r / 1024, (base > 0 ? sprintf("%.2fx", w / base) : "1.00x") }'
}
cat /dev/null > "$work/results.md"
header='| run | files | wall s | CPU s | files/s | RSS MB | wall vs ours |\n|---|---:|---:|---:|---:|---:|---:|'

# Warm the page cache so every tool reads from memory.
cat "$work"/images/* "$work"/videos/* > /dev/null

echo "## Images ($nimg files)" | tee -a "$work/results.md"
printf "$header\n" | tee -a "$work/results.md"
read -r w u s m < <(measure "$BIN" check --no-cache --isolated --no-analyze --format json -q "$work/images")
ours=$w
row "kling-preflight check --no-analyze" "$nimg" "$w" "$u" "$s" "$m" 0 | tee -a "$work/results.md"
read -r w u s m < <(measure "$BIN" check --no-cache --isolated --no-analyze --format json -q -j 1 "$work/images")
row "kling-preflight check --no-analyze -j 1" "$nimg" "$w" "$u" "$s" "$m" "$ours" | tee -a "$work/results.md"
if command -v identify >/dev/null; then
  read -r w u s m < <(measure bash -c "identify -ping '$work'/images/* ")
  row "identify -ping (one process)" "$nimg" "$w" "$u" "$s" "$m" "$ours" | tee -a "$work/results.md"
  read -r w u s m < <(measure bash -c "for f in '$work'/images/*; do identify -ping \"\$f\"; done")
  row "identify -ping per file" "$nimg" "$w" "$u" "$s" "$m" "$ours" | tee -a "$work/results.md"
fi

echo | tee -a "$work/results.md"
echo "## Videos ($nvid files, 5 s H.264)" | tee -a "$work/results.md"
printf "$header\n" | tee -a "$work/results.md"
read -r w u s m < <(measure "$BIN" check --no-cache --isolated --no-analyze --format json -q "$work/videos")
ours=$w
row "kling-preflight check --no-analyze (probe)" "$nvid" "$w" "$u" "$s" "$m" 0 | tee -a "$work/results.md"
read -r w u s m < <(measure bash -c "for f in '$work'/videos/*; do ffprobe -v error -show_format -show_streams \"\$f\"; done")
row "ffprobe -show_format -show_streams per file" "$nvid" "$w" "$u" "$s" "$m" "$ours" | tee -a "$work/results.md"
read -r w u s m < <(measure "$BIN" check --no-cache --isolated --format json -q "$work/videos")
row "kling-preflight check (probe + full analysis)" "$nvid" "$w" "$u" "$s" "$m" "$ours" | tee -a "$work/results.md"

echo | tee -a "$work/results.md"
echo "## Whole folder ($((nimg + nvid)) files)" | tee -a "$work/results.md"
printf "$header\n" | tee -a "$work/results.md"
read -r w u s m < <(measure "$BIN" check --no-cache --isolated --no-analyze --format json -q "$work")
row "kling-preflight check --no-analyze" "$((nimg + nvid))" "$w" "$u" "$s" "$m" 0 | tee -a "$work/results.md"
echo "(results in $work/results.md)" >&2
