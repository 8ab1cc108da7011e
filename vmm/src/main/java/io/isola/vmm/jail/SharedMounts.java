package io.isola.vmm.jail;

import io.isola.vmm.util.HostCommand;
import io.isola.vmm.volume.MountTable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A jailed QEMU sees its shares through its own mount namespace, made when it starts. Volumes
 * are bound into a share later (when a container is created); for those binds to reach the jail,
 * each share is made a shared mount (a bind onto itself) on the host before QEMU starts: the
 * jail's copy is its slave and receives every mount made below it, never the other way.
 * Removed with the share's other mounts when the sandbox's volumes are released.
 */
final class SharedMounts {
  private SharedMounts() {}

  static void makeShared(Path directory) throws IOException {
    if (!MountTable.isMountPoint(directory)) {
      HostCommand.run(List.of("mount", "--bind", directory.toString(), directory.toString()));
    }
    HostCommand.run(List.of("mount", "--make-shared", directory.toString()));
  }
}
