package io.isola.it;

import io.grpc.ManagedChannel;
import io.isola.proto.v1.CreateSandboxRequest;
import io.isola.proto.v1.SandboxRef;
import io.isola.proto.v1.SandboxesGrpc;
import io.isola.vmm.api.ApiClients;
import io.isola.vmm.bench.StartBenchmark;
import io.isola.vmm.catalog.Catalog;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * The benchmark suite ({@code make bench}): every row measured in this one run, medians of
 * {@code isola.bench.runs} (at least 5 by default) with min and max, printed as a table and
 * written to {@code isola.bench.out}. Not part of the test suite.
 */
@EnabledIfSystemProperty(named = "isola.bench", matches = "true")
class BenchSuite {
  @TempDir Path dir;
  private final List<String> rows = new ArrayList<>();
  private final int runs = Integer.getInteger("isola.bench.runs", 5);

  @Test
  void suite() throws Exception {
    // ONLY=cold,warm,exec,memory,density runs those groups (exec covers rows 3 and 4)
    List<String> only = List.of(System.getProperty("isola.bench.only", "").split(","));
    boolean all = only.equals(List.of(""));
    if (all || only.contains("cold")) {
      coldStart();
    }
    if (all || only.contains("warm")) {
      warmStart();
    }
    if (all || only.contains("exec")) {
      execAndStdio();
    }
    if (all || only.contains("memory")) {
      memoryAndStartup();
    }
    if (all || only.contains("density")) {
      density();
    }
    String machine = machine();
    StringBuilder table = new StringBuilder(String.format("%nisola benchmark suite, %d runs per row, %s%n", runs,
        machine));
    table.append(String.format("%-12s %-50s %-62s %s%n", "row", "what", "measured", "target"));
    rows.stream().sorted().forEach(table::append); // by row number
    System.out.print(table);
    Path out = Path.of(System.getProperty("isola.bench.out", "target/bench.txt"));
    Files.createDirectories(out.toAbsolutePath().getParent());
    Files.writeString(out, table);
  }

  private static String row(String row, String what, String measured, String target) {
    return String.format("%-12s %-50s %-62s %s%n", row, what, measured, target);
  }

  private void coldStart() throws Exception {
    Catalog catalog = Catalog.load(IsolaProcess.PROJECT.resolve("guest-image/out/catalog.json"));
    for (Catalog.Kernel kernel : catalog.kernels()) {
      coldStart(catalog, kernel.name(), "1 cold");
    }
  }

  private StartBenchmark.Result coldStart(Catalog catalog, String kernel, String row) throws Exception {
    StartBenchmark.Result r = StartBenchmark.measure(IsolaProcess.PROJECT.resolve("bin/isola"), catalog,
        IsolaProcess.DEMO_IMAGE.toString(), runs, 256, kernel);
    rows.add(row(row, "isola run --rm IMG true / floor (" + kernel + " kernel)",
        String.format("%.2f = %d ms (%d-%d) / %d ms (%d-%d)", r.ratio(), r.runMedian(), r.runMin(), r.runMax(),
            r.floorMedian(), r.floorMin(), r.floorMax()), "<= 1.10"));
    return r;
  }

  private void warmStart() throws Exception {
    WarmStartBenchmark.Times t = WarmStartBenchmark.measure(Files.createDirectories(dir.resolve("warm")), runs);
    long warm = t.warm().get(runs / 2);
    long cold = t.cold().get(runs / 2);
    rows.add(row("2 warm", "API run of true, warm pool / cold (a VM boots)", String.format(
        "%.2f = %d ms (%d-%d) / %d ms (%d-%d)", (double) warm / cold, warm, t.warm().get(0), t.warm().get(runs - 1),
        cold, t.cold().get(0), t.cold().get(runs - 1)), "<= 0.15"));
  }

  /**
   * Rows 3 and 4. The measured path is isolad's API. The baselines are measured inside a guest of
   * the same kernel, base image and size, booted by this process (DirectSandbox): {@code crun exec
   * c1 true} run by the guest itself (row 3), and the raw virtio-serial channel, the guest writing
   * zeros to a second port that this process reads (row 4). The agent driven directly from this
   * process (its protocol, no isolad) is reported beside them.
   */
  private void execAndStdio() throws Exception {
    int mib = Integer.getInteger("isola.bench.stdio.mib", 256);
    List<Long> directExec = new ArrayList<>();
    List<Double> directRate = new ArrayList<>();
    List<Double> crunInGuest;
    List<Double> rawChannel = new ArrayList<>();
    try (DirectSandbox direct = new DirectSandbox(Files.createDirectories(dir.resolve("direct")))) {
      crunInGuest = new ArrayList<>(direct.crunExecInGuest(Math.max(runs, 10)));
      byte[] exec = direct.process("true");
      for (int i = 0; i < Math.max(runs, 10); i++) {
        long t0 = System.nanoTime();
        direct.agent().execProcess(DirectSandbox.CONTAINER, "e" + i, exec, false, false);
        direct.agent().waitProcess(DirectSandbox.CONTAINER, "e" + i);
        directExec.add((System.nanoTime() - t0) / 1_000_000);
      }
      for (int run = 0; run < runs; run++) { // interleaved: the raw channel, then the agent's stdio
        rawChannel.add(direct.rawChannelMibPerSecond(mib));
        long t0 = System.nanoTime();
        direct.agent().execProcess(DirectSandbox.CONTAINER, "flood" + run, direct.process("dd", "if=/dev/zero",
            "bs=1M", "count=" + mib), false, false);
        long bytes = 0;
        var reader = new io.isola.vmm.agent.OutputReader(direct.agent(), DirectSandbox.CONTAINER, "flood" + run,
            io.isola.proto.agent.v1.StdioStream.STDOUT); // as isolad reads: a pipeline of reads
        while (true) {
          var r = reader.next();
          bytes += r.getData().size();
          if (r.getEof()) {
            break;
          }
        }
        directRate.add(bytes / 1048576.0 / ((System.nanoTime() - t0) / 1e9));
      }
    }
    IsoladProcess isolad = new IsoladProcess(Files.createDirectories(dir.resolve("api")), "").start();
    ManagedChannel channel = ApiClients.unix(isolad.socket);
    List<Long> apiExec = new ArrayList<>();
    List<Double> apiRate = new ArrayList<>();
    try {
      var sandboxes = SandboxesGrpc.newBlockingStub(channel).withDeadlineAfter(600, TimeUnit.SECONDS);
      var containers = io.isola.proto.v1.ContainersGrpc.newBlockingStub(channel);
      sandboxes.createSandbox(CreateSandboxRequest.newBuilder().setId("api").build());
      containers.createContainer(io.isola.proto.v1.CreateContainerRequest.newBuilder().setId("sleeper")
          .setSandboxId("api").setImage(IsolaProcess.DEMO_IMAGE.toString()).setProcess(io.isola.proto.v1.ProcessSpec
              .newBuilder().addAllArgs(List.of("sleep", "600"))).build());
      containers.startContainer(io.isola.proto.v1.ContainerRef.newBuilder().setId("sleeper").build());
      for (int i = 0; i < Math.max(runs, 10); i++) {
        long t0 = System.nanoTime();
        containers.exec(io.isola.proto.v1.ExecRequest.newBuilder().setContainerId("sleeper").setExecId("e" + i)
            .setProcess(io.isola.proto.v1.ProcessSpec.newBuilder().addArgs("true")).build());
        containers.wait(io.isola.proto.v1.ProcessRef.newBuilder().setContainerId("sleeper").setExecId("e" + i)
            .build());
        apiExec.add((System.nanoTime() - t0) / 1_000_000);
      }
      for (int run = 0; run < runs; run++) {
        String id = "flood" + run;
        containers.createContainer(io.isola.proto.v1.CreateContainerRequest.newBuilder().setId(id)
            .setSandboxId("api").setImage(IsolaProcess.DEMO_IMAGE.toString()).setProcess(io.isola.proto.v1.ProcessSpec
                .newBuilder().addAllArgs(List.of("dd", "if=/dev/zero", "bs=1M", "count=" + mib))).build());
        var logs = containers.logs(io.isola.proto.v1.LogsRequest.newBuilder().setContainerId(id).setFollow(true)
            .build());
        long t0 = System.nanoTime();
        containers.startContainer(io.isola.proto.v1.ContainerRef.newBuilder().setId(id).build());
        long bytes = 0;
        while (logs.hasNext()) {
          var chunk = logs.next();
          bytes += chunk.getStream() == io.isola.proto.v1.LogChunk.Stream.STDOUT ? chunk.getData().size() : 0;
        }
        apiRate.add(bytes / 1048576.0 / ((System.nanoTime() - t0) / 1e9));
        containers.wait(io.isola.proto.v1.ProcessRef.newBuilder().setContainerId(id).build()); // output ends first
        containers.deleteContainer(io.isola.proto.v1.DeleteContainerRequest.newBuilder().setId(id).build());
      }
      sandboxes.deleteSandbox(SandboxRef.newBuilder().setId("api").build());
    } finally {
      channel.shutdownNow();
      isolad.close();
    }
    Collections.sort(directExec);
    Collections.sort(apiExec);
    long d = directExec.get(directExec.size() / 2);
    long a = apiExec.get(apiExec.size() / 2);
    Collections.sort(crunInGuest);
    double c = crunInGuest.get(crunInGuest.size() / 2);
    rows.add(row("3 exec", "API exec of true / crun exec run by the guest itself", String.format(
        "%.2f = %d ms (%d-%d) / %.0f ms (%.0f-%.0f); agent's exec driven directly %d ms (%d-%d)", a / c, a,
        apiExec.get(0), apiExec.get(apiExec.size() - 1), c, crunInGuest.get(0), crunInGuest.get(crunInGuest.size() - 1),
        d, directExec.get(0), directExec.get(directExec.size() - 1)), "<= 1.3"));
    double api = median(apiRate);
    double raw = median(rawChannel);
    rows.add(row("4 stdio", mib + " MiB stdout via the API / raw virtio-serial channel", String.format(
        "%.2f = %.1f MiB/s (%.1f-%.1f) / %.1f MiB/s (%.1f-%.1f); via the agent directly %.1f MiB/s", api / raw,
        api, Collections.min(apiRate), Collections.max(apiRate), raw, Collections.min(rawChannel),
        Collections.max(rawChannel), median(directRate)), ">= 0.7"));
  }

  /** Rows 5 and 7: idle sandboxes' memory, then CLI and shim start-up against the same isolad. */
  private void memoryAndStartup() throws Exception {
    IsoladProcess isolad = new IsoladProcess(Files.createDirectories(dir.resolve("mem")), "").start();
    ManagedChannel channel = ApiClients.unix(isolad.socket);
    try {
      var sandboxes = SandboxesGrpc.newBlockingStub(channel).withDeadlineAfter(600, TimeUnit.SECONDS);
      int n = 4;
      for (int i = 0; i < n; i++) {
        sandboxes.createSandbox(CreateSandboxRequest.newBuilder().setId("idle" + i).build());
      }
      TimeUnit.SECONDS.sleep(10); // idle: boot work done, page cache settled
      List<Double> pss = new ArrayList<>();
      List<Double> codeCache = new ArrayList<>();
      for (ProcessHandle qemu : IsolaProcess.qemuProcessesUnder(isolad.dir)) {
        pss.add(pssKib(qemu.pid()) / 1024.0);
        codeCache.add(codeCacheKib(qemu.pid()) / 1024.0);
      }
      double isoladShare = pssKib(isolad.pid()) / 1024.0 / n;
      double median = median(pss);
      double cache = median(codeCache);
      rows.add(row("5 memory", "host PSS per idle sandbox (QEMU + isolad share)", String.format(
          "%.0f MiB = QEMU %.0f (%.0f-%.0f) + isolad %.0f; without TCG code cache %.0f MiB", median + isoladShare,
          median, Collections.min(pss), Collections.max(pss), isoladShare, median + isoladShare - cache),
          "(report)"));

      Map<String, String> env = Map.of("ISOLA_SOCKET", isolad.socket.toString());
      long psCds = medianMillis(List.of(IsolaProcess.PROJECT.resolve("bin/isola").toString(), "ps"), env, null);
      long psPlain = medianMillis(List.of(IsolaProcess.PROJECT.resolve("bin/isola").toString(), "ps"),
          Map.of("ISOLA_SOCKET", isolad.socket.toString(), "ISOLA_CDS", "off"), null);
      long shimCds = shimStart(Map.of());
      long shimPlain = shimStart(Map.of("ISOLA_CDS", "off"));
      rows.add(row("7 start-up", "isola ps; shim start action (with / without CDS)", String.format(
          "ps %d ms (%d without CDS); shim start %d ms (%d without)", psCds, psPlain, shimCds, shimPlain), "(report)"));
      for (int i = 0; i < n; i++) {
        sandboxes.deleteSandbox(SandboxRef.newBuilder().setId("idle" + i).build());
      }
    } finally {
      channel.shutdownNow();
      isolad.close();
    }
  }

  /** Creates idle default sandboxes, two at a time, up to the cap, the first failure or low host memory. */
  private void density() throws Exception {
    int cap = Integer.getInteger("isola.bench.density", 150);
    String kernel = System.getProperty("isola.bench.density.kernel", ""); // "" = the catalog's default
    IsoladProcess isolad = new IsoladProcess(Files.createDirectories(dir.resolve("density")), "").start();
    ManagedChannel channel = ApiClients.unix(isolad.socket);
    AtomicInteger created = new AtomicInteger();
    List<String> stop = Collections.synchronizedList(new ArrayList<>());
    ExecutorService pool = Executors.newFixedThreadPool(2);
    long t0 = System.nanoTime();
    try {
      List<Future<?>> workers = new ArrayList<>();
      AtomicInteger next = new AtomicInteger();
      for (int w = 0; w < 2; w++) {
        workers.add(pool.submit(() -> {
          while (stop.isEmpty()) {
            int i = next.getAndIncrement();
            if (i >= cap) {
              stop.add("reached the cap of " + cap);
              return;
            }
            if (memAvailableMib() < 2048) {
              stop.add("host memory available below 2 GiB");
              return;
            }
            try {
              SandboxesGrpc.newBlockingStub(channel).withDeadlineAfter(300, TimeUnit.SECONDS)
                  .createSandbox(CreateSandboxRequest.newBuilder().setId("d" + i).setKernel(kernel).build());
              created.incrementAndGet();
            } catch (RuntimeException e) {
              stop.add("creation " + (i + 1) + " failed: " + e.getMessage());
              return;
            }
          }
        }));
      }
      for (Future<?> f : workers) {
        f.get();
      }
    } finally {
      double minutes = (System.nanoTime() - t0) / 60e9;
      pool.shutdownNow();
      rows.add(row("6 density", "idle default sandboxes up at once; creation rate"
          + (kernel.isEmpty() ? "" : " (" + kernel + " kernel)"), String.format(
          "%d up (stopped: %s); %.1f creations/min with 2 in parallel", created.get(), stop.isEmpty() ? "?" : stop.get(0),
          created.get() / minutes), "150"));
      channel.shutdownNow();
      isolad.close();
    }
  }

  private long shimStart(Map<String, String> env) throws Exception {
    List<Long> times = new ArrayList<>();
    for (int i = 0; i < runs; i++) {
      Path bundle = Files.createDirectories(dir.resolve("bundle-" + env.size() + "-" + i));
      String ns = "bench" + ProcessHandle.current().pid() + "x" + env.size() + "x" + i;
      times.add(timed(List.of(IsolaProcess.PROJECT.resolve("bin/containerd-shim-isola-v2").toString(),
          "-namespace", ns, "-id", "t", "-address", dir.resolve("no-containerd.sock").toString(), "start"), env, bundle));
      String address = Files.readString(bundle.resolve("address")).replace("unix://", "");
      ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("").contains("-namespace " + ns))
          .forEach(ProcessHandle::destroyForcibly);
      Files.deleteIfExists(Path.of(address));
    }
    Collections.sort(times);
    return times.get(times.size() / 2);
  }

  private long medianMillis(List<String> argv, Map<String, String> env, Path cwd) throws Exception {
    List<Long> times = new ArrayList<>();
    for (int i = 0; i < Math.max(runs, 10); i++) {
      times.add(timed(argv, env, cwd));
    }
    Collections.sort(times);
    return times.get(times.size() / 2);
  }

  private static long timed(List<String> argv, Map<String, String> env, Path cwd) throws Exception {
    ProcessBuilder b = new ProcessBuilder(argv).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(
        new java.io.File("/dev/null")));
    b.environment().putAll(env);
    if (cwd != null) {
      b.directory(cwd.toFile());
    }
    long t0 = System.nanoTime();
    Process p = b.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError(argv + " failed: " + out);
    }
    return (System.nanoTime() - t0) / 1_000_000;
  }

  static long pssKib(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/smaps_rollup"))) {
      if (line.startsWith("Pss:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return 0;
  }

  /** PSS of anonymous executable mappings: TCG's translation cache. */
  static long codeCacheKib(long pid) throws IOException {
    long total = 0;
    boolean inCache = false;
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/smaps"))) {
      String[] f = line.trim().split("\\s+");
      if (f.length >= 5 && f[0].matches("[0-9a-f]+-[0-9a-f]+")) {
        inCache = f[1].contains("x") && f[1].startsWith("rw") && f.length == 5;
      } else if (inCache && line.startsWith("Pss:")) {
        total += Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return total;
  }

  private static long memAvailableMib() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemAvailable:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
        }
      }
    } catch (IOException e) {
      // unknown: keep going
    }
    return Long.MAX_VALUE;
  }

  private static String machine() throws IOException {
    String cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
        .findFirst().map(l -> l.substring(l.indexOf(':') + 1).strip()).orElse("?");
    long memKib = Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("MemTotal"))
        .findFirst().map(l -> Long.parseLong(l.replaceAll("[^0-9]", ""))).orElse(0L);
    return String.format("%d CPUs (%s), %d GiB, kernel %s, TCG", Runtime.getRuntime().availableProcessors(), cpu,
        Math.round(memKib / 1048576.0), System.getProperty("os.version"));
  }

  private static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    Collections.sort(s);
    return s.isEmpty() ? 0 : s.get(s.size() / 2);
  }
}
