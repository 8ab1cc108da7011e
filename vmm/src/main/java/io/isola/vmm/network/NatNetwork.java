package io.isola.vmm.network;

import io.isola.vmm.hypervisor.VmSpec;
import java.util.List;

/**
 * nat mode: QEMU's user-mode network stack. The guest gets 10.0.2.15/24 behind a NAT at
 * 10.0.2.2 with a resolver at 10.0.2.3; its connections leave as the hypervisor process's own
 * sockets, so no root and no host interface are needed. Published ports are host sockets QEMU
 * listens on. Caveat (docs/networking.md): the NAT's gateway address reaches the host's
 * loopback services, so use netns mode for tenants that must not see them.
 */
public final class NatNetwork {
  public static final String MAC = "52:54:00:12:34:56";
  public static final String NETWORK = "10.0.2.0/24";
  public static final String GATEWAY = "10.0.2.2";
  public static final String RESOLVER = "10.0.2.3";
  public static final String GUEST = "10.0.2.15";

  private NatNetwork() {}

  public static VmSpec.UserNic nic(List<PortMapping> ports) {
    return new VmSpec.UserNic(MAC, NETWORK, GATEWAY, RESOLVER, GUEST, ports.stream()
        .map(p -> new VmSpec.PortForward(p.protocol(), p.hostIp(), p.hostPort(), p.containerPort())).toList());
  }

  public static GuestNetwork guest() {
    return new GuestNetwork(List.of(new GuestNetwork.Interface(MAC, 0, List.of(GUEST + "/24"))),
        List.of(new GuestNetwork.GuestRoute("0.0.0.0/0", GATEWAY, MAC)));
  }
}
