package io.isola.vmm.network;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.isola.vmm.hypervisor.VmSpec;
import io.isola.vmm.util.HostCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * netns mode: the sandbox takes over the interfaces of an existing network namespace (what CNI
 * made for a pod) the way Kata's "tcfilter" model does. For each interface there, a tap is
 * made in the same namespace and traffic-control ingress filters redirect every frame from the
 * interface to the tap and back; the guest's NIC gets the interface's MAC, addresses, routes
 * and MTU, so to the rest of the network the guest is that interface. Nothing is added to the
 * host's own namespace; {@link #detach} removes the taps and filters again.
 */
public final class NetnsAttachment {
  private static final Logger LOG = Logger.getLogger(NetnsAttachment.class.getName());
  private static final ObjectMapper JSON = new ObjectMapper();
  /** Taps are named isola0, isola1, ... (IFNAMSIZ allows 15 characters). */
  static final String TAP_PREFIX = "isola";
  private static final int MAX_LINKS = 8;

  /** An interface of the namespace as the guest will see it. */
  record Link(String name, String mac, int mtu, List<String> cidrs) {}

  /**
   * What attach did: the taps for the VM, what the guest configures, and the interfaces whose
   * ingress qdisc detach must remove.
   */
  public record Attached(List<VmSpec.TapNic> taps, GuestNetwork guest, List<String> links) {}

  private NetnsAttachment() {}

  /** Checks that {@code netns} is a network namespace other than the host's own. */
  public static void checkNamespace(Path netns) throws NetworkException {
    if (!netns.isAbsolute() || !Files.exists(netns)) {
      throw new NetworkException("network namespace " + netns + " does not exist (give /run/netns/<name> or"
          + " /proc/<pid>/ns/net)");
    }
    try {
      long ino = ((Number) Files.getAttribute(netns, "unix:ino")).longValue();
      // isolad's own namespace is the host's; /proc/self/ns/net reads as "net:[<inode>]" (Java
      // cannot stat through that magic link)
      String own = Files.readSymbolicLink(Path.of("/proc/self/ns/net")).toString();
      if (own.equals("net:[" + ino + "]")) {
        throw new NetworkException("network namespace " + netns + " is the host's own (isolad's); a sandbox never joins it"
            + " (create one: ip netns add NAME)");
      }
    } catch (IOException e) {
      throw new NetworkException("cannot inspect network namespace " + netns + ": " + e.getMessage(), e);
    }
  }

  public static Attached attach(Path netns) throws NetworkException {
    checkNamespace(netns);
    List<Link> links;
    JsonNode routes;
    try {
      links = links(ip(netns, "-j", "addr", "show"));
      routes = JSON.readTree(ip(netns, "-j", "-4", "route", "show"));
    } catch (IOException e) {
      throw new NetworkException("cannot read the interfaces of " + netns + ": " + e.getMessage(), e);
    }
    if (links.isEmpty()) {
      throw new NetworkException("network namespace " + netns + " has no interface but loopback: nothing to join"
          + " (use network mode none for that)");
    }
    if (links.size() > MAX_LINKS) {
      throw new NetworkException("network namespace " + netns + " has " + links.size() + " interfaces; at most "
          + MAX_LINKS + " are supported");
    }
    List<VmSpec.TapNic> taps = new ArrayList<>();
    List<GuestNetwork.Interface> interfaces = new ArrayList<>();
    List<String> attached = new ArrayList<>();
    try {
      for (int k = 0; k < links.size(); k++) {
        Link link = links.get(k);
        String tap = TAP_PREFIX + k;
        attached.add(link.name());
        ip(netns, "tuntap", "add", "dev", tap, "mode", "tap");
        ip(netns, "link", "set", "dev", tap, "mtu", Integer.toString(link.mtu()), "up");
        redirect(netns, link.name(), tap);
        redirect(netns, tap, link.name());
        taps.add(new VmSpec.TapNic(link.mac(), tap));
        interfaces.add(new GuestNetwork.Interface(link.mac(), link.mtu(), link.cidrs()));
      }
    } catch (IOException e) {
      detach(netns, attached);
      throw new NetworkException("cannot connect the sandbox to " + netns + ": " + e.getMessage(), e);
    }
    return new Attached(taps, new GuestNetwork(interfaces, guestRoutes(routes, links)), attached);
  }

  /**
   * Removes what {@link #attach} added: the taps (their filters go with them) and the ingress
   * qdiscs of {@code links}. Idempotent, and quiet when the namespace is already gone.
   */
  public static void detach(Path netns, List<String> links) {
    // lstat, not stat: /proc/<pid>/ns/net is a link stat may not be allowed to follow
    if (!Files.exists(netns, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    for (String link : links) {
      try {
        tc(netns, "qdisc", "del", "dev", link, "ingress");
      } catch (IOException e) {
        LOG.fine("no ingress qdisc to remove on " + link + ": " + e.getMessage());
      }
    }
    try {
      for (JsonNode l : JSON.readTree(ip(netns, "-j", "link", "show"))) {
        String name = l.path("ifname").asText("");
        if (name.matches(TAP_PREFIX + "\\d+")) {
          ip(netns, "link", "del", "dev", name);
        }
      }
    } catch (IOException e) {
      LOG.warning("cannot remove the taps of " + netns + ": " + e.getMessage());
    }
  }

  /** The names of the interfaces attach would take (for the write-ahead record). */
  public static List<String> interfaceNames(Path netns) throws NetworkException {
    checkNamespace(netns);
    try {
      return links(ip(netns, "-j", "addr", "show")).stream().map(Link::name).toList();
    } catch (IOException e) {
      throw new NetworkException("cannot read the interfaces of " + netns + ": " + e.getMessage(), e);
    }
  }

  /** Every frame arriving on {@code from} leaves by {@code to}. */
  private static void redirect(Path netns, String from, String to) throws IOException {
    tc(netns, "qdisc", "add", "dev", from, "ingress");
    tc(netns, "filter", "add", "dev", from, "parent", "ffff:", "protocol", "all", "u32", "match", "u8", "0", "0",
        "action", "mirred", "egress", "redirect", "dev", to);
  }

  static List<Link> links(String ipAddrJson) throws IOException {
    List<Link> links = new ArrayList<>();
    for (JsonNode l : JSON.readTree(ipAddrJson)) {
      String name = l.path("ifname").asText("");
      if (l.path("link_type").asText("").equals("loopback") || name.matches(TAP_PREFIX + "\\d+")
          || !l.path("link_type").asText("").equals("ether")) {
        continue;
      }
      List<String> cidrs = new ArrayList<>();
      for (JsonNode a : l.path("addr_info")) {
        if (a.path("family").asText("").equals("inet")) {
          cidrs.add(a.path("local").asText() + "/" + a.path("prefixlen").asInt());
        }
      }
      links.add(new Link(name, l.path("address").asText(), l.path("mtu").asInt(1500), cidrs));
    }
    return links;
  }

  /** The namespace's IPv4 routes over the joined links, minus those the kernel derives from addresses. */
  static List<GuestNetwork.GuestRoute> guestRoutes(JsonNode routes, List<Link> links) {
    List<GuestNetwork.GuestRoute> out = new ArrayList<>();
    for (JsonNode r : routes) {
      String dev = r.path("dev").asText("");
      Link link = links.stream().filter(l -> l.name().equals(dev)).findFirst().orElse(null);
      if (link == null || r.path("protocol").asText("").equals("kernel")) {
        continue;
      }
      String dst = r.path("dst").asText("");
      dst = dst.equals("default") ? "0.0.0.0/0" : dst.contains("/") ? dst : dst + "/32";
      if (Ipv4.isCidr(dst)) {
        out.add(new GuestNetwork.GuestRoute(dst, r.path("gateway").asText(""), link.mac()));
      }
    }
    // on-link routes first: a gateway must be reachable when its route is added
    out.sort((a, b) -> Boolean.compare(!a.gateway().isEmpty(), !b.gateway().isEmpty()));
    return out;
  }

  private static String ip(Path netns, String... args) throws IOException {
    return HostCommand.run(nsenter(netns, "ip", args));
  }

  private static String tc(Path netns, String... args) throws IOException {
    return HostCommand.run(nsenter(netns, "tc", args));
  }

  private static List<String> nsenter(Path netns, String tool, String... args) {
    List<String> argv = new ArrayList<>(List.of("nsenter", "--net=" + netns, tool));
    argv.addAll(List.of(args));
    return argv;
  }
}
