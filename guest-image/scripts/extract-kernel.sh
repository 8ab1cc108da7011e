#!/bin/sh
# Unpack the kernel .deb named in kernel.env into $CACHE/kernel/ (never onto the host), run depmod
# there (Debian ships no modules.dep; its postinst generates it), extract vmlinux, check PVH.
set -eu
. "$(dirname "$0")/common.sh"
CACHE=${1:?usage: extract-kernel.sh CACHE_DIR}
. "$CACHE/kernel.env"
K="$CACHE/kernel"
log "extracting $KPKG $KVER ..."
rm -rf "$K"; mkdir -p "$K"
dpkg-deb -x "$CACHE/debs/$KDEB" "$K/root"
rel=$(ls "$K/root/lib/modules")
[ "$(echo "$rel" | wc -l)" -eq 1 ] || die "expected one module dir, got: $rel"
[ "$KPKG" = "linux-image-$rel" ] || die "package $KPKG does not match release $rel"
depmod -b "$K/root" "$rel"
log "extracting vmlinux from vmlinuz-$rel ..."
"$(dirname "$0")/extract-vmlinux.sh" "$K/root/boot/vmlinuz-$rel" "$K/vmlinux"
# QEMU -kernel boots an ELF only through PVH: it needs XEN_ELFNOTE_PHYS32_ENTRY (type 18).
if command -v readelf >/dev/null; then
  readelf -Wn "$K/vmlinux" | grep -q 'Xen .*(0x00000012)' || die "vmlinux has no PVH entry note"
fi
echo "$rel" > "$K/release"
