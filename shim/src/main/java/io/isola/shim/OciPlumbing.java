package io.isola.shim;

import com.fasterxml.jackson.databind.JsonNode;
import io.isola.proto.v1.Mount;
import io.isola.proto.v1.Resources;
import io.isola.proto.v1.NetworkConfig;
import io.isola.proto.v1.NetworkMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A bundle's network namespace, hostname and mounts (config.json), as isolad's API takes them.
 * The VM is the pod's network: a network namespace given by path (CNI's, through CRI) is joined
 * by the sandbox; a fresh one (no path) means loopback only. The guest builds its own /proc,
 * /sys, /dev and /dev/shm, so those mounts of the spec are not carried over; host binds
 * (volumes, CRI's hosts and resolv.conf) and tmpfs mounts are.
 */
final class OciPlumbing {
  /** Filesystems the guest's runtime spec provides itself. */
  private static final Set<String> GUEST_OWNED = Set.of("/proc", "/sys", "/sys/fs/cgroup", "/dev", "/dev/pts",
      "/dev/shm", "/dev/mqueue");

  private OciPlumbing() {}

  static NetworkConfig network(JsonNode config) {
    NetworkConfig.Builder network = NetworkConfig.newBuilder().setMode(NetworkMode.NETWORK_NONE);
    for (JsonNode ns : config.path("linux").path("namespaces")) {
      if (ns.path("type").asText().equals("network") && !ns.path("path").asText("").isEmpty()) {
        network.setMode(NetworkMode.NETWORK_NETNS).setNetnsPath(ns.path("path").asText());
      }
    }
    String hostname = config.path("hostname").asText("");
    if (!hostname.isEmpty()) {
      network.setHostname(hostname);
    }
    return network.build();
  }

  static List<Mount> mounts(JsonNode config) {
    List<Mount> out = new ArrayList<>();
    for (JsonNode m : config.path("mounts")) {
      String destination = m.path("destination").asText("");
      if (GUEST_OWNED.contains(destination) || destination.startsWith("/proc/") || destination.startsWith("/sys/")) {
        continue;
      }
      List<String> options = new ArrayList<>();
      m.path("options").forEach(o -> options.add(o.asText()));
      String type = m.path("type").asText("");
      if (type.equals("bind") || options.contains("bind") || options.contains("rbind")) {
        out.add(Mount.newBuilder().setType("bind").setSource(m.path("source").asText(""))
            .setDestination(destination).setReadOnly(options.contains("ro")).build());
      } else if (type.equals("tmpfs")) {
        out.add(Mount.newBuilder().setType("tmpfs").setDestination(destination).setSizeBytes(tmpfsSize(options))
            .build());
      }
      // anything else (another filesystem type from the host) has no meaning inside the VM
    }
    return out;
  }

  /**
   * linux.resources of the spec as the guest applies them to the container's cgroup: memory
   * limit, pids limit, CPU shares and quota. Negative or absent values (OCI's "unlimited") are
   * left unset; the VM's own size bounds the container anyway.
   */
  static Resources resources(JsonNode config) {
    JsonNode r = config.path("linux").path("resources");
    return Resources.newBuilder()
        .setMemoryLimitBytes(positive(r.path("memory").path("limit")))
        .setPidsLimit(positive(r.path("pids").path("limit")))
        .setCpuShares(positive(r.path("cpu").path("shares")))
        .setCpuQuotaUs(positive(r.path("cpu").path("quota")))
        .setCpuPeriodUs(positive(r.path("cpu").path("period")))
        .build();
  }

  private static long positive(JsonNode n) {
    return n.canConvertToLong() && n.asLong() > 0 ? n.asLong() : 0;
  }

  /** The size the spec gives its /dev/shm tmpfs; 0 = isolad's default (64 MiB). */
  static long shmSize(JsonNode config) {
    for (JsonNode m : config.path("mounts")) {
      if (m.path("destination").asText("").equals("/dev/shm") && m.path("type").asText("").equals("tmpfs")) {
        List<String> options = new ArrayList<>();
        m.path("options").forEach(o -> options.add(o.asText()));
        return tmpfsSize(options);
      }
    }
    return 0;
  }

  /** size=N[k|m|g] of a tmpfs; 0 when absent or not understood (the kernel's default). */
  static long tmpfsSize(List<String> options) {
    for (String o : options) {
      if (o.matches("size=\\d+[kmgKMG]?")) {
        String n = o.substring(5);
        char unit = Character.toLowerCase(n.charAt(n.length() - 1));
        long scale = unit == 'k' ? 1L << 10 : unit == 'm' ? 1L << 20 : unit == 'g' ? 1L << 30 : 1;
        String digits = Character.isDigit(unit) ? n : n.substring(0, n.length() - 1);
        try {
          return Math.multiplyExact(Long.parseLong(digits), scale);
        } catch (ArithmeticException | NumberFormatException e) {
          return 0;
        }
      }
    }
    return 0;
  }
}
