package io.isola.vmm.daemon;

import io.isola.vmm.sandbox.Sandbox;
import io.isola.vmm.sandbox.SandboxDirectories;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A running sandbox as the supervisor holds it: the VM, its agent, and its processes' output. */
final class LiveSandbox {
  final String id;
  final String tenant;
  final Sandbox sandbox;
  final SandboxDirectories dirs;
  /** Output pumps by process key (container id, or container id + "/" + exec id). */
  final Map<String, ProcessOutput> outputs = new ConcurrentHashMap<>();

  LiveSandbox(String id, String tenant, Sandbox sandbox, SandboxDirectories dirs) {
    this.id = id;
    this.tenant = tenant;
    this.sandbox = sandbox;
    this.dirs = dirs;
  }

  static String key(String containerId, String execId) {
    return execId.isEmpty() ? containerId : containerId + "/" + execId;
  }
}
