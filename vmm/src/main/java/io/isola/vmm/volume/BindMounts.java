package io.isola.vmm.volume;

import io.isola.vmm.util.HostCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Logger;

/**
 * Host bind mounts that put volume sources inside a sandbox's share. They must all go when the
 * container or sandbox goes: a bind left behind would let a later recursive delete of the
 * sandbox's files reach into the user's data.
 */
public final class BindMounts {
  private static final Logger LOG = Logger.getLogger(BindMounts.class.getName());

  private BindMounts() {}

  /**
   * Binds {@code source} onto {@code target} (an existing empty directory or file). Read-only binds
   * are not recursive, so no writable submount of the source shows through.
   *
   * <p>A jailed QEMU sees the share through a copy of this mount that propagation makes the moment
   * it is created, and a later remount never reaches that copy. So a read-only bind is first made
   * read-only in a private staging place and only then bound onto {@code target}: every copy of
   * a read-only mount is read-only. The target is left to propagate, so that unmounting it on the
   * host also unmounts the jail's copy.
   */
  public static void bind(Path source, Path target, boolean readOnly) throws IOException {
    if (!readOnly) {
      HostCommand.run(List.of("mount", "--rbind", source.toString(), target.toString()));
      HostCommand.run(List.of("mount", "-o", "remount,bind,nosuid,nodev", target.toString()));
      return;
    }
    Path staging = Files.isDirectory(source) ? Files.createTempDirectory("isola-ro-")
        : Files.createTempFile("isola-ro-", "");
    try {
      HostCommand.run(List.of("mount", "--bind", "--make-private", source.toString(), staging.toString()));
      try {
        HostCommand.run(List.of("mount", "-o", "remount,bind,ro,nosuid,nodev", staging.toString()));
        HostCommand.run(List.of("mount", "--bind", staging.toString(), target.toString()));
      } finally {
        unmount(staging);
      }
    } finally {
      Files.deleteIfExists(staging);
    }
  }

  /** Unmounts every mount at or below {@code root}; IOException if any is still there after. */
  public static void unmountAllUnder(Path root) throws IOException {
    for (Path point : MountTable.mountPointsUnder(root)) {
      unmount(point);
    }
    List<Path> left = MountTable.mountPointsUnder(root);
    if (!left.isEmpty()) {
      throw new IOException("still mounted after unmounting: " + left);
    }
  }

  private static void unmount(Path point) {
    try {
      HostCommand.run(List.of("umount", point.toString()));
    } catch (IOException busy) {
      // QEMU may still hold a file open on it for a moment: detach it now, it goes when released
      try {
        HostCommand.run(List.of("umount", "-l", point.toString()));
      } catch (IOException e) {
        LOG.warning("cannot unmount " + point + ": " + e.getMessage());
      }
    }
  }
}
