package io.isola.vmm.volume;

import io.isola.vmm.util.HostCommand;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A sandbox's writable layer (its share: container root filesystems and writable volume mount
 * points) on a filesystem of its own: a sparse ext4 image mounted through a loop device. A guest
 * that writes without end fills its own layer (ENOSPC in the guest), never the host's state
 * root. The image costs only the blocks in use: it is sparse, and mounted with discard so that
 * freed blocks go back. Unmounted with the share's other mounts ({@link VolumeStager#releaseAll});
 * the image goes with the sandbox's state directory.
 */
public final class WritableLayer {
  private WritableLayer() {}

  /** The image file beside the share. */
  public static Path image(Path share) {
    return share.resolveSibling("layer.ext4");
  }

  /** Makes a {@code mib} MiB layer and mounts it on the (empty) directory {@code share}. */
  public static void mount(Path share, long mib) throws IOException {
    Path image = image(share);
    try {
      Files.createDirectories(share);
      try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
        f.setLength(mib << 20);
      }
      // no journal (the layer dies with its sandbox), no reserved blocks, no discard pass
      HostCommand.run(List.of("mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-m", "0", "-E", "nodiscard",
          image.toString()));
      HostCommand.run(List.of("mount", "-o", "loop,nosuid,nodev,noexec,discard", image.toString(), share.toString()));
      Files.deleteIfExists(share.resolve("lost+found"));
    } catch (IOException e) {
      Files.deleteIfExists(image);
      throw new IOException("cannot make the sandbox's " + mib + " MiB writable layer at " + image + ": "
          + e.getMessage() + " (install e2fsprogs, free disk space, or set [daemon] writable_layer_mib = 0)", e);
    }
  }
}
