#!/bin/sh
# Stage the dependency closure of ../modules.list into $STAGE/lib/modules/<rel>/ as plain .ko
# (decompressing .ko.xz/.zst/.gz, so the agent can finit_module() them directly) and write
# $STAGE/lib/modules/load.list (boot) and ondemand.list: one in-guest path per line, dependencies
# first; ondemand.list omits what load.list already loads.
set -eu
. "$(dirname "$0")/common.sh"
CACHE=${1:?usage: modules.sh CACHE_DIR LIST STAGE}; LIST=${2:?}; STAGE=${3:?}
K="$CACHE/kernel"; rel=$(cat "$K/release")
rm -rf "$STAGE"; mkdir -p "$STAGE/lib/modules/$rel"
# closure LIST_KIND: print the module files of that kind's closure, in load order.
closure() {
for m in $(sed -n "s/^$1[[:space:]]\{1,\}\([^[:space:]#]*\).*/\1/p" "$LIST"); do
  # modprobe -D prints "insmod <path>" lines in load order (deps first), or "builtin <name>".
  modprobe -d "$K/root" -S "$rel" -D "$m" > "$STAGE/dep.tmp" || die "module $m not found in $rel"
  grep '^builtin ' "$STAGE/dep.tmp" | sed 's/^/[guest-image]   /' >&2 || true
  # Drop CPU-specific crypto pulled in by softdeps (crc32c-intel): it fails with ENODEV on a guest
  # CPU model without SSE4.2; the generic implementation (also a softdep) always loads.
  sed -n 's/^insmod \([^ ]*\).*/\1/p' "$STAGE/dep.tmp" | grep -v '/kernel/arch/x86/crypto/' || true
done
}
# stage < paths: copy each module (decompressed) into STAGE and print its in-guest path.
stage() { while read -r src; do
  relpath=${src#"$K/root/lib/modules/$rel/"}
  case $relpath in
    *.ko.xz)  dst=${relpath%.xz};  xz -dc   "$src" ;;
    *.ko.zst) dst=${relpath%.zst}; zstd -dcq "$src" ;;
    *.ko.gz)  dst=${relpath%.gz};  gzip -dc "$src" ;;
    *.ko)     dst=$relpath;        cat "$src" ;;
    *) die "unexpected module file $src" ;;
  esac > "$STAGE/mod.tmp"
  mkdir -p "$STAGE/lib/modules/$rel/$(dirname "$dst")"
  mv "$STAGE/mod.tmp" "$STAGE/lib/modules/$rel/$dst"
  echo "/lib/modules/$rel/$dst"
done; }
# Keep the first occurrence of each path: that position is still before every dependent.
closure boot > "$STAGE/boot.raw.tmp"; closure ondemand > "$STAGE/od.raw.tmp"
awk '!seen[$0]++' "$STAGE/boot.raw.tmp" > "$STAGE/boot.tmp"
awk '!seen[$0]++' "$STAGE/od.raw.tmp" | grep -vxF -f "$STAGE/boot.tmp" > "$STAGE/od.tmp" || true
stage < "$STAGE/boot.tmp" > "$STAGE/lib/modules/load.list"
stage < "$STAGE/od.tmp" > "$STAGE/lib/modules/ondemand.list"
rm -f "$STAGE"/*.tmp
log "modules for $rel: $(wc -l < "$STAGE/lib/modules/load.list") at boot, $(wc -l < "$STAGE/lib/modules/ondemand.list") on demand"
