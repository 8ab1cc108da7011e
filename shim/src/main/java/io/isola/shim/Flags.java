package io.isola.shim;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Go {@code flag}-style command lines, as containerd builds them:
 * {@code -namespace ns -address A -publish-binary B -id ID [-bundle B] [-debug] start|delete}.
 * Accepts {@code -x v}, {@code -x=v} and {@code --x v}; flags end at the first word that is not one.
 */
final class Flags {
  /** Flags that take no value. */
  private static final Set<String> BOOLEAN = Set.of("debug", "v", "version");

  private final Map<String, String> values = new HashMap<>();
  private final List<String> words = new ArrayList<>();

  private Flags() {}

  static Flags parse(String[] argv) {
    Flags flags = new Flags();
    int i = 0;
    for (; i < argv.length; i++) {
      String arg = argv[i];
      if (arg.equals("--")) {
        i++;
        break;
      }
      if (!arg.startsWith("-") || arg.equals("-")) {
        break;
      }
      String name = arg.startsWith("--") ? arg.substring(2) : arg.substring(1);
      int eq = name.indexOf('=');
      if (eq >= 0) {
        flags.values.put(name.substring(0, eq), name.substring(eq + 1));
      } else if (BOOLEAN.contains(name)) {
        flags.values.put(name, "true");
      } else if (i + 1 < argv.length) {
        flags.values.put(name, argv[++i]);
      } else {
        throw new IllegalArgumentException("flag needs an argument: -" + name);
      }
    }
    for (; i < argv.length; i++) {
      flags.words.add(argv[i]);
    }
    return flags;
  }

  String get(String name, String fallback) {
    return values.getOrDefault(name, fallback);
  }

  boolean bool(String name) {
    String v = values.get(name);
    return v != null && !v.equals("false") && !v.equals("0");
  }

  /** The words after the flags (the action). */
  List<String> words() {
    return words;
  }
}
