package io.isola.vmm.bench;

import io.grpc.ManagedChannel;
import io.isola.proto.v1.Container;
import io.isola.proto.v1.ContainerRef;
import io.isola.proto.v1.ContainersGrpc;
import io.isola.proto.v1.CreateContainerRequest;
import io.isola.proto.v1.CreateSandboxRequest;
import io.isola.proto.v1.DeleteContainerRequest;
import io.isola.proto.v1.ListSandboxesRequest;
import io.isola.proto.v1.ProcessRef;
import io.isola.proto.v1.ProcessSpec;
import io.isola.proto.v1.SandboxRef;
import io.isola.proto.v1.SandboxesGrpc;
import io.isola.vmm.api.ApiClients;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * isolad's numbers, in one process beside the embedded `isola run`: median latency of
 * create+start+wait of `true` through the API vs `isola run --embedded --rm IMAGE true`, p99 of
 * ListSandboxes with 20 sandboxes, and isolad's RSS idle and with 20 sandboxes.
 *
 * <p>Usage: ApiBenchmark PROJECT_DIR IMAGE RUNS
 */
public final class ApiBenchmark {
  private ApiBenchmark() {}

  public static void main(String[] args) throws Exception {
    Path project = Path.of(args[0]).toAbsolutePath();
    String image = Path.of(args[1]).toAbsolutePath().toString();
    int runs = Integer.parseInt(args[2]);
    Path work = Files.createTempDirectory("isola-apibench");
    Path socket = work.resolve("isolad.sock");
    Process isolad = new ProcessBuilder(project.resolve("bin/isolad").toString(), "--socket", socket.toString(),
        "--run-root", work.resolve("run").toString(), "--state-root", work.resolve("state").toString(),
        "--shutdown-sandboxes").redirectErrorStream(true).redirectOutput(work.resolve("isolad.log").toFile()).start();
    try {
      while (!Files.readString(work.resolve("isolad.log")).contains("serving on")) {
        if (!isolad.isAlive()) {
          throw new IllegalStateException("isolad failed: " + Files.readString(work.resolve("isolad.log")));
        }
        TimeUnit.MILLISECONDS.sleep(100);
      }
      ManagedChannel channel = ApiClients.unix(socket);
      SandboxesGrpc.SandboxesBlockingStub sandboxes = SandboxesGrpc.newBlockingStub(channel);
      ContainersGrpc.ContainersBlockingStub containers = ContainersGrpc.newBlockingStub(channel);
      TimeUnit.SECONDS.sleep(2);
      long idleRss = rssKib(isolad.pid());

      List<Long> api = new ArrayList<>();
      List<Long> embedded = new ArrayList<>();
      for (int i = 0; i < runs; i++) {
        long start = System.nanoTime();
        Container c = containers.createContainer(CreateContainerRequest.newBuilder().setImage(image)
            .setProcess(ProcessSpec.newBuilder().addArgs("true")).build());
        containers.startContainer(ContainerRef.newBuilder().setId(c.getId()).build());
        int status = containers.wait(ProcessRef.newBuilder().setContainerId(c.getId()).build()).getExitStatus();
        api.add((System.nanoTime() - start) / 1_000_000);
        containers.deleteContainer(DeleteContainerRequest.newBuilder().setId(c.getId()).setForce(true).build());
        if (status != 0) {
          throw new IllegalStateException("true exited " + status);
        }
        start = System.nanoTime();
        ProcessBuilder run = new ProcessBuilder(project.resolve("bin/isola").toString(), "run", "--embedded", "--rm",
            image, "--", "true").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        run.environment().put("ISOLA_RUN_ROOT", work.resolve("embedded-run").toString());
        run.environment().put("ISOLA_STATE_ROOT", work.resolve("embedded-state").toString());
        if (run.start().waitFor() != 0) {
          throw new IllegalStateException("isola run failed");
        }
        embedded.add((System.nanoTime() - start) / 1_000_000);
        System.out.printf("round %d: API create+start+wait %5d ms   isola run --embedded %5d ms%n", i + 1,
            api.get(i), embedded.get(i));
      }

      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        ids.add(sandboxes.createSandbox(CreateSandboxRequest.newBuilder().setMemoryMib(128).build()).getId());
      }
      TimeUnit.SECONDS.sleep(2);
      long busyRss = rssKib(isolad.pid());
      List<Long> list = new ArrayList<>();
      for (int i = 0; i < 1000; i++) {
        long start = System.nanoTime();
        int n = sandboxes.listSandboxes(ListSandboxesRequest.getDefaultInstance()).getSandboxesCount();
        list.add((System.nanoTime() - start) / 1000);
        if (n != 20) {
          throw new IllegalStateException("listed " + n);
        }
      }
      for (String id : ids) {
        sandboxes.deleteSandbox(SandboxRef.newBuilder().setId(id).build());
      }
      channel.shutdownNow();

      System.out.printf("%nAPI create+start+wait of true: median %d ms (min %d, max %d)%n", median(api),
          Collections.min(api), Collections.max(api));
      System.out.printf("isola run --embedded --rm:     median %d ms (min %d, max %d)%n", median(embedded),
          Collections.min(embedded), Collections.max(embedded));
      System.out.printf("ratio (API / embedded run): %.2f%n", (double) median(api) / median(embedded));
      Collections.sort(list);
      System.out.printf("ListSandboxes with 20 sandboxes: median %d us, p99 %d us (1000 calls)%n",
          list.get(500), list.get(989));
      System.out.printf("isolad RSS: idle %d MiB, with 20 sandboxes %d MiB%n", idleRss / 1024, busyRss / 1024);
    } finally {
      isolad.destroy();
      isolad.waitFor(60, TimeUnit.SECONDS);
    }
  }

  private static long rssKib(long pid) throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return -1;
  }

  private static long median(List<Long> values) {
    List<Long> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    return sorted.get(sorted.size() / 2);
  }
}
