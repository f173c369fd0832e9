#!/usr/bin/env bash
# Check the built image without starting a container (crun cannot set rlimits/cgroups here): export
# its filesystem, run the tool inside it through chroot as the image's user on fixtures/, and compare
# the report with the host build's. Also: no compiler, no -dev package, the image's size.
#
# usage: scripts/image-verify.sh IMAGE HOST_BINARY   (leaves the filesystem in target/image/fs)
set -euo pipefail
image=${1:?usage: image-verify.sh IMAGE HOST_BINARY}
host_bin=${2:?usage: image-verify.sh IMAGE HOST_BINARY}
fs=target/image/fs
umount "$fs/proc" 2>/dev/null || true
rm -rf "$fs" && mkdir -p "$fs"
cid=$(podman create "$image")
podman export "$cid" | tar -C "$fs" -xf -
# A container runtime mounts /proc; so must the chroot (inputs are opened through /proc/self/fd).
mkdir -p "$fs/proc" && mount -t proc proc "$fs/proc"
trap 'umount "$fs/proc" 2>/dev/null || true; podman rm -f "$cid" >/dev/null' EXIT
cp -a fixtures "$fs/work/fixtures"
chown -R 10001:10001 "$fs/work/fixtures"

flags=(--isolated --no-cache -q)
set +e
"$host_bin" check "${flags[@]}" fixtures/ >target/image/host.txt 2>&1
host_status=$?
chroot --userspec=10001:10001 "$fs" /bin/sh -c \
  "cd /work && exec kling-preflight check ${flags[*]} fixtures/" >target/image/image.txt 2>&1
image_status=$?
umount "$fs/proc"
set -e
if ! diff -u target/image/host.txt target/image/image.txt; then
  echo "image-verify: the image's report differs from the host build's" >&2
  exit 1
fi
[ "$host_status" = "$image_status" ] || { echo "image-verify: exit status $image_status != $host_status" >&2; exit 1; }
echo "same check fixtures/ report in the image as on the host ($(wc -l <target/image/host.txt) lines, exit status $image_status):"
tail -2 target/image/image.txt

compilers=$(cd "$fs" && ls usr/bin usr/local/bin 2>/dev/null | grep -E '^(cc|c\+\+|gcc.*|g\+\+.*|clang.*|rustc|cargo|ld|as|cpp.*)$' || true)
devs=$(chroot "$fs" dpkg-query -W -f '${Package}\n' | grep -E -- '-dev$|^(gcc|g[+][+]|cpp)(-[0-9]+)?$|^binutils|^clang|^rustc' || true)
[ -z "$compilers$devs" ] || { echo "image-verify: build tools in the image: $compilers $devs" >&2; exit 1; }
echo "no compiler, linker or -dev package in the image"
echo "run as: $(chroot --userspec=10001:10001 "$fs" /usr/bin/id)"
chroot "$fs" /usr/local/bin/kling-preflight --version
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$image"
echo "filesystem: $(du -sh --apparent-size "$fs" | cut -f1) (du --apparent-size, with the copied fixtures)"
