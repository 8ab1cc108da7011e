package io.isola.vmm.cli.client;

import io.isola.proto.v1.LogChunk;
import io.isola.proto.v1.LogsRequest;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `isola logs`: a container's output, from the start; -f keeps following. */
@Command(name = "logs", description = "Print a container's stdout and stderr (also after it exited).")
public final class LogsCommand extends ClientCommand {
  @Option(names = {"-f", "--follow"}, description = "Keep printing new output until the container exits.")
  boolean follow;

  @Parameters(paramLabel = "CONTAINER")
  String container;

  @Override
  int run(DaemonClient client) {
    FileOutputStream out = new FileOutputStream(FileDescriptor.out);
    FileOutputStream err = new FileOutputStream(FileDescriptor.err);
    Iterator<LogChunk> chunks = client.containers()
        .logs(LogsRequest.newBuilder().setContainerId(container).setFollow(follow).build());
    try {
      while (chunks.hasNext()) {
        LogChunk chunk = chunks.next();
        (chunk.getStream() == LogChunk.Stream.STDERR ? err : out).write(chunk.getData().toByteArray());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return 0;
  }
}
