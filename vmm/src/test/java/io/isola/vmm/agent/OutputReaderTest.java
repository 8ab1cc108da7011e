package io.isola.vmm.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isola.proto.agent.v1.ReadStdioRequest;
import io.isola.proto.agent.v1.ReadStdioResponse;
import io.isola.proto.agent.v1.StdioStream;
import io.isola.ttrpc.TtrpcServer;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pipelined reader against a stand-in agent that, like the real one, answers a stream's
 * reads in the order they came, one chunk each, then eof to every read after the last.
 */
class OutputReaderTest {
  @TempDir Path dir;
  private final ExecutorService executor = Executors.newSingleThreadExecutor(); // answers in order
  private TtrpcServer server;

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
    executor.shutdownNow();
  }

  private AgentClient agentWithChunks(int chunks, AtomicInteger requests) throws Exception {
    server = TtrpcServer.builder(executor).method(AgentClient.SERVICE, "ReadStdio", payload -> {
      ReadStdioRequest request = ReadStdioRequest.parseFrom(payload);
      assertEquals("c1", request.getContainerId());
      int n = requests.getAndIncrement();
      try {
        Thread.sleep(n % 3); // answers take varying time, as a guest's do
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return n < chunks ? ReadStdioResponse.newBuilder().setData(com.google.protobuf.ByteString.copyFromUtf8(
          "chunk" + n + ";")).build().toByteString() : ReadStdioResponse.newBuilder().setEof(true).build().toByteString();
    }).build();
    Path socket = dir.resolve("agent.sock");
    ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    listener.bind(UnixDomainSocketAddress.of(socket));
    server.serve(listener);
    return AgentClient.connect(socket, reason -> { });
  }

  @Test
  void chunksComeOutInOrderWithAtMostTwoReadsBeyondTheData() throws Exception {
    AtomicInteger requests = new AtomicInteger();
    AgentClient agent = agentWithChunks(500, requests);
    try {
      OutputReader reader = new OutputReader(agent, "c1", "", StdioStream.STDOUT);
      StringBuilder got = new StringBuilder();
      StringBuilder want = new StringBuilder();
      for (int i = 0; i < 500; i++) {
        want.append("chunk").append(i).append(';');
      }
      ReadStdioResponse r;
      do {
        r = reader.next();
        got.append(r.getData().toStringUtf8());
      } while (!r.getEof());
      assertEquals(want.toString(), got.toString());
      assertTrue(reader.next().getEof(), "eof is sticky");
      Thread.sleep(100);
      assertTrue(requests.get() <= 500 + OutputReader.DEPTH, "reads sent: " + requests.get());
    } finally {
      agent.close();
    }
  }
}
