package io.isola.vmm.daemon;

import io.isola.proto.agent.v1.StdioStream;
import io.isola.vmm.sandbox.SandboxDirectories;
import java.util.function.BooleanSupplier;

/** The log files of containers and execs, under each sandbox's logs directory. */
interface ProcessLogs {
  /** A chunk of output as it was logged. */
  record Chunk(StdioStream stream, byte[] data) {}

  /** Reads one process's log. */
  interface Reader {
    /** Everything kept so far, oldest first. */
    void readAll(java.util.function.Consumer<Chunk> sink);

    /** Everything kept, then new output as it is written, until the log closes or stop says so. */
    void follow(java.util.function.Consumer<Chunk> sink, BooleanSupplier stop);
  }

  OutputSink open(SandboxDirectories dirs, String containerId, String execId);

  Reader reader(SandboxDirectories dirs, String containerId, String execId);

  /** Marks every open log of the container ended (its sandbox died). */
  void closeAll(SandboxDirectories dirs, String containerId);

  void delete(SandboxDirectories dirs, String containerId);
}
