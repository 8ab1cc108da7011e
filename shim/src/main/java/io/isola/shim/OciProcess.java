package io.isola.shim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.isola.proto.v1.ProcessSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** What the shim takes from an OCI runtime spec (config.json) or an OCI Process (exec spec). */
final class OciProcess {
  static final ObjectMapper JSON = new ObjectMapper();

  private OciProcess() {}

  /** The bundle's config.json. */
  static JsonNode readConfig(Path bundle) throws IOException {
    return JSON.readTree(Files.readAllBytes(bundle.resolve("config.json")));
  }

  static Map<String, String> annotations(JsonNode config) {
    Map<String, String> out = new HashMap<>();
    JsonNode a = config.path("annotations");
    a.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
    return out;
  }

  /**
   * An OCI Process object as an isola ProcessSpec: args, env, cwd, terminal, user (uid:gid).
   * isolad builds the guest's runtime spec itself; everything else in the OCI process (rlimits,
   * capabilities, apparmor, …) is not carried over.
   */
  static ProcessSpec toProcessSpec(JsonNode process, boolean stdin) {
    ProcessSpec.Builder spec = ProcessSpec.newBuilder();
    process.path("args").forEach(a -> spec.addArgs(a.asText()));
    process.path("env").forEach(e -> {
      String kv = e.asText();
      if (kv.indexOf('=') > 0) {
        spec.addEnv(kv);
      }
    });
    String cwd = process.path("cwd").asText("");
    if (cwd.startsWith("/")) {
      spec.setCwd(cwd);
    }
    JsonNode user = process.path("user");
    if (user.has("uid")) {
      spec.setUser(user.path("uid").asLong() + ":" + user.path("gid").asLong());
    } else if (!user.path("username").asText("").isEmpty()) {
      spec.setUser(user.path("username").asText());
    }
    spec.setTty(process.path("terminal").asBoolean(false));
    spec.setStdin(stdin);
    return spec.build();
  }
}
