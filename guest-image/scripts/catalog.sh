#!/bin/sh
# Publish versioned artifacts into $OUT and write catalog.json (hand-written JSON: no jq needed;
# every value is a package name, version, hex digest or file name, none needs escaping beyond
# the check below).
set -eu
. "$(dirname "$0")/common.sh"
CACHE=${1:?usage: catalog.sh CACHE_DIR NANO OUT_DIR}; NANO=${2:?}; OUT=${3:?}
. "$CACHE/kernel.env"
rel=$(cat "$CACHE/kernel/release")
for v in "$KPKG" "$KVER" "$rel"; do
  case $v in *[!A-Za-z0-9.+~:_-]*) die "unexpected character in '$v'" ;; esac
done
mkdir -p "$OUT"
# Remove artifacts of previous kernels; copy (not link) so out/ is self-contained.
for f in "$OUT"/vmlinux-* "$OUT"/nano-*.cpio; do
  case $f in "$OUT/vmlinux-$rel"|"$OUT/nano-$rel.cpio") ;; *) rm -f "$f" ;; esac
done
cp -f "$CACHE/kernel/vmlinux" "$OUT/vmlinux-$rel"
cp -f "$NANO" "$OUT/nano-$rel.cpio"
# Stable names for humans and scripts; the catalog is the contract.
ln -sfn "vmlinux-$rel" "$OUT/vmlinux"; ln -sfn "nano-$rel.cpio" "$OUT/nano.cpio"
ksum=$(sha256sum "$OUT/vmlinux-$rel" | cut -d' ' -f1)
nsum=$(sha256sum "$OUT/nano-$rel.cpio" | cut -d' ' -f1)
cat > "$OUT/catalog.json.tmp" <<JSON
{
  "schema": 1,
  "defaultKernel": "debian",
  "defaultBaseImage": "nano",
  "kernels": [
    {"name": "debian", "file": "vmlinux-$rel", "sha256": "$ksum", "release": "$rel", "package": "$KPKG", "packageVersion": "$KVER", "debSha256": "$KDEB_SHA256"}
  ],
  "baseImages": [
    {"name": "nano", "kind": "initramfs", "file": "nano-$rel.cpio", "sha256": "$nsum", "kernelRelease": "$rel"}
  ]
}
JSON
mv -f "$OUT/catalog.json.tmp" "$OUT/catalog.json"
log "catalog: kernel $rel ($KPKG $KVER), nano $nsum"
