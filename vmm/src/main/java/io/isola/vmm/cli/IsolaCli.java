package io.isola.vmm.cli;

import io.isola.vmm.sandbox.ExitCodes;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The `isola` command line. */
@Command(name = "isola", mixinStandardHelpOptions = true, version = "isola 0.1.0",
    description = "Run containers, each in its own lightweight VM with its own kernel.",
    subcommands = {RunCommand.class, io.isola.vmm.cli.client.PsCommand.class,
        io.isola.vmm.cli.client.ExecCommand.class, io.isola.vmm.cli.client.LogsCommand.class,
        io.isola.vmm.cli.client.KillCommand.class, io.isola.vmm.cli.client.RmCommand.class,
        io.isola.vmm.cli.client.SandboxCommand.class, io.isola.vmm.cli.client.EventsCommand.class,
        CheckCommand.class})
public final class IsolaCli implements Runnable {

  @Override
  public void run() {
    new CommandLine(this).usage(System.err);
  }

  public static void main(String[] args) {
    CommandLine cli = new CommandLine(new IsolaCli());
    // Usage errors are runtime errors (125), as in docker run; 127/126 belong to the container.
    cli.setExitCodeExceptionMapper(e -> ExitCodes.RUNTIME_ERROR);
    cli.setParameterExceptionHandler((e, a) -> {
      e.getCommandLine().getErr().println("isola: " + e.getMessage());
      e.getCommandLine().getErr().println("Run '" + e.getCommandLine().getCommandSpec().qualifiedName() + " --help' for usage.");
      return ExitCodes.RUNTIME_ERROR;
    });
    System.exit(cli.execute(args));
  }
}
