#!/usr/bin/env bash
# What the subject checks (face cascade + person/pose model, sharpness, exposure) cost `check`, on
# real people footage and photos rather than test patterns:
#   1. ten 1080p H.264 clips (5–15 s) made from the corpus's people videos, scaled/cropped to
#      1920x1080 or 1080x1920;
#   2. 100 photos (JPEG, long edge 1080–1920 px) made from the corpus's and people/media's pictures.
# Each folder is checked with the subject checks (the default) and without them (every subject rule
# turned off with --rule, which skips the detectors and, for photos, the pixel decode), alternately,
# RUNS times each (default 3), always with --no-cache. Printed: minimum wall and CPU seconds, the
# largest peak RSS, and the ratios. GNU time measures; hyperfine is not needed.
# Run by hand (not part of make test): benches/subject-cost.sh   (needs a release build, ffmpeg,
# ImageMagick `convert`, ../shared/corpus). BIN, BENCH_DIR, RUNS and JOBS (passed as -j) override.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/kling-preflight}
work=${BENCH_DIR:-target/tmp/subject-cost}
runs=${RUNS:-3}
corpus=${CORPUS:-../shared/corpus}
mkdir -p "$work/clips" "$work/photos"
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }

# --- inputs (made once; delete the folder to remake) -------------------------------------------
# name:source:size:seconds (a shorter source is looped up to the seconds given)
clips="d11:lp_d11_child_face.mp4:1080x1920:9
d19:lp_d19_face_gestures.mp4:1080x1920:8
s13:lp_s13_fullbody_pose.mp4:1080x1920:8
mm0:mimicmotion_raw_0_tiktok_dance.mp4:1080x1920:10
mm2:mimicmotion_raw_2_tiktok_dance.mp4:1920x1080:10
bball:mmaction2_basketball_426x240.mp4:1920x1080:10
pool:mmaction2_pool_cleaning_sar.mp4:1920x1080:10
chaplin:moviepy_chaplin.mp4:1920x1080:9
ubc1:musepose_ubc_91-3003CN5S_960x1254.mp4:1080x1920:11
ubc2:musepose_ubc_91BjuE6irxS.mp4:1080x1920:11"
while IFS=: read -r name src size secs; do
  out="$work/clips/$name.mp4"
  [ -f "$out" ] && continue
  w=${size%x*}; h=${size#*x}
  ff -stream_loop 3 -i "$corpus/videos/people/$src" -t "$secs" -an \
    -vf "scale=$w:$h:force_original_aspect_ratio=increase,crop=$w:$h,setsar=1" \
    -c:v libx264 -preset veryfast -crf 20 -pix_fmt yuv420p "$out"
done <<< "$clips"

if [ "$(ls "$work/photos" | wc -l)" -lt 100 ]; then
  mapfile -t srcs < <(ls "$corpus"/images/people/*.{jpg,png} people/media/opencv_{messi5,home,leuvenA_640,basketball1}.* \
    people/media/skimage_{camera,coffee}.png 2>/dev/null | grep -v -e pillow_hopper -e png_named)
  for i in $(seq 1 100); do
    src=${srcs[$(( (i - 1) % ${#srcs[@]} ))]}
    edge=$(( 1080 + (i % 3) * 420 ))
    # -auto-orient: the photos carry no EXIF orientation to undo; the hue shift makes each file differ.
    convert "$src" -auto-orient -resize "${edge}x${edge}" -modulate 100,100,$(( 90 + i % 20 )) \
      -quality 90 "$work/photos/photo_$(printf %03d "$i").jpg"
  done
fi

# --- measure ----------------------------------------------------------------------------------
# race A B: run command lines A and B alternately $runs times; print "wallA cpuA rssA wallB cpuB
# rssB" (minimum wall and CPU seconds, largest peak RSS in KB).
race() {
  local out; out=$(mktemp)
  for _ in $(seq 1 "$runs"); do
    for cmd in "$1" "$2"; do
      /usr/bin/time -o "$out" -a -f "%e %U %S %M" bash -c "$cmd >/dev/null 2>&1" || true
    done
  done
  awk 'NR % 2 == 1 { s = "a" } NR % 2 == 0 { s = "b" }
       { c = $2 + $3
         if (!(s in w) || $1 < w[s]) w[s] = $1
         if (!(s in u) || c < u[s]) u[s] = c
         if ($4 > m[s]) m[s] = $4 }
       END { print w["a"], u["a"], m["a"], w["b"], u["b"], m["b"] }' "$out"
  rm -f "$out"
}
C="$BIN check --no-cache --isolated -q --format json${JOBS:+ -j $JOBS}"
VOFF="--rule V014=off --rule V015=off --rule V016=off --rule V017=off --rule V018=off --rule V020=off"
IOFF="--rule I010=off --rule I011=off --rule I012=off --rule I013=off --rule I016=off"
nclips=$(ls "$work/clips" | wc -l); nphotos=$(ls "$work/photos" | wc -l)
cat "$work"/clips/* "$work"/photos/* > /dev/null # page cache warm for both sides
echo "subject checks on vs off, $runs runs each alternately (min wall, min CPU, max peak RSS); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
row() { # label n wall cpu rss wall0 cpu0 rss0
  awk -v l="$1" -v n="$2" -v w="$3" -v c="$4" -v m="$5" -v w0="$6" -v c0="$7" -v m0="$8" 'BEGIN {
    printf "  %-30s on: %6.2f s wall %6.2f s CPU %5.0f MB | off: %6.2f s %6.2f s %5.0f MB | wall %.2fx CPU %.2fx | %.1f files/s on\n",
      l, w, c, m / 1024, w0, c0, m0 / 1024, w / w0, c / c0, n / w }'
}
read -r wa ca ma wb cb mb < <(race "$C $work/clips" "$C $VOFF $work/clips")
row "$nclips clips 1080p" "$nclips" "$wa" "$ca" "$ma" "$wb" "$cb" "$mb"
read -r wa ca ma wb cb mb < <(race "$C $work/photos" "$C $IOFF $work/photos")
row "$nphotos photos" "$nphotos" "$wa" "$ca" "$ma" "$wb" "$cb" "$mb"
