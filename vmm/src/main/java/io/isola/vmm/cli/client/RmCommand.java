package io.isola.vmm.cli.client;

import io.isola.proto.v1.DeleteContainerRequest;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `isola rm`: delete containers (their files, logs, and a sandbox made just for them). */
@Command(name = "rm", description = "Remove containers. A running one needs -f (killed first).")
public final class RmCommand extends ClientCommand {
  @Option(names = {"-f", "--force"}, description = "Kill a running container first.")
  boolean force;

  @Parameters(paramLabel = "CONTAINER", arity = "1..*")
  List<String> containers;

  @Override
  int run(DaemonClient client) {
    for (String id : containers) {
      client.containers().deleteContainer(DeleteContainerRequest.newBuilder().setId(id).setForce(force).build());
      System.out.println(id);
    }
    return 0;
  }
}
