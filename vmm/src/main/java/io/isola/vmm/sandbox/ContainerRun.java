package io.isola.vmm.sandbox;

import io.isola.proto.agent.v1.StdioStream;
import io.isola.proto.agent.v1.WaitProcessResponse;
import io.isola.ttrpc.StatusCode;
import io.isola.ttrpc.TtrpcException;
import io.isola.vmm.catalog.Catalog;
import io.isola.vmm.catalog.CatalogException;
import io.isola.vmm.hypervisor.VmSpec;
import io.isola.vmm.image.Image;
import io.isola.vmm.image.PreparedRootfs;
import io.isola.vmm.image.RuntimeSpecBuilder;
import io.isola.vmm.qemu.AcceleratorProbe;
import io.isola.vmm.qemu.Accelerator;
import io.isola.vmm.jail.JailException;
import io.isola.vmm.jail.JailSettings;
import io.isola.vmm.jail.Jailer;
import io.isola.vmm.qemu.QemuBackend;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

/**
 * `isola run` end to end: verify the guest files, prepare the root filesystem, boot a VM,
 * run the container with stdio attached, tear everything down. Every exit path goes through
 * the finally blocks, so no VM, socket or directory outlives the run (the container's
 * filesystem stays only when the caller did not ask for --rm).
 */
public final class ContainerRun {
  private static final String ROOTFS_TAG = "rootfs";
  private static final Duration OUTPUT_DRAIN = Duration.ofSeconds(10);
  private static final Duration SHUTDOWN_GRACE = Duration.ofSeconds(3);

  private final RunRequest request;
  private final InputStream stdin;
  private final OutputStream stdout;
  private final PrintStream stderr;
  private final String id = newId();
  private final SignalForwarder signals;
  private final PhaseTrace trace;

  public ContainerRun(RunRequest request, InputStream stdin, OutputStream stdout, PrintStream stderr) {
    this.request = request;
    this.stdin = stdin;
    this.stdout = stdout;
    this.stderr = stderr;
    this.signals = new SignalForwarder(id);
    this.trace = new PhaseTrace(stderr);
  }

  private static String newId() {
    byte[] bytes = new byte[6];
    new SecureRandom().nextBytes(bytes);
    return HexFormat.of().formatHex(bytes);
  }

  /** Runs the container and returns the exit code for the isola process. */
  public int execute() {
    SandboxDirectories dirs = null;
    boolean keepFilesystem = false;
    signals.install();
    try {
      GuestFiles guest = GuestFiles.choose(Catalog.load(request.catalog()), request.kernel(), request.baseImage());
      guest.verify(request.stateRoot());
      trace.mark("verify guest files");
      Accelerator accelerator = chooseAccelerator(guest);
      trace.mark("choose accelerator");

      dirs = SandboxDirectories.create(request.runRoot(), request.stateRoot(), id);
      Files.createDirectories(dirs.rootfs());
      try (Image image = Image.open(request.image())) { // a bad image fails here, before any VM
        trace.mark("open image");
        // The guest boots while the root filesystem is unpacked into its (still empty) share:
        // nothing in the guest looks at the share before the container is created.
        CompletableFuture<PreparedRootfs> unpacking = unpackInBackground(image, dirs.rootfs());
        try {
          VmSpec spec = guest.vmSpec(id, request.vcpus(), request.memoryMib(),
              List.of(new VmSpec.Share(ROOTFS_TAG, dirs.rootfs(), false)), dirs.run());
          try (Sandbox sandbox = Sandbox.boot(new QemuBackend(request.qemu(), accelerator, jailer()), spec,
              GuestBoot.BOOT_DEADLINE)) {
            trace.mark("boot sandbox (rootfs unpacked meanwhile)");
            PreparedRootfs rootfs = unpacked(unpacking);
            keepFilesystem = rootfs.unpacked() && !request.removeWhenDone();
            sandbox.vm().handOver(rootfs.path()); // files made after the jail took the share over
            byte[] ociConfig = RuntimeSpecBuilder.runtimeSpec(image.config(), request.options(), rootfs.path());
            trace.mark("prepare rootfs (rest)");
            signals.attach(sandbox);
            if (signals.forcedTeardown() != 0) {
              return 128 + signals.forcedTeardown();
            }
            int code = runContainer(sandbox, ociConfig);
            trace.mark("run container");
            sandbox.shutdown(SHUTDOWN_GRACE);
            trace.mark("shut down");
            return code;
          }
        } finally {
          // the image stays open, and its files in place, until the unpacker has let go of them
          unpacking.exceptionally(e -> null).join();
        }
      }
    } catch (CatalogException | SandboxException | IOException e) {
      if (signals.forcedTeardown() != 0) {
        return 128 + signals.forcedTeardown();
      }
      stderr.println("isola: " + e.getMessage());
      return ExitCodes.RUNTIME_ERROR;
    } catch (RuntimeException e) {
      stderr.println("isola: internal error: " + e);
      return ExitCodes.RUNTIME_ERROR;
    } finally {
      signals.uninstall();
      cleanUp(dirs, keepFilesystem);
    }
  }

  /**
   * The jail for this run's QEMU, as isolad's default [jail] settings make it. Without root
   * (or with ISOLA_JAIL=off) QEMU runs unconfined, and the user is told.
   */
  private Jailer jailer() throws JailException {
    if ("off".equals(System.getenv("ISOLA_JAIL"))) {
      stderr.println("isola: warning: ISOLA_JAIL=off: QEMU runs unconfined");
      return null;
    }
    if (!"root".equals(System.getProperty("user.name"))) {
      stderr.println("isola: warning: not root: QEMU runs unconfined, as your own user");
      return null;
    }
    return Jailer.create(JailSettings.DEFAULTS.withJailerFromEnvironment(), true);
  }

  private Accelerator chooseAccelerator(GuestFiles guest) {
    AcceleratorProbe.Verdict verdict = AcceleratorProbe.cachedUnder(request.qemu(), request.stateRoot())
        .decide(guest.kernel().file(), guest.baseImage().file());
    if (verdict.accelerator() == Accelerator.TCG) {
      stderr.println("isola: warning: " + verdict.reason() + "; running the VM under TCG software emulation (slow)");
    }
    return verdict.accelerator();
  }

  private int runContainer(Sandbox sandbox, byte[] ociConfig) throws SandboxException {
    var agent = sandbox.agent();
    try {
      agent.createContainer(id, ociConfig, ROOTFS_TAG, request.interactive(), request.terminal());
    } catch (TtrpcException e) {
      return reportStartFailure(sandbox, e);
    }
    CompletableFuture<Throwable> out = StdioPump.output(agent, id, "", StdioStream.STDOUT, stdout);
    CompletableFuture<Throwable> err = request.terminal()
        ? CompletableFuture.completedFuture(null)
        : StdioPump.output(agent, id, "", StdioStream.STDERR, stderr);
    try {
      agent.startContainer(id);
    } catch (TtrpcException e) {
      return reportStartFailure(sandbox, e);
    }
    Optional<HostTerminal> terminal = Optional.empty();
    if (request.terminal()) {
      terminal = request.interactive() ? HostTerminal.rawIfInteractive() : Optional.empty();
      signals.onWindowChange(() -> resize(sandbox));
      resize(sandbox);
    }
    if (request.interactive()) {
      StdioPump.input(agent, id, "", stdin);
    }
    WaitProcessResponse status;
    try {
      status = agent.waitProcess(id, "");
    } catch (TtrpcException e) {
      terminal.ifPresent(HostTerminal::close);
      if (signals.forcedTeardown() != 0) {
        return 128 + signals.forcedTeardown();
      }
      throw new SandboxException("lost the sandbox while the container ran: " + vmState(sandbox) + " ("
          + e.detail() + ")", e);
    }
    drain(out);
    drain(err);
    terminal.ifPresent(HostTerminal::close);
    if (status.getOomKilled()) {
      stderr.println("isola: the container was killed for running out of memory (--memory " + request.memoryMib() + ")");
    }
    return status.getExitStatus();
  }

  private int reportStartFailure(Sandbox sandbox, TtrpcException e) throws SandboxException {
    if (e.code() == StatusCode.NOT_FOUND) {
      stderr.println("isola: " + e.detail());
      return ExitCodes.NOT_FOUND;
    }
    if (e.code() == StatusCode.PERMISSION_DENIED) {
      stderr.println("isola: " + e.detail());
      return ExitCodes.NOT_EXECUTABLE;
    }
    if (sandbox.vm().exit().isDone() || sandbox.channelLost().isDone()) {
      throw new SandboxException("lost the sandbox while creating the container: " + vmState(sandbox), e);
    }
    throw new SandboxException("cannot start the container: " + e.detail(), e);
  }

  private void resize(Sandbox sandbox) {
    HostTerminal.size().ifPresent(size -> {
      try {
        sandbox.agent().resizeTerminal(id, "", size[1], size[0]);
      } catch (TtrpcException e) {
        // the container may be gone already; its exit is reported by Wait
      }
    });
  }

  private static String vmState(Sandbox sandbox) {
    try {
      return sandbox.vm().exit().get(2, TimeUnit.SECONDS).description();
    } catch (Exception e) {
      return sandbox.channelLost().getNow("the agent stopped answering");
    }
  }

  /** Output after the exit is still owed to the user; wait for EOF, but not forever. */
  private static void drain(CompletableFuture<Throwable> pump) {
    try {
      pump.get(OUTPUT_DRAIN.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      // a process in the container kept the stream open; the VM is torn down next anyway
    }
  }

  private static CompletableFuture<PreparedRootfs> unpackInBackground(Image image, Path target) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return image.unpackTo(target);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
  }

  private static PreparedRootfs unpacked(CompletableFuture<PreparedRootfs> unpacking) throws IOException {
    try {
      return unpacking.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof UncheckedIOException u) {
        throw u.getCause();
      }
      throw e;
    }
  }

  private void cleanUp(SandboxDirectories dirs, boolean keepFilesystem) {
    if (dirs == null) {
      return;
    }
    try {
      dirs.removeRun();
      if (!keepFilesystem) {
        dirs.removeState();
      } else {
        stderr.println("isola: container " + id + " kept its filesystem at " + dirs.rootfs() + " (use --rm to discard it)");
      }
    } catch (IOException e) {
      stderr.println("isola: warning: could not remove sandbox files: " + e.getMessage());
    }
  }
}
