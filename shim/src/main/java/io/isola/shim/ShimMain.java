package io.isola.shim;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.Any;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.isola.proto.containerd.task.v2.DeleteResponse;
import io.isola.proto.v1.ContainersGrpc;
import io.isola.proto.v1.DeleteContainerRequest;
import io.isola.proto.v1.Sandbox;
import io.isola.proto.v1.SandboxRef;
import io.isola.proto.v1.SandboxesGrpc;
import io.isola.vmm.api.ApiClients;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;

/**
 * containerd-shim-isola-v2 (runtime type {@code io.containerd.isola.v2}).
 *
 * <ul>
 *   <li>{@code start}: starts (or reuses, for a pod) the long-running shim and prints its address;</li>
 *   <li>{@code delete}: cleans up after a shim that is gone, prints a DeleteResponse;</li>
 *   <li>{@code serve}: the long-running shim itself (started by {@code start}).</li>
 * </ul>
 * stdout of start and delete is read by containerd (together with stderr for start): nothing else
 * may be printed there.
 */
public final class ShimMain {
  static final Path SOCKET_DIR = Path.of("/run/containerd/s");

  private ShimMain() {}

  public static void main(String[] argv) {
    Flags flags;
    try {
      flags = Flags.parse(argv);
    } catch (IllegalArgumentException e) {
      System.err.println("containerd-shim-isola-v2: " + e.getMessage());
      System.exit(2);
      return;
    }
    if (flags.bool("v") || flags.bool("version")) {
      System.out.println("containerd-shim-isola-v2 (isola) runtime io.containerd.isola.v2");
      System.exit(0);
    }
    String action = flags.words().isEmpty() ? "" : flags.words().get(0);
    int status;
    switch (action) {
      case "start" -> {
        quietLogging();
        status = start(flags);
      }
      case "delete" -> {
        quietLogging();
        status = delete(flags);
      }
      case "serve" -> {
        ShimDaemon.run(flags);
        return;
      }
      default -> {
        System.err.println("usage: containerd-shim-isola-v2 -namespace NS -address A -publish-binary B -id ID "
            + "[-bundle DIR] [-debug] start|delete");
        status = 2;
      }
    }
    System.out.flush();
    Runtime.getRuntime().halt(status); // no shutdown noise from gRPC/netty threads
  }

  /** start and delete: nothing may reach stdout or stderr but what containerd reads. */
  private static void quietLogging() {
    LogManager.getLogManager().reset();
    Logger.getLogger("").setLevel(Level.OFF);
  }

  // ------------------------------------------------------------------ start

  private static int start(Flags flags) {
    PrintStream out = System.out;
    // Whatever a library might print must not reach containerd's pipe.
    System.setOut(new PrintStream(PrintStream.nullOutputStream()));
    System.setErr(new PrintStream(PrintStream.nullOutputStream()));
    try {
      String id = flags.get("id", "");
      String namespace = flags.get("namespace", "default");
      String address = flags.get("address", "");
      if (id.isEmpty()) {
        throw new IOException("-id is required");
      }
      Path bundle = Path.of(flags.get("bundle", System.getProperty("user.dir"))).toAbsolutePath();
      byte[] options = System.in.readAllBytes();
      String configPath = "";
      if (options.length > 0) {
        configPath = ShimConfig.configPath(Any.parseFrom(options));
      }
      String isoladSocket = ShimConfig.load(configPath).isoladSocket();
      String group = id;
      try {
        JsonNode config = OciProcess.readConfig(bundle);
        Map<String, String> annotations = OciProcess.annotations(config);
        String g = annotations.getOrDefault(TaskService.SANDBOX_ID_ANNOTATION,
            annotations.get(TaskService.GROUP_ANNOTATION));
        if (g != null && !g.isEmpty()) {
          group = g;
        }
      } catch (IOException e) {
        // no config.json: one shim for this container
      }
      // runc's convention, by group: a pod's containers find the pod's shim at the same socket
      Path socket = SOCKET_DIR.resolve(Ids.sha256Hex(address + "/" + namespace + "/" + group));
      String uri = "unix://" + socket;
      if (!canConnect(socket)) {
        spawnDaemon(flags, namespace, id, address, bundle, socket, isoladSocket);
      }
      Files.writeString(bundle.resolve("address"), uri, StandardCharsets.UTF_8);
      out.print(uri);
      out.flush();
      return 0;
    } catch (IOException | RuntimeException e) {
      out.print("containerd-shim-isola-v2 start: " + e.getMessage());
      out.flush();
      return 1;
    }
  }

  private static void spawnDaemon(Flags flags, String namespace, String id, String address, Path bundle,
      Path socket, String isoladSocket) throws IOException {
    Files.createDirectories(SOCKET_DIR);
    List<String> cmd = new ArrayList<>();
    cmd.add("setsid");
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(ShimMain.class.getName());
    cmd.addAll(List.of("-namespace", namespace, "-id", id, "-address", address, "-bundle", bundle.toString(),
        "-socket", socket.toString(), "-isolad-socket", isoladSocket));
    if (flags.bool("debug")) {
      cmd.add("-debug");
    }
    cmd.add("serve");
    Process daemon = new ProcessBuilder(cmd)
        .directory(bundle.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (canConnect(socket)) {
        return;
      }
      if (!daemon.isAlive() && daemon.exitValue() != 0) {
        throw new IOException("the shim daemon exited with status " + daemon.exitValue()
            + " before it listened on " + socket);
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted");
      }
    }
    daemon.destroyForcibly();
    throw new IOException("the shim daemon did not listen on " + socket + " within 60 s");
  }

  static boolean canConnect(Path socket) {
    if (!Files.exists(socket)) {
      return false;
    }
    try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      channel.connect(UnixDomainSocketAddress.of(socket));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  // ------------------------------------------------------------------ delete

  /**
   * Run by containerd after every shim disconnect (and for a dead shim): idempotent and quick.
   * Removes the container from isolad if it is still there, unmounts the rootfs, and reports the
   * last exit status the shim recorded (137 when unknown).
   */
  private static int delete(Flags flags) {
    PrintStream out = System.out;
    System.setOut(new PrintStream(PrintStream.nullOutputStream()));
    String id = flags.get("id", "");
    String namespace = flags.get("namespace", "default");
    Path bundle = Path.of(flags.get("bundle", System.getProperty("user.dir"))).toAbsolutePath();
    BundleState state = BundleState.read(bundle);
    int pid = state == null ? 0 : state.pid();
    int exitStatus = state != null && state.exited() ? state.exitStatus() : 137;
    String socket = state != null && !state.isoladSocket().isEmpty() ? state.isoladSocket() : ShimConfig.environmentSocket();
    String isolaId = state != null && !state.isolaId().isEmpty() ? state.isolaId() : Ids.isolaId(namespace, id);
    if (!id.isEmpty() && Files.exists(Path.of(socket))) {
      ManagedChannel channel = ApiClients.unix(Path.of(socket));
      try {
        try {
          ContainersGrpc.newBlockingStub(channel).withDeadlineAfter(3, TimeUnit.SECONDS)
              .deleteContainer(DeleteContainerRequest.newBuilder().setId(isolaId).setForce(true).build());
        } catch (StatusRuntimeException e) {
          // NOT_FOUND (deleted already) or isolad unreachable: nothing more to do here
        }
        if (state != null && state.explicitSandbox() && !state.sandboxId().isEmpty()) {
          try {
            SandboxesGrpc.SandboxesBlockingStub sandboxes = SandboxesGrpc.newBlockingStub(channel)
                .withDeadlineAfter(2, TimeUnit.SECONDS);
            Sandbox sandbox = sandboxes.getSandbox(SandboxRef.newBuilder().setId(state.sandboxId()).build());
            if (sandbox.getContainerIdsCount() == 0) {
              sandboxes.deleteSandbox(SandboxRef.newBuilder().setId(state.sandboxId()).build());
            }
          } catch (StatusRuntimeException e) {
            // gone already, or it will be removed by the pod's last delete
          }
        }
      } finally {
        channel.shutdownNow();
      }
    }
    Mounts.unmountAll(bundle.resolve("rootfs"));
    removeDeadShimSocket(bundle);
    DeleteResponse response = DeleteResponse.newBuilder()
        .setPid(pid)
        .setExitStatus(exitStatus)
        .setExitedAt(Timestamps.now())
        .build();
    try {
      response.writeTo(out);
    } catch (IOException e) {
      return 1;
    }
    out.flush();
    return 0;
  }

  /**
   * A shim that was killed leaves its socket file behind; when nothing listens on the address
   * the bundle names any more, remove it (a pod's shim still serving its other tasks keeps it).
   */
  private static void removeDeadShimSocket(Path bundle) {
    try {
      String address = Files.readString(bundle.resolve("address")).strip();
      if (!address.startsWith("unix://")) {
        return;
      }
      Path socket = Path.of(address.substring("unix://".length()));
      if (socket.startsWith(SOCKET_DIR) && !canConnect(socket)) {
        Files.deleteIfExists(socket);
      }
    } catch (IOException | RuntimeException e) {
      // no address file, or already gone
    }
  }

}
