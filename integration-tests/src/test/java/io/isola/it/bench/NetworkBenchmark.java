package io.isola.it.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.isola.it.IsoladAccess;
import io.isola.it.NetnsPair;
import io.isola.proto.v1.ContainerRef;
import io.isola.proto.v1.ContainersGrpc;
import io.isola.proto.v1.CreateContainerRequest;
import io.isola.proto.v1.CreateSandboxRequest;
import io.isola.proto.v1.NetworkConfig;
import io.isola.proto.v1.NetworkMode;
import io.isola.proto.v1.PortMapping;
import io.isola.proto.v1.ProcessSpec;
import io.isola.proto.v1.SandboxesGrpc;
import io.isola.vmm.api.ApiClients;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * TCP round-trip time and throughput between a server and its peer, in one run, interleaved:
 * the floor (server in a plain network namespace, client in its veth peer), a netns sandbox (the
 * same server in a container of a VM joined to that namespace, same client) and a nat sandbox
 * (client on the host through published ports). busybox nc serves in every case; the client is
 * {@link NetProbe}. {@code make bench-net}; not part of the suite.
 */
@EnabledIfSystemProperty(named = "isola.bench", matches = "true")
class NetworkBenchmark {
  private static final String IMAGE = System.getProperty("isola.demoImage");
  private static final int ECHO = 7000;
  private static final int SINK = 7001;
  private static final int MIB = Integer.getInteger("isola.bench.mib", 64);
  private static final int TRIPS = 1000;
  @TempDir static Path dir;

  /** An echo server on ECHO and a sink on SINK that reads to EOF, then closes. */
  private static String servers(String sinkScript) {
    return "printf '#!/bin/sh\\nexec cat > /dev/null\\n' > " + sinkScript + " && chmod +x " + sinkScript
        + " && (nc -ll -p " + ECHO + " -e cat &) && exec nc -ll -p " + SINK + " -e " + sinkScript;
  }

  @Test
  void tcpBetweenPeersFloorNetnsAndNat() throws Exception {
    int runs = Integer.getInteger("isola.bench.runs", 5);
    int echoPublished = freePort();
    int sinkPublished = freePort();
    try (IsoladAccess.Started isolad = IsoladAccess.start(dir);
        NetnsPair pair = new NetnsPair("isbench" + ProcessHandle.current().pid(), 93)) {
      ManagedChannel channel = ApiClients.unix(isolad.socket());
      var sandboxes = SandboxesGrpc.newBlockingStub(channel).withDeadlineAfter(600, TimeUnit.SECONDS);
      var containers = ContainersGrpc.newBlockingStub(channel).withDeadlineAfter(600, TimeUnit.SECONDS);
      Map<String, List<double[]>> results = new LinkedHashMap<>();
      for (String mode : List.of("floor (netns <-> netns)", "netns sandbox <-> peer", "nat sandbox <-> host")) {
        results.put(mode, new ArrayList<>());
      }
      for (int round = 0; round < runs; round++) {
        // floor: the servers straight in the namespace the sandbox would join
        Process floor = new ProcessBuilder("ip", "netns", "exec", pair.sandboxNs, "busybox", "sh", "-c",
            servers(dir.resolve("sink.sh").toString())).redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        results.get("floor (netns <-> netns)").add(probe(pair.peerNs, pair.sandboxIp, ECHO, SINK));
        killNamespaceProcesses(pair.sandboxNs);
        floor.waitFor(10, TimeUnit.SECONDS);

        sandboxes.createSandbox(CreateSandboxRequest.newBuilder().setId("bn" + round).setNetwork(NetworkConfig
            .newBuilder().setMode(NetworkMode.NETWORK_NETNS).setNetnsPath(pair.sandboxNsPath().toString())).build());
        serve(containers, "bn" + round);
        results.get("netns sandbox <-> peer").add(probe(pair.peerNs, pair.sandboxIp, ECHO, SINK));
        sandboxes.deleteSandbox(io.isola.proto.v1.SandboxRef.newBuilder().setId("bn" + round).build());

        sandboxes.createSandbox(CreateSandboxRequest.newBuilder().setId("bt" + round).setNetwork(NetworkConfig
            .newBuilder().setMode(NetworkMode.NETWORK_NAT)
            .addPorts(PortMapping.newBuilder().setHostPort(echoPublished).setContainerPort(ECHO))
            .addPorts(PortMapping.newBuilder().setHostPort(sinkPublished).setContainerPort(SINK))).build());
        serve(containers, "bt" + round);
        results.get("nat sandbox <-> host").add(probe(null, "127.0.0.1", echoPublished, sinkPublished));
        sandboxes.deleteSandbox(io.isola.proto.v1.SandboxRef.newBuilder().setId("bt" + round).build());
      }
      channel.shutdownNow();
      print(results, runs);
    }
  }

  private static void serve(ContainersGrpc.ContainersBlockingStub containers, String sandbox) {
    String id = sandbox + "-srv";
    containers.createContainer(CreateContainerRequest.newBuilder().setId(id).setSandboxId(sandbox).setImage(IMAGE)
        .setProcess(ProcessSpec.newBuilder().addAllArgs(List.of("sh", "-c", servers("/tmp/sink.sh")))).build());
    containers.startContainer(ContainerRef.newBuilder().setId(id).build());
  }

  /** {rtt_us, mib_per_s} from one NetProbe run, in {@code netns} (null = the host's). */
  private static double[] probe(String netns, String host, int echo, int sink) throws Exception {
    String classpath = System.getProperty("java.class.path");
    List<String> argv = new ArrayList<>();
    if (netns != null) {
      argv.addAll(List.of("ip", "netns", "exec", netns));
    }
    argv.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", classpath,
        NetProbe.class.getName(), host, Integer.toString(echo), Integer.toString(sink), Integer.toString(MIB),
        Integer.toString(TRIPS)));
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertTrue(p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0, "probe failed: " + out);
    String[] f = out.lines().reduce((a, b) -> b).orElse("").split("[ =]");
    return new double[] {Double.parseDouble(f[1]), Double.parseDouble(f[3])};
  }

  private static void killNamespaceProcesses(String netns) throws Exception {
    Process pids = new ProcessBuilder("ip", "netns", "pids", netns).start();
    for (String pid : new String(pids.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\\s+")) {
      if (!pid.isBlank()) {
        ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
      }
    }
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static void print(Map<String, List<double[]>> results, int runs) throws Exception {
    StringBuilder table = new StringBuilder();
    table.append(String.format("%nTCP container <-> peer, %d interleaved rounds (%d one-byte round trips, %d MiB sent)%n",
        runs, TRIPS, MIB));
    table.append(String.format("%-26s %26s %26s %9s %9s%n", "path", "RTT us median (min-max)",
        "MiB/s median (min-max)", "RTT/floor", "tput/floor"));
    double floorRtt = 0;
    double floorTput = 0;
    for (var e : results.entrySet()) {
      List<Double> rtt = new ArrayList<>();
      List<Double> tput = new ArrayList<>();
      e.getValue().forEach(v -> {
        rtt.add(v[0]);
        tput.add(v[1]);
      });
      double r = median(rtt);
      double t = median(tput);
      if (floorRtt == 0) {
        floorRtt = r;
        floorTput = t;
      }
      table.append(String.format("%-26s %10.0f (%5.0f-%6.0f) %12.1f (%5.1f-%6.1f) %9.2f %9.2f%n", e.getKey(), r,
          Collections.min(rtt), Collections.max(rtt), t, Collections.min(tput), Collections.max(tput), r / floorRtt,
          t / floorTput));
    }
    System.out.print(table);
    Files.writeString(Path.of(System.getProperty("isola.bench.out", "target/bench-net.txt")), table);
  }

  private static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    Collections.sort(s);
    return s.get(s.size() / 2);
  }
}
