package io.isola.vmm.network;

import java.nio.file.Path;
import java.util.List;

/**
 * How a sandbox is networked, validated.
 *
 * @param mode none (loopback only), nat (QEMU's user-mode NAT with published ports) or netns (an
 *     existing network namespace, CNI's)
 * @param netns the namespace to join (netns mode only)
 * @param ports published ports (nat mode only)
 * @param hostname the guest's and its containers' hostname
 * @param dnsServers IPv4 resolvers for /etc/resolv.conf (empty: nat's own; none otherwise)
 * @param dnsSearches search domains
 */
public record NetworkSpec(Mode mode, Path netns, List<PortMapping> ports, String hostname, List<String> dnsServers,
    List<String> dnsSearches) {

  public enum Mode { NONE, NAT, NETNS }

  public NetworkSpec {
    ports = List.copyOf(ports);
    dnsServers = List.copyOf(dnsServers);
    dnsSearches = List.copyOf(dnsSearches);
    if (mode == Mode.NETNS && netns == null) {
      throw new IllegalArgumentException("network mode netns needs netns_path");
    }
    if (mode != Mode.NETNS && netns != null) {
      throw new IllegalArgumentException("netns_path is only for network mode netns");
    }
    if (mode != Mode.NAT && !ports.isEmpty()) {
      throw new IllegalArgumentException("published ports need network mode nat (the sandbox has no other way in)");
    }
    if (!hostname.matches("[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?")) {
      throw new IllegalArgumentException("hostname must be 1-63 characters of [A-Za-z0-9.-], got \"" + hostname + "\"");
    }
    for (String d : dnsServers) {
      if (!Ipv4.isAddress(d)) {
        throw new IllegalArgumentException("DNS servers must be IPv4 addresses, got \"" + d + "\"");
      }
    }
    for (String d : dnsSearches) {
      if (!d.matches("[A-Za-z0-9.-]{1,253}")) {
        throw new IllegalArgumentException("DNS search domains are names like example.com, got \"" + d + "\"");
      }
    }
    long distinct = ports.stream().map(p -> p.protocol() + ":" + p.hostIp() + ":" + p.hostPort()).distinct().count();
    if (distinct != ports.size()) {
      throw new IllegalArgumentException("a host port is published twice");
    }
  }

  public static NetworkSpec none(String hostname) {
    return new NetworkSpec(Mode.NONE, null, List.of(), hostname, List.of(), List.of());
  }

  /** A hostname made from a sandbox id: what fits of it. */
  public static String hostnameFor(String sandboxId) {
    String h = sandboxId.replaceAll("[^A-Za-z0-9.-]", "-");
    h = h.length() > 63 ? h.substring(0, 63) : h;
    return h.replaceAll("^[.-]+|[.-]+$", "").isEmpty() ? "sandbox" : h.replaceAll("^[.-]+|[.-]+$", "");
  }
}
