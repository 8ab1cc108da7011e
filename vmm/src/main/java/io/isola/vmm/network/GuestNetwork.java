package io.isola.vmm.network;

import io.isola.proto.agent.v1.ConfigureNetworkRequest;
import io.isola.proto.agent.v1.NetworkInterface;
import io.isola.proto.agent.v1.Route;
import java.util.List;

/** What the guest agent configures: its NICs (found by MAC), their addresses and the routes. */
public record GuestNetwork(List<Interface> interfaces, List<GuestRoute> routes) {
  public GuestNetwork {
    interfaces = List.copyOf(interfaces);
    routes = List.copyOf(routes);
  }

  public static final GuestNetwork LOOPBACK_ONLY = new GuestNetwork(List.of(), List.of());

  /** One NIC: MAC address, MTU (0 = default) and IPv4 CIDRs. */
  public record Interface(String mac, int mtu, List<String> ipv4Cidrs) {
    public Interface {
      ipv4Cidrs = List.copyOf(ipv4Cidrs);
    }
  }

  /** A route out of the NIC with {@code mac}; gateway "" = on-link. */
  public record GuestRoute(String destinationCidr, String gateway, String mac) {}

  public List<String> addresses() {
    return interfaces.stream().flatMap(i -> i.ipv4Cidrs().stream()).toList();
  }

  public ConfigureNetworkRequest toAgentRequest(String hostname) {
    ConfigureNetworkRequest.Builder b = ConfigureNetworkRequest.newBuilder().setHostname(hostname);
    for (Interface i : interfaces) {
      b.addInterfaces(NetworkInterface.newBuilder().setMac(i.mac()).setMtu(i.mtu()).addAllIpv4Cidrs(i.ipv4Cidrs()));
    }
    for (GuestRoute r : routes) {
      b.addRoutes(Route.newBuilder().setDestinationCidr(r.destinationCidr()).setGateway(r.gateway())
          .setInterfaceMac(r.mac()));
    }
    return b.build();
  }
}
