package io.isola.shim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.isola.proto.containerd.runtimeoptions.Options;
import io.isola.proto.v1.CreateSandboxRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The shim's configuration: the TOML file named by containerd's runtime options
 * ({@code runtimeoptions.v1.Options.config_path}), read once per task.
 *
 * @param isoladSocket where isolad listens: {@code isolad_socket} (top level or under [shim]), then
 *     {@code ISOLA_SOCKET}, then {@value #DEFAULT_SOCKET}
 * @param sandbox the sandbox made for a container or pod: {@code vcpus}, {@code memory_mib},
 *     {@code kernel}, {@code base_image} (top level or under [sandbox]); absent keys mean isolad's defaults
 * @param enabledAnnotations {@code enable_annotations}: the {@code io.isola.*} annotations pods may set
 *     (exact keys or prefixes ending in '*'); none unless listed
 */
record ShimConfig(String isoladSocket, CreateSandboxRequest sandbox, List<String> enabledAnnotations) {
  static final String DEFAULT_SOCKET = "/run/isola/isolad.sock";

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

  /** The configuration in {@code configPath}; "" or null means no file (every default). */
  static ShimConfig load(String configPath) throws IOException {
    if (configPath == null || configPath.isEmpty()) {
      return new ShimConfig(environmentSocket(), CreateSandboxRequest.getDefaultInstance(), List.of());
    }
    JsonNode toml = new TomlMapper().readTree(Files.readAllBytes(Path.of(configPath)));
    JsonNode sandbox = toml.has("sandbox") ? toml.path("sandbox") : toml;
    return new ShimConfig(socket(toml), sandbox(configPath, sandbox), annotations(configPath, toml, sandbox));
  }

  private static String socket(JsonNode toml) {
    String s = toml.path("isolad_socket").asText("");
    if (s.isEmpty()) {
      s = toml.path("shim").path("isolad_socket").asText("");
    }
    if (s.isEmpty()) {
      return environmentSocket();
    }
    return s.startsWith("unix://") ? s.substring("unix://".length()) : s;
  }

  static String environmentSocket() {
    String env = System.getenv("ISOLA_SOCKET");
    return env == null || env.isEmpty() ? DEFAULT_SOCKET : env;
  }

  private static CreateSandboxRequest sandbox(String configPath, JsonNode table) throws IOException {
    int vcpus = table.path("vcpus").asInt(0);
    int memory = table.path("memory_mib").asInt(0);
    if (vcpus < 0 || memory < 0) {
      throw new IOException(configPath + ": vcpus and memory_mib must not be negative");
    }
    return CreateSandboxRequest.newBuilder().setVcpus(vcpus).setMemoryMib(memory)
        .setKernel(table.path("kernel").asText("")).setBaseImage(table.path("base_image").asText("")).build();
  }

  private static List<String> annotations(String configPath, JsonNode toml, JsonNode sandbox) throws IOException {
    JsonNode list = toml.has("enable_annotations") ? toml.path("enable_annotations")
        : sandbox.path("enable_annotations");
    if (list.isMissingNode()) {
      return List.of();
    }
    List<String> keys = new ArrayList<>();
    for (JsonNode key : list) {
      if (!key.isTextual()) {
        keys = null;
        break;
      }
      keys.add(key.asText());
    }
    if (!list.isArray() || keys == null) {
      throw new IOException(configPath + ": enable_annotations must be a list of strings");
    }
    return List.copyOf(keys);
  }
}
