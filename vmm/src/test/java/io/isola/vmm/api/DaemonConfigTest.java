package io.isola.vmm.api;

import io.isola.vmm.api.config.ConfigException;
import io.isola.vmm.api.config.DaemonConfig;
import io.isola.vmm.api.server.TenantDirectory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import javax.security.auth.x500.X500Principal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DaemonConfigTest {

    static final String FULL = """
            [daemon]
            socket = "/run/isola/isolad.sock"     # Unix socket, mode 0666 (access is decided per peer uid)
            run_root = "/run/isola"
            state_root = "/var/lib/isola"
            catalog = "/usr/share/isola/catalog.json"
            qemu = "/usr/bin/qemu-system-x86_64"
            default_vcpus = 1
            default_memory_mib = 256
            max_vcpus = 8
            max_memory_mib = 16384

            [tls]                                   # optional; without it no TCP listener exists at all
            listen = "127.0.0.1:7443"
            cert = "/etc/isola/server.pem"
            key = "/etc/isola/server.key"          # PKCS#8 PEM
            client_ca = "/etc/isola/clients-ca.pem"

            [[tenants]]
            name = "alice"                          # [a-z0-9][a-z0-9_-]{0,31}
            uids = [1000]                           # local peers (SO_PEERCRED uid)
            cert_subjects = ["CN=alice,O=example"]  # remote peers (client certificate subject, RFC 2253)
            admin = false                           # admin sees every tenant's objects
            [tenants.quota]
            sandboxes = 10                          # 0 = unlimited
            vcpus = 16
            memory_mib = 8192

            [[tenants]]
            name = "ops"
            uids = [0, 1001]
            admin = true
            """;

    @Test
    void fullExample() {
        DaemonConfig c = DaemonConfig.parse(FULL, "full.toml");
        DaemonConfig.Daemon d = c.daemon();
        assertEquals(Path.of("/run/isola/isolad.sock"), d.socket());
        assertEquals(Path.of("/run/isola"), d.runRoot());
        assertEquals(Path.of("/var/lib/isola"), d.stateRoot());
        assertEquals(Path.of("/usr/share/isola/catalog.json"), d.catalog());
        assertEquals(Path.of("/usr/bin/qemu-system-x86_64"), d.qemu());
        assertEquals(1, d.defaultVcpus());
        assertEquals(256, d.defaultMemoryMib());
        assertEquals(8, d.maxVcpus());
        assertEquals(16384, d.maxMemoryMib());
        assertEquals(Duration.ofSeconds(60), d.unaryTimeout());
        DaemonConfig.Tls tls = c.tls().orElseThrow();
        assertEquals(new DaemonConfig.Tls("127.0.0.1", 7443, Path.of("/etc/isola/server.pem"),
                Path.of("/etc/isola/server.key"), Path.of("/etc/isola/clients-ca.pem")), tls);
        assertEquals(2, c.tenants().size());
        DaemonConfig.TenantSpec alice = c.tenants().get(0);
        assertEquals(new DaemonConfig.TenantSpec("alice", List.of(1000L), List.of("CN=alice,O=example"), false,
                new Quota(10, 16, 8192)), alice);
        DaemonConfig.TenantSpec ops = c.tenants().get(1);
        assertTrue(ops.admin());
        assertEquals(Quota.UNLIMITED, ops.quota());

        TenantDirectory dir = TenantDirectory.from(c);
        assertEquals("alice", dir.byUid(1000).orElseThrow().name());
        assertEquals("ops", dir.byUid(0).orElseThrow().name(), "uid 0 mapped by config replaces built-in root");
        assertTrue(dir.byUid(1002).isEmpty());
        assertEquals("alice", dir.bySubject(new X500Principal("cn=alice, o=example")).orElseThrow().name());
        assertTrue(dir.bySubject(new X500Principal("CN=alice,O=other")).isEmpty());
        assertEquals("full.toml", dir.configSource());
    }

    @Test
    void missingFileGivesDefaults(@TempDir Path tmp) {
        DaemonConfig c = DaemonConfig.load(tmp.resolve("nope.toml"));
        assertEquals(DaemonConfig.Daemon.DEFAULTS, c.daemon());
        assertEquals(Optional.empty(), c.tls());
        assertEquals(List.of(), c.tenants());
        assertEquals(tmp.resolve("nope.toml").toString(), c.source());
        TenantDirectory dir = TenantDirectory.from(c);
        assertEquals(Tenant.ROOT, dir.byUid(0).orElseThrow());
        assertTrue(dir.byUid(1000).isEmpty());
    }

    @Test
    void jailTableIsReadAndChecked() {
        DaemonConfig c = DaemonConfig.parse("""
                [daemon]
                writable_layer_mib = 512
                [jail]
                uid_base = 500000
                uid_count = 1000
                cgroup_parent = "isola/tenants"
                memory_overhead_mib = 128
                pids_max = 256
                """, "jail.toml");
        assertEquals(512, c.daemon().writableLayerMib());
        assertTrue(c.jail().enabled());
        assertEquals(500000, c.jail().uidBase());
        assertEquals(1000, c.jail().uidCount());
        assertEquals("isola/tenants", c.jail().cgroupParent());
        assertEquals(128, c.jail().memoryOverheadMib());
        assertEquals(256, c.jail().pidsMax());
        assertEquals(io.isola.vmm.jail.JailSettings.DEFAULTS, DaemonConfig.defaults().jail());
        ConfigException bad = assertThrows(ConfigException.class, () -> DaemonConfig.parse(
                "[jail]\ncgroup_parent = \"../escape\"\nnonsense = 1\n", "bad.toml"));
        assertTrue(bad.getMessage().contains("cgroup_parent"), bad.getMessage());
        assertTrue(bad.getMessage().contains("nonsense"), bad.getMessage());
        ConfigException off = assertThrows(ConfigException.class, () -> DaemonConfig.parse(
                "[jail]\nenabled = \"no\"\n", "off.toml"));
        assertTrue(off.getMessage().contains("enabled"), off.getMessage());
    }

    @Test
    void defaults() {
        DaemonConfig c = DaemonConfig.defaults();
        assertEquals(Path.of("/run/isola/isolad.sock"), c.daemon().socket());
        assertEquals(Path.of("/var/lib/isola"), c.daemon().stateRoot());
        assertEquals(8, c.daemon().maxVcpus());
        assertTrue(c.tls().isEmpty());
        assertEquals("/etc/isola/config.toml", TenantDirectory.from(c).configSource());
        assertEquals(Tenant.ROOT, TenantDirectory.from(c).byUid(0).orElseThrow());
    }

    @Test
    void emptyAndPartialFilesKeepDefaults(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("c.toml");
        Files.writeString(f, "# nothing\n[daemon]\nmax_vcpus = 4\nunary_timeout_seconds = 2.5\n");
        DaemonConfig c = DaemonConfig.load(f);
        assertEquals(4, c.daemon().maxVcpus());
        assertEquals(256, c.daemon().defaultMemoryMib());
        assertEquals(Duration.ofMillis(2500), c.daemon().unaryTimeout());
        assertEquals(f.toString(), c.source());
    }

    @Test
    void ipv6Listen() {
        DaemonConfig c = DaemonConfig.parse("""
                [tls]
                listen = "[::1]:7443"
                cert = "/a"
                key = "/b"
                client_ca = "/c"
                """, "x");
        assertEquals("::1", c.tls().orElseThrow().host());
        assertEquals(7443, c.tls().orElseThrow().port());
    }

    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
            "[[tenants]]\\nname='a'\\n[[tenants]]\\nname='b'\\n[tenants.quota]\\nvcpus = -1"
                    + " | tenants[1].quota.vcpus must be >= 0 (got -1)",
            "[[tenants]]\\nname='a'\\n[tenants.quota]\\nsandboxes = -3 | tenants[0].quota.sandboxes must be >= 0",
            "[[tenants]]\\nname='a'\\n[tenants.quota]\\nmemory_mib = 'lots' | tenants[0].quota.memory_mib must be an integer",
            "[[tenants]]\\nname='a'\\n[tenants.quota]\\ncpus = 1 | unknown key tenants[0].quota.cpus",
            "[[tenants]]\\nname='Alice' | tenants[0].name must match [a-z0-9][a-z0-9_-]{0,31} (got \"Alice\")",
            "[[tenants]]\\nuids=[1] | tenants[0].name is required",
            "[[tenants]]\\nname='a'\\nuids=[1000]\\n[[tenants]]\\nname='b'\\nuids=[5, 1000]"
                    + " | tenants[1].uids[1]: uid 1000 is already mapped to tenant \"a\" (tenants[0])",
            "[[tenants]]\\nname='a'\\ncert_subjects=['CN=x,O=y']\\n[[tenants]]\\nname='b'\\ncert_subjects=['cn=x, o=y']"
                    + " | tenants[1].cert_subjects[0]: subject \"cn=x, o=y\" is already mapped to tenant \"a\" (tenants[0])",
            "[[tenants]]\\nname='a'\\n[[tenants]]\\nname='a' | tenants[1].name \"a\" is already used by tenants[0]",
            "[[tenants]]\\nname='root'\\nuids=[1000] | tenants[0].name \"root\" is reserved for the built-in uid 0 tenant",
            "[[tenants]]\\nname='a'\\nuids=[-1] | tenants[0].uids[0] must be >= 0 (got -1)",
            "[[tenants]]\\nname='a'\\nuids=[4294967295] | tenants[0].uids[0] must be <= 4294967294",
            "[[tenants]]\\nname='a'\\nuids=1000 | tenants[0].uids must be an array",
            "[[tenants]]\\nname='a'\\ncert_subjects=['not a dn'] | tenants[0].cert_subjects[0] \"not a dn\" is not a valid distinguished name",
            "[[tenants]]\\nname='a'\\nadmin='yes' | tenants[0].admin must be true or false",
            "[daemon]\\nsocket='run/isolad.sock' | daemon.socket must be an absolute path (got \"run/isolad.sock\")",
            "[daemon]\\nstate_root='' | daemon.state_root must be a non-empty path",
            "[daemon]\\nmax_vcpus=0 | daemon.max_vcpus must be >= 1 (got 0)",
            "[daemon]\\ndefault_vcpus=4\\nmax_vcpus=2 | daemon.default_vcpus (4) must be <= daemon.max_vcpus (2)",
            "[daemon]\\ndefault_memory_mib=4096\\nmax_memory_mib=1024 | daemon.default_memory_mib (4096) must be <= daemon.max_memory_mib (1024)",
            "[daemon]\\nunary_timeout_seconds=0 | daemon.unary_timeout_seconds must be > 0",
            "[daemon]\\nsockt='/x' | unknown key daemon.sockt",
            "[daemon]\\nqemu=5 | daemon.qemu must be a string",
            "daemon = 5 | daemon must be a table",
            "[tenant]\\nname='a' | unknown key tenant (known keys: ",
            "[tls]\\nlisten='127.0.0.1:7443'\\ncert='/a'\\nkey='/b' | tls.client_ca is required",
            "[tls]\\nlisten='127.0.0.1'\\ncert='/a'\\nkey='/b'\\nclient_ca='/c' | tls.listen must be host:port",
            "[tls]\\nlisten='127.0.0.1:70000'\\ncert='/a'\\nkey='/b'\\nclient_ca='/c' | tls.listen must be host:port",
            "[tls]\\nlisten='127.0.0.1:1'\\ncert='a.pem'\\nkey='/b'\\nclient_ca='/c' | tls.cert must be an absolute path",
            "[daemon\\nx=1 | not valid TOML",
    })
    void validationErrorsNameTheKey(String toml, String expected) {
        ConfigException e = assertThrows(ConfigException.class,
                () -> DaemonConfig.parse(toml.replace("\\n", "\n"), "/etc/isola/config.toml"));
        assertTrue(e.getMessage().startsWith("/etc/isola/config.toml: "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), "expected \"" + expected + "\" in: " + e.getMessage());
    }

    @Test
    void tooLongSocketPath() {
        String p = "/" + "s".repeat(120);
        ConfigException e = assertThrows(ConfigException.class,
                () -> DaemonConfig.parse("[daemon]\nsocket = '" + p + "'\n", "c"));
        assertTrue(e.getMessage().contains("daemon.socket is 121 bytes long"), e.getMessage());
    }

    @Test
    void everyProblemIsReportedAtOnce() {
        ConfigException e = assertThrows(ConfigException.class, () -> DaemonConfig.parse("""
                [daemon]
                max_vcpus = -1
                [[tenants]]
                name = "a"
                [tenants.quota]
                vcpus = -2
                """, "c"));
        assertEquals(List.of("daemon.max_vcpus must be >= 1 (got -1)", "tenants[0].quota.vcpus must be >= 0 (got -2)"),
                e.problems());
    }

    @Test
    void uid0MappedByConfigIsNotAlsoBuiltInRoot() {
        DaemonConfig c = DaemonConfig.parse("[[tenants]]\nname = \"root\"\nuids = [0]\n", "c");
        Tenant t = TenantDirectory.from(c).byUid(0).orElseThrow();
        assertEquals("root", t.name());
        assertFalse(t.admin(), "a configured root tenant gets only what the config says");
    }

    @Test
    void withTenantsValidates() {
        DaemonConfig c = DaemonConfig.defaults();
        DaemonConfig.TenantSpec a = new DaemonConfig.TenantSpec("a", List.of(7L), List.of(), false, Quota.UNLIMITED);
        DaemonConfig.TenantSpec b = new DaemonConfig.TenantSpec("b", List.of(7L), List.of(), false, Quota.UNLIMITED);
        assertThrows(ConfigException.class, () -> c.withTenants(List.of(a, b)));
        assertEquals(1, c.withTenants(List.of(a)).tenants().size());
    }
}
