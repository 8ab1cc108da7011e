package io.isola.vmm.daemon;

import java.nio.file.Path;

/** What the supervisor needs from its configuration. */
public record SupervisorSettings(Path runRoot, Path stateRoot, Path catalog, Path qemu, int defaultVcpus,
    int defaultMemoryMib, int maxVcpus, int maxMemoryMib, java.util.List<Path> volumeRoots, int warmPoolSize,
    long writableLayerMib) {

  /** Volume sources every tenant may use live under {@code <state_root>/volumes/<tenant>}. */
  public Path tenantVolumes(String tenant) {
    return stateRoot.resolve("volumes").resolve(tenant);
  }
}
