package io.isola.vmm.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isola.vmm.hypervisor.VmSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class QemuCommandLineTest {
  private final VmSpec spec = new VmSpec("abc", Path.of("/k/vmlinux"), Path.of("/k/nano.cpio"), "console=ttyS0 quiet",
      2, 512, List.of(new VmSpec.Share("rootfs", Path.of("/s/a,b/rootfs"), false),
          new VmSpec.Share("ro", Path.of("/s/ro"), true)), Path.of("/r/abc"));

  private List<String> argv(Accelerator accelerator) {
    return new QemuCommandLine(Path.of("/usr/bin/qemu-system-x86_64"), accelerator, OptionalLong.of(2445430)).build(spec);
  }

  private static String valueOf(List<String> argv, String option) {
    int i = argv.indexOf(option);
    assertTrue(i >= 0, option + " missing from " + argv);
    return argv.get(i + 1);
  }

  private static List<String> valuesOf(List<String> argv, String option) {
    java.util.ArrayList<String> values = new java.util.ArrayList<>();
    for (int i = 0; i < argv.size() - 1; i++) {
      if (argv.get(i).equals(option)) {
        values.add(argv.get(i + 1));
      }
    }
    return values;
  }

  @Test
  void bootsTheKernelDirectlyWithNoDefaultDevices() {
    List<String> argv = argv(Accelerator.TCG);
    assertEquals("/usr/bin/qemu-system-x86_64", argv.get(0));
    assertTrue(argv.contains("-nodefaults"));
    assertTrue(argv.contains("-no-user-config"));
    assertEquals("/k/vmlinux", valueOf(argv, "-kernel"));
    assertEquals("/k/nano.cpio", valueOf(argv, "-initrd"));
    assertEquals("console=ttyS0 quiet tsc=reliable no_timer_check tsc_early_khz=2445430", valueOf(argv, "-append"));
    assertEquals("512M", valueOf(argv, "-m"));
    assertEquals("2", valueOf(argv, "-smp"));
    assertFalse(argv.contains("-netdev"), "no network in the skeleton");
  }

  @Test
  void tcgWithoutAKnownTscRateFallsBackToQ35WithPciDevices() {
    List<String> argv = new QemuCommandLine(Path.of("qemu"), Accelerator.TCG, OptionalLong.empty()).build(spec);
    assertTrue(valueOf(argv, "-machine").startsWith("q35"));
    assertTrue(valuesOf(argv, "-device").contains("virtio-serial-pci,max_ports=2"));
    assertFalse(valueOf(argv, "-append").contains("tsc_early_khz"));
  }

  @Test
  void microvmWithMmioDevicesWhenTheTscRateIsKnown() {
    List<String> argv = argv(Accelerator.TCG);
    assertEquals("microvm,rtc=on", valueOf(argv, "-machine"));
    assertTrue(valuesOf(argv, "-device").contains("virtio-serial-device,max_ports=2"));
    assertEquals("console=ttyS0 quiet", valueOf(argv(Accelerator.KVM), "-append"), "KVM has kvmclock");
  }

  @Test
  void onlyTheBenchmarksVmsGetTheBenchPort() {
    List<String> plain = argv(Accelerator.TCG);
    assertFalse(String.join(" ", plain).contains("isola.bench"), "no bench port on a sandbox's VM");
    List<String> bench = new QemuCommandLine(Path.of("qemu"), Accelerator.TCG, OptionalLong.of(2445430))
        .build(spec.withBenchPort());
    assertTrue(valuesOf(bench, "-device").contains("virtio-serial-device,max_ports=3"));
    assertTrue(valuesOf(bench, "-device").contains("virtserialport,chardev=bench,name=isola.bench"));
    assertTrue(valuesOf(bench, "-chardev").stream().anyMatch(c -> c.contains("bench.sock")), bench.toString());
  }

  @Test
  void hostTscRateComesFromBogomips(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path cpuinfo = dir.resolve("cpuinfo");
    java.nio.file.Files.writeString(cpuinfo, "processor\t: 0\nbogomips\t: 4890.86\n");
    assertEquals(OptionalLong.of(2445430), HostTsc.khz(cpuinfo));
    java.nio.file.Files.writeString(cpuinfo, "processor\t: 0\n");
    assertEquals(OptionalLong.empty(), HostTsc.khz(cpuinfo));
  }

  @Test
  void acceleratorDecidesAccelAndCpu() {
    assertEquals("tcg,thread=multi,tb-size=32", valueOf(argv(Accelerator.TCG), "-accel"),
        "the translation cache is bounded (QEMU's default grows to 1 GiB)");
    assertEquals("kvm", valueOf(argv(Accelerator.KVM), "-accel"));
    assertEquals("host", valueOf(argv(Accelerator.KVM), "-cpu"));
  }

  @Test
  void agentPortAndControlSocketLiveInTheRunDirectory() {
    List<String> argv = argv(Accelerator.TCG);
    assertEquals("socket,id=agent,path=/r/abc/agent.sock,server=on,wait=off", valueOf(argv, "-chardev"));
    assertTrue(valuesOf(argv, "-device").contains("virtserialport,chardev=agent,name=isola.agent"));
    assertEquals("unix:/r/abc/control.sock,server=on,wait=off", valueOf(argv, "-qmp"));
  }

  @Test
  void sharesUseMappedXattrAndEscapeCommasAndHonourReadOnly() {
    List<String> fsdevs = valuesOf(argv(Accelerator.TCG), "-fsdev");
    assertEquals(2, fsdevs.size());
    assertEquals("local,id=fs0,path=/s/a,,b/rootfs,security_model=mapped-xattr,multidevs=remap", fsdevs.get(0));
    assertTrue(fsdevs.get(1).endsWith(",readonly=on"), fsdevs.get(1));
  }

  @Test
  void noNetworkDeviceUnlessAsked() {
    assertTrue(valuesOf(argv(Accelerator.TCG), "-netdev").isEmpty());
  }

  @Test
  void userAndTapNicsWithTheirMacsAndForwards() {
    VmSpec withNics = new VmSpec("abc", spec.kernel(), spec.initrd(), spec.kernelArgs(), 1, 256, List.of(),
        spec.runDirectory(), List.of(new VmSpec.UserNic("52:54:00:12:34:56", "10.0.2.0/24", "10.0.2.2", "10.0.2.3",
            "10.0.2.15", List.of(new VmSpec.PortForward("tcp", "127.0.0.1", 8080, 80))),
            new VmSpec.TapNic("ea:d8:aa:36:e5:61", "isola0")), Path.of("/run/netns/pod"));
    List<String> argv = new QemuCommandLine(Path.of("/q"), Accelerator.TCG, OptionalLong.of(1)).build(withNics);
    assertEquals(List.of("user,id=net0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,ipv6=off,"
        + "hostfwd=tcp:127.0.0.1:8080-10.0.2.15:80",
        "tap,id=net1,ifname=isola0,script=no,downscript=no,vhost=off"), valuesOf(argv, "-netdev"));
    assertEquals(List.of("virtio-net-device,netdev=net0,mac=52:54:00:12:34:56",
        "virtio-net-device,netdev=net1,mac=ea:d8:aa:36:e5:61"), valuesOf(argv, "-device").stream()
        .filter(d -> d.startsWith("virtio-net")).toList());
  }

  @Test
  void hostAttributeSharesAreReadOnlyOnly() {
    VmSpec.Share ro = new VmSpec.Share("ro", Path.of("/s/ro"), true, true);
    VmSpec one = new VmSpec("abc", spec.kernel(), spec.initrd(), spec.kernelArgs(), 1, 256, List.of(ro),
        spec.runDirectory());
    List<String> argv = new QemuCommandLine(Path.of("/q"), Accelerator.TCG, OptionalLong.of(1)).build(one);
    assertEquals("local,id=fs0,path=/s/ro,security_model=none,multidevs=remap,readonly=on", valueOf(argv, "-fsdev"));
    org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new VmSpec.Share("rw", Path.of("/s/rw"), false, true));
  }

  @Test
  void qemuSeccompSandboxIsOn() {
    String sandbox = valueOf(argv(Accelerator.TCG), "-sandbox");
    assertTrue(sandbox.startsWith("on,"));
    assertTrue(sandbox.contains("spawn=deny") && sandbox.contains("elevateprivileges=deny"), sandbox);
  }
}
