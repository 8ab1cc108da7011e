package io.isola.vmm.jail;

import io.isola.vmm.util.FileTrees;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Gives a sandbox's QEMU the files it serves read-write to its guest: the container root
 * filesystems isola unpacked for that sandbox alone. Ownership is changed on the entries
 * themselves (never through a symlink) and the walk stays on one filesystem, so it never
 * reaches a volume bound below. The guest's view is unchanged: under mapped-xattr it comes from
 * the user.virtfs.* xattrs, not from the host owner.
 */
public final class FileOwnership {
  private FileOwnership() {}

  public static void handOver(Path root, long uid, long gid) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Object device = Files.getAttribute(root, "unix:dev", LinkOption.NOFOLLOW_LINKS);
    // The tree may still be changing (`isola run` unpacks the image while the VM boots, and an
    // image layer can delete what an earlier one made): an entry that went away needs no owner,
    // and whatever is made after this walk is handed over by the next one.
    Files.walkFileTree(root, new FileTrees.SkippingVanishedEntries() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
        try {
          if (!device.equals(Files.getAttribute(dir, "unix:dev", LinkOption.NOFOLLOW_LINKS))) {
            return FileVisitResult.SKIP_SUBTREE; // a mount below (a volume): not ours to change
          }
          chown(dir, uid, gid);
        } catch (NoSuchFileException gone) {
          return FileVisitResult.SKIP_SUBTREE;
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        try {
          chown(file, uid, gid);
        } catch (NoSuchFileException gone) {
          // see below
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
        if (e == null || e instanceof NoSuchFileException) {
          return FileVisitResult.CONTINUE;
        }
        throw e;
      }
    });
  }

  /** Owner and group of {@code p} itself (never through a symlink). */
  static void chown(Path p, long uid, long gid) throws IOException {
    Files.setAttribute(p, "unix:uid", (int) uid, LinkOption.NOFOLLOW_LINKS);
    Files.setAttribute(p, "unix:gid", (int) gid, LinkOption.NOFOLLOW_LINKS);
  }
}
