#!/bin/sh
# Build the "minimal" guest kernel from Debian's kernel source (the .deb named in
# kernel-source.env): `make tinyconfig`, then CONFIG (kernel-minimal/minimal.config) merged on top,
# then vmlinux only (no bzImage, no modules). Unpacks into $CACHE/minimal/src, builds out of tree
# in $CACHE/minimal/build (kept, so a changed fragment rebuilds only what it touches) and leaves
# $CACHE/minimal/vmlinux and $CACHE/minimal/release. Runs at nice 19; JOBS (default: the number of
# CPUs) sets make -j.
set -eu
. "$(dirname "$0")/common.sh"
CACHE=${1:?usage: build-minimal-kernel.sh CACHE_DIR CONFIG}; CONFIG=${2:?}
. "$CACHE/kernel-source.env"
M="$CACHE/minimal"; SRC="$M/src"; B="$M/build"
CONFIG=$(cd "$(dirname "$CONFIG")" && pwd)/$(basename "$CONFIG")
JOBS=${JOBS:-$(nproc)}
mkdir -p "$M"
# Objects of another source package are dropped. The source is unpacked for the build and removed
# after it (1.5 GB; unpacking takes seconds): the tarball's mtimes are kept, so objects built
# earlier stay valid and a changed fragment still rebuilds incrementally.
if [ "$(cat "$M/build.deb" 2>/dev/null)" != "$KDEB_SHA256" ]; then
  rm -rf "$SRC" "$B" "$M/build.deb"
fi
if [ ! -f "$SRC/Makefile" ]; then
  log "unpacking $KPKG $KVER ..."
  rm -rf "$SRC" "$SRC.tmp"; mkdir -p "$SRC.tmp"
  # The .deb holds one usr/src/linux-source-X.Y.tar.xz.
  tarball=$(dpkg-deb -c "$CACHE/debs/$KDEB" | sed -n 's|.* \./\(usr/src/linux-source-[^/]*\.tar\.xz\)$|\1|p')
  [ -n "$tarball" ] || die "$KDEB holds no usr/src/linux-source-*.tar.xz"
  dpkg-deb --fsys-tarfile "$CACHE/debs/$KDEB" | tar -xO "./$tarball" | xz -dc |
    tar -x -C "$SRC.tmp" --strip-components=1 -f - || die "cannot unpack $KDEB"
  [ -f "$SRC.tmp/Makefile" ] || die "$tarball has no top-level Makefile"
  mv "$SRC.tmp" "$SRC" # only a complete tree counts
fi
echo "$KDEB_SHA256" > "$M/build.deb"
# A reproducible build: no host name, user or date in the image.
export KBUILD_BUILD_TIMESTAMP="$(dpkg-deb -f "$CACHE/debs/$KDEB" Version)" KBUILD_BUILD_USER=isola \
  KBUILD_BUILD_HOST=isola KBUILD_BUILD_VERSION=1
k() { nice -n 19 make -s -C "$SRC" O="$B" ARCH=x86_64 "$@"; }
log "configuring the minimal kernel (tinyconfig + $(basename "$CONFIG")) ..."
mkdir -p "$B"
k tinyconfig > "$M/config.log" 2>&1 || die "tinyconfig failed: $(tail -n5 "$M/config.log")"
"$SRC/scripts/kconfig/merge_config.sh" -m -O "$B" "$B/.config" "$CONFIG" >> "$M/config.log" 2>&1 ||
  die "merge_config failed: $(tail -n5 "$M/config.log")"
k olddefconfig >> "$M/config.log" 2>&1 || die "olddefconfig failed: $(tail -n5 "$M/config.log")"
# Every line of the fragment must have landed; an option whose dependency is missing is dropped
# silently by Kconfig, which would leave a kernel without what the sandbox needs.
sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=.*/\1/p; s/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/\1/p' "$CONFIG" |
while read -r opt; do
  want=$(grep -E "^(# )?$opt[= ]" "$CONFIG"); got=$(grep -E "^(# )?$opt[= ]" "$B/.config" || true)
  [ "$want" = "$got" ] || die "$(basename "$CONFIG"): '$want' did not survive (got '${got:-nothing}'); a dependency is missing"
done
start=$(date +%s)
log "building the minimal kernel (make -j$JOBS vmlinux at nice 19; the first build takes minutes) ..."
k -j"$JOBS" vmlinux > "$M/build.log" 2>&1 || die "kernel build failed: $(tail -n20 "$M/build.log")"
rel=$(k kernelrelease)
rm -rf "$SRC"
readelf -Wn "$B/vmlinux" | grep -q 'Xen .*(0x00000012)' || die "vmlinux has no PVH entry note"
cp -f "$B/vmlinux" "$M/vmlinux.tmp"; strip --strip-debug "$M/vmlinux.tmp" 2>/dev/null || true
mv -f "$M/vmlinux.tmp" "$M/vmlinux"
echo "$rel" > "$M/release"
log "minimal kernel $rel built in $(( $(date +%s) - start )) s: $(( $(wc -c < "$M/vmlinux") / 1024 )) KiB"
