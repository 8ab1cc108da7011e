package io.isola.vmm.sandbox;

import io.isola.vmm.util.FileTrees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The two directories one sandbox owns: a runtime directory (sockets, console log; under
 * /run/isola by default) and a state directory (the container's root filesystem; under
 * /var/lib/isola by default). Both are private to the runtime's user (mode 0700).
 */
public record SandboxDirectories(String id, Path run, Path state) {

  public static SandboxDirectories create(Path runRoot, Path stateRoot, String id) throws IOException {
    return create(runRoot, stateRoot, id, "sandboxes");
  }

  /** As {@link #create(Path, Path, String)} under {@code <root>/<kind>/<id>} (kind "pool": warm VMs). */
  public static SandboxDirectories create(Path runRoot, Path stateRoot, String id, String kind) throws IOException {
    Path run = runRoot.resolve(kind).resolve(id);
    Path state = stateRoot.resolve(kind).resolve(id);
    for (Path dir : new Path[] {run, state}) {
      Files.createDirectories(dir.getParent());
      Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }
    return new SandboxDirectories(id, run, state);
  }

  /**
   * Moves these directories (a warm VM's, which keeps running: QEMU holds its share, sockets
   * and log open, so a rename does not disturb it) to where sandbox {@code id}'s belong.
   */
  public SandboxDirectories moveTo(Path runRoot, Path stateRoot, String newId) throws IOException {
    Path newRun = runRoot.resolve("sandboxes").resolve(newId);
    Path newState = stateRoot.resolve("sandboxes").resolve(newId);
    Files.createDirectories(newRun.getParent());
    Files.createDirectories(newState.getParent());
    Files.move(run, newRun, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    Files.move(state, newState, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    return new SandboxDirectories(newId, newRun, newState);
  }

  /** Opens the directories of an existing sandbox (after a supervisor restart). */
  public static SandboxDirectories existing(Path run, Path state, String id) {
    return new SandboxDirectories(id, run, state);
  }

  /** The directory shared into the guest (tag "share"): one subdirectory per container. */
  public Path share() {
    return state.resolve("share");
  }

  /** The read-only share (tag "ro"): read-only volumes and the generated /etc files. */
  public Path readOnlyShare() {
    return state.resolve("ro-share");
  }

  /** A container's root filesystem inside the share; relative path as the agent sees it. */
  public static String rootfsPathInShare(String containerId) {
    return containerId + "/rootfs";
  }

  /** Container and exec logs. */
  public Path logs() {
    return state.resolve("logs");
  }

  /** Where the container's root filesystem is unpacked and shared from (single-container runs). */
  public Path rootfs() {
    return state.resolve("rootfs");
  }

  public void removeRun() throws IOException {
    FileTrees.deleteTree(run);
  }

  public void removeState() throws IOException {
    FileTrees.deleteTree(state);
  }
}
