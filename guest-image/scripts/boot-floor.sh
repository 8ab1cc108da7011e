#!/bin/bash
# The cold-start floor: time for QEMU (TCG) to boot a catalog kernel (default "debian") with the
# base image built for it to init and power off (the agent powers off at once when the cmdline has
# isola.poweroff_at_init). Prints each run, the median wall time and QEMU's peak RSS (VmHWM).
# MACHINE=q35 for the PCI variant.
set -eu
. "$(dirname "$0")/common.sh"
OUT=${1:?usage: boot-floor.sh OUT_DIR [RUNS [KERNEL]]}; RUNS=${2:-5}; KERNEL=${3:-debian}
MACHINE=${MACHINE:-microvm}
# catalog.json is written one entry per line (catalog.sh): pick the kernel's line, then the first
# base image whose kernelRelease is that kernel's release.
field() { sed -n "s/.*\"$1\": \"\([^\"]*\)\".*/\1/p"; }
kline=$(grep "{\"name\": \"$KERNEL\", \"file\"" "$OUT/catalog.json" | grep '"release"' || true)
[ -n "$kline" ] || die "no kernel \"$KERNEL\" in $OUT/catalog.json"
rel=$(echo "$kline" | field release)
VMLINUX="$OUT/$(echo "$kline" | field file)"
INITRD="$OUT/$(grep "\"kernelRelease\": \"$rel\"" "$OUT/catalog.json" | head -n1 | field file)"
[ -f "$VMLINUX" ] && [ -f "$INITRD" ] || die "kernel \"$KERNEL\": files missing ($VMLINUX, $INITRD)"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mkdir "$T/share"
APPEND="console=ttyS0 quiet cryptomgr.notests tsc=reliable no_timer_check 8250.nr_uarts=1 isola.poweroff_at_init"
case $MACHINE in
  microvm)
    # microvm has no HPET/PM timer and no port 0x61, so the kernel cannot calibrate the TSC and
    # hangs. Under TCG the guest TSC runs at the host TSC rate; x86 Linux reports
    # bogomips = tsc_khz / 500 in /proc/cpuinfo.
    khz=$(awk -F: '/^bogomips/ {printf "%d", $2 * 500; exit}' /proc/cpuinfo)
    M=(-M microvm,rtc=on); APPEND="$APPEND tsc_early_khz=$khz"; bus=device ;;
  q35) M=(-M q35,sata=off,smbus=off,i8042=off,vmport=off); bus=pci ;;
  *) die "MACHINE must be microvm or q35" ;;
esac
argv=(qemu-system-x86_64 "${M[@]}" -accel tcg -cpu max -m 512 -smp 1
  -nodefaults -no-user-config -nographic -no-reboot
  -kernel "$VMLINUX" -initrd "$INITRD" -append "$APPEND"
  -serial "file:$T/console.log"
  -chardev "socket,id=agent,path=$T/agent.sock,server=on,wait=off"
  -device "virtio-serial-$bus,id=vs0" -device virtserialport,bus=vs0.0,chardev=agent,name=isola.agent
  -fsdev "local,id=fs0,path=$T/share,security_model=mapped-xattr"
  -device "virtio-9p-$bus,fsdev=fs0,mount_tag=rootfs9p")
log "floor: ${argv[*]}"
ms=(); hwm=0
for i in $(seq "$RUNS"); do
  rm -f "$T/agent.sock"
  s=$(date +%s%N)
  timeout 120 "${argv[@]}" > "$T/qemu.out" 2>&1 & pid=$!
  # Poll VmHWM of the timeout's child (qemu) until it exits.
  while kill -0 $pid 2>/dev/null; do
    q=$(pgrep -P $pid 2>/dev/null | head -n1 || true)
    [ -n "$q" ] && h=$(awk '/^VmHWM/ {print $2}' /proc/$q/status 2>/dev/null || true) && [ "${h:-0}" -gt $hwm ] && hwm=$h
    sleep 0.05
  done
  wait $pid || die "run $i failed: $(tail -n3 "$T/qemu.out" "$T/console.log" 2>/dev/null)"
  ms+=($(( ($(date +%s%N) - s) / 1000000 )))
done
med=$(printf '%s\n' "${ms[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
log "floor ($KERNEL kernel, $MACHINE): runs ${ms[*]} ms; median ${med} ms; qemu peak RSS $(( hwm / 1024 )) MiB"
