package io.isola.vmm.cli.client;

import io.isola.proto.v1.Container;
import io.isola.proto.v1.ContainerRef;
import io.isola.proto.v1.ExecRequest;
import io.isola.proto.v1.ProcessRef;
import io.isola.proto.v1.ProcessSpec;
import io.isola.proto.v1.Sandbox;
import io.isola.proto.v1.SandboxRef;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.isola.vmm.sandbox.ExitCodes;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `isola exec`: run another process in a running container. */
@Command(name = "exec", description = "Run a command in a running container (or a sandbox's first container).")
public final class ExecCommand extends ClientCommand {
  @Option(names = {"-i", "--interactive"}, description = "Pass stdin through.")
  boolean interactive;

  @Option(names = {"-t", "--tty"}, description = "Give the process a terminal.")
  boolean tty;

  @Option(names = {"-e", "--env"}, paramLabel = "KEY=VALUE")
  List<String> env = new ArrayList<>();

  @Option(names = {"-w", "--workdir"}, paramLabel = "DIR")
  String workdir = "";

  @Parameters(index = "0", paramLabel = "SANDBOX|CONTAINER")
  String target;

  @Parameters(index = "1..*", arity = "1..*", paramLabel = "CMD")
  List<String> command;

  @Override
  int run(DaemonClient client) {
    String containerId = resolve(client);
    if (containerId == null) {
      System.err.println("isola: NOT_FOUND: no container, and no sandbox with a container, named " + target);
      return ExitCodes.RUNTIME_ERROR;
    }
    String execId = client.containers().exec(ExecRequest.newBuilder()
        .setContainerId(containerId)
        .setProcess(ProcessSpec.newBuilder().addAllArgs(command).addAllEnv(env).setCwd(workdir)
            .setTty(tty).setStdin(interactive))
        .build()).getExecId();
    AttachSession session = AttachSession.open(client,
        ProcessRef.newBuilder().setContainerId(containerId).setExecId(execId).build(),
        new FileOutputStream(FileDescriptor.out), new FileOutputStream(FileDescriptor.err));
    if (interactive) {
      session.forwardStdin(System.in);
    }
    return session.awaitExit();
  }

  /** A container id as given, or the first container of the sandbox of that id. */
  private String resolve(DaemonClient client) {
    try {
      Container c = client.containers().getContainer(ContainerRef.newBuilder().setId(target).build());
      return c.getId();
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.NOT_FOUND) {
        throw e;
      }
    }
    try {
      Sandbox s = client.sandboxes().getSandbox(SandboxRef.newBuilder().setId(target).build());
      return s.getContainerIdsCount() == 0 ? null : s.getContainerIds(0);
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        return null;
      }
      throw e;
    }
  }
}
