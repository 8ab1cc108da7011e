package io.isola.vmm.jail;

/**
 * What one sandbox's QEMU may use on the host.
 *
 * @param memoryBytes guest memory plus the configured overhead; beyond it the kernel kills QEMU
 * @param cpuQuotaMicros CPU time per {@link #CPU_PERIOD_MICROS}: one core per vCPU plus half a
 *     core for QEMU's own I/O thread
 * @param cpuWeight relative share under contention, proportional to vCPUs (cgroup v1 shares scale)
 * @param pidsMax threads and processes
 */
public record CgroupLimits(long memoryBytes, long cpuQuotaMicros, long cpuWeight, long pidsMax) {
  public static final long CPU_PERIOD_MICROS = 100_000;

  public static CgroupLimits forVm(int vcpus, int memoryMib, JailSettings settings) {
    return new CgroupLimits((memoryMib + (long) settings.memoryOverheadMib()) << 20,
        vcpus * CPU_PERIOD_MICROS + CPU_PERIOD_MICROS / 2, 1024L * vcpus, settings.pidsMax());
  }
}
