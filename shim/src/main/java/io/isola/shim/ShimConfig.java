package io.isola.shim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.isola.proto.containerd.runtimeoptions.Options;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where isolad listens. Order: the runtime options' TOML ({@code isolad_socket = "..."}, from
 * {@code runtimeoptions.v1.Options.config_path}), then {@code ISOLA_SOCKET}, then
 * {@code /run/isola/isolad.sock}.
 */
final class ShimConfig {
  static final String DEFAULT_SOCKET = "/run/isola/isolad.sock";

  private ShimConfig() {}

  /** The config_path of a runtime-options Any, or "" (absent, another type, undecodable). */
  static String configPath(Any options) {
    if (options == null || !options.getTypeUrl().endsWith("runtimeoptions.v1.Options")) {
      return "";
    }
    try {
      return Options.parseFrom(options.getValue()).getConfigPath();
    } catch (InvalidProtocolBufferException e) {
      return "";
    }
  }

  static String isoladSocket(String configPath) throws IOException {
    if (configPath != null && !configPath.isEmpty()) {
      JsonNode toml = new TomlMapper().readTree(Files.readAllBytes(Path.of(configPath)));
      String s = toml.path("isolad_socket").asText("");
      if (s.isEmpty()) {
        s = toml.path("shim").path("isolad_socket").asText("");
      }
      if (!s.isEmpty()) {
        return s.startsWith("unix://") ? s.substring("unix://".length()) : s;
      }
    }
    String env = System.getenv("ISOLA_SOCKET");
    return env == null || env.isEmpty() ? DEFAULT_SOCKET : env;
  }
}
