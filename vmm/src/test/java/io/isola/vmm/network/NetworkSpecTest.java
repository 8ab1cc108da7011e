package io.isola.vmm.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class NetworkSpecTest {
  @Test
  void portMappingsDefaultToTcpOnLoopback() {
    assertEquals(new PortMapping("tcp", "127.0.0.1", 8080, 80), PortMapping.parse("8080:80"));
    assertEquals(new PortMapping("udp", "0.0.0.0", 53, 5353), PortMapping.parse("0.0.0.0:53:5353/udp"));
    for (String bad : List.of("80", "a:80", "8080:80/sctp", "70000:80", "0:80", "1.2.3:80:80", "999.1.1.1:1:1",
        "8080:80:90", "")) {
      assertThrows(IllegalArgumentException.class, () -> PortMapping.parse(bad), bad);
    }
  }

  @Test
  void modesTakeOnlyWhatTheyUse() {
    var port = List.of(PortMapping.parse("8080:80"));
    new NetworkSpec(NetworkSpec.Mode.NAT, null, port, "web", List.of("1.1.1.1"), List.of("example.com"));
    var noPorts = assertThrows(IllegalArgumentException.class,
        () -> new NetworkSpec(NetworkSpec.Mode.NONE, null, port, "web", List.of(), List.of()));
    assertTrue(noPorts.getMessage().contains("nat"), noPorts.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> new NetworkSpec(NetworkSpec.Mode.NETNS, null, List.of(), "web", List.of(), List.of()));
    assertThrows(IllegalArgumentException.class,
        () -> new NetworkSpec(NetworkSpec.Mode.NAT, Path.of("/run/netns/x"), List.of(), "web", List.of(), List.of()));
    assertThrows(IllegalArgumentException.class, () -> new NetworkSpec(NetworkSpec.Mode.NAT, null,
        List.of(PortMapping.parse("8080:80"), PortMapping.parse("8080:81")), "web", List.of(), List.of()));
  }

  @Test
  void hostnamesAndResolversAreChecked() {
    for (String bad : List.of("", "-a", "a b", "a/b", "x".repeat(64), "é")) {
      assertThrows(IllegalArgumentException.class, () -> NetworkSpec.none(bad), bad);
    }
    assertThrows(IllegalArgumentException.class, () -> new NetworkSpec(NetworkSpec.Mode.NONE, null, List.of(), "h",
        List.of("dns.example"), List.of()));
    assertEquals("abc-def", NetworkSpec.hostnameFor("abc_def"));
    assertEquals(63, NetworkSpec.hostnameFor("a".repeat(70)).length());
  }

  @Test
  void netnsLinksAndRoutesAreReadFromIpJson() throws Exception {
    String addr = """
        [{"ifindex":1,"ifname":"lo","mtu":65536,"link_type":"loopback","address":"00:00:00:00:00:00",
          "addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
         {"ifindex":2,"ifname":"eth0","mtu":1450,"link_type":"ether","address":"ea:d8:aa:36:e5:61",
          "addr_info":[{"family":"inet","local":"10.244.1.7","prefixlen":24},
                       {"family":"inet6","local":"fe80::1","prefixlen":64}]},
         {"ifindex":3,"ifname":"isola0","mtu":1450,"link_type":"ether","address":"02:00:00:00:00:01","addr_info":[]}]
        """;
    List<NetnsAttachment.Link> links = NetnsAttachment.links(addr);
    assertEquals(List.of(new NetnsAttachment.Link("eth0", "ea:d8:aa:36:e5:61", 1450, List.of("10.244.1.7/24"))), links,
        "loopback and our own taps are not joined");
    var routes = new ObjectMapper().readTree("""
        [{"dst":"default","gateway":"10.244.1.1","dev":"eth0"},
         {"dst":"10.244.1.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.244.1.7"},
         {"dst":"10.96.0.10","dev":"eth0","scope":"link"},
         {"dst":"192.168.0.0/16","gateway":"10.9.9.9","dev":"other0"}]
        """);
    assertEquals(List.of(new GuestNetwork.GuestRoute("10.96.0.10/32", "", "ea:d8:aa:36:e5:61"),
        new GuestNetwork.GuestRoute("0.0.0.0/0", "10.244.1.1", "ea:d8:aa:36:e5:61")),
        NetnsAttachment.guestRoutes(routes, links), "on-link first; kernel routes and other devices left out");
  }

  @Test
  void guestNetworkBecomesTheAgentRequest() {
    var request = NatNetwork.guest().toAgentRequest("web");
    assertEquals("web", request.getHostname());
    assertEquals(NatNetwork.MAC, request.getInterfaces(0).getMac());
    assertEquals(List.of("10.0.2.15/24"), request.getInterfaces(0).getIpv4CidrsList());
    assertEquals("0.0.0.0/0", request.getRoutes(0).getDestinationCidr());
    assertEquals(NatNetwork.GATEWAY, request.getRoutes(0).getGateway());
  }
}
