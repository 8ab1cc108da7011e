package io.isola.vmm.cli;

import io.isola.vmm.api.config.ConfigException;
import io.isola.vmm.api.config.DaemonConfig;
import io.isola.vmm.jail.Cgroups;
import io.isola.vmm.jail.JailException;
import io.isola.vmm.jail.JailSettings;
import io.isola.vmm.sandbox.ExitCodes;
import io.isola.vmm.util.HostCommand;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code isola check}: what this host offers for confining sandboxes, one line per feature, so an
 * operator learns before the first sandbox what is missing and what to do about it. Exit status 0
 * when everything the configuration asks for is there.
 */
@Command(name = "check", mixinStandardHelpOptions = true,
    description = "Report which isolation and confinement features this host supports.")
public final class CheckCommand implements Callable<Integer> {
  @Mixin
  RuntimeSettings settings;

  @Option(names = "--config", paramLabel = "FILE", defaultValue = DaemonConfig.DEFAULT_FILE,
      description = "isolad's configuration, for its [jail] table. Default: ${DEFAULT-VALUE}")
  Path config;

  private final PrintStream out = System.out;
  private int missing;

  @Override
  public Integer call() {
    JailSettings jail;
    try {
      jail = DaemonConfig.load(config).jail().withJailerFromEnvironment();
    } catch (ConfigException e) {
      System.err.println("isola: " + e.getMessage());
      return ExitCodes.RUNTIME_ERROR;
    }
    report("qemu", Files.isExecutable(settings.qemu()), settings.qemu().toString(),
        "install qemu-system-x86 (make setup)");
    report("kvm", Files.isReadable(Path.of("/dev/kvm")) && Files.isWritable(Path.of("/dev/kvm")),
        "/dev/kvm", "optional: without it VMs run under TCG emulation, slowly");
    report("qemu seccomp", qemuSeccomp(), "-sandbox on (QEMU's own system-call filter)",
        "use a QEMU built with libseccomp (Debian's is)");
    out.println("jail: " + (jail.enabled() ? "enabled" : "DISABLED in " + config + " ([jail] enabled = false)"));
    String needed = jail.enabled() ? "" : "optional (jail disabled): ";
    report("  root", "root".equals(System.getProperty("user.name")), "needed to give each QEMU its own uid",
        needed + "run isolad as root");
    report("  jailer", Files.isExecutable(jail.jailer()), jail.jailer().toString(),
        needed + "build it (make build) or set [jail] jailer");
    report("  mount namespaces", Files.exists(Path.of("/proc/self/ns/mnt")), "a private root per QEMU",
        needed + "a kernel with CONFIG_NAMESPACES");
    try {
      Cgroups cgroups = Cgroups.detect(jail.cgroupParent());
      report("  cgroups", true, cgroups.describe() + ", parent " + jail.cgroupParent(), "");
    } catch (JailException e) {
      report("  cgroups", false, "", needed + e.getMessage());
    }
    report("  seccomp", seccompInKernel(), "kernel support for QEMU's filter", needed + "a kernel with CONFIG_SECCOMP_FILTER");
    report("vhost-vsock", Files.exists(Path.of("/dev/vhost-vsock")), "/dev/vhost-vsock",
        "optional: the agent channel uses virtio-serial without it");
    report("tap", Files.exists(Path.of("/dev/net/tun")), "/dev/net/tun (netns network mode)",
        "optional: load the tun module for netns mode");
    return missing == 0 ? 0 : 1;
  }

  /** One line; a missing feature counts against the exit status unless its remedy says "optional". */
  private void report(String feature, boolean ok, String detail, String remedy) {
    if (!ok && !remedy.startsWith("optional")) {
      missing++;
    }
    out.println(feature + ": " + (ok ? "yes" : "NO") + (detail.isEmpty() ? "" : " (" + detail + ")")
        + (ok || remedy.isEmpty() ? "" : ": " + remedy));
  }

  private boolean qemuSeccomp() {
    try {
      HostCommand.run(List.of(settings.qemu().toString(), "-sandbox", "on", "-version"));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static boolean seccompInKernel() {
    try {
      return Files.readString(Path.of("/proc/self/status")).contains("\nSeccomp:");
    } catch (IOException e) {
      return false;
    }
  }
}
