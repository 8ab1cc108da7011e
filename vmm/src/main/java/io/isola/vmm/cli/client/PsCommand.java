package io.isola.vmm.cli.client;

import io.isola.proto.v1.Container;
import io.isola.proto.v1.ContainerState;
import io.isola.proto.v1.ListContainersRequest;
import io.isola.proto.v1.ListContainersResponse;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `isola ps`: the caller's containers. */
@Command(name = "ps", description = "List containers (running ones; -a for all).")
public final class PsCommand extends ClientCommand {
  @Option(names = {"-a", "--all"}, description = "Also show exited containers.")
  boolean all;

  @Option(names = "--sandbox", paramLabel = "ID", description = "Only this sandbox's containers.")
  String sandbox = "";

  @Override
  int run(DaemonClient client) {
    ListContainersResponse response = client.containers()
        .listContainers(ListContainersRequest.newBuilder().setSandboxId(sandbox).build());
    List<Container> shown = response.getContainersList().stream()
        .filter(c -> all || c.getState() != ContainerState.CONTAINER_EXITED).toList();
    if (daemon.json()) {
      Output.json(System.out, ListContainersResponse.newBuilder().addAllContainers(shown));
      return 0;
    }
    var rows = Output.rows(List.of("CONTAINER", "SANDBOX", "IMAGE", "COMMAND", "STATE", "CREATED"));
    for (Container c : shown) {
      String state = switch (c.getState()) {
        case CONTAINER_CREATED -> "created";
        case CONTAINER_RUNNING -> "running";
        case CONTAINER_PAUSED -> "paused";
        case CONTAINER_EXITED -> "exited (" + c.getExitStatus() + (c.getOomKilled() ? ", OOM" : "") + ")";
        default -> "unknown";
      };
      String command = String.join(" ", c.getArgsList());
      rows.add(List.of(c.getId(), c.getSandboxId(), c.getImage(),
          command.length() > 30 ? command.substring(0, 29) + "…" : command, state, Output.time(c.getCreatedAt())));
    }
    Output.table(System.out, rows);
    return 0;
  }
}
