#!/bin/sh
# Dumps the class-data-sharing archives the launchers use (bin/isola, bin/containerd-shim-isola-v2):
# one training run each with -XX:ArchiveClassesAtExit. The JVM then maps the classes it needs
# instead of loading and verifying them, which roughly halves the start-up of a short command.
# An archive that no longer matches the jars is ignored by the JVM (the launchers silence its
# warning), so a stale one costs speed, never correctness. Safe to run any number of times.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The CLI: a command that builds a gRPC channel and fails to connect loads most of what any
# client command loads.
ISOLA_CDS_DUMP="$here/vmm/target/isola-cli.jsa" ISOLA_SOCKET="$tmp/none.sock" \
  "$here/bin/isola" ps >/dev/null 2>&1 || true

# The shim: `delete` on an empty bundle reads its options and answers, as containerd runs it.
mkdir -p "$tmp/bundle"
(cd "$tmp/bundle" && ISOLA_CDS_DUMP="$here/shim/target/isola-shim.jsa" ISOLA_SOCKET="$tmp/none.sock" \
  "$here/bin/containerd-shim-isola-v2" -namespace cds -id cds -address "$tmp/none.sock" delete \
  </dev/null >/dev/null 2>&1 || true)

# `isola run` loads a different set (image unpacking, JSON, QEMU, the agent's protocol): its own
# archive, trained by running the demo container once, when the guest and demo images are built
# (make build makes them before this step). Without them the CLI archive serves `run` too.
demo="$here/build/images/demo-oci"
if [ -f "$here/guest-image/out/catalog.json" ] && [ -d "$demo" ]; then
  rm -f "$here/vmm/target/isola-run.jsa"
  ISOLA_CDS_DUMP="$here/vmm/target/isola-run.jsa" ISOLA_SOCKET="$tmp/none.sock" \
    "$here/bin/isola" run --embedded --rm "$demo" true >"$tmp/run.log" 2>&1 ||
    echo "cds-archives: the training run of isola run failed (the CLI archive serves it): $(tail -n3 "$tmp/run.log")" >&2
fi

for a in "$here/vmm/target/isola-cli.jsa" "$here/shim/target/isola-shim.jsa"; do
  [ -s "$a" ] || { echo "cds-archives: $a was not written" >&2; exit 1; }
done
echo "[build] class-data-sharing archives: $(du -ch "$here"/vmm/target/isola-*.jsa "$here"/shim/target/isola-shim.jsa | tail -1 | cut -f1)"
