package io.isola.vmm.agent;

import io.isola.proto.agent.v1.ReadStdioResponse;
import io.isola.proto.agent.v1.StdioStream;
import io.isola.ttrpc.TtrpcClient;
import io.isola.ttrpc.TtrpcException;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;

/**
 * Reads one output stream of a guest process with {@value #DEPTH} ReadStdio calls in flight.
 * With one, the guest's pipe sits full while each answer crosses the channel and the next
 * request comes back; with two, the agent has the next answer ready when one arrives. The agent
 * answers a stream's reads in the order they came and the channel keeps that order, so chunks
 * come out in order. Host memory stays bounded: at most DEPTH answers of at most
 * {@link AgentClient#READ_CHUNK} each.
 *
 * <p>Reads still in flight when the stream ends (eof, or the caller stops) stay parked in the
 * agent until the process's output ends, which answers them with eof.
 */
public final class OutputReader {
  static final int DEPTH = 2;

  private final AgentClient agent;
  private final String containerId;
  private final String execId;
  private final StdioStream stream;
  private final ArrayDeque<CompletableFuture<ReadStdioResponse>> inFlight = new ArrayDeque<>();
  private boolean eof;

  public OutputReader(AgentClient agent, String containerId, String execId, StdioStream stream) {
    this.agent = agent;
    this.containerId = containerId;
    this.execId = execId;
    this.stream = stream;
  }

  /** The next chunk, in order (empty data only with eof); after eof, only eof again. */
  public ReadStdioResponse next() throws TtrpcException {
    if (eof) {
      return ReadStdioResponse.newBuilder().setEof(true).build();
    }
    while (inFlight.size() < DEPTH) {
      inFlight.add(agent.readAsync(containerId, execId, stream));
    }
    ReadStdioResponse chunk = TtrpcClient.await(inFlight.remove(), "ReadStdio");
    eof = chunk.getEof();
    return chunk;
  }
}
