#!/usr/bin/env bash
# The sharded run end to end: N processes each run `check --shard K/N --format json` over one folder
# (as N pods of a Kubernetes Indexed Job or N CI jobs would), `merge` combines their reports, and the
# merged report must equal one unsharded run (files, facts, summary, exit status).
#
# usage: scripts/sharded-run.sh N FOLDER [KLING_PREFLIGHT_COMMAND...]
#   e.g. scripts/sharded-run.sh 3 fixtures target/dist/kling-preflight
#        scripts/sharded-run.sh 3 fixtures chroot --userspec=10001:10001 ROOTFS kling-preflight
# With a chroot command, FOLDER is a path inside the root filesystem, and REPORTS_DIR (a host folder)
# with REPORTS_DIR_SEEN_AS (the same folder as the command sees it) let `merge` read the shard reports.
set -euo pipefail
n=${1:?usage: sharded-run.sh N FOLDER [COMMAND...]}
folder=${2:?usage: sharded-run.sh N FOLDER [COMMAND...]}
shift 2
cmd=("$@")
[ ${#cmd[@]} -gt 0 ] || cmd=(target/release/kling-preflight)
if [ -n "${REPORTS_DIR:-}" ]; then out=$REPORTS_DIR; mkdir -p "$out"; else
  out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
seen=${REPORTS_DIR_SEEN_AS:-$out}
flags=(--format json --isolated --no-cache --quiet)

set +e
"${cmd[@]}" check "${flags[@]}" "$folder" >"$out/whole.json"
whole_status=$?
pids=()
for k in $(seq 1 "$n"); do
  "${cmd[@]}" check "${flags[@]}" --shard "$k/$n" "$folder" >"$out/shard-$k.json" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
reports=()
for k in $(seq 1 "$n"); do reports+=("$seen/shard-$k.json"); done
"${cmd[@]}" merge --format json "${reports[@]}" >"$out/merged.json"
merged_status=$?
set -e
for k in $(seq 1 "$n"); do
  echo "shard $k/$n: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["files"]))' "$out/shard-$k.json") files"
done
python3 - "$out/whole.json" "$out/merged.json" <<'PY'
import json, sys
whole, merged = (json.load(open(p)) for p in sys.argv[1:3])
for key in ("files", "summary", "profile", "orientation"):
    if whole[key] != merged[key]:
        sys.exit(f"merged report differs from the single run in '{key}'")
print(f"merged {len(merged['files'])} files == single run; summary {merged['summary']}")
PY
[ "$whole_status" = "$merged_status" ] || { echo "exit status differs: $whole_status vs $merged_status" >&2; exit 1; }
echo "exit status $merged_status for both"
