#!/bin/sh
# Extract the uncompressed ELF vmlinux from an x86 bzImage. Unlike the kernel's
# scripts/extract-vmlinux (which greps for magic bytes), read the boot header: the payload sits at
# (setup_sects+1)*512 + payload_offset, payload_length bytes long, and ends with the 4-byte
# little-endian uncompressed size (appended by the kernel build), which we use to verify.
set -eu
. "$(dirname "$0")/common.sh"
in=${1:?usage: extract-vmlinux.sh bzImage out}; out=${2:?}
# Unsigned little-endian integer of $2 bytes at offset $1 (od byte by byte: host-endian independent).
le() { od -An -v -t u1 -j "$1" -N "$2" "$in" | awk '{for(i=1;i<=NF;i++){v+=$i*m; m*=256}} BEGIN{m=1} END{printf "%d\n", v}'; }
[ "$(dd if="$in" bs=1 skip=514 count=4 2>/dev/null)" = HdrS ] || die "$in: not a bzImage (no HdrS)"
[ "$(le 518 2)" -ge 520 ] || die "$in: boot protocol < 2.08 has no payload fields"
ss=$(le 497 1); [ "$ss" -ne 0 ] || ss=4
start=$(( (ss + 1) * 512 + $(le 584 4) )); len=$(le 588 4)
tmp="$out.tmp"
payload() { tail -c +$((start + 1)) "$in" | head -c $((len - 4)); }
magic=$(tail -c +$((start + 1)) "$in" | head -c 6 | od -An -t x1 | tr -d ' \n')
case $magic in
  fd377a585a00*) payload | xz -dc > "$tmp" ;;
  28b52ffd*)     payload | zstd -dcq > "$tmp" ;;
  1f8b*)         payload | gzip -dc > "$tmp" ;;
  02214c18*)     payload | lz4 -dc > "$tmp" ;;
  *) die "$in: unsupported kernel compression (magic $magic)" ;;
esac
want=$(in="$in" le $((start + len - 4)) 4)
got=$(wc -c < "$tmp")
[ "$got" -eq "$want" ] || die "decompressed size $got != recorded $want"
[ "$(head -c 4 "$tmp" | od -An -t x1 | tr -d ' ')" = 7f454c46 ] || die "result is not ELF"
mv -f "$tmp" "$out"
