package io.isola.shim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * A small file in the bundle ({@code isola-shim.json}) through which the long-running shim
 * tells a later {@code delete} action (run after the shim is gone) what it knew: the isolad
 * socket, the isolad ids and the last exit status.
 */
record BundleState(String isoladSocket, String isolaId, String sandboxId, boolean explicitSandbox,
    int pid, int exitStatus, boolean exited) {
  static final String FILE = "isola-shim.json";

  void write(Path bundle) {
    ObjectNode n = OciProcess.JSON.createObjectNode();
    n.put("isolad_socket", isoladSocket);
    n.put("isola_id", isolaId);
    n.put("sandbox_id", sandboxId);
    n.put("explicit_sandbox", explicitSandbox);
    n.put("pid", pid);
    n.put("exit_status", exitStatus);
    n.put("exited", exited);
    try {
      Path tmp = bundle.resolve(FILE + ".tmp");
      Files.write(tmp, OciProcess.JSON.writeValueAsBytes(n));
      Files.move(tmp, bundle.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      // best effort: delete falls back to defaults
    }
  }

  static BundleState read(Path bundle) {
    try {
      JsonNode n = OciProcess.JSON.readTree(Files.readAllBytes(bundle.resolve(FILE)));
      return new BundleState(n.path("isolad_socket").asText(""), n.path("isola_id").asText(""),
          n.path("sandbox_id").asText(""), n.path("explicit_sandbox").asBoolean(false), n.path("pid").asInt(0),
          n.path("exit_status").asInt(137), n.path("exited").asBoolean(false));
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  BundleState withExit(int status) {
    return new BundleState(isoladSocket, isolaId, sandboxId, explicitSandbox, pid, status, true);
  }
}
