package io.isola.vmm.cli;

import io.isola.vmm.image.RunOptions;
import io.isola.vmm.sandbox.ExitCodes;
import io.isola.vmm.sandbox.ContainerRun;
import io.isola.vmm.sandbox.RunRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `isola run`: one container in a fresh VM, stdio attached, exit code passed through. */
@Command(name = "run", sortOptions = false,
    description = {"Boot a sandbox VM and run a container in it.",
        "IMAGE is an OCI image layout (directory or .tar) or a root filesystem directory."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"N:the container's exit code", "125:isola itself failed (the message says why)",
        "126:the command cannot be executed", "127:the command was not found"})
final class RunCommand implements Callable<Integer> {
  @Option(names = "--rm", description = "Remove the container's filesystem when it exits.")
  boolean remove;

  @Option(names = "--memory", paramLabel = "MIB", defaultValue = "256",
      description = "Guest memory in MiB (default ${DEFAULT-VALUE}).")
  int memoryMib;

  @Option(names = "--cpus", paramLabel = "N", defaultValue = "1", description = "Guest vCPUs (default ${DEFAULT-VALUE}).")
  int cpus;

  @Option(names = {"-e", "--env"}, paramLabel = "KEY=VALUE", description = "Set an environment variable.")
  List<String> env = new ArrayList<>();

  @Option(names = {"-w", "--workdir"}, paramLabel = "DIR", description = "Working directory inside the container.")
  String workdir;

  @Option(names = {"-i", "--interactive"}, description = "Pass stdin through to the container.")
  boolean interactive;

  @Option(names = {"-t", "--tty"}, description = "Give the container a terminal.")
  boolean tty;

  @Option(names = "--kernel", paramLabel = "NAME", description = "Guest kernel from the catalog (default: the catalog's).")
  String kernel;

  @Option(names = "--base-image", paramLabel = "NAME", description = "Guest base image from the catalog (default: the catalog's).")
  String baseImage;

  @Option(names = "--network", paramLabel = "MODE", description = {"none (loopback only; the default), nat"
      + " (outbound through QEMU's NAT; needed for -p) or netns:PATH (join a network namespace; root only)."})
  String network;

  @Option(names = {"-p", "--publish"}, paramLabel = "[IP:]HOST:CONTAINER[/udp]",
      description = "Publish a container port on the host (127.0.0.1 unless IP is given); implies --network nat.")
  List<String> publish = new ArrayList<>();

  @Option(names = {"-v", "--volume"}, paramLabel = "HOST:CONTAINER[:ro]",
      description = "Bind a host file or directory (inside isolad's volume roots) into the container.")
  List<String> volumes = new ArrayList<>();

  @Option(names = "--tmpfs", paramLabel = "PATH[:SIZE_MIB]", description = "Mount a tmpfs in the container.")
  List<String> tmpfs = new ArrayList<>();

  @Option(names = "--hostname", paramLabel = "NAME", description = "The sandbox's hostname.")
  String hostname;

  @Option(names = "--dns", paramLabel = "IP", description = "A resolver for the container's /etc/resolv.conf.")
  List<String> dns = new ArrayList<>();

  @Option(names = "--embedded", description = "Run the VM from this process even if isolad is running.")
  boolean embedded;

  @Mixin
  RuntimeSettings settings;

  @Parameters(index = "0", paramLabel = "IMAGE", description = "OCI image layout (dir or .tar) or rootfs directory.")
  Path image;

  @Parameters(index = "1..*", paramLabel = "CMD", description = "Command and arguments (after --).")
  List<String> command = new ArrayList<>();

  @Override
  public Integer call() {
    if (memoryMib < 64 || memoryMib > 1 << 20) {
      return fail("--memory must be between 64 and 1048576 MiB, got " + memoryMib);
    }
    if (cpus < 1 || cpus > 64) {
      return fail("--cpus must be between 1 and 64, got " + cpus);
    }
    for (String kv : env) {
      if (kv.indexOf('=') <= 0) {
        return fail("-e expects KEY=VALUE, got \"" + kv + "\"");
      }
    }
    io.isola.proto.v1.NetworkConfig networkConfig;
    List<io.isola.proto.v1.Mount> mounts;
    try {
      networkConfig = RunPlumbing.network(network, publish, hostname, dns);
      mounts = RunPlumbing.mounts(volumes, tmpfs);
    } catch (IllegalArgumentException e) {
      return fail(e.getMessage());
    }
    Path socket = Path.of(System.getenv().getOrDefault("ISOLA_SOCKET", "/run/isola/isolad.sock"));
    if (!embedded && io.isola.vmm.cli.client.DaemonClient.reachable(socket)) {
      return io.isola.vmm.cli.client.DaemonRun.run(socket, image, command, env, workdir, interactive, tty, remove,
          new io.isola.vmm.cli.client.DaemonRun.SandboxSize(cpus, memoryMib, kernel, baseImage), networkConfig,
          mounts);
    }
    if (!networkConfig.equals(io.isola.proto.v1.NetworkConfig.getDefaultInstance()) || !mounts.isEmpty()) {
      return fail("--network, -p, -v, --tmpfs, --hostname and --dns need isolad (start bin/isolad; "
          + (embedded ? "drop --embedded" : "it is not reachable at " + socket) + ")");
    }
    RunOptions options = RunOptions.builder()
        .args(command)
        .env(env)
        .cwd(workdir)
        .terminal(tty)
        .build();
    RunRequest request = new RunRequest(image, options, interactive, tty, memoryMib, cpus, kernel, baseImage, remove,
        settings.catalog(), settings.runRoot(), settings.stateRoot(), settings.qemu());
    return new ContainerRun(request, System.in, System.out, System.err).execute();
  }

  private static int fail(String message) {
    System.err.println("isola: " + message);
    return ExitCodes.RUNTIME_ERROR;
  }
}
