#!/bin/sh
# Publish versioned artifacts into $OUT and write catalog.json (hand-written JSON: no jq needed;
# every value is a package name, version, hex digest or file name, none needs escaping beyond
# the check below).
set -eu
. "$(dirname "$0")/common.sh"
CACHE=${1:?usage: catalog.sh CACHE_DIR NANO OUT_DIR}; NANO=${2:?}; OUT=${3:?}
. "$CACHE/kernel.env"
rel=$(cat "$CACHE/kernel/release")
# The minimal kernel (built from the source package in kernel-source.env) and its nano.
M="$CACHE/minimal"; mrel=$(cat "$M/release")
SPKG=$(sed -n 's/^KPKG=//p' "$CACHE/kernel-source.env"); SVER=$(sed -n 's/^KVER=//p' "$CACHE/kernel-source.env")
SDEB_SHA256=$(sed -n 's/^KDEB_SHA256=//p' "$CACHE/kernel-source.env")
csum=$(sha256sum "$(dirname "$0")/../kernel-minimal/minimal.config" | cut -d' ' -f1)
for v in "$KPKG" "$KVER" "$rel" "$SPKG" "$SVER" "$mrel"; do
  case $v in *[!A-Za-z0-9.+~:_-]*) die "unexpected character in '$v'" ;; esac
done
[ "$rel" != "$mrel" ] || die "both kernels have release $rel"
mkdir -p "$OUT"
# Remove artifacts of previous kernels; copy (not link) so out/ is self-contained.
for f in "$OUT"/vmlinux-* "$OUT"/nano-*.cpio; do
  case $f in "$OUT/vmlinux-$rel"|"$OUT/nano-$rel.cpio"|"$OUT/vmlinux-$mrel"|"$OUT/nano-$mrel.cpio") ;;
    *) rm -f "$f" ;; esac
done
cp -f "$CACHE/kernel/vmlinux" "$OUT/vmlinux-$rel"
cp -f "$NANO" "$OUT/nano-$rel.cpio"
cp -f "$M/vmlinux" "$OUT/vmlinux-$mrel"
cp -f "$M/nano.cpio" "$OUT/nano-$mrel.cpio"
# Stable names for humans and scripts (the default kernel's); the catalog is the contract.
ln -sfn "vmlinux-$rel" "$OUT/vmlinux"; ln -sfn "nano-$rel.cpio" "$OUT/nano.cpio"
ksum=$(sha256sum "$OUT/vmlinux-$rel" | cut -d' ' -f1)
nsum=$(sha256sum "$OUT/nano-$rel.cpio" | cut -d' ' -f1)
mksum=$(sha256sum "$OUT/vmlinux-$mrel" | cut -d' ' -f1)
mnsum=$(sha256sum "$OUT/nano-$mrel.cpio" | cut -d' ' -f1)
cat > "$OUT/catalog.json.tmp" <<JSON
{
  "schema": 1,
  "defaultKernel": "debian",
  "defaultBaseImage": "nano",
  "kernels": [
    {"name": "debian", "file": "vmlinux-$rel", "sha256": "$ksum", "release": "$rel", "package": "$KPKG", "packageVersion": "$KVER", "debSha256": "$KDEB_SHA256"},
    {"name": "minimal", "file": "vmlinux-$mrel", "sha256": "$mksum", "release": "$mrel", "package": "$SPKG", "packageVersion": "$SVER", "debSha256": "$SDEB_SHA256", "configSha256": "$csum"}
  ],
  "baseImages": [
    {"name": "nano", "kind": "initramfs", "file": "nano-$rel.cpio", "sha256": "$nsum", "kernelRelease": "$rel"},
    {"name": "nano-minimal", "kind": "initramfs", "file": "nano-$mrel.cpio", "sha256": "$mnsum", "kernelRelease": "$mrel"}
  ]
}
JSON
mv -f "$OUT/catalog.json.tmp" "$OUT/catalog.json"
log "catalog: kernel $rel ($KPKG $KVER), nano $nsum; minimal $mrel ($SPKG $SVER), nano-minimal $mnsum"
