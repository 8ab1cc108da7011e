package io.isola.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isola.it.containerd.ContainerdProcess;
import io.isola.vmm.image.RunOptions;
import io.isola.vmm.network.NetnsAttachment;
import io.isola.vmm.volume.VolumeRequest;
import io.isola.vmm.volume.VolumeRoots;
import io.isola.vmm.volume.VolumeStager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The host side of sandbox networks and volumes set up and torn down 100 times with real
 * namespaces, taps, tc filters and bind mounts (no VM: NetworkVolumesIT boots those); nothing
 * may be left.
 */
class PlumbingCyclesIT {
  private static final int CYCLES = 100;
  @TempDir Path dir;

  @Test
  void hundredNetnsAttachDetachCyclesLeaveNoTapOrFilter() throws Exception {
    try (NetnsPair pair = new NetnsPair("isc" + ProcessHandle.current().pid(), 95)) {
      List<String> before = pair.sandboxLinks();
      for (int i = 0; i < CYCLES; i++) {
        NetnsAttachment.Attached a = NetnsAttachment.attach(pair.sandboxNsPath());
        assertEquals(1, a.taps().size());
        assertEquals(List.of(pair.sandboxIp + "/24"), a.guest().addresses());
        assertTrue(pair.sandboxQdiscs().contains("ingress"));
        NetnsAttachment.detach(pair.sandboxNsPath(), a.links());
      }
      assertEquals(before, pair.sandboxLinks(), "no tap left");
      assertFalse(pair.sandboxQdiscs().contains("ingress"), "no filter left: " + pair.sandboxQdiscs());
    }
    assertFalse(NetnsPair.sh("ip", "netns", "list").contains("isc" + ProcessHandle.current().pid()),
        "the test's namespaces are gone");
  }

  @Test
  void hundredVolumeStageReleaseCyclesLeaveNoMount() throws Exception {
    Path roots = Files.createDirectories(dir.resolve("volumes"));
    Path ro = Files.createDirectories(roots.resolve("ro"));
    Path rw = Files.createDirectories(roots.resolve("rw"));
    Files.writeString(rw.resolve("keep.txt"), "data");
    Path share = Files.createDirectories(dir.resolve("share"));
    Path roShare = Files.createDirectories(dir.resolve("ro-share"));
    VolumeStager stager = new VolumeStager(share, "share", roShare, new VolumeRoots(List.of(roots)), java.util.OptionalLong.empty());
    for (int i = 0; i < CYCLES; i++) {
      List<RunOptions.Mount> mounts = stager.stage("c" + i, List.of(VolumeRequest.bind(ro, "/ro", true),
          VolumeRequest.bind(rw, "/rw", false), VolumeRequest.tmpfs("/tmp", 1 << 20)));
      assertEquals(3, mounts.size());
      assertEquals(2, ContainerdProcess.mountsUnder(dir).size());
      stager.release("c" + i);
    }
    assertEquals(List.of(), ContainerdProcess.mountsUnder(dir), "no bind mount left");
    assertEquals("data", Files.readString(rw.resolve("keep.txt")), "releasing never touches the source");
    try (var left = Files.list(roShare)) {
      assertEquals(0, left.count(), "no staging directory left");
    }
  }
}
