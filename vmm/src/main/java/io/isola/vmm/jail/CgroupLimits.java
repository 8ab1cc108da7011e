package io.isola.vmm.jail;

/**
 * What one sandbox's QEMU may use on the host.
 *
 * @param memoryBytes guest memory plus the configured overhead; beyond it the kernel kills QEMU
 * @param cpuQuotaMicros CPU time per {@link #CPU_PERIOD_MICROS}: one core per vCPU plus half a
 *     core for QEMU's own I/O thread
 * @param cpuWeight relative share under contention (cgroup v1 shares scale): the same for every
 *     sandbox, so that on a busy host a small sandbox is not starved by a big one that spins all
 *     its vCPUs (measured: with weights proportional to vCPUs, a 1-vCPU sandbox's exec took 2.3x
 *     its idle time beside a spinning 2-vCPU one on 2 cores); the quota still caps each at its size
 * @param pidsMax threads and processes
 */
public record CgroupLimits(long memoryBytes, long cpuQuotaMicros, long cpuWeight, long pidsMax) {
  public static final long CPU_PERIOD_MICROS = 100_000;
  static final long EQUAL_WEIGHT = 1024;

  public static CgroupLimits forVm(int vcpus, int memoryMib, JailSettings settings) {
    return new CgroupLimits((memoryMib + (long) settings.memoryOverheadMib()) << 20,
        vcpus * CPU_PERIOD_MICROS + CPU_PERIOD_MICROS / 2, EQUAL_WEIGHT, settings.pidsMax());
  }
}
