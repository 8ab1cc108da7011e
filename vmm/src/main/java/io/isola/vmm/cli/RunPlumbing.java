package io.isola.vmm.cli;

import io.isola.proto.v1.Mount;
import io.isola.proto.v1.NetworkConfig;
import io.isola.proto.v1.NetworkMode;
import io.isola.vmm.network.PortMapping;
import io.isola.vmm.volume.VolumeRequest;
import java.util.ArrayList;
import java.util.List;

/** `isola run`'s network and volume flags, checked, as API messages. */
final class RunPlumbing {
  private RunPlumbing() {}

  /** --network, -p, --hostname, --dns; IllegalArgumentException with a message for the user. */
  static NetworkConfig network(String mode, List<String> publish, String hostname, List<String> dns) {
    NetworkConfig.Builder b = NetworkConfig.newBuilder();
    if (mode == null || mode.isEmpty()) {
      mode = publish.isEmpty() ? "none" : "nat";
    }
    if (mode.equals("none")) {
      b.setMode(NetworkMode.NETWORK_NONE);
    } else if (mode.equals("nat")) {
      b.setMode(NetworkMode.NETWORK_NAT);
    } else if (mode.startsWith("netns:") && mode.length() > "netns:".length()) {
      b.setMode(NetworkMode.NETWORK_NETNS).setNetnsPath(mode.substring("netns:".length()));
    } else {
      throw new IllegalArgumentException("--network must be none, nat or netns:PATH, got \"" + mode + "\"");
    }
    if (!publish.isEmpty() && b.getMode() != NetworkMode.NETWORK_NAT) {
      throw new IllegalArgumentException("-p needs --network nat (a sandbox on " + mode + " has no published ports)");
    }
    for (String p : publish) {
      PortMapping m = PortMapping.parse(p);
      b.addPorts(io.isola.proto.v1.PortMapping.newBuilder().setProtocol(m.protocol()).setHostIp(m.hostIp())
          .setHostPort(m.hostPort()).setContainerPort(m.containerPort()));
    }
    if (hostname != null) {
      b.setHostname(hostname);
    }
    return b.addAllDnsServers(dns).build();
  }

  /** -v HOST:CONTAINER[:ro] and --tmpfs PATH[:SIZE_MIB]. */
  static List<Mount> mounts(List<String> volumes, List<String> tmpfs) {
    List<Mount> out = new ArrayList<>();
    for (String v : volumes) {
      VolumeRequest r = VolumeRequest.parse(v);
      out.add(Mount.newBuilder().setType("bind").setSource(r.source().toAbsolutePath().toString())
          .setDestination(r.destination()).setReadOnly(r.readOnly()).build());
    }
    for (String t : tmpfs) {
      int colon = t.lastIndexOf(':');
      long sizeMib = 0;
      String path = t;
      if (colon > 0) {
        try {
          sizeMib = Long.parseLong(t.substring(colon + 1));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("--tmpfs expects PATH[:SIZE_MIB], got \"" + t + "\"");
        }
        path = t.substring(0, colon);
      }
      VolumeRequest r = VolumeRequest.tmpfs(path, sizeMib << 20);
      out.add(Mount.newBuilder().setType("tmpfs").setDestination(r.destination()).setSizeBytes(r.sizeBytes()).build());
    }
    return out;
  }
}
