package io.isola.vmm.util;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;

/** File-tree operations that are safe on trees a guest or an image wrote. */
public final class FileTrees {
  private FileTrees() {}

  /**
   * A walk over a tree that something else may still change: an entry that went away between
   * being listed and being visited is skipped, any other failure ends the walk.
   */
  public static class SkippingVanishedEntries extends SimpleFileVisitor<Path> {
    @Override
    public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
      if (e instanceof NoSuchFileException) {
        return FileVisitResult.CONTINUE;
      }
      throw e;
    }
  }

  /**
   * Deletes {@code root} and, if it is a real directory, everything below it. Symbolic links are
   * removed, never followed: a link planted in the tree must not make the host delete anything
   * outside it. A missing root is not an error. A tree with anything mounted in it (a volume's
   * bind mount) is not touched at all: deleting through the mount would destroy the volume's data.
   */
  public static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    java.util.List<Path> mounted = io.isola.vmm.volume.MountTable.mountPointsUnder(root);
    if (!mounted.isEmpty()) {
      throw new IOException("refusing to delete " + root + ": " + mounted + " still mounted there");
    }
    if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
      Files.delete(root);
      return;
    }
    // walkFileTree does not follow links unless asked: a link to a directory is visited as a file.
    Files.walkFileTree(root, new SkippingVanishedEntries() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.delete(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
        if (e != null) {
          throw e;
        }
        Files.delete(dir);
        return FileVisitResult.CONTINUE;
      }
    });
  }
}
