package io.isola.vmm.daemon;

import io.isola.ttrpc.TtrpcException;
import io.isola.vmm.hypervisor.VmSpec;
import io.isola.vmm.network.GuestNetwork;
import io.isola.vmm.network.NatNetwork;
import io.isola.vmm.network.NetnsAttachment;
import io.isola.vmm.network.NetworkException;
import io.isola.vmm.network.NetworkSpec;
import io.isola.vmm.network.NetworkState;
import io.isola.vmm.sandbox.Sandbox;
import io.isola.vmm.sandbox.SandboxDirectories;
import io.isola.vmm.volume.VolumeStager;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Logger;

/**
 * The host side of a sandbox besides its VM: network devices and the shares volumes go through.
 * Everything set up here is recorded in the sandbox's state directory first, and
 * {@link #tearDown} undoes it from that record alone, so every exit path (a failed boot, a
 * delete, a VM that died, a supervisor restarted after a crash) leaves no tap, filter or mount.
 */
final class SandboxPlumbing {
  private static final Logger LOG = Logger.getLogger(SandboxPlumbing.class.getName());

  /** What the VM gets and what its guest configures. */
  record Network(List<VmSpec.Nic> nics, Path netns, GuestNetwork guest) {}

  private SandboxPlumbing() {}

  /** The sandbox's writable share, on a layer of its own when [daemon] writable_layer_mib is set. */
  static void createShare(SandboxDirectories dirs, long layerMib) throws IOException {
    if (layerMib > 0) {
      io.isola.vmm.volume.WritableLayer.mount(dirs.share(), layerMib);
    } else {
      java.nio.file.Files.createDirectories(dirs.share());
    }
  }

  /** The shares every sandbox VM has: rootfs and writable volumes, and the read-only one. */
  static List<VmSpec.Share> shares(SandboxDirectories dirs) {
    return List.of(new VmSpec.Share(Supervisor.SHARE_TAG, dirs.share(), false),
        new VmSpec.Share(VolumeStager.READ_ONLY_TAG, dirs.readOnlyShare(), true, true));
  }

  static Network setUp(NetworkSpec spec, SandboxDirectories dirs) throws NetworkException, IOException {
    String netns = spec.netns() == null ? "" : spec.netns().toString();
    List<String> links = spec.mode() == NetworkSpec.Mode.NETNS ? NetnsAttachment.interfaceNames(spec.netns())
        : List.of();
    // recorded before anything is set up: a crash half way is still undone (detach is idempotent)
    new NetworkState(spec.mode().name(), netns, links, spec.hostname(), List.of()).write(dirs.state());
    Network network = switch (spec.mode()) {
      case NONE -> new Network(List.of(), null, GuestNetwork.LOOPBACK_ONLY);
      case NAT -> new Network(List.of(NatNetwork.nic(spec.ports())), null, NatNetwork.guest());
      case NETNS -> {
        NetnsAttachment.Attached attached = NetnsAttachment.attach(spec.netns());
        yield new Network(List.copyOf(attached.taps()), spec.netns(), attached.guest());
      }
    };
    new NetworkState(spec.mode().name(), netns, links, spec.hostname(), network.guest().addresses())
        .write(dirs.state());
    return network;
  }

  /** Inside the booted guest: hostname, NICs, routes; then the /etc files containers see. */
  static void configureGuest(Sandbox sandbox, NetworkSpec spec, Network network, SandboxDirectories dirs)
      throws TtrpcException, IOException {
    sandbox.agent().configureNetwork(network.guest().toAgentRequest(spec.hostname()));
    List<String> dns = !spec.dnsServers().isEmpty() ? spec.dnsServers()
        : spec.mode() == NetworkSpec.Mode.NAT ? List.of(NatNetwork.RESOLVER) : List.of();
    VolumeStager.writeEtcFiles(dirs.readOnlyShare(), spec.hostname(), network.guest().addresses(), dns,
        spec.dnsSearches());
  }

  /** Removes the sandbox's taps, filters and volume mounts. Never throws; logs what stays. */
  static void tearDown(SandboxDirectories dirs) {
    NetworkState.read(dirs.state()).ifPresent(NetworkState::teardown);
    try {
      VolumeStager.releaseAll(dirs.share(), dirs.readOnlyShare());
    } catch (IOException e) {
      LOG.warning("volumes of sandbox " + dirs.id() + " are still mounted: " + e.getMessage());
    }
  }
}
