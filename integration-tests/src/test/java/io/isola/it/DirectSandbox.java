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
    sandbox = Sandbox.boot(new QemuBackend(qemu, accelerator), guest.vmSpec("direct", 1, 256,
        List.of(new VmSpec.Share("share", share, false)), run), GuestBoot.BOOT_DEADLINE);
    agent().createContainer(CONTAINER, config, "share", CONTAINER + "/rootfs", false, false);
    agent().startContainer(CONTAINER);
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
