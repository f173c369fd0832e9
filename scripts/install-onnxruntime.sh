#!/usr/bin/env bash
# Install ONNX Runtime's shared library, which runs the person/pose model, from the PyPI wheel
# `onnxruntime` (pinned version and sha256) into /usr/local/lib/kling-preflight/libonnxruntime.so.
# A no-op when the library is already there. Needs pip (Debian: python3-pip) and network access to
# PyPI; nothing else is downloaded at build or run time.
set -euo pipefail
VERSION=1.32.0
WHEEL=onnxruntime-$VERSION-cp311-cp311-manylinux_2_28_x86_64.whl
SHA256=5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d
DEST=${KP_ORT_DIR:-/usr/local/lib/kling-preflight}
[ -f "$DEST/libonnxruntime.so" ] && exit 0
if [ "$(uname -m)" != x86_64 ]; then
  echo "setup: no pinned onnxruntime wheel for $(uname -m); the person checks will be skipped" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO=sudo; else SUDO=; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "setup: fetching $WHEEL from PyPI for the person/pose model" >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
  --platform manylinux_2_28_x86_64 "onnxruntime==$VERSION" -d "$tmp"
echo "$SHA256  $tmp/$WHEEL" | sha256sum -c --quiet -
python3 - "$tmp/$WHEEL" "$tmp" <<'PY'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
name = next(n for n in z.namelist() if n.endswith("capi/libonnxruntime.so." + n.rsplit(".so.", 1)[-1]) and ".so." in n)
open(sys.argv[2] + "/libonnxruntime.so", "wb").write(z.read(name))
PY
$SUDO install -D -m 0644 "$tmp/libonnxruntime.so" "$DEST/libonnxruntime.so"
echo "setup: installed $DEST/libonnxruntime.so (onnxruntime $VERSION)" >&2
