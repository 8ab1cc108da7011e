package io.isola.it.bench;

import io.grpc.ManagedChannel;
import io.isola.it.IsoladAccess;
import io.isola.proto.v1.ContainerRef;
import io.isola.proto.v1.ContainersGrpc;
import io.isola.proto.v1.CreateContainerRequest;
import io.isola.proto.v1.CreateSandboxRequest;
import io.isola.proto.v1.DeleteContainerRequest;
import io.isola.proto.v1.ExecRequest;
import io.isola.proto.v1.ProcessRef;
import io.isola.proto.v1.ProcessSpec;
import io.isola.proto.v1.SandboxesGrpc;
import io.isola.vmm.api.ApiClients;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hostile guest slows only itself: the exec latency of a quiet sandbox (API exec of
 * {@code true}, to its exit) while its neighbour idles, floods stdout, trickles one byte a
 * second, spins every vCPU, or stops answering (its QEMU frozen with SIGSTOP). Each phase is
 * measured in every round, interleaved, in one isolad; the table gives medians and the ratio to
 * the idle phase (the target is at most 2). {@code make bench-neighbour}; not part of the suite.
 */
@EnabledIfSystemProperty(named = "isola.bench", matches = "true")
class NeighbourBenchmark {
  private static final String IMAGE = System.getProperty("isola.demoImage");
  private static final int EXECS_PER_PHASE = 5;
  @TempDir static Path dir;

  private static final Map<String, String> PHASES = new LinkedHashMap<>();

  static {
    PHASES.put("neighbour idle", "exec sleep 3600");
    PHASES.put("neighbour floods stdout", "exec cat /dev/zero");
    PHASES.put("neighbour trickles 1 byte/s", "while :; do printf x; sleep 1; done");
    PHASES.put("neighbour spins every vCPU", "for i in 1 2; do (while :; do :; done) & done; wait");
    PHASES.put("neighbour stops answering", "exec sleep 3600"); // and its QEMU is frozen
  }

  @Test
  void execLatencyBesideAHostileNeighbour() throws Exception {
    int runs = Integer.getInteger("isola.bench.runs", 5);
    try (IsoladAccess.Started isolad = IsoladAccess.start(dir)) {
      ManagedChannel channel = ApiClients.unix(isolad.socket());
      var sandboxes = SandboxesGrpc.newBlockingStub(channel).withDeadlineAfter(600, TimeUnit.SECONDS);
      var containers = ContainersGrpc.newBlockingStub(channel);
      sandboxes.createSandbox(CreateSandboxRequest.newBuilder().setId("quiet").setVcpus(1).build());
      sandboxes.createSandbox(CreateSandboxRequest.newBuilder().setId("hostile").setVcpus(2).build());
      start(containers, "quiet", "q", "exec sleep 36000");
      long hostilePid = qemuOf("hostile");
      Map<String, List<Double>> results = new LinkedHashMap<>();
      PHASES.keySet().forEach(k -> results.put(k, new ArrayList<>()));
      int n = 0;
      for (int round = 0; round < runs; round++) {
        for (Map.Entry<String, String> phase : PHASES.entrySet()) {
          String id = "h" + n++;
          start(containers, "hostile", id, phase.getValue());
          boolean freeze = phase.getKey().contains("stops answering");
          if (freeze) {
            new ProcessBuilder("kill", "-STOP", Long.toString(hostilePid)).start().waitFor();
          }
          TimeUnit.SECONDS.sleep(2);
          double[] samples = new double[EXECS_PER_PHASE];
          for (int i = 0; i < samples.length; i++) {
            samples[i] = execTrue(containers, "q", "e" + round + "-" + n + "-" + i);
          }
          results.get(phase.getKey()).add(median(samples));
          if (freeze) {
            new ProcessBuilder("kill", "-CONT", Long.toString(hostilePid)).start().waitFor();
          }
          containers.withDeadlineAfter(120, TimeUnit.SECONDS).deleteContainer(DeleteContainerRequest.newBuilder()
              .setId(id).setForce(true).build());
        }
      }
      double idle = median(results.get("neighbour idle").stream().mapToDouble(Double::doubleValue).toArray());
      StringBuilder table = new StringBuilder(String.format("%nexec of `true` in a quiet sandbox (median of %d rounds,"
          + " each the median of %d execs; TCG)%n", runs, EXECS_PER_PHASE));
      table.append(String.format("%-32s %10s %10s %10s %8s%n", "phase", "median ms", "min", "max", "ratio"));
      for (Map.Entry<String, List<Double>> e : results.entrySet()) {
        double[] v = e.getValue().stream().mapToDouble(Double::doubleValue).toArray();
        table.append(String.format("%-32s %10.0f %10.0f %10.0f %8.2f%n", e.getKey(), median(v),
            Arrays.stream(v).min().orElse(0), Arrays.stream(v).max().orElse(0), median(v) / idle));
      }
      System.out.println(table);
      Files.createDirectories(Path.of("build"));
      Files.writeString(Path.of(System.getProperty("isola.root", "."), "build", "bench-neighbour.txt"), table);
      channel.shutdownNow();
    }
  }

  private static void start(ContainersGrpc.ContainersBlockingStub containers, String sandbox, String id, String script) {
    containers.withDeadlineAfter(300, TimeUnit.SECONDS).createContainer(CreateContainerRequest.newBuilder().setId(id)
        .setSandboxId(sandbox).setImage(IMAGE).setProcess(ProcessSpec.newBuilder().addAllArgs(List.of("sh", "-c", script)))
        .build());
    containers.withDeadlineAfter(120, TimeUnit.SECONDS).startContainer(ContainerRef.newBuilder().setId(id).build());
  }

  /** Milliseconds from the Exec call to the exit of `true`. */
  private static double execTrue(ContainersGrpc.ContainersBlockingStub containers, String container, String execId) {
    long t0 = System.nanoTime();
    containers.withDeadlineAfter(120, TimeUnit.SECONDS).exec(ExecRequest.newBuilder().setContainerId(container)
        .setExecId(execId).setProcess(ProcessSpec.newBuilder().addArgs("true")).build());
    containers.withDeadlineAfter(120, TimeUnit.SECONDS).wait(ProcessRef.newBuilder().setContainerId(container)
        .setExecId(execId).build());
    return (System.nanoTime() - t0) / 1e6;
  }

  private static long qemuOf(String sandbox) {
    return ProcessHandle.allProcesses()
        .filter(p -> p.info().commandLine().orElse("").contains("-name isola-" + sandbox + ","))
        .findFirst().orElseThrow().pid();
  }

  private static double median(double[] values) {
    double[] v = values.clone();
    Arrays.sort(v);
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }
}
