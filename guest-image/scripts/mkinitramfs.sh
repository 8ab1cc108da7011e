#!/bin/sh
# Build the "nano" initramfs: agent as /init, static busybox, crun + its shared libraries, the
# staged modules. Reproducible: sorted file list, owner 0:0, fixed mtimes, cpio --reproducible,
# so the digest changes only when an input changes.
set -eu
. "$(dirname "$0")/common.sh"
AGENT=${1:?usage: mkinitramfs.sh AGENT MODSTAGE OUT}; MODSTAGE=${2:?}; OUT=${3:?}
[ -x "$AGENT" ] || die "agent binary $AGENT missing (make -C agent)"
R="$OUT.root"; rm -rf "$R"; mkdir -p "$R"
cd "$R"
mkdir -p bin usr/bin proc sys dev run tmp etc mnt root
chmod 1777 tmp
ln -s bin sbin            # busybox applets and anything that expects /sbin/xyz
cp "$AGENT" init; chmod 0755 init
cp /bin/busybox bin/busybox
for a in $(bin/busybox --list); do [ -e "bin/$a" ] || ln -s busybox "bin/$a"; done
# crun and what the dynamic loader needs for it, at the same paths as on the host.
cp /usr/bin/crun usr/bin/crun
for lib in $(ldd /usr/bin/crun | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'); do
  mkdir -p ".$(dirname "$lib")"; cp -L "$lib" ".$lib"
done
cp -a "$MODSTAGE/lib" .
printf 'root:x:0:0:root:/root:/bin/sh\n' > etc/passwd
printf 'root:x:0:\n' > etc/group
# Fixed mtime for every entry (incl. symlinks), then a sorted, owner-0 newc archive.
find . -exec touch -h -d @0 {} +
find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible > "$OUT.tmp"
cd / && rm -rf "$R"
mv -f "$OUT.tmp" "$OUT"
log "initramfs $(basename "$OUT"): $(( $(wc -c < "$OUT") / 1024 )) KiB"
