package io.isola.vmm.cli.client;

import io.isola.proto.v1.Event;
import io.isola.proto.v1.SubscribeRequest;
import java.util.Iterator;
import picocli.CommandLine.Command;

/** `isola events`: lifecycle events of the caller's sandboxes and containers, as they happen. */
@Command(name = "events", description = "Stream lifecycle events until interrupted.")
public final class EventsCommand extends ClientCommand {
  @Override
  int run(DaemonClient client) {
    Iterator<Event> events = client.events().subscribe(SubscribeRequest.getDefaultInstance());
    while (events.hasNext()) {
      Event event = events.next();
      if (daemon.json()) {
        Output.json(System.out, event);
      } else {
        StringBuilder line = new StringBuilder(Output.time(event.getAt())).append(' ')
            .append(event.getType().name().toLowerCase().replace('_', '-'));
        if (!event.getSandboxId().isEmpty()) {
          line.append(" sandbox=").append(event.getSandboxId());
        }
        if (!event.getContainerId().isEmpty()) {
          line.append(" container=").append(event.getContainerId());
        }
        if (!event.getExecId().isEmpty()) {
          line.append(" exec=").append(event.getExecId());
        }
        if (event.getType() == Event.Type.CONTAINER_EXITED || event.getType() == Event.Type.EXEC_EXITED) {
          line.append(" status=").append(event.getExitStatus());
        }
        if (!event.getDetail().isEmpty()) {
          line.append(" (").append(event.getDetail()).append(')');
        }
        System.out.println(line);
      }
      System.out.flush();
    }
    return 0;
  }
}
