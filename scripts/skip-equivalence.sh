#!/usr/bin/env bash
# Does decoding reference frames only change any cut? Generates random 4-shot montages, analyses each
# with the default pass and with every frame decoded (`benches/analyze.rs --full`), and prints the
# joins next to both results. Divergences are what this script is for: the fast pass must report
# exactly the cuts of the full decode.
#
# Shots are segments of the real footage in ../shared/corpus/videos (random file, start and length,
# 30–90 frames, scaled and padded to 640x360), mixed with a few lavfi patterns; each shot differs
# from the one before. Each montage is encoded with x264 without scene-cut keyframes
# (`scenecut=0`) so cuts land anywhere in the B-frame pattern, at 24, 25 or 30 fps, with 1–3
# B-frames (pyramid or not) and a GOP of 25–250.
#
# Usage: scripts/skip-equivalence.sh [N] [SEED]    (default 12 montages, seed 1)
# Env: EQ_DIR (default target/skip-equivalence) holds the montages; EQ_CORPUS the footage folder;
#      EQ_LAVFI=0 uses real footage only; EQ_DRIVER runs that bench driver instead of building one.
set -euo pipefail

cd "$(dirname "$0")/.."
N="${1:-12}"
RANDOM="${2:-1}"
DIR="${EQ_DIR:-target/skip-equivalence}"
CORPUS="${EQ_CORPUS:-../shared/corpus/videos}"
mkdir -p "$DIR"
command -v ffmpeg >/dev/null || { echo "ffmpeg CLI required" >&2; exit 2; }
if [ -n "${EQ_DRIVER:-}" ]; then
    DRIVER="$EQ_DRIVER"
else
    cargo build --release --benches >&2
    DRIVER="$(ls -t target/release/deps/analyze-* | grep -v '\.d$' | head -1)"
fi

# Real footage: every MP4 of the corpus with at least 4 s, with its duration.
files=() durs=()
while IFS= read -r f; do
    d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f" 2>/dev/null || true)
    case "$d" in '' | N/A) continue ;; esac
    if python3 -c "import sys; sys.exit(0 if float('$d') >= 4 else 1)"; then
        files+=("$f")
        durs+=("$d")
    fi
done < <(find "$CORPUS" -name '*.mp4' -not -path '*corrupt*' | sort)
lavfi=(
    "testsrc2=s=640x360:r=RATE"
    "mandelbrot=s=640x360:r=RATE"
    "life=s=640x360:r=RATE:mold=10:ratio=0.3"
    "testsrc2=s=1280x360:r=RATE,crop=640:360:x='n*14':y=0"
)
[ "${EQ_LAVFI:-1}" = 0 ] && lavfi=()
nsrc=$(( ${#files[@]} + ${#lavfi[@]} ))
[ "$nsrc" -ge 2 ] || { echo "need at least two sources (footage in $CORPUS)" >&2; exit 2; }

cuts_of() {
    python3 -c "import json,sys; d=json.load(sys.stdin); print(' '.join(str(c['frame']) for c in d['analysis']['cuts']))"
}
same=0 found=0 total=0
for k in $(seq 1 "$N"); do
    rates=(24 25 30)
    r=${rates[$(( RANDOM % 3 ))]}
    bf=$(( 1 + RANDOM % 3 ))
    pyr=$([ $(( RANDOM % 2 )) = 0 ] && echo none || echo normal)
    gops=(25 50 120 250)
    g=${gops[$(( RANDOM % 4 ))]}
    inputs=() fc="" labels="" at=0 truth="" prev=-1 nin=0 desc=""
    for s in 0 1 2 3; do
        i=$(( RANDOM % nsrc ))
        while [ "$i" = "$prev" ]; do i=$(( RANDOM % nsrc )); done
        prev=$i
        n=$(( 30 + RANDOM % 60 ))
        norm="fps=$r,scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:-1:-1,setsar=1"
        norm+=",trim=end_frame=$n,setpts=PTS-STARTPTS,format=yuv420p"
        if [ "$i" -lt "${#files[@]}" ]; then
            # A random start that leaves room for the segment (at least 0.1 s before the end).
            start=$(python3 -c "import random; random.seed($RANDOM); d=${durs[$i]}; print(round(random.uniform(0, max(0.0, d - $n / $r - 0.1)), 2))")
            inputs+=(-ss "$start" -i "${files[$i]}")
            fc+="[$nin:v]$norm[s$s];"
            nin=$((nin + 1))
            desc+="$(basename "${files[$i]}" .mp4)@$start "
        else
            l=${lavfi[$(( i - ${#files[@]} ))]}
            fc+="${l//RATE/$r},$norm[s$s];"
            desc+="lavfi$(( i - ${#files[@]} )) "
        fi
        labels+="[s$s]"
        [ "$s" -gt 0 ] && truth+="$at "
        at=$((at + n))
    done
    f="$DIR/montage$k.mp4"
    ffmpeg -v error -y "${inputs[@]}" -filter_complex "$fc${labels}concat=n=4:v=1:a=0[v]" -map "[v]" \
        -c:v libx264 -preset veryfast -g "$g" -r "$r" \
        -x264-params "scenecut=0:bframes=$bf:b-pyramid=$pyr" -pix_fmt yuv420p "$f"
    fast=$("$DRIVER" "$f" | cuts_of)
    full=$("$DRIVER" --full "$f" | cuts_of)
    mark="  "
    if [ "$fast" = "$full" ]; then same=$((same + 1)); else mark="!!"; fi
    for t in $truth; do
        total=$((total + 1))
        for c in $fast; do [ "$c" = "$t" ] && found=$((found + 1)) && break; done
    done
    printf '%s montage%-3s %sfps b%s/%s g%-3s joins %-12s fast %-16s full %-16s %s\n' \
        "$mark" "$k" "$r" "$bf" "$pyr" "$g" "$truth" "$fast" "$full" "$desc"
done
echo "$same/$N montages with the same cuts both ways; $found/$total joins found on their exact frame"
