package io.isola.shim;

import io.isola.proto.containerd.types.Mount;
import io.isola.vmm.util.HostCommand;
import io.isola.vmm.volume.MountTable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Mounts containerd's rootfs onto bundle/rootfs and takes it down again (mount(8), umount(8)). */
final class Mounts {
  private Mounts() {}

  static void mountAll(List<Mount> mounts, Path target) throws IOException {
    for (Mount m : mounts) {
      List<String> cmd = new ArrayList<>(List.of("mount", "-t", m.getType().isEmpty() ? "none" : m.getType()));
      List<String> options = new ArrayList<>(m.getOptionsList());
      if (m.getType().equals("bind") || options.contains("bind") || options.contains("rbind")) {
        cmd.set(2, "none");
      }
      if (!options.isEmpty()) {
        cmd.add("-o");
        cmd.add(String.join(",", options));
      }
      cmd.add(m.getSource().isEmpty() ? m.getType() : m.getSource());
      cmd.add(target.toString());
      HostCommand.run(cmd);
    }
  }

  /** Lazily unmounts everything stacked on {@code target}; quiet when nothing is mounted. */
  static void unmountAll(Path target) {
    for (int i = 0; i < 8 && MountTable.isMountPoint(target); i++) {
      try {
        HostCommand.run(List.of("umount", "-l", target.toString()));
      } catch (IOException e) {
        return;
      }
    }
  }
}
