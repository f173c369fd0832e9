#!/usr/bin/env bash
# Build the container's base layer from Debian's archive alone (no registry image can be pulled here):
# a minbase Debian 12 root filesystem holding only the runtime libraries the binary links, plus the
# non-root user, written as a tarball that `podman import` turns into the base image.
#
# usage: scripts/image-rootfs.sh OUT.tar [MIRROR]
# The package list is derived from the binary's NEEDED entries (see the Makefile's IMAGE_LIB_PACKAGES).
set -euo pipefail
out=${1:?usage: image-rootfs.sh OUT.tar [MIRROR]}
mirror=${2:-http://deb.debian.org/debian}
packages=${IMAGE_LIB_PACKAGES:?IMAGE_LIB_PACKAGES is empty}
uid=${IMAGE_UID:-10001}

work=$(mktemp -d "${TMPDIR:-/tmp}/kp-rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root

# minbase: essential + apt only; debootstrap follows Depends, not Recommends.
debootstrap --variant=minbase --include="${packages// /,}" bookworm "$root" "$mirror" >&2

# The runtime user, written directly (nothing has to run inside the root filesystem).
echo "kling:x:$uid:$uid:kling-preflight:/home/kling:/usr/sbin/nologin" >>"$root/etc/passwd"
echo "kling:x:$uid:" >>"$root/etc/group"
echo "kling:!:20000::::::" >>"$root/etc/shadow"
install -d -o "$uid" -g "$uid" -m 0755 "$root/home/kling" "$root/work"

# Caches that only make the layer bigger.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
	"$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*
tar --numeric-owner -C "$root" -cf "$out.part" .
mv "$out.part" "$out"
