package io.isola.vmm.hypervisor;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/** A running sandbox VM, as its owner sees it. Closing it always leaves nothing running. */
public interface Vm extends AutoCloseable {
  VmSpec spec();

  /** Host pid of the hypervisor process. */
  long pid();

  /** Completes when the VM process has exited, with a description of how it ended. */
  CompletableFuture<VmExit> exit();

  /** Asks the hypervisor to stop the VM now (QMP quit), then kills it if it lingers. */
  void stop(Duration grace);

  /**
   * Gives the hypervisor a tree it will serve read-write to the guest, made after the VM
   * started (a container's root filesystem). A no-op when the hypervisor is not confined.
   */
  void handOver(Path tree) throws IOException;

  /** The uid the hypervisor runs as when confined (its jail's), empty when unconfined. */
  OptionalLong confinedUid();

  /** The last lines of the guest console, for error messages about a failed boot. */
  Optional<String> consoleTail(int maxBytes);

  /**
   * Lets go of the VM without stopping it: closes the control connection and leaves the VM
   * running for a later supervisor to adopt.
   */
  void release();

  /** Stops the VM if needed and removes its sockets; never throws. */
  @Override
  void close();

  /** How the hypervisor process ended. */
  record VmExit(int exitCode, String description) {}
}
