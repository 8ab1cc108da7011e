package io.isola.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.isola.it.containerd.ContainerdProcess;
import io.isola.proto.v1.Container;
import io.isola.proto.v1.ContainerRef;
import io.isola.proto.v1.ContainersGrpc;
import io.isola.proto.v1.CreateContainerRequest;
import io.isola.proto.v1.CreateSandboxRequest;
import io.isola.proto.v1.LogChunk;
import io.isola.proto.v1.LogsRequest;
import io.isola.proto.v1.Mount;
import io.isola.proto.v1.NetworkConfig;
import io.isola.proto.v1.NetworkMode;
import io.isola.proto.v1.PortMapping;
import io.isola.proto.v1.ProcessRef;
import io.isola.proto.v1.ProcessSpec;
import io.isola.proto.v1.Sandbox;
import io.isola.proto.v1.SandboxRef;
import io.isola.proto.v1.SandboxesGrpc;
import io.isola.vmm.api.ApiClients;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sandbox networks (none, nat, netns) and volumes, through isolad's API with real VMs, network
 * namespaces the test makes itself, and real bind mounts.
 */
class NetworkVolumesIT {
  @TempDir static Path dir;
  private static IsoladProcess isolad;
  private static ManagedChannel channel;
  private static SandboxesGrpc.SandboxesBlockingStub sandboxes;
  private static ContainersGrpc.ContainersBlockingStub containers;
  private static final String IMAGE = IsolaProcess.DEMO_IMAGE.toString();
  private static final String NS = "isit" + ProcessHandle.current().pid();

  @BeforeAll
  static void start() throws Exception {
    isolad = new IsoladProcess(dir, "").start();
    channel = ApiClients.unix(isolad.socket);
    sandboxes = SandboxesGrpc.newBlockingStub(channel);
    containers = ContainersGrpc.newBlockingStub(channel);
  }

  @AfterAll
  static void stop() throws Exception {
    channel.shutdownNow();
    isolad.close();
    assertEquals(List.of(), IsolaProcess.qemuProcessesUnder(dir), "no QEMU left");
    assertEquals(List.of(), ContainerdProcess.mountsUnder(dir), "no volume mount left");
  }

  private static Sandbox sandbox(String id, NetworkConfig network) {
    return sandboxes.withDeadlineAfter(300, TimeUnit.SECONDS).createSandbox(CreateSandboxRequest.newBuilder()
        .setId(id).setNetwork(network).build());
  }

  private static Container start(String sandboxId, String id, List<Mount> mounts, String script) {
    containers.withDeadlineAfter(300, TimeUnit.SECONDS).createContainer(CreateContainerRequest.newBuilder()
        .setId(id).setSandboxId(sandboxId).setImage(IMAGE).addAllMounts(mounts)
        .setProcess(ProcessSpec.newBuilder().addAllArgs(List.of("sh", "-c", script))).build());
    return containers.startContainer(ContainerRef.newBuilder().setId(id).build());
  }

  /** Runs {@code script} in a new container of the sandbox; its exit status and stdout. */
  private static Result run(String sandboxId, String id, List<Mount> mounts, String script) {
    start(sandboxId, id, mounts, script);
    int status = containers.withDeadlineAfter(120, TimeUnit.SECONDS)
        .wait(ProcessRef.newBuilder().setContainerId(id).build()).getExitStatus();
    StringBuilder out = new StringBuilder();
    Iterator<LogChunk> chunks = containers.logs(LogsRequest.newBuilder().setContainerId(id).build());
    chunks.forEachRemaining(c -> out.append(c.getStream() == LogChunk.Stream.STDOUT ? c.getData().toStringUtf8() : ""));
    return new Result(status, out.toString());
  }

  record Result(int status, String stdout) {}

  private static void delete(String sandboxId) {
    sandboxes.withDeadlineAfter(120, TimeUnit.SECONDS).deleteSandbox(SandboxRef.newBuilder().setId(sandboxId).build());
  }

  /** An HTTP GET with busybox nc (Debian's static busybox wget crashes in containers without NSS). */
  private static String httpGet(String ip, int port) {
    return "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 " + ip + " " + port;
  }

  private static final String SERVE = "mkdir -p /www && echo %s > /www/index.html && exec httpd -f -p 8080 -h /www";

  @Test
  void netnsSandboxServesItsPeerReachesOutAndCannotReachItsNeighbour() throws Exception {
    try (NetnsPair a = new NetnsPair(NS + "a", 97); NetnsPair b = new NetnsPair(NS + "b", 96)) {
      Path www = Files.createDirectories(dir.resolve("peer-www"));
      Files.writeString(www.resolve("index.html"), "from-peer\n");
      a.servePeer(www, 9090);
      NetworkConfig netA = NetworkConfig.newBuilder().setMode(NetworkMode.NETWORK_NETNS)
          .setNetnsPath(a.sandboxNsPath().toString()).setHostname("web-a").build();
      Sandbox sa = sandbox("neta", netA);
      assertEquals(List.of(a.sandboxIp + "/24"), sa.getGuestAddressesList(), "the guest took the namespace's address");
      assertTrue(a.sandboxLinks().contains("isola0"), "a tap in the sandbox's namespace: " + a.sandboxLinks());
      sandbox("netb", NetworkConfig.newBuilder().setMode(NetworkMode.NETWORK_NETNS)
          .setNetnsPath(b.sandboxNsPath().toString()).build());

      start("neta", "web", List.of(), SERVE.formatted("from-sandbox"));
      String body = null;
      for (int i = 0; i < 60 && body == null; i++) {
        body = a.fetchFromPeer(a.sandboxIp, 8080);
        if (body == null) {
          Thread.sleep(1000);
        }
      }
      assertEquals("from-sandbox\n", body, "the peer reaches the server in the sandbox");

      Result out = run("neta", "client", List.of(), "hostname; " + httpGet(a.peerIp, 9090));
      assertEquals(0, out.status(), out.toString());
      assertTrue(out.stdout().startsWith("web-a\n") && out.stdout().endsWith("\r\n\r\nfrom-peer\n"),
          "hostname, and the peer's server reached from the sandbox: " + out);

      Result cross = run("netb", "probe", List.of(), httpGet(a.sandboxIp, 8080));
      assertNotEquals(0, cross.status(), "a sandbox on another namespace cannot reach it: " + cross);

      delete("neta");
      delete("netb");
      assertTrue(a.sandboxLinks().stream().noneMatch(l -> l.startsWith("isola")), "tap removed: " + a.sandboxLinks());
      assertTrue(!a.sandboxQdiscs().contains("ingress"), "filter removed: " + a.sandboxQdiscs());
      assertTrue(b.sandboxLinks().stream().noneMatch(l -> l.startsWith("isola")), "tap removed: " + b.sandboxLinks());
    }
  }

  @Test
  void natPublishesAPortOnLoopbackAndReachesOut() throws Exception {
    int published;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      published = probe.getLocalPort();
    }
    try (ServerSocket hostServer = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
      Thread server = new Thread(() -> answer(hostServer, "from-host\n"));
      server.setDaemon(true);
      server.start();
      sandbox("nat1", NetworkConfig.newBuilder().setMode(NetworkMode.NETWORK_NAT)
          .addPorts(PortMapping.newBuilder().setHostPort(published).setContainerPort(8080)).build());
      start("nat1", "natweb", List.of(), SERVE.formatted("published"));
      String body = null;
      for (int i = 0; i < 60 && body == null; i++) {
        try (InputStream in = new URL("http://127.0.0.1:" + published + "/").openStream()) {
          body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (java.io.IOException notYet) {
          Thread.sleep(1000);
        }
      }
      assertEquals("published\n", body, "the published port reaches the container");
      Result out = run("nat1", "natclient", List.of(), "cat /etc/resolv.conf; "
          + httpGet(io.isola.vmm.network.NatNetwork.GATEWAY, hostServer.getLocalPort()));
      assertEquals(0, out.status(), out.toString());
      assertTrue(out.stdout().contains("nameserver " + io.isola.vmm.network.NatNetwork.RESOLVER), out.stdout());
      assertTrue(out.stdout().endsWith("from-host\n"), "outbound connections leave through the NAT: " + out);
      delete("nat1");
    }
    try (Socket s = new Socket()) {
      assertThrows(java.io.IOException.class, () -> s.connect(new java.net.InetSocketAddress("127.0.0.1", published), 1000),
          "the published port closes with its sandbox");
    }
  }

  private static void answer(ServerSocket server, String body) {
    while (!server.isClosed()) {
      try (Socket s = server.accept()) {
        s.getInputStream().read(new byte[4096]);
        OutputStream out = s.getOutputStream();
        out.write(("HTTP/1.0 200 OK\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
            .getBytes(StandardCharsets.US_ASCII));
      } catch (java.io.IOException e) {
        return;
      }
    }
  }

  @Test
  void noneHasOnlyLoopbackAndVolumesKeepTheirPromises() throws Exception {
    Path roots = Files.createDirectories(isolad.stateRoot.resolve("volumes"));
    Path ro = Files.createDirectories(roots.resolve("config"));
    Files.writeString(ro.resolve("app.conf"), "setting=1\n");
    Files.createSymbolicLink(ro.resolve("current.conf"), Path.of("app.conf")); // as configmaps do
    Path rw = Files.createDirectories(roots.resolve("data"));
    // QEMU serves volumes as its sandbox's own uid: a writable volume is open to others (as
    // Kubernetes makes an emptyDir); a closed one is refused below, before any container exists.
    Files.setPosixFilePermissions(rw, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
    Path closed = Files.createDirectories(roots.resolve("closed"));
    Path single = Files.writeString(roots.resolve("motd"), "single-file\n");
    sandbox("vol1", NetworkConfig.getDefaultInstance());
    List<Mount> mounts = List.of(
        Mount.newBuilder().setType("bind").setSource(ro.toString()).setDestination("/etc/app").setReadOnly(true).build(),
        Mount.newBuilder().setType("bind").setSource(rw.toString()).setDestination("/data").build(),
        Mount.newBuilder().setType("bind").setSource(single.toString()).setDestination("/etc/motd").setReadOnly(true)
            .build(),
        Mount.newBuilder().setType("tmpfs").setDestination("/scratch").setSizeBytes(8L << 20).build());
    Result out = run("vol1", "volc", mounts, String.join("; ",
        "ip -o link | cut -d: -f2 | tr -d ' '",
        "cat /etc/app/current.conf /etc/motd",
        "(echo x > /etc/app/new) 2>/dev/null && echo ro-WRITABLE || echo ro-refused",
        "(chmod 777 /etc/app/app.conf) 2>/dev/null && echo ro-CHMOD || echo chmod-refused",
        "echo written-in-guest > /data/out.txt",
        "df -k /scratch | tail -1 | tr -s ' ' | cut -d' ' -f2",
        "id -u"));
    assertEquals(0, out.status(), out.toString());
    assertEquals(List.of("lo", "setting=1", "single-file", "ro-refused", "chmod-refused", "8192", "0"),
        out.stdout().lines().toList(), "network none: loopback only; volumes as asked (as root in the guest)");
    assertEquals("written-in-guest\n", Files.readString(rw.resolve("out.txt")), "a writable volume's writes reach the host");
    assertEquals("setting=1\n", Files.readString(ro.resolve("app.conf")));
    assertTrue(!Files.exists(ro.resolve("new")));

    StatusRuntimeException notOpen = assertThrows(StatusRuntimeException.class, () -> start("vol1", "volclosed",
        List.of(Mount.newBuilder().setSource(closed.toString()).setDestination("/x").build()), "true"));
    assertEquals(Status.Code.INVALID_ARGUMENT, notOpen.getStatus().getCode());
    assertTrue(notOpen.getStatus().getDescription().contains("chmod o+w"), notOpen.getMessage());

    Path outside = Files.createDirectories(dir.resolve("outside"));
    StatusRuntimeException refused = assertThrows(StatusRuntimeException.class, () -> start("vol1", "volbad",
        List.of(Mount.newBuilder().setSource(outside.toString()).setDestination("/x").build()), "true"));
    assertEquals(Status.Code.INVALID_ARGUMENT, refused.getStatus().getCode());
    assertTrue(refused.getStatus().getDescription().contains("outside the allowed roots"), refused.getMessage());
    Path sneaky = Files.createSymbolicLink(roots.resolve("sneaky"), outside);
    StatusRuntimeException viaLink = assertThrows(StatusRuntimeException.class, () -> start("vol1", "volbad2",
        List.of(Mount.newBuilder().setSource(sneaky.toString()).setDestination("/x").build()), "true"));
    assertTrue(viaLink.getStatus().getDescription().contains("outside the allowed roots"), viaLink.getMessage());

    delete("vol1");
    assertEquals(List.of(), ContainerdProcess.mountsUnder(isolad.stateRoot), "volume binds are gone");
    assertEquals("written-in-guest\n", Files.readString(rw.resolve("out.txt")), "deleting the sandbox keeps the data");
  }
}
