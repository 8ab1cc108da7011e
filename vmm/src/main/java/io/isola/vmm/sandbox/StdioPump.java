package io.isola.vmm.sandbox;

import com.google.protobuf.ByteString;
import io.isola.proto.agent.v1.ReadStdioResponse;
import io.isola.proto.agent.v1.StdioStream;
import io.isola.ttrpc.TtrpcException;
import io.isola.vmm.agent.AgentClient;
import io.isola.vmm.agent.OutputReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.CompletableFuture;

/**
 * Moves a process's stdio between the agent and local streams, each direction on its own
 * daemon thread. Output is pulled (a bounded pipeline of ReadStdio calls per stream), so a slow
 * local reader slows the container rather than filling host memory.
 */
public final class StdioPump {
  private static final int STDIN_CHUNK = 64 * 1024;

  private StdioPump() {}

  /** Copies one output stream until EOF; completes with null, or the error that stopped it. */
  public static CompletableFuture<Throwable> output(AgentClient agent, String containerId, String execId,
      StdioStream stream, OutputStream sink) {
    CompletableFuture<Throwable> done = new CompletableFuture<>();
    Thread thread = new Thread(() -> {
      OutputReader reader = new OutputReader(agent, containerId, execId, stream);
      try {
        while (true) {
          ReadStdioResponse chunk = reader.next();
          if (!chunk.getData().isEmpty()) {
            chunk.getData().writeTo(sink);
            sink.flush();
          }
          if (chunk.getEof()) {
            break;
          }
        }
        done.complete(null);
      } catch (TtrpcException | IOException e) {
        done.complete(e);
      }
    }, "stdio-" + stream.name().toLowerCase());
    thread.setDaemon(true);
    thread.start();
    return done;
  }

  /** Copies {@code source} to the process's stdin and closes it at EOF so the process sees EOF. */
  public static void input(AgentClient agent, String containerId, String execId, InputStream source) {
    Thread thread = new Thread(() -> {
      byte[] buffer = new byte[STDIN_CHUNK];
      try {
        int n;
        while ((n = source.read(buffer)) >= 0) {
          if (n > 0) {
            agent.writeStdin(containerId, execId, ByteString.copyFrom(buffer, 0, n));
          }
        }
        agent.closeStdin(containerId, execId);
      } catch (IOException | TtrpcException e) {
        // the process is gone or the VM is going down; its exit status tells the story
      }
    }, "stdio-stdin");
    thread.setDaemon(true);
    thread.start();
  }
}
