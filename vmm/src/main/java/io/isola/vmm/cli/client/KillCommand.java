package io.isola.vmm.cli.client;

import io.isola.proto.v1.ProcessRef;
import io.isola.proto.v1.SignalRequest;
import io.isola.vmm.sandbox.ExitCodes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `isola kill`: send a signal to a container's main process. */
@Command(name = "kill", description = "Send a signal (default SIGKILL) to a container.")
public final class KillCommand extends ClientCommand {
  @Option(names = {"-s", "--signal"}, paramLabel = "SIG", defaultValue = "KILL",
      description = "Signal name or number (default KILL).")
  String signal;

  @Parameters(paramLabel = "CONTAINER", arity = "1..*")
  java.util.List<String> containers;

  @Override
  int run(DaemonClient client) {
    int number = Signals.parse(signal);
    if (number <= 0) {
      System.err.println("isola: unknown signal \"" + signal + "\" (use a name like TERM or a number 1-64)");
      return ExitCodes.RUNTIME_ERROR;
    }
    for (String id : containers) {
      client.containers().signal(SignalRequest.newBuilder()
          .setProcess(ProcessRef.newBuilder().setContainerId(id)).setSignal(number).build());
      System.out.println(id);
    }
    return 0;
  }
}
