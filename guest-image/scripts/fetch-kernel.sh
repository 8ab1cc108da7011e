#!/bin/sh
# Resolve Debian's generic kernel via the linux-image-amd64 metapackage and make sure its .deb is
# in the cache. Writes $CACHE/kernel.env (package, version, deb file, sha256) only when it changes,
# so everything downstream rebuilds exactly when the kernel changes.
# With META=linux-source PREFIX=linux-source- ENV_NAME=kernel-source.env it does the same for
# Debian's kernel source (linux-source -> linux-source-6.1), which the minimal kernel is built from.
# Cheap when nothing changed: apt-cache reads local lists, no network. Never installs anything.
set -eu
. "$(dirname "$0")/common.sh"
CACHE=${1:?usage: fetch-kernel.sh CACHE_DIR}
mkdir -p "$CACHE/debs"
META=${META:-linux-image-amd64}
PREFIX=${PREFIX:-linux-image-}
ENV="$CACHE/${ENV_NAME:-kernel.env}"

# Candidate's Depends of the metapackage, e.g. "linux-image-6.1.0-56-amd64 (= 6.1.192-2)".
# One apt-cache call when the Depends pins the version (Debian's does): each call costs ~1 s.
resolve() {
  dep=$(apt-cache show --no-all-versions "$META" 2>/dev/null | sed -n 's/^Depends: *//p' |
        tr ',' '\n' | grep -m1 "^ *$PREFIX[0-9]") || return 1
  pkg=$(echo "$dep" | sed 's/^ *\([^ ]*\).*/\1/')
  ver=$(echo "$dep" | sed -n 's/.*(= *\([^)]*\)).*/\1/p')
  [ -n "$ver" ] || ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Version: *//p' | head -n1)
  [ -n "$pkg" ] && [ -n "$ver" ]
}
download() {
  # -o APT::Sandbox::User=root: the cache dir is not readable by _apt; avoids a noisy warning.
  (cd "$CACHE/debs" && apt-get -q -o APT::Sandbox::User=root download "$pkg=$ver" >&2)
}
use_cached() {
  [ -f "$ENV" ] || die "$1 and no cached kernel in $CACHE"
  log "warning: $1; keeping cached kernel ($(sed -n 's/^KPKG=//p' "$ENV"))"
  exit 0
}

updated=no
if ! resolve; then
  log "apt lists do not know $META; running apt-get update once"
  apt-get -q update >&2 || use_cached "apt-get update failed"
  updated=yes
  resolve || use_cached "cannot resolve $META"
fi
# The .deb apt-get download writes: <package>_<version, ':' as %3a>_<architecture: amd64 or all>.deb
debpath() { set -- "$CACHE/debs/${pkg}_$(echo "$ver" | sed 's/:/%3a/')_"*.deb; deb=$1; }
debpath
if [ ! -f "$deb" ]; then
  log "fetching $pkg $ver ..."
  if ! download; then
    # A stale list names a version the archive has dropped: refresh once and re-resolve.
    [ $updated = yes ] && use_cached "cannot download $pkg $ver"
    log "download failed; running apt-get update once and retrying"
    apt-get -q update >&2 || use_cached "apt-get update failed (offline?)"
    resolve || use_cached "cannot resolve $META"
    debpath
    [ -f "$deb" ] || download || use_cached "cannot download $pkg $ver"
  fi
  debpath
fi
# Hash only a .deb we have not recorded yet (apt verified it against the signed index).
if [ -f "$ENV" ] && grep -qx "KDEB=$(basename "$deb")" "$ENV" && [ ! "$deb" -nt "$ENV" ]; then
  sum=$(sed -n 's/^KDEB_SHA256=//p' "$ENV")
else
  [ "$(dpkg-deb -f "$deb" Package)" = "$pkg" ] || die "$deb is not $pkg"
  sum=$(sha256sum "$deb" | cut -d' ' -f1)
fi
printf 'KPKG=%s\nKVER=%s\nKDEB=%s\nKDEB_SHA256=%s\n' "$pkg" "$ver" "$(basename "$deb")" "$sum" | write_if_changed "$ENV"
# Keep only the current .deb of this kind (old ones are gone from the archive anyway; 70-140 MB each).
for f in "$CACHE/debs/$PREFIX"*.deb; do [ "$f" = "$deb" ] || rm -f "$f"; done
