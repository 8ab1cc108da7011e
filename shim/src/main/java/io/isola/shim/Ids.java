package io.isola.shim;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/**
 * Maps containerd ids (which may hold uppercase letters and run to 76 characters) to isolad ids
 * ({@code [a-z0-9][a-z0-9_.-]{0,63}}) deterministically: a valid id is kept as it is; otherwise it
 * is lowercased, invalid characters become '-', and a short hash of the original is appended so
 * that two ids that differ only in case do not collide.
 */
final class Ids {
  private static final int MAX = 64;

  private Ids() {}

  /**
   * The isolad id of a containerd object: containerd ids are unique only within their namespace,
   * isolad's are global. "--" cannot occur inside a containerd namespace or id (a separator is
   * always followed by a letter or digit), so the joined form is unambiguous.
   */
  static String isolaId(String namespace, String id) {
    return isolaId(namespace + "--" + id);
  }

  static String isolaId(String id) {
    if (id.matches("[a-z0-9][a-z0-9_.-]{0,63}")) {
      return id;
    }
    StringBuilder base = new StringBuilder();
    for (char c : id.toLowerCase(Locale.ROOT).toCharArray()) {
      base.append((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ? c : '-');
    }
    if (base.length() == 0 || !Character.isLetterOrDigit(base.charAt(0))) {
      base.insert(0, 'c');
    }
    String suffix = "-" + sha256Hex(id).substring(0, 8);
    if (base.length() > MAX - suffix.length()) {
      base.setLength(MAX - suffix.length());
    }
    return base + suffix;
  }

  static String sha256Hex(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
