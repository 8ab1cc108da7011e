package io.isola.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Two network namespaces a test creates and removes: the sandbox's (what CNI would give a pod)
 * and its peer, joined by a veth pair on {@code 10.<n>.0.0/24} (sandbox .2, peer .1, default
 * route via the peer). Nothing is added to the host's own namespace.
 */
public final class NetnsPair implements AutoCloseable {
  public final String sandboxNs;
  public final String peerNs;
  public final String sandboxIp;
  public final String peerIp;
  private final List<Process> servers = new ArrayList<>();

  public NetnsPair(String name, int subnet) throws Exception {
    sandboxNs = name + "-sbx";
    peerNs = name + "-peer";
    sandboxIp = "10." + subnet + ".0.2";
    peerIp = "10." + subnet + ".0.1";
    sh("ip", "netns", "add", sandboxNs);
    sh("ip", "netns", "add", peerNs);
    sh("ip", "link", "add", "veth0", "netns", sandboxNs, "type", "veth", "peer", "name", "veth1", "netns", peerNs);
    sh("ip", "-n", sandboxNs, "addr", "add", sandboxIp + "/24", "dev", "veth0");
    sh("ip", "-n", peerNs, "addr", "add", peerIp + "/24", "dev", "veth1");
    for (String[] l : new String[][] {{sandboxNs, "veth0"}, {sandboxNs, "lo"}, {peerNs, "veth1"}, {peerNs, "lo"}}) {
      sh("ip", "-n", l[0], "link", "set", l[1], "up");
    }
    sh("ip", "-n", sandboxNs, "route", "add", "default", "via", peerIp);
  }

  public Path sandboxNsPath() {
    return Path.of("/run/netns", sandboxNs);
  }

  /** busybox httpd in the peer namespace serving {@code dir} on {@code port}. */
  public void servePeer(Path dir, int port) throws IOException {
    servers.add(new ProcessBuilder("ip", "netns", "exec", peerNs, "busybox", "httpd", "-f", "-p",
        Integer.toString(port), "-h", dir.toString()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
  }

  /**
   * An HTTP GET from the peer namespace with busybox nc (busybox wget from Debian's static build
   * crashes with -T); the response body, or null if nothing answered within 3 s.
   */
  public String fetchFromPeer(String ip, int port) throws Exception {
    Process p = new ProcessBuilder("ip", "netns", "exec", peerNs, "busybox", "nc", "-w", "3", ip,
        Integer.toString(port)).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    try (var in = p.getOutputStream()) {
      in.write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    }
    String response = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor(15, TimeUnit.SECONDS);
    int body = response.indexOf("\r\n\r\n");
    return p.exitValue() == 0 && body >= 0 ? response.substring(body + 4) : null;
  }

  /** Links of the sandbox namespace, one name per entry. */
  public List<String> sandboxLinks() throws Exception {
    return sh("ip", "-n", sandboxNs, "-o", "link", "show").lines()
        .map(l -> l.split(":")[1].strip().replaceAll("@.*", "")).toList();
  }

  /** The qdiscs of the sandbox namespace's veth. */
  public String sandboxQdiscs() throws Exception {
    return sh("tc", "-n", sandboxNs, "qdisc", "show", "dev", "veth0");
  }

  public static String sh(String... argv) throws Exception {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError(String.join(" ", argv) + " failed: " + out);
    }
    return out;
  }

  @Override
  public void close() throws Exception {
    for (Process p : servers) {
      p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    }
    new ProcessBuilder("ip", "netns", "del", sandboxNs).start().waitFor(10, TimeUnit.SECONDS);
    new ProcessBuilder("ip", "netns", "del", peerNs).start().waitFor(10, TimeUnit.SECONDS);
  }
}
