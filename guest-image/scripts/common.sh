# Shared helpers, sourced by the other scripts (not executable on its own).
log() { echo "[guest-image] $*" >&2; }
die() { echo "[guest-image] error: $*" >&2; exit 1; }
# Write stdin to $1 only if the content differs, so make sees a new mtime only on real change.
write_if_changed() {
  _t="$1.tmp.$$"; cat > "$_t"
  if [ -f "$1" ] && cmp -s "$_t" "$1"; then rm -f "$_t"; else mv -f "$_t" "$1"; fi
}
