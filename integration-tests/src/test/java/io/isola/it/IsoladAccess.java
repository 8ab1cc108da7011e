package io.isola.it;

import java.nio.file.Path;

/** Lets tests in other packages start a real isolad. */
public final class IsoladAccess {
  private IsoladAccess() {}

  /** A started isolad and the socket it serves on. */
  public record Started(IsoladProcess process, Path socket) implements AutoCloseable {
    /** SIGKILL, then start again on the same state (it re-adopts its VMs). */
    public void restartAfterKill() throws Exception {
      process.kill9();
      process.start();
    }

    /** isolad's state root (volume sources an admin may bind live under its volumes/). */
    public Path stateRoot() {
      return process.stateRoot;
    }

    /** QEMU processes of this isolad's sandboxes. */
    public int qemuCount() {
      return IsolaProcess.qemuProcessesUnder(process.dir).size();
    }

    @Override
    public void close() throws Exception {
      process.close();
    }
  }

  public static Started start(Path dir) throws Exception {
    IsoladProcess isolad = new IsoladProcess(dir, "").start();
    return new Started(isolad, isolad.socket);
  }
}
