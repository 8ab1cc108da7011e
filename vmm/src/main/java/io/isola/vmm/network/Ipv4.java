package io.isola.vmm.network;

/** IPv4 text checks (no DNS lookups, unlike InetAddress.getByName). */
public final class Ipv4 {
  private Ipv4() {}

  public static boolean isAddress(String s) {
    String[] parts = s.split("\\.", -1);
    if (parts.length != 4) {
      return false;
    }
    for (String p : parts) {
      if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit) || Integer.parseInt(p) > 255) {
        return false;
      }
    }
    return true;
  }

  /** {@code a.b.c.d/n}. */
  public static boolean isCidr(String s) {
    int slash = s.indexOf('/');
    if (slash < 0 || !isAddress(s.substring(0, slash))) {
      return false;
    }
    String prefix = s.substring(slash + 1);
    return !prefix.isEmpty() && prefix.length() <= 2 && prefix.chars().allMatch(Character::isDigit)
        && Integer.parseInt(prefix) <= 32;
  }
}
