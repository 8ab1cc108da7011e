package io.isola.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.isola.proto.v1.Mount;
import io.isola.proto.v1.NetworkMode;
import java.util.List;
import org.junit.jupiter.api.Test;

class OciPlumbingTest {
  private static final String CRI_LIKE = """
      {"hostname": "web-7d9",
       "linux": {"namespaces": [{"type": "pid"}, {"type": "network", "path": "/var/run/netns/cni-1234"}]},
       "mounts": [
         {"destination": "/proc", "type": "proc", "source": "proc"},
         {"destination": "/dev/shm", "type": "bind", "source": "/run/containerd/sandboxes/p/shm", "options": ["rbind"]},
         {"destination": "/etc/hosts", "type": "bind", "source": "/var/lib/containerd/sandboxes/p/hosts",
          "options": ["rbind", "rprivate", "rw"]},
         {"destination": "/etc/config", "type": "bind", "source": "/var/lib/kubelet/pods/u/volumes/cm",
          "options": ["rbind", "ro"]},
         {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=65536k"]},
         {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"},
         {"destination": "/mnt/nfs", "type": "nfs", "source": "server:/x"}]}
      """;

  @Test
  void criPodSpecBecomesNetnsModeWithHostBindsAndTmpfs() throws Exception {
    var config = OciProcess.JSON.readTree(CRI_LIKE);
    var network = OciPlumbing.network(config);
    assertEquals(NetworkMode.NETWORK_NETNS, network.getMode());
    assertEquals("/var/run/netns/cni-1234", network.getNetnsPath());
    assertEquals("web-7d9", network.getHostname());
    assertEquals(List.of(
        Mount.newBuilder().setType("bind").setSource("/var/lib/containerd/sandboxes/p/hosts")
            .setDestination("/etc/hosts").build(),
        Mount.newBuilder().setType("bind").setSource("/var/lib/kubelet/pods/u/volumes/cm")
            .setDestination("/etc/config").setReadOnly(true).build(),
        Mount.newBuilder().setType("tmpfs").setDestination("/run").setSizeBytes(65536L << 10).build()),
        OciPlumbing.mounts(config), "the guest's own /proc, /dev/shm, cgroup stay; an nfs mount means nothing there");
  }

  @Test
  void aFreshNetworkNamespaceIsLoopbackOnly() throws Exception {
    var config = OciProcess.JSON.readTree("{\"linux\": {\"namespaces\": [{\"type\": \"network\"}]}}");
    assertEquals(NetworkMode.NETWORK_NONE, OciPlumbing.network(config).getMode());
  }

  @Test
  void theSpecsShmSizeIsKept() throws Exception {
    var config = OciProcess.JSON.readTree("""
        {"mounts": [{"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                     "options": ["nosuid", "mode=1777", "size=131072k"]}]}
        """);
    assertEquals(128L << 20, OciPlumbing.shmSize(config));
    assertEquals(0, OciPlumbing.shmSize(OciProcess.JSON.readTree("{}")));
  }

  @Test
  void tmpfsSizes() {
    assertEquals(1L << 30, OciPlumbing.tmpfsSize(List.of("size=1g")));
    assertEquals(512, OciPlumbing.tmpfsSize(List.of("mode=755", "size=512")));
    assertEquals(0, OciPlumbing.tmpfsSize(List.of("size=99999999999999999999g")));
    assertEquals(0, OciPlumbing.tmpfsSize(List.of("size=50%")));
  }
}
