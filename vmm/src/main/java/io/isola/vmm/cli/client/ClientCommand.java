package io.isola.vmm.cli.client;

import io.grpc.StatusRuntimeException;
import io.isola.vmm.sandbox.ExitCodes;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;

/** A command that talks to isolad: connects, runs, and turns failures into one clear line. */
abstract class ClientCommand implements Callable<Integer> {
  @Mixin
  DaemonOptions daemon;

  @Override
  public final Integer call() {
    try (DaemonClient client = DaemonClient.connect(daemon.socket())) {
      try {
        return run(client);
      } catch (StatusRuntimeException e) {
        System.err.println("isola: " + client.explain(e));
        return ExitCodes.RUNTIME_ERROR;
      }
    }
  }

  abstract int run(DaemonClient client);
}
