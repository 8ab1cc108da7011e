package io.isola.vmm.daemon;

import com.google.protobuf.ByteString;
import io.isola.proto.agent.v1.ReadStdioResponse;
import io.isola.proto.agent.v1.StdioStream;
import io.isola.ttrpc.TtrpcException;
import io.isola.vmm.agent.AgentClient;
import io.isola.vmm.agent.OutputReader;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Pulls one process's stdout and stderr from the agent for as long as the process writes, into
 * its log, and hands each chunk to the attached listeners. The supervisor is always the reader,
 * so a container never blocks for want of an attached client; the log's size cap bounds disk.
 */
final class ProcessOutput {
  private static final Logger LOG = Logger.getLogger(ProcessOutput.class.getName());

  /** Gets live output; called on the pump threads, must not block for long. */
  interface Listener {
    void output(StdioStream stream, ByteString data);
  }

  private final AgentClient agent;
  private final String containerId;
  private final String execId;
  private final OutputSink sink;
  private final Set<Listener> listeners = new CopyOnWriteArraySet<>();
  /** Each completes with true at EOF, false when the pump stopped early (agent gone). */
  private final CompletableFuture<Boolean> stdoutDone;
  private final CompletableFuture<Boolean> stderrDone;

  ProcessOutput(AgentClient agent, String containerId, String execId, OutputSink sink, boolean tty) {
    this.agent = agent;
    this.containerId = containerId;
    this.execId = execId;
    this.sink = sink;
    this.stdoutDone = pump(StdioStream.STDOUT);
    this.stderrDone = tty ? CompletableFuture.completedFuture(true) : pump(StdioStream.STDERR);
    // Only a real end of output closes the log: a pump stopped by a supervisor restart is
    // resumed by the next supervisor, and readers following the log keep following.
    stdoutDone.thenCombine(stderrDone, (a, b) -> a && b).thenAccept(eof -> {
      if (eof) {
        sink.close();
      }
    });
  }

  void addListener(Listener listener) {
    listeners.add(listener);
  }

  /**
   * Runs {@code replay} (which reads what the log holds so far) and then adds the listener,
   * with no output logged in between: an attached client gets every byte exactly once.
   */
  synchronized void addListenerAfter(Runnable replay, Listener listener) {
    replay.run();
    listeners.add(listener);
  }

  void removeListener(Listener listener) {
    listeners.remove(listener);
  }

  /** Completes when both streams reached EOF (or the agent went away). */
  CompletableFuture<Void> done() {
    return CompletableFuture.allOf(stdoutDone, stderrDone);
  }

  private synchronized void deliver(StdioStream stream, ByteString data) {
    sink.append(stream, data);
    for (Listener listener : listeners) {
      listener.output(stream, data);
    }
  }

  private CompletableFuture<Boolean> pump(StdioStream stream) {
    CompletableFuture<Boolean> done = new CompletableFuture<>();
    Thread thread = new Thread(() -> {
      boolean eof = false;
      OutputReader reader = new OutputReader(agent, containerId, execId, stream);
      try {
        while (true) {
          ReadStdioResponse chunk = reader.next();
          if (!chunk.getData().isEmpty()) {
            deliver(stream, chunk.getData());
          }
          if (chunk.getEof()) {
            eof = true;
            break;
          }
        }
      } catch (TtrpcException e) {
        // The VM went away, or the supervisor is shutting down: a restarted supervisor picks
        // the stream up where the agent still holds it.
        LOG.log(Level.FINE, "output pump of " + containerId + "/" + execId + " ended", e);
      } finally {
        done.complete(eof);
      }
    }, "output-" + containerId + (execId.isEmpty() ? "" : "-" + execId) + "-" + stream.name().toLowerCase());
    thread.setDaemon(true);
    thread.start();
    return done;
  }
}
