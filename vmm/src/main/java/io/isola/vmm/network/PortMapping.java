package io.isola.vmm.network;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A published port: {@code hostIp:hostPort} on the host reaches {@code containerPort} in the
 * sandbox. Bound to 127.0.0.1 unless another address is asked for, so publishing a port never
 * exposes it beyond the host by accident.
 */
public record PortMapping(String protocol, String hostIp, int hostPort, int containerPort) {
  public static final String LOOPBACK = "127.0.0.1";
  private static final Pattern SPEC =
      Pattern.compile("(?:(\\d{1,3}(?:\\.\\d{1,3}){3}):)?(\\d{1,5}):(\\d{1,5})(?:/(tcp|udp))?");

  public PortMapping {
    protocol = protocol == null || protocol.isEmpty() ? "tcp" : protocol;
    hostIp = hostIp == null || hostIp.isEmpty() ? LOOPBACK : hostIp;
    if (!protocol.equals("tcp") && !protocol.equals("udp")) {
      throw new IllegalArgumentException("port protocol must be tcp or udp, got " + protocol);
    }
    if (!Ipv4.isAddress(hostIp)) {
      throw new IllegalArgumentException("published port host address must be an IPv4 address, got " + hostIp);
    }
    if (hostPort < 1 || hostPort > 65535 || containerPort < 1 || containerPort > 65535) {
      throw new IllegalArgumentException("ports must be between 1 and 65535, got " + hostPort + ":" + containerPort);
    }
  }

  /** {@code [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp]}, as {@code isola run -p} takes it. */
  public static PortMapping parse(String spec) {
    Matcher m = SPEC.matcher(spec);
    if (!m.matches()) {
      throw new IllegalArgumentException("-p expects [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp], got \"" + spec + "\"");
    }
    return new PortMapping(m.group(4), m.group(1), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)));
  }

  @Override
  public String toString() {
    return hostIp + ":" + hostPort + "->" + containerPort + "/" + protocol;
  }
}
