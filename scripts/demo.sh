#!/bin/sh
# The demo of `make run`: the same question asked of the host and of a container in a
# sandbox VM. Different kernels answering is the point: the container does not share ours.
set -eu
image=$1
here=$(cd "$(dirname "$0")/.." && pwd)
echo "host kernel:       $(uname -r) ($(uname -v))"
"$here/bin/isola" run --rm "$image" -- sh -c '
  echo "container kernel:  $(uname -r) ($(uname -v))"
  echo "container sees $(grep -c ^processor /proc/cpuinfo) CPU(s), $(grep MemTotal /proc/meminfo | tr -s " " | cut -d" " -f2-) of memory"
  if grep -q "^flags.* hypervisor" /proc/cpuinfo; then echo "inside a VM: yes (the CPU reports a hypervisor)"; fi
  echo "hello from an isola sandbox"'
