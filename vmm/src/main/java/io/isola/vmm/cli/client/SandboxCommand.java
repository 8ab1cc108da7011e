package io.isola.vmm.cli.client;

import io.isola.proto.v1.CreateSandboxRequest;
import io.isola.proto.v1.ListSandboxesRequest;
import io.isola.proto.v1.ListSandboxesResponse;
import io.isola.proto.v1.Sandbox;
import io.isola.proto.v1.SandboxRef;
import io.isola.vmm.sandbox.ExitCodes;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `isola sandbox create|ls|rm`: sandboxes (VMs) on their own, to put containers in. */
@Command(name = "sandbox", description = "Manage sandboxes (one VM each).",
    subcommands = {SandboxCommand.Create.class, SandboxCommand.Ls.class, SandboxCommand.Rm.class})
public final class SandboxCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.err);
  }

  @Command(name = "create", description = "Boot a sandbox VM and print its id.")
  static final class Create extends ClientCommand {
    @Option(names = "--id", paramLabel = "ID") String id = "";
    @Option(names = "--cpus", paramLabel = "N") int cpus;
    @Option(names = "--memory", paramLabel = "MIB") int memory;
    @Option(names = "--kernel", paramLabel = "NAME") String kernel = "";
    @Option(names = "--base-image", paramLabel = "NAME") String baseImage = "";
    @Option(names = {"-l", "--label"}, paramLabel = "KEY=VALUE") List<String> labels = new ArrayList<>();

    @Override
    int run(DaemonClient client) {
      if (cpus < 0 || memory < 0) {
        System.err.println("isola: --cpus and --memory must not be negative");
        return ExitCodes.RUNTIME_ERROR;
      }
      CreateSandboxRequest.Builder request = CreateSandboxRequest.newBuilder().setId(id).setVcpus(cpus)
          .setMemoryMib(memory).setKernel(kernel).setBaseImage(baseImage);
      for (String label : labels) {
        int eq = label.indexOf('=');
        if (eq <= 0) {
          System.err.println("isola: --label expects KEY=VALUE, got \"" + label + "\"");
          return ExitCodes.RUNTIME_ERROR;
        }
        request.putLabels(label.substring(0, eq), label.substring(eq + 1));
      }
      Sandbox sandbox = client.sandboxes().createSandbox(request.build());
      if (daemon.json()) {
        Output.json(System.out, sandbox);
      } else {
        System.out.println(sandbox.getId());
      }
      return 0;
    }
  }

  @Command(name = "ls", description = "List sandboxes.")
  static final class Ls extends ClientCommand {
    @Option(names = {"-l", "--label"}, paramLabel = "KEY=VALUE", description = "Only sandboxes with this label.")
    List<String> selector = new ArrayList<>();

    @Override
    int run(DaemonClient client) {
      ListSandboxesRequest.Builder request = ListSandboxesRequest.newBuilder();
      for (String label : selector) {
        int eq = label.indexOf('=');
        request.putLabelSelector(eq < 0 ? label : label.substring(0, eq), eq < 0 ? "" : label.substring(eq + 1));
      }
      ListSandboxesResponse response = client.sandboxes().listSandboxes(request.build());
      if (daemon.json()) {
        Output.json(System.out, response);
        return 0;
      }
      var rows = Output.rows(List.of("SANDBOX", "STATE", "CPUS", "MEMORY", "CONTAINERS", "TENANT", "CREATED"));
      for (Sandbox s : response.getSandboxesList()) {
        rows.add(List.of(s.getId(), s.getState().name().replace("SANDBOX_", "").toLowerCase(),
            Integer.toString(s.getVcpus()), s.getMemoryMib() + " MiB", Integer.toString(s.getContainerIdsCount()),
            s.getTenant(), Output.time(s.getCreatedAt())));
      }
      Output.table(System.out, rows);
      return 0;
    }
  }

  @Command(name = "rm", description = "Stop and delete sandboxes with their containers.")
  static final class Rm extends ClientCommand {
    @Parameters(paramLabel = "SANDBOX", arity = "1..*") List<String> ids;

    @Override
    int run(DaemonClient client) {
      for (String id : ids) {
        client.sandboxes().deleteSandbox(SandboxRef.newBuilder().setId(id).build());
        System.out.println(id);
      }
      return 0;
    }
  }
}
