#!/usr/bin/env bash
# Speed and accuracy of the video analysis against FFmpeg's own decode, ffmpeg scdet and PySceneDetect.
#
# Generates a 1080p and a 4K H.264 clip with known cuts (lavfi sources, hard cuts, a dissolve, a fast
# pan) and takes real footage from ../shared/corpus (720p as is, and upscaled to 1080p), then times
# on each clip, in one run: our analysis, `ffmpeg -threads 0 -i clip -f null -`
# (the decode floor), ffmpeg scdet (threshold 10), PySceneDetect detect-content and detect-adaptive
# (installed from PyPI into a local venv). Records wall time, CPU time and peak RSS (/usr/bin/time -v)
# and cut F1 (±0.25 s), and prints a table with ratios to the decode floor.
#
# Usage: scripts/bench-analysis.sh [--cli PATH] [--runs N] [--no-4k] [--no-psd]
#   --cli PATH   time `PATH check --format json CLIP` instead of the bench driver
#                (benches/analyze.rs, built with `cargo build --release --benches`).
# Env: BENCH_DIR (default target/bench-analysis) holds clips, the venv and logs.
set -euo pipefail

cd "$(dirname "$0")/.."
CLI=""
RUNS=1
DO_4K=1
DO_PSD=1
while [ $# -gt 0 ]; do
    case "$1" in
        --cli) CLI="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --no-4k) DO_4K=0; shift ;;
        --no-psd) DO_PSD=0; shift ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
DIR="${BENCH_DIR:-target/bench-analysis}"
mkdir -p "$DIR"
command -v ffmpeg >/dev/null || { echo "ffmpeg CLI required" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time required (apt-get install time)" >&2; exit 2; }

# ---- our analysis binary -------------------------------------------------------------------------
if [ -z "$CLI" ]; then
    cargo build --release --benches >&2
    OURS=("$(ls -t target/release/deps/analyze-* | grep -v '\.d$' | head -1)")
else
    OURS=("$CLI" check --no-cache --isolated --format json-lines)
fi

# ---- clips with known cuts -----------------------------------------------------------------------
# 1080p30, 12.5 s: testsrc2 3 s | life 2 s | fast pan 3 s (16 px/frame) | cellauto 2 s, dissolving
# (0.5 s at 9.5–10.0 s) into hue-shifted testsrc2 2.5 s. Hard cuts at 3.0, 5.0, 8.0 s; dissolve mid 9.75 s.
gen_1080() {
    local out="$DIR/clip1080.mp4"
    [ -s "$out" ] && return
    local s="s=1920x1080:r=30"
    ffmpeg -v error -y -filter_complex "\
testsrc2=$s:d=3[a];\
life=$s:mold=10:ratio=0.3:death_color=#204060:life_color=#e0c080,trim=duration=2,setpts=PTS-STARTPTS,format=yuv420p[b];\
testsrc2=s=3840x1080:r=30:d=3,crop=1920:1080:x='n*16':y=0,hue=h=60[c];\
cellauto=$s:rule=110,trim=duration=2,setpts=PTS-STARTPTS,format=yuv420p[d];\
testsrc2=$s:d=2.5,hue=h=180:s=1.5[e];\
[d][e]xfade=transition=dissolve:duration=0.5:offset=1.5[de];\
[a][b][c][de]concat=n=4:v=1:a=0[v]" -map "[v]" -c:v libx264 -preset medium -crf 23 -pix_fmt yuv420p "$out"
    echo "3.0 5.0 8.0 9.75" > "$DIR/clip1080.truth"
}
# 4K30, 6 s: testsrc2 2 s | cellauto 2 s | life 2 s. Hard cuts at 2.0 and 4.0 s.
gen_4k() {
    local out="$DIR/clip4k.mp4"
    [ -s "$out" ] && return
    local s="s=3840x2160:r=30"
    ffmpeg -v error -y -filter_complex "\
testsrc2=$s:d=2[a];\
cellauto=$s:rule=30,trim=duration=2,setpts=PTS-STARTPTS,format=yuv420p[b];\
life=$s:mold=10:ratio=0.3,trim=duration=2,setpts=PTS-STARTPTS,format=yuv420p[c];\
[a][b][c]concat=n=3:v=1:a=0[v]" -map "[v]" -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p "$out"
    echo "2.0 4.0" > "$DIR/clip4k.truth"
}

# Real footage: the lavfi clips above are noise-like and costly to decode, which flatters any tool
# whose own work is small next to the decode. PySceneDetect's test video (a 24 s 720p film excerpt,
# corpus/MANIFEST) as it is (real720) and upscaled to 1080p at a usual bitrate (real1080), with
# the verified cut times from corpus/cuts.json.
REAL_SRC="../shared/corpus/videos/cuts/psd_testvideo.mp4"
REAL_TRUTH="1.001 6.006 13.146"
gen_real() {
    [ -s "$REAL_SRC" ] || return 1
    [ -s "$DIR/real720.mp4" ] || cp "$REAL_SRC" "$DIR/real720.mp4"
    echo "$REAL_TRUTH" > "$DIR/real720.truth"
    if [ ! -s "$DIR/real1080.mp4" ]; then
        ffmpeg -v error -y -i "$REAL_SRC" -vf scale=1920:1080:flags=lanczos -an \
            -c:v libx264 -preset medium -crf 20 -pix_fmt yuv420p "$DIR/real1080.mp4"
    fi
    echo "$REAL_TRUTH" > "$DIR/real1080.truth"
}

echo "generating clips in $DIR ..." >&2
# (clips are reused when present)
gen_1080
CLIPS=(clip1080)
if gen_real; then CLIPS+=(real720 real1080); else echo "no $REAL_SRC: real-footage clips skipped" >&2; fi
if [ "$DO_4K" = 1 ]; then gen_4k; CLIPS+=(clip4k); fi

# ---- PySceneDetect venv --------------------------------------------------------------------------
PSD=""
if [ "$DO_PSD" = 1 ]; then
    if [ ! -x "$DIR/venv/bin/scenedetect" ]; then
        python3 -m venv "$DIR/venv"
        "$DIR/venv/bin/pip" install -q scenedetect opencv-python-headless >&2
    fi
    PSD="$DIR/venv/bin/scenedetect"
fi

# ---- timing --------------------------------------------------------------------------------------
RES="$DIR/results.tsv"
# TABLE_ONLY=1 re-prints the table from the last run's results without timing anything.
[ "${TABLE_ONLY:-0}" = 1 ] && RUNS=0 || : > "$RES"
# run TOOL CLIP CMD... : time CMD, keep its stdout+stderr, extract cut times with the tool's parser.
run() {
    local tool="$1" clip="$2"; shift 2
    local log="$DIR/$clip.$tool.out" tv="$DIR/$clip.$tool.time"
    /usr/bin/time -v -o "$tv" "$@" > "$log" 2>&1 || true
    local wall user sys rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$tv" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    user=$(awk -F': ' '/User time/{print $2}' "$tv")
    sys=$(awk -F': ' '/System time/{print $2}' "$tv")
    rss=$(awk -F': ' '/Maximum resident/{print $2}' "$tv")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$clip" "$tool" "$wall" "$(awk "BEGIN{print $user + $sys}")" "$rss" "$log" >> "$RES"
}

for r in $(seq 1 "$RUNS"); do
    [ "$RUNS" = 0 ] && break
    for clip in "${CLIPS[@]}"; do
        f="$DIR/$clip.mp4"
        echo "run $r: $clip" >&2
        run decode "$clip" ffmpeg -hide_banner -threads 0 -i "$f" -f null -
        run ours "$clip" "${OURS[@]}" "$f"
        run scdet "$clip" ffmpeg -hide_banner -threads 0 -i "$f" -vf scdet=threshold=10 -f null -
        if [ -n "$PSD" ]; then
            run psd-content "$clip" "$PSD" -i "$f" -o "$DIR" detect-content list-scenes -s -q -f "$clip.content.csv"
            run psd-adaptive "$clip" "$PSD" -i "$f" -o "$DIR" detect-adaptive list-scenes -s -q -f "$clip.adaptive.csv"
        fi
    done
done

# ---- table ---------------------------------------------------------------------------------------
python3 - "$DIR" "$RES" <<'EOF'
import csv, json, re, statistics, sys
from collections import defaultdict
d, res = sys.argv[1], sys.argv[2]
rows = defaultdict(list)
for line in open(res):
    clip, tool, wall, cpu, rss, log = line.rstrip("\n").split("\t")
    rows[(clip, tool)].append((float(wall), float(cpu), int(rss), log))

def cuts_of(clip, tool, log):
    txt = open(log, errors="replace").read()
    if tool == "ours":
        for l in txt.splitlines():
            l = l.strip()
            if not l.startswith("{"):
                continue
            j = json.loads(l)
            if "analysis" in j:
                return [c["time_s"] for c in j["analysis"]["cuts"]]
            if "files" in j:  # kling-preflight check --format json
                return [c["time_s"] for c in j["files"][0]["facts"].get("cuts", [])]
            if "facts" in j:  # kling-preflight check --format json-lines: one file per line
                return [c["time_s"] for c in j["facts"].get("cuts", [])]
        return None
    if tool == "scdet":
        return [float(x) for x in re.findall(r"lavfi\.scd\.time: ([0-9.]+)", txt)]
    if tool.startswith("psd"):
        kind = tool.split("-")[1]
        try:
            rows_ = list(csv.reader(open(f"{d}/{clip}.{kind}.csv")))
        except OSError:
            return None
        if rows_ and rows_[0] and rows_[0][0] == "Scene Number":
            # Scene table (list-scenes -s): cuts are the start times of scenes 2..N.
            return [float(r[3]) for r in rows_[2:] if len(r) > 3]
        # Otherwise the first row is "Timecode List:" followed by the cut timecodes.
        out = []
        for tc in rows_[0][1:]:
            h, m, s = tc.split(":")
            out.append(int(h) * 3600 + int(m) * 60 + float(s))
        return out
    return None

def f1(got, truth, tol=0.25):
    used = [False] * len(got)
    tp = 0
    for t in truth:
        for j, g in enumerate(got):
            if not used[j] and abs(g - t) <= tol:
                used[j] = True
                tp += 1
                break
    p = tp / len(got) if got else (1.0 if not truth else 0.0)
    r = tp / len(truth) if truth else 1.0
    return (2 * p * r / (p + r) if p + r else 0.0), p, r

print(f"{'clip':9} {'tool':13} {'wall s':>7} {'CPU s':>7} {'RSS MB':>7} {'wall/dec':>8} {'CPU/dec':>8} {'P':>5} {'R':>5} {'F1':>5}  cuts (s)")
for clip in sorted({c for c, _ in rows}):
    truth = [float(x) for x in open(f"{d}/{clip}.truth").read().split()]
    dec = rows[(clip, "decode")]
    dw = statistics.median(x[0] for x in dec)
    dc = statistics.median(x[1] for x in dec)
    for tool in ["decode", "ours", "scdet", "psd-content", "psd-adaptive"]:
        if (clip, tool) not in rows:
            continue
        rs = rows[(clip, tool)]
        w = statistics.median(x[0] for x in rs)
        c = statistics.median(x[1] for x in rs)
        m = max(x[2] for x in rs) / 1024
        cuts = None if tool == "decode" else cuts_of(clip, tool, rs[-1][3])
        if cuts is None:
            acc = f"{'':>5} {'':>5} {'':>5}  "
        else:
            F, P, R = f1(cuts, truth)
            acc = f"{P:5.2f} {R:5.2f} {F:5.2f}  " + " ".join(f"{x:.2f}" for x in cuts)
        print(f"{clip:9} {tool:13} {w:7.2f} {c:7.2f} {m:7.0f} {w / dw:8.2f} {c / dc:8.2f} {acc}")
    print(f"{'':9} truth: {' '.join(str(t) for t in truth)}")
EOF
