package io.isola.vmm.daemon;

import io.isola.vmm.api.ApiServer;
import io.isola.vmm.api.config.DaemonConfig;
import io.isola.vmm.catalog.Catalog;
import io.isola.vmm.catalog.CatalogException;
import io.isola.vmm.qemu.AcceleratorProbe;
import io.isola.vmm.jail.JailException;
import io.isola.vmm.jail.JailSettings;
import io.isola.vmm.jail.Jailer;
import io.isola.vmm.qemu.QemuBackend;
import io.isola.vmm.state.StateStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * isolad, the supervisor: serves the isola.v1 API, owns the state store, re-adopts running
 * VMs when it starts. Stopping it (SIGTERM, SIGINT) leaves the VMs running for the next start,
 * unless --shutdown-sandboxes was given.
 */
@Command(name = "isolad", mixinStandardHelpOptions = true, version = "isolad " + HostService.VERSION,
    description = "The isola supervisor daemon.")
public final class Isolad implements Callable<Integer> {
  @Option(names = "--config", paramLabel = "FILE", defaultValue = "${env:ISOLA_CONFIG:-/etc/isola/config.toml}",
      description = "TOML configuration (a missing file means defaults). Default: ${DEFAULT-VALUE}")
  Path config;

  @Option(names = "--socket", paramLabel = "PATH", description = "API Unix socket (overrides [daemon] socket).")
  Path socket;

  @Option(names = "--run-root", paramLabel = "DIR", description = "Overrides [daemon] run_root.")
  Path runRoot;

  @Option(names = "--state-root", paramLabel = "DIR", description = "Overrides [daemon] state_root.")
  Path stateRoot;

  @Option(names = "--catalog", paramLabel = "FILE", defaultValue = "${env:ISOLA_CATALOG}",
      description = "Overrides [daemon] catalog. Env ISOLA_CATALOG.")
  Path catalog;

  @Option(names = "--shutdown-sandboxes", description = "On exit, stop every sandbox VM instead of leaving them running.")
  boolean shutdownSandboxes;

  @Override
  public Integer call() throws Exception {
    DaemonConfig cfg = DaemonConfig.load(config);
    DaemonConfig.Daemon d = cfg.daemon();
    if (socket != null) {
      d = d.withSocket(socket);
    }
    if (runRoot != null) {
      d = d.withRunRoot(runRoot);
    }
    if (stateRoot != null) {
      d = d.withStateRoot(stateRoot);
    }
    if (catalog != null) {
      d = d.withCatalog(catalog);
    }
    cfg = cfg.withDaemon(d);
    Files.createDirectories(d.stateRoot());
    Files.createDirectories(d.runRoot());

    AcceleratorProbe.Verdict accelerator = accelerator(d);
    Jailer jailer = jailer(cfg.jail());
    StateStore store = StateStore.open(d.stateRoot().resolve("isolad.db"));
    EventBus events = new EventBus();
    Supervisor supervisor = new Supervisor(new SupervisorSettings(d.runRoot(), d.stateRoot(), d.catalog(), d.qemu(),
        d.defaultVcpus(), (int) d.defaultMemoryMib(), d.maxVcpus(), (int) d.maxMemoryMib(), d.volumeRoots(), d.warmPoolSize(),
        d.writableLayerMib()), store,
        new QemuBackend(d.qemu(), accelerator.accelerator(), jailer), events, new ContainerLogFiles());
    supervisor.recover();
    if (jailer != null) {
      jailer.sweep(); // cgroups of VMs that ended while no isolad watched
    }
    supervisor.startWarmPool();
    ApiServer server = ApiServer.start(cfg, List.of(new SandboxesService(supervisor),
        new ContainersService(supervisor, imageRoots(d)), new EventsService(events),
        new HostService(accelerator, d.catalog(), supervisor::warmVms)));
    System.err.println("isolad: serving on " + server.unixSocket()
        + server.tlsAddress().map(a -> " and TLS " + a).orElse("") + " (" + accelerator.accelerator() + ")");

    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      if (shutdownSandboxes) {
        supervisor.shutdownSandboxes();
      }
      supervisor.close();
      store.close();
      stopped.countDown();
    }, "isolad-shutdown"));
    server.awaitTermination();
    stopped.await();
    return 0;
  }

  /** Images a non-admin tenant may name: the state root's images directory. */
  private static List<Path> imageRoots(DaemonConfig.Daemon d) {
    return List.of(d.stateRoot().resolve("images"));
  }

  /** The jail every QEMU starts in; null (with a warning) only when the configuration disables it. */
  private static Jailer jailer(JailSettings settings) throws JailException {
    if (!settings.enabled()) {
      System.err.println("isolad: warning: [jail] enabled = false: every QEMU runs as isolad's own user, "
          + "unconfined; a guest that escapes QEMU owns this host");
      return null;
    }
    Jailer jailer = Jailer.create(settings.withJailerFromEnvironment(), false);
    System.err.println("isolad: QEMU is jailed: own uid from " + settings.uidBase() + ", mount namespace, "
        + jailer.cgroups().describe());
    return jailer;
  }

  private static AcceleratorProbe.Verdict accelerator(DaemonConfig.Daemon d) throws CatalogException {
    Catalog catalog = Catalog.load(d.catalog());
    AcceleratorProbe.Verdict verdict = AcceleratorProbe.cachedUnder(d.qemu(), d.stateRoot())
        .decide(catalog.kernel(null).file(), catalog.baseImage(null).file());
    if (verdict.accelerator() == io.isola.vmm.qemu.Accelerator.TCG) {
      System.err.println("isolad: warning: " + verdict.reason() + "; VMs run under TCG software emulation (slow)");
    }
    return verdict;
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new Isolad()).execute(args));
  }
}
