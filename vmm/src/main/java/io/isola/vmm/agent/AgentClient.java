package io.isola.vmm.agent;

import com.google.protobuf.ByteString;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import io.isola.proto.agent.v1.CloseStdinRequest;
import io.isola.proto.agent.v1.CreateContainerRequest;
import io.isola.proto.agent.v1.DestroyContainerRequest;
import io.isola.proto.agent.v1.Empty;
import io.isola.proto.agent.v1.ExecProcessRequest;
import io.isola.proto.agent.v1.GetVersionRequest;
import io.isola.proto.agent.v1.GetVersionResponse;
import io.isola.proto.agent.v1.ReadStdioRequest;
import io.isola.proto.agent.v1.ReadStdioResponse;
import io.isola.proto.agent.v1.ResizeTerminalRequest;
import io.isola.proto.agent.v1.ShutdownRequest;
import io.isola.proto.agent.v1.SignalProcessRequest;
import io.isola.proto.agent.v1.StartContainerRequest;
import io.isola.proto.agent.v1.StartResponse;
import io.isola.proto.agent.v1.StdioStream;
import io.isola.proto.agent.v1.WaitProcessRequest;
import io.isola.proto.agent.v1.WaitProcessResponse;
import io.isola.proto.agent.v1.WriteStdinRequest;
import io.isola.ttrpc.StatusCode;
import io.isola.ttrpc.TtrpcClient;
import io.isola.ttrpc.TtrpcException;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;

/**
 * The host side of the agent API: typed calls over ttrpc, each with a deadline. Calls that wait
 * on the container (Wait, ReadStdio) have long deadlines; they end early when the VM dies
 * because the channel closes.
 */
public final class AgentClient implements AutoCloseable {
  static final String SERVICE = "isola.agent.v1.Agent";
  /** The agent caps one read at 1 MiB; asking for that much keeps the channel busy. */
  public static final int READ_CHUNK = 1 << 20;
  private static final Duration CONTROL = Duration.ofSeconds(30);
  private static final Duration BLOCKING = Duration.ofDays(365);

  private final TtrpcClient ttrpc;

  private AgentClient(TtrpcClient ttrpc) {
    this.ttrpc = ttrpc;
  }

  /** Connects to the host end of the agent channel (QEMU's chardev socket). */
  public static AgentClient connect(Path socket, Consumer<TtrpcException> onBroken) throws IOException {
    SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket));
    return new AgentClient(new TtrpcClient(channel, socket.getParent().getFileName().toString(), onBroken));
  }

  private <T extends MessageLite> T call(String method, MessageLite request, Parser<T> parser, Duration timeout)
      throws TtrpcException {
    return ttrpc.call(SERVICE, method, request, parser, timeout);
  }

  /**
   * Waits for the agent to answer: the guest has booted when this returns. The request sits in
   * the channel until the agent opens its port, so one call with the boot deadline suffices.
   */
  public GetVersionResponse awaitReady(Duration bootDeadline) throws TtrpcException {
    return call("GetVersion", GetVersionRequest.getDefaultInstance(), GetVersionResponse.parser(), bootDeadline);
  }

  public void createContainer(String id, byte[] ociConfig, String rootfsTag, boolean stdin, boolean terminal)
      throws TtrpcException {
    createContainer(id, ociConfig, rootfsTag, "", stdin, terminal);
  }

  /** A container whose rootfs is {@code rootfsPath} inside the share {@code rootfsTag}. */
  public void createContainer(String id, byte[] ociConfig, String rootfsTag, String rootfsPath, boolean stdin,
      boolean terminal) throws TtrpcException {
    createContainer(id, ociConfig, rootfsTag, rootfsPath, stdin, terminal, java.util.List.of());
  }

  /** As above, with further shares (read-only ones mounted so) that the config's mounts use. */
  public void createContainer(String id, byte[] ociConfig, String rootfsTag, String rootfsPath, boolean stdin,
      boolean terminal, java.util.List<io.isola.proto.agent.v1.ShareMount> shares) throws TtrpcException {
    call("CreateContainer", CreateContainerRequest.newBuilder()
        .setContainerId(id)
        .setOciConfigJson(ByteString.copyFrom(ociConfig))
        .setRootfsTag(rootfsTag)
        .setRootfsPath(rootfsPath)
        .setStdin(stdin)
        .setTerminal(terminal)
        .addAllShares(shares)
        .build(), Empty.parser(), CONTROL);
  }

  /** Hostname, NICs and routes of the guest (once, after boot). */
  public void configureNetwork(io.isola.proto.agent.v1.ConfigureNetworkRequest request) throws TtrpcException {
    call("ConfigureNetwork", request, Empty.parser(), CONTROL);
  }

  /** Freezes (true) or thaws (false) the container's processes. */
  public void setPaused(String id, boolean paused) throws TtrpcException {
    call(paused ? "PauseContainer" : "ResumeContainer",
        io.isola.proto.agent.v1.PauseContainerRequest.newBuilder().setContainerId(id).build(), Empty.parser(), CONTROL);
  }

  public io.isola.proto.agent.v1.GetStatsResponse stats(String id) throws TtrpcException {
    return call("GetStats", io.isola.proto.agent.v1.GetStatsRequest.newBuilder().setContainerId(id).build(),
        io.isola.proto.agent.v1.GetStatsResponse.parser(), CONTROL);
  }

  public int startContainer(String id) throws TtrpcException {
    return call("StartContainer", StartContainerRequest.newBuilder().setContainerId(id).build(),
        StartResponse.parser(), CONTROL).getPid();
  }

  public int execProcess(String id, String execId, byte[] processJson, boolean stdin, boolean terminal)
      throws TtrpcException {
    return call("ExecProcess", ExecProcessRequest.newBuilder()
        .setContainerId(id).setExecId(execId)
        .setProcessJson(ByteString.copyFrom(processJson))
        .setStdin(stdin).setTerminal(terminal)
        .build(), StartResponse.parser(), CONTROL).getPid();
  }

  public void signal(String id, String execId, int signal) throws TtrpcException {
    call("SignalProcess", SignalProcessRequest.newBuilder()
        .setContainerId(id).setExecId(execId).setSignal(signal).build(), Empty.parser(), CONTROL);
  }

  public WaitProcessResponse waitProcess(String id, String execId) throws TtrpcException {
    return call("WaitProcess", WaitProcessRequest.newBuilder().setContainerId(id).setExecId(execId).build(),
        WaitProcessResponse.parser(), BLOCKING);
  }

  /**
   * A ReadStdio sent now; its answer holds output (empty data only with eof). The agent answers a stream's reads in the order they came, so several
   * can be in flight (see {@link OutputReader}).
   */
  public CompletableFuture<ReadStdioResponse> readAsync(String id, String execId, StdioStream stream) {
    return ttrpc.callAsync(SERVICE, "ReadStdio", ReadStdioRequest.newBuilder()
        .setContainerId(id).setExecId(execId).setStream(stream).setMaxBytes(READ_CHUNK).build(),
        ReadStdioResponse.parser(), BLOCKING).thenApply(response -> {
          if (response.getData().size() > READ_CHUNK) {
            throw new CompletionException(new TtrpcException(StatusCode.OUT_OF_RANGE,
                "agent sent " + response.getData().size() + " bytes for a read of at most " + READ_CHUNK));
          }
          return response;
        });
  }

  /**
   * Benchmark baseline: {@code crun exec id args} run {@code count} times inside the guest, each to
   * its end; their wall times as the guest measured them. Blocks the agent meanwhile.
   */
  public io.isola.proto.agent.v1.BenchExecResponse benchExec(String id, List<String> args, int count)
      throws TtrpcException {
    return call("BenchExec", io.isola.proto.agent.v1.BenchExecRequest.newBuilder().setContainerId(id)
        .addAllArgs(args).setCount(count).build(), io.isola.proto.agent.v1.BenchExecResponse.parser(),
        Duration.ofMinutes(10));
  }

  /**
   * Benchmark baseline: the guest writes {@code bytes} raw bytes to its "isola.bench" port (the
   * caller reads them from the VM's bench socket). Answers when the last write returned.
   */
  public io.isola.proto.agent.v1.BenchChannelResponse benchChannel(long bytes) throws TtrpcException {
    return call("BenchChannel", io.isola.proto.agent.v1.BenchChannelRequest.newBuilder().setBytes(bytes).build(),
        io.isola.proto.agent.v1.BenchChannelResponse.parser(), Duration.ofMinutes(10));
  }

  public void writeStdin(String id, String execId, ByteString data) throws TtrpcException {
    call("WriteStdin", WriteStdinRequest.newBuilder().setContainerId(id).setExecId(execId).setData(data).build(),
        io.isola.proto.agent.v1.WriteStdinResponse.parser(), BLOCKING);
  }

  public void closeStdin(String id, String execId) throws TtrpcException {
    call("CloseStdin", CloseStdinRequest.newBuilder().setContainerId(id).setExecId(execId).build(),
        Empty.parser(), CONTROL);
  }

  public void resizeTerminal(String id, String execId, int width, int height) throws TtrpcException {
    call("ResizeTerminal", ResizeTerminalRequest.newBuilder()
        .setContainerId(id).setExecId(execId).setWidth(width).setHeight(height).build(), Empty.parser(), CONTROL);
  }

  public void destroyContainer(String id) throws TtrpcException {
    call("DestroyContainer", DestroyContainerRequest.newBuilder().setContainerId(id).build(), Empty.parser(), CONTROL);
  }

  /** Asks the guest to power off; the VM process then exits on its own. */
  public void shutdown(Duration timeout) throws TtrpcException {
    call("Shutdown", ShutdownRequest.getDefaultInstance(), Empty.parser(), timeout);
  }

  @Override
  public void close() {
    ttrpc.close();
  }
}
