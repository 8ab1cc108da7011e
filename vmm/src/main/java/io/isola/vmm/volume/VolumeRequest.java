package io.isola.vmm.volume;

import java.nio.file.Path;

/**
 * A volume a container asks for: a host bind ({@code source} set) or a tmpfs ({@code source}
 * null, {@code sizeBytes} 0 = the kernel's default of half the guest's memory).
 */
public record VolumeRequest(String destination, Path source, boolean readOnly, long sizeBytes) {
  public VolumeRequest {
    if (destination == null || !destination.startsWith("/") || destination.equals("/")
        || destination.contains("/../") || destination.endsWith("/..") || destination.contains("//")
        || destination.length() > 4096 || destination.indexOf('\0') >= 0 || destination.indexOf(',') >= 0) {
      throw new IllegalArgumentException("a volume's destination must be an absolute path in the container other"
          + " than /, without \"..\" or commas, got \"" + destination + "\"");
    }
    if (sizeBytes < 0) {
      throw new IllegalArgumentException("tmpfs size must not be negative");
    }
  }

  public static VolumeRequest bind(Path source, String destination, boolean readOnly) {
    return new VolumeRequest(destination, source, readOnly, 0);
  }

  public static VolumeRequest tmpfs(String destination, long sizeBytes) {
    return new VolumeRequest(destination, null, false, sizeBytes);
  }

  public boolean isTmpfs() {
    return source == null;
  }

  /** {@code HOST:CONTAINER[:ro|:rw]}, as {@code isola run -v} takes it. */
  public static VolumeRequest parse(String spec) {
    String[] parts = spec.split(":", -1);
    if (parts.length < 2 || parts.length > 3 || parts[0].isEmpty() || parts[1].isEmpty()
        || (parts.length == 3 && !parts[2].equals("ro") && !parts[2].equals("rw"))) {
      throw new IllegalArgumentException("-v expects HOSTPATH:CONTAINERPATH[:ro|:rw], got \"" + spec + "\"");
    }
    return bind(Path.of(parts[0]), parts[1], parts.length == 3 && parts[2].equals("ro"));
  }
}
