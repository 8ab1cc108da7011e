package io.isola.it;

import io.isola.vmm.agent.AgentClient;
import io.isola.vmm.catalog.Catalog;
import io.isola.vmm.image.Image;
import io.isola.vmm.image.ImageConfig;
import io.isola.vmm.image.PreparedRootfs;
import io.isola.vmm.image.RunOptions;
import io.isola.vmm.image.RuntimeSpecBuilder;
import io.isola.vmm.qemu.AcceleratorProbe;
import io.isola.vmm.qemu.QemuBackend;
import io.isola.vmm.sandbox.GuestBoot;
import io.isola.vmm.sandbox.GuestFiles;
import io.isola.vmm.sandbox.Sandbox;
import io.isola.vmm.hypervisor.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A sandbox VM booted in the benchmark's own process, its agent driven directly: the baseline
 * for what isolad's API adds (no supervisor, no gRPC, no output pumps). One container runs
 * {@code sleep 600}; execs go straight to the agent, as crun exec in the guest.
 */
final class DirectSandbox implements AutoCloseable {
  static final String CONTAINER = "c1";
  private final Sandbox sandbox;
  private final Path rootfs;
  private final Path benchSocket;

  DirectSandbox(Path dir) throws Exception {
    Path qemu = Path.of("/usr/bin/qemu-system-x86_64");
    Catalog catalog = Catalog.load(IsolaProcess.PROJECT.resolve("guest-image/out/catalog.json"));
    GuestFiles guest = GuestFiles.choose(catalog, "", "");
    Path share = Files.createDirectories(dir.resolve("share"));
    Path run = Files.createDirectories(dir.resolve("run"));
    byte[] config;
    try (Image image = Image.open(IsolaProcess.DEMO_IMAGE)) {
      PreparedRootfs prepared = image.unpackTo(share.resolve(CONTAINER).resolve("rootfs"));
      rootfs = prepared.path();
      config = RuntimeSpecBuilder.runtimeSpec(image.config(), RunOptions.builder().args(List.of("sleep", "600"))
          .build(), rootfs);
    }
    var accelerator = AcceleratorProbe.cachedUnder(qemu, Files.createDirectories(dir.resolve("state")))
        .decide(guest.kernel().file(), guest.baseImage().file()).accelerator();
    VmSpec spec = guest.vmSpec("direct", 1, 256, List.of(new VmSpec.Share("share", share, false)), run)
        .withBenchPort();
    benchSocket = spec.benchSocket();
    sandbox = Sandbox.boot(new QemuBackend(qemu, accelerator), spec, GuestBoot.BOOT_DEADLINE);
    agent().createContainer(CONTAINER, config, "share", CONTAINER + "/rootfs", false, false);
    agent().startContainer(CONTAINER);
  }

  /** Milliseconds of each of {@code count} runs of {@code crun exec c1 true} inside the guest. */
  List<Double> crunExecInGuest(int count) throws Exception {
    var r = agent().benchExec(CONTAINER, List.of("true"), count);
    if (r.getLastStatus() != 0) {
      throw new AssertionError("crun exec true in the guest ended with wait status " + r.getLastStatus());
    }
    return r.getMicrosList().stream().map(us -> us / 1000.0).toList();
  }

  /**
   * MiB/s of the raw virtio-serial channel: the guest writes {@code mib} MiB to the bench port as
   * fast as it can, this process reads them from the port's socket; timed here, first byte asked
   * for to last byte in.
   */
  double rawChannelMibPerSecond(int mib) throws Exception {
    long want = (long) mib << 20;
    try (java.nio.channels.SocketChannel in = java.nio.channels.SocketChannel.open(
        java.net.UnixDomainSocketAddress.of(benchSocket))) {
      long t0 = System.nanoTime();
      var sent = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
        try {
          return agent().benchChannel(want);
        } catch (Exception e) {
          throw new java.util.concurrent.CompletionException(e);
        }
      });
      java.nio.ByteBuffer buffer = java.nio.ByteBuffer.allocateDirect(1 << 20);
      long got = 0;
      while (got < want) {
        buffer.clear();
        int n = in.read(buffer);
        if (n < 0) {
          throw new java.io.EOFException("bench port closed after " + got + " of " + want + " bytes");
        }
        got += n;
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      sent.get(60, java.util.concurrent.TimeUnit.SECONDS);
      return mib / seconds;
    }
  }

  AgentClient agent() {
    return sandbox.agent();
  }

  /** The OCI process of an exec of {@code args}. */
  byte[] process(String... args) throws Exception {
    return RuntimeSpecBuilder.execProcessSpec(ImageConfig.EMPTY, RunOptions.builder().args(List.of(args)).build(),
        rootfs);
  }

  @Override
  public void close() {
    sandbox.close();
  }
}
