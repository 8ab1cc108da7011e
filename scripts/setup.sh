#!/bin/sh
# Installs the Debian packages isola needs to build, run and test, only those that are
# missing. Safe to run any number of times. Needs root (apt) when something is missing.
set -eu

packages="openjdk-17-jdk-headless maven make gcc libc6-dev qemu-system-x86 busybox-static crun containerd runc
  flex bison bc libelf-dev
  protobuf-c-compiler libprotobuf-c-dev cpio kmod xz-utils zstd ca-certificates iproute2 util-linux mount e2fsprogs"

missing=""
for p in $packages; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "[setup] all required Debian packages are installed"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "[setup] missing packages:$missing" >&2
  echo "[setup] run 'make setup' as root (apt-get install) or install them yourself" >&2
  exit 1
fi

echo "[setup] installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
