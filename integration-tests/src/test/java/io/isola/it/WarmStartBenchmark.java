package io.isola.it;

import io.grpc.ManagedChannel;
import io.isola.proto.v1.ContainerRef;
import io.isola.proto.v1.ContainersGrpc;
import io.isola.proto.v1.CreateContainerRequest;
import io.isola.proto.v1.CreateSandboxRequest;
import io.isola.proto.v1.DeleteContainerRequest;
import io.isola.proto.v1.ProcessRef;
import io.isola.proto.v1.ProcessSpec;
import io.isola.vmm.api.ApiClients;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * Warm start beside cold start in one isolad (warm_pool_size = 1): create + start + wait of a
 * container running {@code true} in a sandbox of its own, through the API. Warm: the default
 * profile, served from the pool (refilled before each warm run). Cold: the same with 257 MiB,
 * which the pool does not serve, so a VM boots. {@code make bench-warm}; not part of the suite.
 */
@EnabledIfSystemProperty(named = "isola.bench", matches = "true")
class WarmStartBenchmark {
  @TempDir Path dir;

  @Test
  void warmBesideCold() throws Exception {
    int runs = Integer.getInteger("isola.bench.runs", 5);
    Times t = measure(dir, runs);
    List<Long> warm = t.warm();
    List<Long> cold = t.cold();
    String table = String.format("%nAPI create+start+wait of `true` in its own sandbox (%d interleaved rounds)%n"
          + "  cold (VM boots)     median %5d ms (min %d, max %d)%n"
          + "  warm (pooled VM)    median %5d ms (min %d, max %d)%n"
          + "  ratio warm / cold: %.2f%n", runs, cold.get(runs / 2), cold.get(0), cold.get(runs - 1),
          warm.get(runs / 2), warm.get(0), warm.get(runs - 1), (double) warm.get(runs / 2) / cold.get(runs / 2));
    System.out.print(table);
    Files.writeString(Path.of(System.getProperty("isola.bench.out", "target/bench-warm.txt")), table);
  }

  /** Sorted times in ms of cold and warm runs. */
  record Times(List<Long> cold, List<Long> warm) {}

  /** Interleaved cold and warm runs in one isolad with a warm pool of one, started in {@code dir}. */
  static Times measure(Path dir, int runs) throws Exception {
    IsoladProcess isolad = new IsoladProcess(dir, "[daemon]\nwarm_pool_size = 1\n").start();
    ManagedChannel channel = ApiClients.unix(isolad.socket);
    try {
      List<Long> warm = new ArrayList<>();
      List<Long> cold = new ArrayList<>();
      for (int i = 0; i < runs; i++) {
        cold.add(run(channel, "cold" + i, 257));
        WarmPoolIT.awaitWarm(channel);
        Thread.sleep(500); // let the freshly booted VM settle, as a pool that waited would be
        warm.add(run(channel, "warm" + i, 0));
      }
      Collections.sort(warm);
      Collections.sort(cold);
      return new Times(cold, warm);
    } finally {
      channel.shutdownNow();
      isolad.close();
    }
  }

  private static long run(ManagedChannel channel, String id, int memoryMib) {
    var containers = ContainersGrpc.newBlockingStub(channel).withDeadlineAfter(300, TimeUnit.SECONDS);
    long t0 = System.nanoTime();
    containers.createContainer(CreateContainerRequest.newBuilder().setId(id).setImage(IsolaProcess.DEMO_IMAGE
        .toString()).setNewSandbox(CreateSandboxRequest.newBuilder().setMemoryMib(memoryMib))
        .setProcess(ProcessSpec.newBuilder().addArgs("true")).build());
    containers.startContainer(ContainerRef.newBuilder().setId(id).build());
    containers.wait(ProcessRef.newBuilder().setContainerId(id).build());
    long ms = (System.nanoTime() - t0) / 1_000_000;
    containers.deleteContainer(DeleteContainerRequest.newBuilder().setId(id).setForce(true).build());
    return ms;
  }
}
