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
 * The shim's configuration, named by containerd's runtime options: the sandbox size and guest
 * (see {@link #sandbox}), and where isolad listens. Order for the socket: the runtime options' TOML ({@code isolad_socket = "..."}, from
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

  /**
   * The sandbox the configuration asks for: {@code vcpus}, {@code memory_mib}, {@code kernel},
   * {@code base_image} (top level or under [sandbox]); absent keys mean isolad's defaults.
   */
  static io.isola.proto.v1.CreateSandboxRequest sandbox(String configPath) throws IOException {
    io.isola.proto.v1.CreateSandboxRequest.Builder request = io.isola.proto.v1.CreateSandboxRequest.newBuilder();
    if (configPath == null || configPath.isEmpty()) {
      return request.build();
    }
    JsonNode toml = new TomlMapper().readTree(Files.readAllBytes(Path.of(configPath)));
    JsonNode table = toml.has("sandbox") ? toml.path("sandbox") : toml;
    int vcpus = table.path("vcpus").asInt(0);
    int memory = table.path("memory_mib").asInt(0);
    if (vcpus < 0 || memory < 0) {
      throw new IOException(configPath + ": vcpus and memory_mib must not be negative");
    }
    return request.setVcpus(vcpus).setMemoryMib(memory).setKernel(table.path("kernel").asText(""))
        .setBaseImage(table.path("base_image").asText("")).build();
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
