package io.isola.vmm.network;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;

/**
 * What a sandbox's network put on the host, kept in its state directory so that teardown works
 * from any exit path, including a supervisor that restarts after a crash.
 *
 * @param mode none, nat or netns
 * @param netns the joined namespace (netns mode), else ""
 * @param links the namespace's interfaces that got ingress filters
 * @param hostname the sandbox's hostname
 * @param addresses IPv4 CIDRs of the guest's interfaces
 */
public record NetworkState(String mode, String netns, List<String> links, String hostname, List<String> addresses) {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String FILE = "network.json";

  public NetworkState {
    links = List.copyOf(links);
    addresses = List.copyOf(addresses);
  }

  /** Written before anything is set up (write-ahead), and again with the result. */
  public void write(Path stateDir) throws IOException {
    Path tmp = stateDir.resolve(FILE + ".tmp");
    Files.write(tmp, JSON.writeValueAsBytes(this));
    Files.move(tmp, stateDir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  public static Optional<NetworkState> read(Path stateDir) {
    try {
      return Optional.of(JSON.readValue(stateDir.resolve(FILE).toFile(), NetworkState.class));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** Undoes the host side: the taps and filters of netns mode (nat and none left nothing). */
  public void teardown() {
    if (mode.equals(NetworkSpec.Mode.NETNS.name()) && !netns.isEmpty()) {
      NetnsAttachment.detach(Path.of(netns), links);
    }
  }
}
