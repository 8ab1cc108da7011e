package io.isola.vmm.cli.client;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.isola.proto.v1.Container;
import io.isola.proto.v1.ContainerRef;
import io.isola.proto.v1.CreateContainerRequest;
import io.isola.proto.v1.DeleteContainerRequest;
import io.isola.proto.v1.ProcessRef;
import io.isola.proto.v1.ProcessSpec;
import io.isola.proto.v1.SignalRequest;
import io.isola.vmm.sandbox.ExitCodes;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.nio.file.Path;
import java.util.List;
import sun.misc.Signal;

/**
 * `isola run` through isolad: the container (in a sandbox of its own) is created, attached
 * and started by the daemon, so `isola ps` and `isola logs` see it.
 */
public final class DaemonRun {
  private DaemonRun() {}

  /** Size and guest of the sandbox made for the container; 0 / "" = isolad's defaults. */
  public record SandboxSize(int vcpus, int memoryMib, String kernel, String baseImage) {}

  public static int run(Path socket, Path image, List<String> args, List<String> env, String workdir,
      boolean interactive, boolean tty, boolean remove, SandboxSize size, io.isola.proto.v1.NetworkConfig network,
      List<io.isola.proto.v1.Mount> mounts) {
    try (DaemonClient client = DaemonClient.connect(socket)) {
      Container container;
      try {
        container = client.containers().createContainer(CreateContainerRequest.newBuilder()
            .setImage(image.toAbsolutePath().toString())
            .setProcess(ProcessSpec.newBuilder().addAllArgs(args).addAllEnv(env)
                .setCwd(workdir == null ? "" : workdir).setTty(tty).setStdin(interactive))
            .setNewSandbox(io.isola.proto.v1.CreateSandboxRequest.newBuilder().setVcpus(size.vcpus())
                .setMemoryMib(size.memoryMib()).setKernel(nullToEmpty(size.kernel()))
                .setBaseImage(nullToEmpty(size.baseImage())).setNetwork(network))
            .addAllMounts(mounts)
            .build());
      } catch (StatusRuntimeException e) {
        return createFailure(client, e);
      }
      String id = container.getId();
      try {
        ProcessRef main = ProcessRef.newBuilder().setContainerId(id).build();
        AttachSession session = AttachSession.open(client, main,
            new FileOutputStream(FileDescriptor.out), new FileOutputStream(FileDescriptor.err));
        client.containers().startContainer(ContainerRef.newBuilder().setId(id).build());
        forwardSignals(client, main);
        if (interactive) {
          session.forwardStdin(System.in);
        }
        return session.awaitExit();
      } catch (StatusRuntimeException e) {
        System.err.println("isola: " + client.explain(e));
        return ExitCodes.RUNTIME_ERROR;
      } finally {
        if (remove) {
          try {
            client.containers().deleteContainer(DeleteContainerRequest.newBuilder().setId(id).setForce(true).build());
          } catch (StatusRuntimeException e) {
            System.err.println("isola: could not remove " + id + ": " + client.explain(e));
          }
        }
      }
    }
  }

  private static String nullToEmpty(String s) {
    return s == null ? "" : s;
  }

  /** Missing or non-executable commands get docker's exit codes, everything else 125. */
  private static int createFailure(DaemonClient client, StatusRuntimeException e) {
    System.err.println("isola: " + client.explain(e));
    String description = String.valueOf(e.getStatus().getDescription());
    if (description.startsWith("cannot create the container")) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        return ExitCodes.NOT_FOUND;
      }
      if (e.getStatus().getCode() == Status.Code.PERMISSION_DENIED) {
        return ExitCodes.NOT_EXECUTABLE;
      }
    }
    return ExitCodes.RUNTIME_ERROR;
  }

  private static void forwardSignals(DaemonClient client, ProcessRef main) {
    for (String name : new String[] {"INT", "TERM"}) {
      Signal.handle(new Signal(name), signal -> {
        try {
          client.containers().signal(SignalRequest.newBuilder().setProcess(main).setSignal(signal.getNumber()).build());
        } catch (StatusRuntimeException e) {
          // already gone
        }
      });
    }
  }
}
