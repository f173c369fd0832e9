#!/usr/bin/env bash
# Does decoding reference frames only change any cut? Generates random 4-shot clips from lavfi
# patterns (each shot a different pattern from the one before, 35–95 frames, x264 without scene-cut keyframes, 3 B-frames, so cuts often land on
# frames the default pass skips), analyses each with the default pass and with every frame decoded
# (`benches/analyze.rs --full`), and prints the known cut frames next to both results.
#
# Usage: scripts/skip-equivalence.sh [N] [SEED]    (default 12 clips, seed 1)
# Env: EQ_DIR (default target/skip-equivalence) holds the clips.
set -euo pipefail

cd "$(dirname "$0")/.."
N="${1:-12}"
RANDOM="${2:-1}"
DIR="${EQ_DIR:-target/skip-equivalence}"
mkdir -p "$DIR"
command -v ffmpeg >/dev/null || { echo "ffmpeg CLI required" >&2; exit 2; }
cargo build --release --benches >&2
DRIVER="$(ls -t target/release/deps/analyze-* | grep -v '\.d$' | head -1)"

srcs=(
    "testsrc2=s=640x360:r=30"
    "mandelbrot=s=640x360:r=30"
    "life=s=640x360:r=30:mold=10:ratio=0.3"
    "cellauto=s=640x360:r=30:rule=110"
    "testsrc2=s=1280x360:r=30,crop=640:360:x='n*14':y=0"
    "smptehdbars=s=640x360:r=30,drawbox=x='mod(t*270\,600)':y=100:w=40:h=40:color=red:t=fill"
)
cuts_of() {
    python3 -c "import json,sys; d=json.load(sys.stdin); print(' '.join(str(c['frame']) for c in d['analysis']['cuts']))"
}
same=0 found=0 total=0
for k in $(seq 1 "$N"); do
    fc="" labels="" at=0 truth="" prev=-1
    for s in 0 1 2 3; do
        # A different pattern from the shot before: the same one restarted in other colours is
        # hardly a cut (its luma repeats the previous shot's first frames).
        i=$(( RANDOM % ${#srcs[@]} ))
        while [ "$i" = "$prev" ]; do i=$(( RANDOM % ${#srcs[@]} )); done
        prev=$i
        n=$(( 35 + RANDOM % 60 ))
        fc+="${srcs[$i]},trim=end_frame=$n,setpts=PTS-STARTPTS,format=yuv420p,hue=h=$((s * 70))[s$s];"
        labels+="[s$s]"
        [ "$s" -gt 0 ] && truth+="$at "
        at=$((at + n))
    done
    f="$DIR/clip$k.mp4"
    ffmpeg -v error -y -filter_complex "$fc${labels}concat=n=4:v=1:a=0[v]" -map "[v]" -c:v libx264 \
        -preset veryfast -x264-params scenecut=0:bframes=3:b-pyramid=normal -pix_fmt yuv420p "$f"
    fast=$("$DRIVER" "$f" | cuts_of)
    full=$("$DRIVER" --full "$f" | cuts_of)
    [ "$fast" = "$full" ] && same=$((same + 1))
    for t in $truth; do
        total=$((total + 1))
        for c in $fast; do [ "$c" = "$t" ] && found=$((found + 1)) && break; done
    done
    printf 'clip%-3s truth %-14s fast %-14s full %s\n' "$k" "$truth" "$fast" "$full"
done
echo "$same/$N clips with the same cuts both ways; $found/$total known cuts found on their exact frame"
