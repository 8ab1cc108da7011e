package io.isola.vmm.daemon;

import io.isola.proto.v1.Mount;
import io.isola.proto.v1.NetworkConfig;
import io.isola.proto.v1.NetworkMode;
import io.isola.proto.v1.PortMapping;
import io.isola.vmm.network.NetworkSpec;
import io.isola.vmm.volume.VolumeRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The API's network and mount messages, checked and turned into the supervisor's requests. */
final class PlumbingRequests {
  private static final int MAX_PORTS = 64;
  private static final int MAX_MOUNTS = 64;

  private PlumbingRequests() {}

  static NetworkSpec network(NetworkConfig c, String sandboxId) {
    try {
      NetworkSpec.Mode mode = switch (c.getMode()) {
        case NETWORK_NONE -> NetworkSpec.Mode.NONE;
        case NETWORK_NAT -> NetworkSpec.Mode.NAT;
        case NETWORK_NETNS -> NetworkSpec.Mode.NETNS;
        default -> throw new IllegalArgumentException("unknown network mode " + c.getModeValue());
      };
      if (c.getPortsCount() > MAX_PORTS) {
        throw new IllegalArgumentException("at most " + MAX_PORTS + " published ports");
      }
      List<io.isola.vmm.network.PortMapping> ports = new ArrayList<>();
      for (PortMapping p : c.getPortsList()) {
        ports.add(new io.isola.vmm.network.PortMapping(p.getProtocol(), p.getHostIp(), p.getHostPort(),
            p.getContainerPort()));
      }
      Path netns = c.getNetnsPath().isEmpty() ? null : Path.of(c.getNetnsPath());
      String hostname = c.getHostname().isEmpty() ? NetworkSpec.hostnameFor(sandboxId) : c.getHostname();
      return new NetworkSpec(mode, netns, ports, hostname, c.getDnsServersList(), c.getDnsSearchesList());
    } catch (IllegalArgumentException e) {
      throw Failures.invalid("network: " + e.getMessage());
    }
  }

  static NetworkConfig toProto(NetworkSpec.Mode mode, String netns, String hostname) {
    return NetworkConfig.newBuilder().setMode(switch (mode) {
      case NONE -> NetworkMode.NETWORK_NONE;
      case NAT -> NetworkMode.NETWORK_NAT;
      case NETNS -> NetworkMode.NETWORK_NETNS;
    }).setNetnsPath(netns).setHostname(hostname).build();
  }

  static List<VolumeRequest> volumes(List<Mount> mounts) {
    if (mounts.size() > MAX_MOUNTS) {
      throw Failures.invalid("at most " + MAX_MOUNTS + " mounts");
    }
    List<VolumeRequest> out = new ArrayList<>();
    try {
      for (Mount m : mounts) {
        switch (m.getType()) {
          case "bind", "" -> {
            if (m.getSource().isEmpty() || m.getSource().indexOf('\0') >= 0) {
              throw new IllegalArgumentException("a bind mount needs a host source path");
            }
            out.add(VolumeRequest.bind(Path.of(m.getSource()), m.getDestination(), m.getReadOnly()));
          }
          case "tmpfs" -> out.add(VolumeRequest.tmpfs(m.getDestination(), m.getSizeBytes()));
          default -> throw new IllegalArgumentException("mount type must be bind or tmpfs, got \"" + m.getType() + "\"");
        }
      }
    } catch (IllegalArgumentException e) {
      throw Failures.invalid("mounts: " + e.getMessage());
    }
    long distinct = out.stream().map(VolumeRequest::destination).distinct().count();
    if (distinct != out.size()) {
      throw Failures.invalid("mounts: two mounts have the same destination");
    }
    return out;
  }
}
