package io.isola.shim;

import io.isola.proto.v1.CreateSandboxRequest;
import io.isola.vmm.api.Ids;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The {@code io.isola.*} annotations a pod or container may carry to shape its sandbox, and the
 * host's say over them. A pod author is not trusted with the host's resources: an annotation has
 * effect only when the runtime options' TOML lists it in {@code enable_annotations}; any other
 * {@code io.isola.*} annotation is refused (not silently ignored, so a pod never runs with a
 * setting it did not get). Annotations outside {@code io.isola.} belong to others and pass by.
 *
 * <p>None of them names a host path: kernel and base image are names from isolad's catalog,
 * which isolad checks.
 */
final class SandboxAnnotations {
  static final String PREFIX = "io.isola.";
  static final String VCPUS = PREFIX + "sandbox.vcpus";
  static final String MEMORY_MIB = PREFIX + "sandbox.memory_mib";
  static final String KERNEL = PREFIX + "sandbox.kernel";
  static final String BASE_IMAGE = PREFIX + "sandbox.base_image";
  static final List<String> KNOWN = List.of(VCPUS, MEMORY_MIB, KERNEL, BASE_IMAGE);
  private static final int MAX_VCPUS = 64;
  private static final int MAX_MEMORY_MIB = 1 << 20;

  /** An annotation the host does not allow or cannot understand; the message says what to do. */
  static final class RefusedException extends Exception {
    RefusedException(String message) {
      super(message);
    }
  }

  private SandboxAnnotations() {}

  /**
   * The sandbox request with the enabled annotations applied over the configured values.
   *
   * @param enabled entries of {@code enable_annotations}: exact keys, or prefixes ending in '*'
   */
  static CreateSandboxRequest apply(CreateSandboxRequest configured, Map<String, String> annotations,
      List<String> enabled) throws RefusedException {
    CreateSandboxRequest.Builder request = configured.toBuilder();
    for (Map.Entry<String, String> a : new TreeMap<>(annotations).entrySet()) {
      String key = a.getKey();
      if (!key.startsWith(PREFIX)) {
        continue;
      }
      if (!KNOWN.contains(key)) {
        throw new RefusedException("unknown annotation " + Ids.quote(key) + "; isola knows " + KNOWN);
      }
      if (!isEnabled(key, enabled)) {
        throw new RefusedException("annotation " + key + " is not enabled on this host: list it in"
            + " enable_annotations of the runtime options' TOML to let pods set it");
      }
      String value = a.getValue();
      switch (key) {
        case "io.isola.sandbox.vcpus" -> request.setVcpus(positive(key, value, MAX_VCPUS));
        case "io.isola.sandbox.memory_mib" -> request.setMemoryMib(positive(key, value, MAX_MEMORY_MIB));
        case "io.isola.sandbox.kernel" -> request.setKernel(catalogName(key, value));
        case "io.isola.sandbox.base_image" -> request.setBaseImage(catalogName(key, value));
        default -> throw new IllegalStateException(key);
      }
    }
    return request.build();
  }

  static boolean isEnabled(String key, List<String> enabled) {
    for (String pattern : enabled) {
      if (pattern.endsWith("*") ? key.startsWith(pattern.substring(0, pattern.length() - 1)) : key.equals(pattern)) {
        return true;
      }
    }
    return false;
  }

  private static int positive(String key, String value, int max) throws RefusedException {
    try {
      int n = Integer.parseInt(value.strip());
      if (n >= 1 && n <= max) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new RefusedException("annotation " + key + " must be a whole number from 1 to " + max + ", not "
        + Ids.quote(value));
  }

  /** Catalog names are plain words: nothing that could be read as a path. */
  private static String catalogName(String key, String value) throws RefusedException {
    if (!value.matches("[a-z0-9][a-z0-9_.-]{0,63}") || value.contains("..")) {
      throw new RefusedException("annotation " + key + " must name a catalog entry ([a-z0-9][a-z0-9_.-]*), not "
          + Ids.quote(value));
    }
    return value;
  }
}
