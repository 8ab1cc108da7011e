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
    Path socket = Path.of(System.getenv().getOrDefault("ISOLA_SOCKET", "/run/isola/isolad.sock"));
    if (!embedded && io.isola.vmm.cli.client.DaemonClient.reachable(socket)) {
      return io.isola.vmm.cli.client.DaemonRun.run(socket, image, command, env, workdir, interactive, tty, remove,
          new io.isola.vmm.cli.client.DaemonRun.SandboxSize(cpus, memoryMib, kernel, baseImage));
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
