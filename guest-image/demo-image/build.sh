#!/bin/sh
# Builds the isola demo container image, offline, from Debian's busybox-static:
#   OUTDIR/demo-oci/      OCI image layout (one uncompressed tar layer)
#   OUTDIR/demo-oci.tar   the same layout as a tar (for `isola run` and `ctr image import`)
# The result is byte-for-byte reproducible for a given busybox binary (fixed mtimes, owners, order),
# and running it again replaces the previous output atomically.
#
# busybox comes from, in order: $BUSYBOX (a static busybox binary), the installed busybox-static
# package (/bin/busybox), or a busybox-static_*.deb in /var/cache/apt/archives or $DEB_DIR.
set -eu

usage() { echo "usage: $0 OUTDIR" >&2; exit 2; }
[ $# -eq 1 ] || usage
OUTDIR=$1
IMAGE_NAME=docker.io/library/isola-demo:latest
TAG=latest
ARCH=amd64
TAR_OPTS="--format=gnu --mtime=@0 --sort=name --owner=0 --group=0 --numeric-owner"

for tool in tar sha256sum stat; do
    command -v "$tool" >/dev/null 2>&1 || { echo "build.sh: $tool is required" >&2; exit 1; }
done

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
WORK=$(mktemp -d "$OUTDIR/.demo-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

# --- find busybox -------------------------------------------------------------------------------
BB=
if [ -n "${BUSYBOX:-}" ]; then
    BB=$BUSYBOX
elif dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
    BB=/bin/busybox
else
    for deb in ${DEB_DIR:-/var/cache/apt/archives}/busybox-static_*.deb; do
        [ -f "$deb" ] || continue
        mkdir -p "$WORK/deb"
        dpkg-deb -x "$deb" "$WORK/deb"
        BB=$WORK/deb/bin/busybox
        break
    done
fi
if [ -z "$BB" ] || [ ! -x "$BB" ]; then
    echo "build.sh: no static busybox found: install busybox-static (apt-get install busybox-static)," >&2
    echo "          or put busybox-static_*.deb in \$DEB_DIR, or set BUSYBOX=/path/to/static/busybox" >&2
    exit 1
fi
# A dynamic busybox would need its libraries in the image; refuse it rather than build a broken image.
if command -v readelf >/dev/null 2>&1 && readelf -l "$BB" 2>/dev/null | grep -q 'Requesting program interpreter'; then
    echo "build.sh: $BB is dynamically linked; a static busybox is required" >&2
    exit 1
fi

# --- root filesystem ------------------------------------------------------------------------------
R=$WORK/rootfs
mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/etc" "$R/root" "$R/tmp"
cp "$BB" "$R/bin/busybox"
chmod 0755 "$R/bin/busybox"
# One symlink per applet, where busybox itself would install it (bin/sh, usr/bin/awk, sbin/ifconfig...).
"$BB" --list-full | while IFS= read -r applet; do
    case "$applet" in
        bin/busybox|linuxrc|"") continue ;;
    esac
    mkdir -p "$R/$(dirname "$applet")"
    ln -sf /bin/busybox "$R/$applet"
done
cat > "$R/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
demo:x:1000:1000:demo user:/tmp:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$R/etc/group" <<'GROUP'
root:x:0:
demo:x:1000:
nogroup:x:65534:
GROUP
chmod 0755 "$R" "$R/bin" "$R/sbin" "$R/usr" "$R/usr/bin" "$R/usr/sbin" "$R/etc"
chmod 0644 "$R/etc/passwd" "$R/etc/group"
chmod 0700 "$R/root"
chmod 1777 "$R/tmp"

# --- layer, config, manifest, index -----------------------------------------------------------------
L=$WORK/demo-oci
mkdir -p "$L/blobs/sha256"
# Top-level names listed explicitly: entries are "bin/...", not "./bin/...", like docker's layers.
(cd "$R" && LC_ALL=C tar $TAR_OPTS -cf "$WORK/layer.tar" $(LC_ALL=C ls -A | LC_ALL=C sort))

# put_blob FILE -> prints "<hex> <size>" and stores FILE as a blob
put_blob() {
    hex=$(sha256sum "$1" | cut -d' ' -f1)
    size=$(stat -c %s "$1")
    mv "$1" "$L/blobs/sha256/$hex"
    echo "$hex $size"
}

set -- $(put_blob "$WORK/layer.tar")
LAYER_HEX=$1 LAYER_SIZE=$2

printf '%s' "{\"architecture\":\"$ARCH\",\"os\":\"linux\",\"created\":\"1970-01-01T00:00:00Z\",\
\"config\":{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\"Cmd\":[\"sh\"]},\
\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$LAYER_HEX\"]},\
\"history\":[{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"isola guest-image/demo-image/build.sh\"}]}" \
    > "$WORK/config.json"
set -- $(put_blob "$WORK/config.json")
CONFIG_HEX=$1 CONFIG_SIZE=$2

printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$CONFIG_HEX\",\"size\":$CONFIG_SIZE},\
\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$LAYER_HEX\",\"size\":$LAYER_SIZE}]}" \
    > "$WORK/manifest.json"
set -- $(put_blob "$WORK/manifest.json")
MANIFEST_HEX=$1 MANIFEST_SIZE=$2

printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\
\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$MANIFEST_HEX\",\
\"size\":$MANIFEST_SIZE,\"platform\":{\"architecture\":\"$ARCH\",\"os\":\"linux\"},\
\"annotations\":{\"io.containerd.image.name\":\"$IMAGE_NAME\",\"org.opencontainers.image.ref.name\":\"$TAG\"}}]}" \
    > "$L/index.json"
printf '%s' '{"imageLayoutVersion":"1.0.0"}' > "$L/oci-layout"
find "$L" -type d -exec chmod 0755 {} +
find "$L" -type f -exec chmod 0644 {} +

(cd "$L" && LC_ALL=C tar $TAR_OPTS -cf "$WORK/demo-oci.tar" oci-layout index.json blobs)

# --- publish: replace the previous output only once everything was built ---------------------------
rm -rf "$OUTDIR/demo-oci"
mv "$L" "$OUTDIR/demo-oci"
mv "$WORK/demo-oci.tar" "$OUTDIR/demo-oci.tar"
echo "demo image: $OUTDIR/demo-oci (manifest sha256:$MANIFEST_HEX), $OUTDIR/demo-oci.tar"
