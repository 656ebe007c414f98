#!/usr/bin/env bash
# The CPU image's base, made from Debian's packages (no registry is reachable here): `bash docker/base.sh [TAG]`.
#
# debootstrap writes a minimal Debian 12 (bookworm) root with what the server needs at run time and nothing
# to build with: Python 3.11 with venv (the python-backend stub embeds libpython3.11), libstdc++ and zlib
# (tritonserver), tini (process 1: it forwards SIGTERM and reaps the python stubs that outlive their parent).
# The security and point-release updates are applied, documentation, locales and apt's lists removed, and the
# folder is `podman import`ed as TAG (default localhost/lumaflow-base:bookworm). The list of installed packages
# and their versions stays inside the image at /usr/share/lumaflow-base/packages.txt.
#
# Idempotent: an existing TAG is kept unless LUMAFLOW_REBUILD_BASE=1. Needs root (debootstrap, chroot).
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=${1:-localhost/lumaflow-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
WORK=${LUMAFLOW_IMAGE_WORK:-$PWD/.image}
# python3.11-venv depends on python3.11-distutils, which only python3-distutils provides: debootstrap's
# resolver does not follow a Provides, so both are named.
PACKAGES=python3.11,python3.11-venv,python3-distutils,python3-lib2to3,libpython3.11,libstdc++6,zlib1g,tini

if [ "${LUMAFLOW_REBUILD_BASE:-0}" != 1 ] && podman image exists "$TAG"; then
  echo "base image $TAG exists (LUMAFLOW_REBUILD_BASE=1 makes it again)"
  exit 0
fi
ROOTFS=$WORK/rootfs
rm -rf "$ROOTFS"
mkdir -p "$WORK"
echo "debootstrap bookworm (minbase + $PACKAGES) into $ROOTFS ..."
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
  { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }

cat >"$ROOTFS/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY bookworm-security main
EOF
echo "security and point-release updates ..."
chroot "$ROOTFS" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
  'apt-get update -qq && apt-get -y -qq -o Dpkg::Options::=--force-confold upgrade' >>"$WORK/debootstrap.log" 2>&1 ||
  { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }

mkdir -p "$ROOTFS/usr/share/lumaflow-base"
chroot "$ROOTFS" dpkg-query -W -f '${Package} ${Version}\n' >"$ROOTFS/usr/share/lumaflow-base/packages.txt"
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/cache/debconf/*-old \
  "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/locale/* \
  "$ROOTFS"/var/log/* "$ROOTFS"/debootstrap
echo "podman import as $TAG ($(du -sh "$ROOTFS" | cut -f1)) ..."
tar -C "$ROOTFS" --numeric-owner -c . |
  podman import --change 'CMD ["/bin/sh"]' --message "debootstrap bookworm minbase + $PACKAGES" - "$TAG" >/dev/null
rm -rf "$ROOTFS"
echo "base image $TAG: $(podman image inspect --format '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1 / 1e6}')"
