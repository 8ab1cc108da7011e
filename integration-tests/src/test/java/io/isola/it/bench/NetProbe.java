package io.isola.it.bench;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Arrays;

/**
 * The client side of the network benchmark, run in the peer's network namespace: TCP round trips
 * of one byte against an echo server, then a bulk send to a sink that closes when it has read
 * everything. Prints {@code rtt_us=<median> mib_per_s=<throughput>}.
 *
 * <p>Usage: NetProbe HOST ECHO_PORT SINK_PORT SINK_MIB ROUND_TRIPS
 */
public final class NetProbe {
  private NetProbe() {}

  public static void main(String[] args) throws Exception {
    String host = args[0];
    int echoPort = Integer.parseInt(args[1]);
    int sinkPort = Integer.parseInt(args[2]);
    long bytes = Long.parseLong(args[3]) << 20;
    int trips = Integer.parseInt(args[4]);
    long[] rtt = new long[trips];
    try (Socket s = echoing(host, echoPort)) {
      s.setTcpNoDelay(true);
      OutputStream out = s.getOutputStream();
      InputStream in = s.getInputStream();
      for (int i = -50; i < trips; i++) { // 50 warm-up trips
        long t0 = System.nanoTime();
        out.write('x');
        out.flush();
        if (in.read() < 0) {
          throw new IllegalStateException("echo server closed");
        }
        if (i >= 0) {
          rtt[i] = System.nanoTime() - t0;
        }
      }
    }
    Arrays.sort(rtt);
    long t0 = System.nanoTime();
    try (Socket s = connect(host, sinkPort)) {
      OutputStream out = s.getOutputStream();
      byte[] chunk = new byte[256 * 1024];
      for (long sent = 0; sent < bytes; sent += chunk.length) {
        out.write(chunk);
      }
      s.shutdownOutput();
      s.getInputStream().read(); // EOF once the sink has read everything and exits
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    System.out.printf("rtt_us=%d mib_per_s=%.1f%n", rtt[trips / 2] / 1000, (bytes >> 20) / seconds);
  }

  /**
   * A connection whose first byte came back. A published port (QEMU's NAT) accepts before the
   * guest's server listens and then resets, so a successful connect alone proves nothing.
   */
  private static Socket echoing(String host, int port) throws Exception {
    Exception last = null;
    for (int i = 0; i < 100; i++) {
      Socket s = connect(host, port);
      try {
        s.setSoTimeout(5000);
        s.getOutputStream().write('x');
        if (s.getInputStream().read() >= 0) {
          s.setSoTimeout(0);
          return s;
        }
      } catch (java.io.IOException e) {
        last = e;
      }
      s.close();
      Thread.sleep(300);
    }
    throw last == null ? new IllegalStateException("the echo server never answered") : last;
  }

  private static Socket connect(String host, int port) throws Exception {
    Exception last = null;
    for (int i = 0; i < 100; i++) {
      Socket s = new Socket();
      try {
        s.connect(new InetSocketAddress(host, port), 2000);
        return s;
      } catch (java.io.IOException e) {
        s.close();
        last = e;
        Thread.sleep(200);
      }
    }
    throw last;
  }
}
