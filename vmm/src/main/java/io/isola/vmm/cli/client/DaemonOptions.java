package io.isola.vmm.cli.client;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** How a client command reaches isolad and prints its answers. */
public final class DaemonOptions {
  @Option(names = "--socket", paramLabel = "PATH", defaultValue = "${env:ISOLA_SOCKET:-/run/isola/isolad.sock}",
      description = "isolad's Unix socket. Env ISOLA_SOCKET. Default: ${DEFAULT-VALUE}")
  Path socket;

  @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "table",
      description = "Output: table (default) or json.")
  String format;

  public Path socket() {
    return socket;
  }

  boolean json() {
    return "json".equals(format);
  }
}
