package io.isola.vmm.daemon;

import java.util.Map;

/** Bounds on labels and annotations: they are stored and echoed, so they must stay small. */
final class Labels {
  private static final int MAX_ENTRIES = 64;
  private static final int MAX_KEY = 128;
  private static final int MAX_VALUE = 4096;

  private Labels() {}

  static void validate(Map<String, String> map, String what) {
    if (map.size() > MAX_ENTRIES) {
      throw Failures.invalid(what + ": at most " + MAX_ENTRIES + " entries, got " + map.size());
    }
    for (Map.Entry<String, String> e : map.entrySet()) {
      if (e.getKey().isEmpty() || e.getKey().length() > MAX_KEY || !e.getKey().matches("[A-Za-z0-9._/-]+")) {
        throw Failures.invalid(what + ": keys are 1-" + MAX_KEY + " characters of [A-Za-z0-9._/-]");
      }
      if (e.getValue().length() > MAX_VALUE) {
        throw Failures.invalid(what + ": value of " + e.getKey() + " is longer than " + MAX_VALUE + " characters");
      }
    }
  }
}
