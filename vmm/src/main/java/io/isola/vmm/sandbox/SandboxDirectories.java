package io.isola.vmm.sandbox;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The two directories one sandbox owns: a runtime directory (sockets, console log; under
 * /run/isola by default) and a state directory (the container's root filesystem; under
 * /var/lib/isola by default). Both are private to the runtime's user (mode 0700).
 */
public record SandboxDirectories(String id, Path run, Path state) {

  public static SandboxDirectories create(Path runRoot, Path stateRoot, String id) throws IOException {
    Path run = runRoot.resolve("sandboxes").resolve(id);
    Path state = stateRoot.resolve("sandboxes").resolve(id);
    for (Path dir : new Path[] {run, state}) {
      Files.createDirectories(dir.getParent());
      Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }
    return new SandboxDirectories(id, run, state);
  }

  /** Where the container's root filesystem is unpacked and shared from. */
  public Path rootfs() {
    return state.resolve("rootfs");
  }

  public void removeRun() throws IOException {
    deleteTree(run);
  }

  public void removeState() throws IOException {
    deleteTree(state);
  }

  /**
   * Deletes a tree without following symbolic links: the tree holds a guest-written filesystem,
   * and a link planted by the guest must never make the host delete anything outside it.
   */
  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Files.walkFileTree(root, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.delete(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
        if (e instanceof NoSuchFileException) {
          return FileVisitResult.CONTINUE;
        }
        throw e;
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
