package io.isola.vmm.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * Where isola finds its guest catalog and QEMU and keeps its files. Flags override environment
 * variables, which override the defaults; tests point everything at temporary directories.
 */
public final class RuntimeSettings {
  @Option(names = "--catalog", paramLabel = "FILE", defaultValue = "${env:ISOLA_CATALOG:-/usr/share/isola/catalog.json}",
      description = "Guest catalog (kernels, base images). Env ISOLA_CATALOG. Default: ${DEFAULT-VALUE}")
  Path catalog;

  @Option(names = "--run-root", paramLabel = "DIR", defaultValue = "${env:ISOLA_RUN_ROOT:-/run/isola}",
      description = "Runtime files (sockets). Env ISOLA_RUN_ROOT. Default: ${DEFAULT-VALUE}")
  Path runRoot;

  @Option(names = "--state-root", paramLabel = "DIR", defaultValue = "${env:ISOLA_STATE_ROOT:-/var/lib/isola}",
      description = "Persistent files (container filesystems, caches). Env ISOLA_STATE_ROOT. Default: ${DEFAULT-VALUE}")
  Path stateRoot;

  @Option(names = "--qemu", paramLabel = "FILE", defaultValue = "${env:ISOLA_QEMU:-/usr/bin/qemu-system-x86_64}",
      description = "QEMU binary. Env ISOLA_QEMU. Default: ${DEFAULT-VALUE}")
  Path qemu;

  Path catalog() {
    return catalog;
  }

  Path runRoot() {
    return runRoot;
  }

  Path stateRoot() {
    return stateRoot;
  }

  Path qemu() {
    return qemu;
  }
}
