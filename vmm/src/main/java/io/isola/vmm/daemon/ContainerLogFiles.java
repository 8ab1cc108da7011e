package io.isola.vmm.daemon;

import com.google.protobuf.ByteString;
import io.isola.proto.agent.v1.StdioStream;
import io.isola.vmm.logs.ContainerLog;
import io.isola.vmm.logs.LogStream;
import io.isola.vmm.logs.LogWriter;
import io.isola.vmm.sandbox.SandboxDirectories;
import io.isola.vmm.util.FileTrees;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/** Process logs as {@link ContainerLog} directories under each sandbox's logs directory. */
final class ContainerLogFiles implements ProcessLogs {
  private static final Logger LOG = Logger.getLogger(ContainerLogFiles.class.getName());
  private final Map<Path, LogWriter> writers = new ConcurrentHashMap<>();

  private static Path dirOf(SandboxDirectories dirs, String containerId, String execId) {
    Path container = dirs.logs().resolve(containerId);
    return execId.isEmpty() ? container : container.resolve("execs").resolve(execId);
  }

  @Override
  public OutputSink open(SandboxDirectories dirs, String containerId, String execId) {
    Path dir = dirOf(dirs, containerId, execId);
    LogWriter writer;
    try {
      writer = ContainerLog.at(dir).openWriter();
    } catch (IOException e) {
      throw Failures.internal("cannot open the log of " + containerId + ": " + e.getMessage(), e);
    }
    writers.put(dir, writer);
    return new OutputSink() {
      @Override
      public void append(StdioStream stream, ByteString data) {
        try {
          writer.append(stream == StdioStream.STDERR ? LogStream.STDERR : LogStream.STDOUT, data.toByteArray());
        } catch (IOException e) {
          // A full disk must not stop the pump (the container would block): the output is lost
          // from the log, and we say so in the daemon's log.
          LOG.log(Level.WARNING, "cannot write the log of " + containerId + ": " + e.getMessage());
        }
      }

      @Override
      public void close() {
        closeWriter(dir);
      }
    };
  }

  private void closeWriter(Path dir) {
    LogWriter writer = writers.remove(dir);
    if (writer != null) {
      try {
        writer.close();
      } catch (IOException e) {
        LOG.log(Level.WARNING, "cannot close the log " + dir, e);
      }
    }
  }

  @Override
  public Reader reader(SandboxDirectories dirs, String containerId, String execId) {
    ContainerLog log = ContainerLog.at(dirOf(dirs, containerId, execId));
    return new Reader() {
      @Override
      public void readAll(Consumer<ProcessLogs.Chunk> sink) {
        try {
          log.read(c -> sink.accept(convert(c)));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }

      @Override
      public void follow(Consumer<ProcessLogs.Chunk> sink, BooleanSupplier stop) {
        try {
          log.follow(c -> sink.accept(convert(c)), stop);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    };
  }

  private static ProcessLogs.Chunk convert(io.isola.vmm.logs.Chunk chunk) {
    return new ProcessLogs.Chunk(chunk.stream() == LogStream.STDERR ? StdioStream.STDERR : StdioStream.STDOUT,
        chunk.data());
  }

  @Override
  public void closeAll(SandboxDirectories dirs, String containerId) {
    Path container = dirs.logs().resolve(containerId);
    for (Path dir : writers.keySet()) {
      if (dir.startsWith(container)) {
        closeWriter(dir);
      }
    }
  }

  @Override
  public void delete(SandboxDirectories dirs, String containerId) {
    closeAll(dirs, containerId);
    try {
      FileTrees.deleteTree(dirs.logs().resolve(containerId));
    } catch (IOException e) {
      LOG.log(Level.WARNING, "cannot remove the logs of " + containerId, e);
    }
  }
}
