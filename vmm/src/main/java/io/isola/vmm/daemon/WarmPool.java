package io.isola.vmm.daemon;

import io.isola.vmm.catalog.CatalogException;
import io.isola.vmm.hypervisor.Hypervisor;
import io.isola.vmm.sandbox.GuestBoot;
import io.isola.vmm.sandbox.GuestFiles;
import io.isola.vmm.sandbox.Sandbox;
import io.isola.vmm.sandbox.SandboxDirectories;
import io.isola.vmm.sandbox.SandboxException;
import io.isola.vmm.util.HostProcesses;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * VMs booted ahead of demand for the default sandbox profile (size, kernel, base image, network
 * none). A pooled VM belongs to nobody until a sandbox creation takes it; from then on it is that
 * sandbox, used once and removed with it, so no VM ever serves two sandboxes or two tenants. The
 * pool is refilled in the background, one boot at a time.
 *
 * <p>Pooled VMs are kept out of the state store: they live under {@code <run-root>/pool} and
 * {@code <state-root>/pool}, and whatever is found there when isolad starts (after a crash) is
 * killed and removed.
 */
final class WarmPool implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(WarmPool.class.getName());
  private static final long RETRY_AFTER_FAILURE_MS = 5000;

  /** The sandbox profile the pool serves. */
  record Profile(int vcpus, int memoryMib, String kernel, String baseImage) {}

  /** A booted VM waiting to be taken, and its directories under the pool roots. */
  record Warm(Sandbox sandbox, SandboxDirectories dirs) {}

  private final int size;
  private final Supplier<GuestFiles> guest;
  private final Profile profile;
  private final Hypervisor hypervisor;
  private final Path runPool;
  private final Path statePool;
  private final Path stateRoot;
  private final long writableLayerMib;
  private final ConcurrentLinkedQueue<Warm> ready = new ConcurrentLinkedQueue<>();
  private final ExecutorService refiller = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "warm-pool");
    t.setDaemon(true);
    return t;
  });
  private final AtomicBoolean refilling = new AtomicBoolean();
  private volatile boolean closed;

  WarmPool(int size, Profile profile, Supplier<GuestFiles> guest, Hypervisor hypervisor, Path runRoot,
      Path stateRoot, long writableLayerMib) {
    this.size = size;
    this.writableLayerMib = writableLayerMib;
    this.profile = profile;
    this.guest = guest;
    this.hypervisor = hypervisor;
    this.runPool = runRoot.resolve("pool");
    this.statePool = stateRoot.resolve("pool");
    this.stateRoot = stateRoot;
  }

  /** Removes what a previous isolad left in the pool, then starts filling it. */
  void start() {
    removeLeftovers();
    refill();
  }

  int ready() {
    return ready.size();
  }

  /** A booted VM for {@code wanted}, if the pool serves that profile and has one alive. */
  Optional<Warm> take(Profile wanted) {
    if (size == 0 || !profile.equals(wanted)) {
      return Optional.empty();
    }
    try {
      Warm w;
      while ((w = ready.poll()) != null) {
        if (!w.sandbox().vm().exit().isDone() && !w.sandbox().channelLost().isDone()) {
          return Optional.of(w);
        }
        discard(w); // died while waiting
      }
      return Optional.empty();
    } finally {
      refill();
    }
  }

  private void refill() {
    if (closed || size == 0 || !refilling.compareAndSet(false, true)) {
      return;
    }
    refiller.execute(() -> {
      try {
        while (!closed && ready.size() < size) {
          Optional<Warm> w = bootOne();
          if (w.isEmpty()) {
            Thread.sleep(RETRY_AFTER_FAILURE_MS);
          } else if (closed) {
            discard(w.get());
          } else {
            ready.add(w.get());
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        refilling.set(false);
      }
    });
  }

  private Optional<Warm> bootOne() {
    String id = "pool-" + io.isola.vmm.api.Ids.generate();
    SandboxDirectories dirs = null;
    try {
      dirs = SandboxDirectories.create(runPool.getParent(), statePool.getParent(), id, "pool");
      SandboxPlumbing.createShare(dirs, writableLayerMib);
      Files.createDirectories(dirs.readOnlyShare());
      GuestFiles files = guest.get();
      files.verify(stateRoot);
      Sandbox sandbox = Sandbox.boot(hypervisor, files.vmSpec(id, profile.vcpus(), profile.memoryMib(),
          SandboxPlumbing.shares(dirs), dirs.run()), GuestBoot.BOOT_DEADLINE);
      return Optional.of(new Warm(sandbox, dirs));
    } catch (IOException | CatalogException | SandboxException | RuntimeException e) {
      LOG.log(Level.WARNING, "cannot boot a warm VM; retrying in " + RETRY_AFTER_FAILURE_MS + " ms", e);
      if (dirs != null) {
        SandboxDirectories made = dirs;
        withoutInterrupt(() -> remove(made));
      }
      return Optional.empty();
    }
  }

  private void discard(Warm w) {
    withoutInterrupt(() -> {
      w.sandbox().close();
      remove(w.dirs());
    });
  }

  /**
   * Runs a clean-up on the refill thread even when isolad's stop has interrupted it: an interrupted
   * thread fails every host command (umount) at once, which left a pooled VM's mounts behind.
   */
  private static void withoutInterrupt(Runnable cleanUp) {
    boolean interrupted = Thread.interrupted();
    try {
      cleanUp.run();
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static void remove(SandboxDirectories dirs) {
    SandboxPlumbing.tearDown(dirs); // the layer and share mounts, if the VM's end left them
    try {
      dirs.removeRun();
      dirs.removeState();
    } catch (IOException e) {
      LOG.log(Level.WARNING, "cannot remove pooled VM files " + dirs.run(), e);
    }
  }

  /** Kills pooled QEMUs a crashed isolad left (pid file plus a command line naming the directory). */
  private void removeLeftovers() {
    List<Path> runs = new ArrayList<>();
    try (var list = Files.list(runPool)) {
      list.forEach(runs::add);
    } catch (IOException e) {
      // no pool directory yet
    }
    for (Path run : runs) {
      try {
        long pid = Long.parseLong(Files.readString(run.resolve("qemu.pid")).strip());
        ProcessHandle.of(pid).filter(p -> p.info().commandLine().map(c -> c.contains(run.toString())).orElse(false))
            .ifPresent(HostProcesses::killAndWait);
      } catch (IOException | NumberFormatException e) {
        // no pid: the VM never started
      }
      LOG.info("removed a pooled VM left by an earlier isolad: " + run.getFileName());
      remove(SandboxDirectories.existing(run, statePool.resolve(run.getFileName()), run.getFileName().toString()));
    }
  }

  /** Stops every pooled VM: nobody can adopt them. */
  @Override
  public void close() {
    closed = true;
    refiller.shutdownNow();
    try {
      refiller.awaitTermination(GuestBoot.BOOT_DEADLINE.toSeconds() + 5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Warm w;
    while ((w = ready.poll()) != null) {
      discard(w);
    }
  }
}
