package io.isola.vmm.sandbox;

import io.isola.proto.agent.v1.GetVersionResponse;
import io.isola.ttrpc.TtrpcException;
import io.isola.vmm.agent.AgentClient;
import io.isola.vmm.hypervisor.Hypervisor;
import io.isola.vmm.hypervisor.Vm;
import io.isola.vmm.hypervisor.VmSpec;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A booted sandbox: its VM and a connected, answering agent. Closing it stops the VM and
 * removes the runtime directory; it never throws.
 */
public final class Sandbox implements AutoCloseable {
  private final Vm vm;
  private final AgentClient agent;
  private final GetVersionResponse guest;
  /** Completes when the agent channel breaks, with the reason (VM gone, hostile bytes). */
  private final CompletableFuture<String> channelLost;

  private Sandbox(Vm vm, AgentClient agent, GetVersionResponse guest, CompletableFuture<String> channelLost) {
    this.vm = vm;
    this.agent = agent;
    this.guest = guest;
    this.channelLost = channelLost;
  }

  /** Launches the VM and waits until the agent answers or the boot deadline passes. */
  public static Sandbox boot(Hypervisor hypervisor, VmSpec spec, Duration bootDeadline) throws SandboxException {
    Vm vm;
    try {
      vm = hypervisor.launch(spec);
    } catch (IOException e) {
      throw new SandboxException("cannot start the sandbox VM: " + e.getMessage(), e);
    }
    CompletableFuture<String> lost = new CompletableFuture<>();
    AgentClient agent = null;
    try {
      agent = AgentClient.connect(spec.agentSocket(), reason -> lost.complete(reason.detail()));
      GetVersionResponse version = agent.awaitReady(bootDeadline);
      return new Sandbox(vm, agent, version, lost);
    } catch (IOException | TtrpcException e) {
      String console = vm.consoleTail(1500).map(t -> "\nlast guest console output:\n" + t).orElse("");
      String state = vm.exit().isDone() ? vm.exit().join().description() : "VM still running";
      if (agent != null) {
        agent.close();
      }
      vm.close();
      throw new SandboxException("the sandbox VM did not come up (" + state + "): " + e.getMessage() + console, e);
    }
  }

  /**
   * Takes over a VM an earlier supervisor started (the caller verified pid and start time):
   * reconnects its control channel and the agent, which must answer within {@code deadline}.
   */
  public static Sandbox adopt(Hypervisor hypervisor, VmSpec spec, long pid, Duration deadline) throws SandboxException {
    Vm vm;
    try {
      vm = hypervisor.adopt(spec, pid);
    } catch (IOException e) {
      throw new SandboxException("cannot reconnect to the VM of sandbox " + spec.name() + ": " + e.getMessage(), e);
    }
    CompletableFuture<String> lost = new CompletableFuture<>();
    AgentClient agent = null;
    try {
      agent = AgentClient.connect(spec.agentSocket(), reason -> lost.complete(reason.detail()));
      return new Sandbox(vm, agent, agent.awaitReady(deadline), lost);
    } catch (IOException | TtrpcException e) {
      if (agent != null) {
        agent.close();
      }
      vm.close();
      throw new SandboxException("the agent of sandbox " + spec.name() + " did not answer after a restart: "
          + e.getMessage(), e);
    }
  }

  public AgentClient agent() {
    return agent;
  }

  public Vm vm() {
    return vm;
  }

  public GetVersionResponse guest() {
    return guest;
  }

  public CompletableFuture<String> channelLost() {
    return channelLost;
  }

  /**
   * Powers the guest off through the agent (it syncs first), falling back to stopping the VM
   * if the guest does not go within {@code grace}.
   */
  public void shutdown(Duration grace) {
    if (!vm.exit().isDone()) {
      try {
        agent.shutdown(grace);
        vm.exit().get(grace.toMillis(), TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        // the guest did not cooperate: the hypervisor stops it
      }
    }
    close();
  }

  /** Disconnects and leaves the VM running (a supervisor shutting down; the next one adopts it). */
  public void release() {
    agent.close();
    vm.release();
  }

  @Override
  public void close() {
    agent.close();
    vm.close();
  }
}
