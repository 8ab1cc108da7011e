package io.isola.vmm.api.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import io.isola.vmm.api.Quota;
import io.isola.vmm.jail.JailSettings;

import javax.security.auth.x500.X500Principal;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The supervisor's configuration: one TOML file (default {@value #DEFAULT_FILE}); a missing file
 * means all defaults. See {@link #load(Path)}. Records are immutable; flag handling derives new
 * instances with the {@code with...} methods.
 *
 * <p>Tenants: uid 0 is the built-in admin tenant {@code root} (no quota) unless a configured tenant
 * lists uid 0 itself; the name "root" is then reserved for uid 0. See {@code TenantDirectory}.
 */
public record DaemonConfig(Daemon daemon, Optional<Tls> tls, List<TenantSpec> tenants, JailSettings jail, String source) {

    public static final String DEFAULT_FILE = "/etc/isola/config.toml";
    public static final Path DEFAULT_PATH = Path.of(DEFAULT_FILE);

    /** Longest Unix socket path Linux accepts (sun_path is 108 bytes including the NUL). */
    public static final int MAX_SOCKET_PATH_BYTES = 107;

    static final Pattern TENANT_NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,31}");
    static final long MAX_UID = 0xFFFF_FFFEL; // (uid_t) -1 is "no uid"

    public DaemonConfig {
        Objects.requireNonNull(daemon);
        Objects.requireNonNull(tls);
        tenants = List.copyOf(tenants);
        Objects.requireNonNull(jail);
        Objects.requireNonNull(source);
    }

    /** The [daemon] table. */
    public record Daemon(Path socket, Path runRoot, Path stateRoot, Path catalog, Path qemu,
                         int defaultVcpus, long defaultMemoryMib, int maxVcpus, long maxMemoryMib,
                         Duration unaryTimeout, List<Path> volumeRoots, int warmPoolSize, long writableLayerMib) {
        /**
         * Where admin tenants (the containerd shim) may take volume sources from: the kubelet's and
         * containerd's directories. {@code <state_root>/volumes} is always allowed besides.
         */
        public static final List<Path> DEFAULT_VOLUME_ROOTS = List.of(Path.of("/var/lib/kubelet"),
                Path.of("/var/lib/containerd"), Path.of("/run/containerd"));
        public static final Daemon DEFAULTS = new Daemon(
                Path.of("/run/isola/isolad.sock"), Path.of("/run/isola"), Path.of("/var/lib/isola"),
                Path.of("/usr/share/isola/catalog.json"), Path.of("/usr/bin/qemu-system-x86_64"),
                1, 256, 8, 16384, Duration.ofSeconds(60), DEFAULT_VOLUME_ROOTS, 0, 10_240);

        public Daemon {
            Objects.requireNonNull(socket);
            Objects.requireNonNull(runRoot);
            Objects.requireNonNull(stateRoot);
            Objects.requireNonNull(catalog);
            Objects.requireNonNull(qemu);
            Objects.requireNonNull(unaryTimeout);
            volumeRoots = List.copyOf(volumeRoots);
        }

        public Daemon withSocket(Path p) {
            return new Daemon(p, runRoot, stateRoot, catalog, qemu, defaultVcpus, defaultMemoryMib, maxVcpus, maxMemoryMib, unaryTimeout, volumeRoots, warmPoolSize, writableLayerMib);
        }

        public Daemon withRunRoot(Path p) {
            return new Daemon(socket, p, stateRoot, catalog, qemu, defaultVcpus, defaultMemoryMib, maxVcpus, maxMemoryMib, unaryTimeout, volumeRoots, warmPoolSize, writableLayerMib);
        }

        public Daemon withStateRoot(Path p) {
            return new Daemon(socket, runRoot, p, catalog, qemu, defaultVcpus, defaultMemoryMib, maxVcpus, maxMemoryMib, unaryTimeout, volumeRoots, warmPoolSize, writableLayerMib);
        }

        public Daemon withCatalog(Path p) {
            return new Daemon(socket, runRoot, stateRoot, p, qemu, defaultVcpus, defaultMemoryMib, maxVcpus, maxMemoryMib, unaryTimeout, volumeRoots, warmPoolSize, writableLayerMib);
        }

        public Daemon withQemu(Path p) {
            return new Daemon(socket, runRoot, stateRoot, catalog, p, defaultVcpus, defaultMemoryMib, maxVcpus, maxMemoryMib, unaryTimeout, volumeRoots, warmPoolSize, writableLayerMib);
        }

        public Daemon withUnaryTimeout(Duration d) {
            return new Daemon(socket, runRoot, stateRoot, catalog, qemu, defaultVcpus, defaultMemoryMib, maxVcpus, maxMemoryMib, d, volumeRoots, warmPoolSize, writableLayerMib);
        }
    }

    /**
     * The optional [tls] table: a TCP listener that requires client certificates (mutual TLS).
     * Without it, no TCP listener exists at all.
     */
    public record Tls(String host, int port, Path cert, Path key, Path clientCa) {
        public Tls {
            Objects.requireNonNull(host);
            Objects.requireNonNull(cert);
            Objects.requireNonNull(key);
            Objects.requireNonNull(clientCa);
        }

        public Tls withListen(String h, int p) {
            return new Tls(h, p, cert, key, clientCa);
        }
    }

    /**
     * One [[tenants]] entry.
     *
     * @param uids          local peers (SO_PEERCRED uid), 0..4294967294
     * @param certSubjects  remote peers (client certificate subject), as written in the file
     */
    public record TenantSpec(String name, List<Long> uids, List<String> certSubjects, boolean admin, Quota quota) {
        public TenantSpec {
            Objects.requireNonNull(name);
            uids = List.copyOf(uids);
            certSubjects = List.copyOf(certSubjects);
            Objects.requireNonNull(quota);
        }
    }

    /** All defaults: no TLS listener, no configured tenants (uid 0 is the built-in admin "root"). */
    public static DaemonConfig defaults() {
        return new DaemonConfig(Daemon.DEFAULTS, Optional.empty(), List.of(), JailSettings.DEFAULTS, "(defaults)");
    }

    /**
     * Reads and validates {@code file}. A missing file gives {@link #defaults()} (with
     * {@link #source()} naming the file).
     *
     * @throws ConfigException naming the file and every bad key
     */
    public static DaemonConfig load(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return new DaemonConfig(Daemon.DEFAULTS, Optional.empty(), List.of(), JailSettings.DEFAULTS, file.toString());
        } catch (IOException e) {
            throw new ConfigException(file.toString(), "cannot read: " + e, e);
        }
        return parse(text, file.toString());
    }

    /** Parses and validates TOML text; {@code source} names it in error messages. */
    public static DaemonConfig parse(String toml, String source) {
        JsonNode root;
        try {
            root = new TomlMapper().readTree(toml);
        } catch (JacksonException e) {
            throw new ConfigException(source, "not valid TOML: " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " (line " + e.getLocation().getLineNr() + ")" : ""), e);
        } catch (IOException e) {
            throw new ConfigException(source, "cannot parse: " + e, e);
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            root = new TomlMapper().createObjectNode();
        }
        TomlReader r = new TomlReader();
        ObjectNode top = (ObjectNode) root;
        r.onlyKnown(top, "", Set.of("daemon", "tls", "tenants", "jail"));
        Daemon daemon = readDaemon(r, r.table(top, "", "daemon"));
        Optional<Tls> tls = readTls(r, r.table(top, "", "tls"));
        List<TenantSpec> tenants = readTenants(r, top);
        JailSettings jail = readJail(r, r.table(top, "", "jail"));
        if (!r.problems.isEmpty()) {
            throw new ConfigException(source, r.problems);
        }
        return new DaemonConfig(daemon, tls, tenants, jail, source);
    }

    public DaemonConfig withDaemon(Daemon d) {
        return new DaemonConfig(d, tls, tenants, jail, source);
    }

    public DaemonConfig withTls(Optional<Tls> t) {
        return new DaemonConfig(daemon, t, tenants, jail, source);
    }

    public DaemonConfig withTenants(List<TenantSpec> t) {
        List<String> problems = validateTenants(t);
        if (!problems.isEmpty()) {
            throw new ConfigException(source, problems);
        }
        return new DaemonConfig(daemon, tls, t, jail, source);
    }

    // ---------------------------------------------------------------------------------------------

    private static Daemon readDaemon(TomlReader r, ObjectNode t) {
        Daemon d = Daemon.DEFAULTS;
        if (t == null) {
            return d;
        }
        String p = "daemon";
        r.onlyKnown(t, p, orderedSet("socket", "run_root", "state_root", "catalog", "qemu", "default_vcpus",
                "default_memory_mib", "max_vcpus", "max_memory_mib", "unary_timeout_seconds", "volume_roots", "warm_pool_size",
                "writable_layer_mib"));
        Path socket = r.absolutePath(t, p, "socket", d.socket(), false);
        int socketBytes = socket.toString().getBytes(StandardCharsets.UTF_8).length;
        if (socketBytes > MAX_SOCKET_PATH_BYTES) {
            r.problem("daemon.socket is " + socketBytes + " bytes long; a Unix socket path must be at most "
                    + MAX_SOCKET_PATH_BYTES + " bytes");
        }
        Path runRoot = r.absolutePath(t, p, "run_root", d.runRoot(), false);
        Path stateRoot = r.absolutePath(t, p, "state_root", d.stateRoot(), false);
        Path catalog = r.absolutePath(t, p, "catalog", d.catalog(), false);
        Path qemu = r.absolutePath(t, p, "qemu", d.qemu(), false);
        int maxVcpus = (int) r.integer(t, p, "max_vcpus", d.maxVcpus(), 1, 1024);
        long maxMem = r.integer(t, p, "max_memory_mib", d.maxMemoryMib(), 16, 1L << 30);
        int defVcpus = (int) r.integer(t, p, "default_vcpus", d.defaultVcpus(), 1, 1024);
        long defMem = r.integer(t, p, "default_memory_mib", d.defaultMemoryMib(), 16, 1L << 30);
        if (defVcpus > maxVcpus) {
            r.problem("daemon.default_vcpus (" + defVcpus + ") must be <= daemon.max_vcpus (" + maxVcpus + ")");
        }
        if (defMem > maxMem) {
            r.problem("daemon.default_memory_mib (" + defMem + ") must be <= daemon.max_memory_mib (" + maxMem + ")");
        }
        double timeout = r.number(t, p, "unary_timeout_seconds", d.unaryTimeout().toMillis() / 1000.0, 0, 86400);
        List<Path> volumeRoots = d.volumeRoots();
        if (t.has("volume_roots")) {
            volumeRoots = new java.util.ArrayList<>();
            for (JsonNode root : r.array(t, p, "volume_roots", "[\"/srv/volumes\"]")) {
                if (!root.isTextual()) {
                    r.problem("daemon.volume_roots must list paths as strings");
                    continue;
                }
                Path path = r.absolutePath("daemon.volume_roots", root.textValue(), null);
                if (path != null && path.getNameCount() == 0) {
                    r.problem("daemon.volume_roots must not contain / (that would allow every host file)");
                } else if (path != null) {
                    volumeRoots.add(path);
                }
            }
        }
        int warmPool = (int) r.integer(t, p, "warm_pool_size", d.warmPoolSize(), 0, 64);
        long layerMib = r.integer(t, p, "writable_layer_mib", d.writableLayerMib(), 0, 1L << 30);
        return new Daemon(socket, runRoot, stateRoot, catalog, qemu, defVcpus, defMem, maxVcpus, maxMem,
                Duration.ofMillis(Math.max(1, Math.round(timeout * 1000))), volumeRoots, warmPool, layerMib);
    }

    /** The [jail] table: how each sandbox's QEMU is confined (see JailSettings). */
    private static JailSettings readJail(TomlReader r, ObjectNode t) {
        JailSettings d = JailSettings.DEFAULTS;
        if (t == null) {
            return d;
        }
        String p = "jail";
        r.onlyKnown(t, p, orderedSet("enabled", "jailer", "uid_base", "uid_count", "cgroup_parent",
                "memory_overhead_mib", "pids_max"));
        boolean enabled = r.bool(t, p, "enabled", d.enabled());
        Path jailer = r.absolutePath(t, p, "jailer", d.jailer(), false);
        long uidBase = r.integer(t, p, "uid_base", d.uidBase(), 1, MAX_UID);
        int uidCount = (int) r.integer(t, p, "uid_count", d.uidCount(), 1, 1 << 24);
        String parent = t.has("cgroup_parent") ? t.get("cgroup_parent").asText() : d.cgroupParent();
        int overhead = (int) r.integer(t, p, "memory_overhead_mib", d.memoryOverheadMib(), 32, 1 << 20);
        int pids = (int) r.integer(t, p, "pids_max", d.pidsMax(), 32, 1 << 22);
        try {
            return new JailSettings(enabled, jailer == null ? d.jailer() : jailer, uidBase, uidCount, parent, overhead, pids);
        } catch (IllegalArgumentException e) {
            r.problem(e.getMessage());
            return d;
        }
    }

    private static Optional<Tls> readTls(TomlReader r, ObjectNode t) {
        if (t == null) {
            return Optional.empty();
        }
        String p = "tls";
        r.onlyKnown(t, p, orderedSet("listen", "cert", "key", "client_ca"));
        String listen = r.requiredString(t, p, "listen");
        Path cert = r.absolutePath(t, p, "cert", null, true);
        Path key = r.absolutePath(t, p, "key", null, true);
        Path ca = r.absolutePath(t, p, "client_ca", null, true);
        HostPort hp = listen == null ? null : HostPort.parse(listen);
        if (listen != null && hp == null) {
            r.problem("tls.listen must be host:port, e.g. \"127.0.0.1:7443\" or \"[::1]:7443\" (got \""
                    + listen + "\")");
        }
        if (hp == null || cert == null || key == null || ca == null) {
            return Optional.empty();
        }
        return Optional.of(new Tls(hp.host(), hp.port(), cert, key, ca));
    }

    record HostPort(String host, int port) {
        static HostPort parse(String s) {
            String host;
            String port;
            if (s.startsWith("[")) {
                int close = s.indexOf(']');
                if (close < 0 || close + 1 >= s.length() || s.charAt(close + 1) != ':') {
                    return null;
                }
                host = s.substring(1, close);
                port = s.substring(close + 2);
            } else {
                int colon = s.lastIndexOf(':');
                if (colon <= 0 || s.indexOf(':') != colon) {
                    return null;
                }
                host = s.substring(0, colon);
                port = s.substring(colon + 1);
            }
            if (host.isEmpty() || !port.matches("[0-9]{1,5}")) {
                return null;
            }
            int n = Integer.parseInt(port);
            return n > 65535 ? null : new HostPort(host, n);
        }
    }

    private static List<TenantSpec> readTenants(TomlReader r, ObjectNode top) {
        ArrayNode arr = r.array(top, "", "tenants", "[[tenants]] tables");
        List<TenantSpec> out = new ArrayList<>();
        for (int i = 0; i < arr.size(); i++) {
            String p = "tenants[" + i + "]";
            JsonNode n = arr.get(i);
            if (!n.isObject()) {
                r.problem(p + " must be a table ([[tenants]])");
                continue;
            }
            ObjectNode t = (ObjectNode) n;
            r.onlyKnown(t, p, orderedSet("name", "uids", "cert_subjects", "admin", "quota"));
            String name = r.requiredString(t, p, "name");
            if (name != null && !TENANT_NAME.matcher(name).matches()) {
                r.problem(p + ".name must match [a-z0-9][a-z0-9_-]{0,31} (got \"" + name + "\")");
            }
            List<Long> uids = new ArrayList<>();
            ArrayNode ua = r.array(t, p, "uids", "[1000]");
            for (int j = 0; j < ua.size(); j++) {
                long uid = r.integer(p + ".uids[" + j + "]", ua.get(j), -1, 0, MAX_UID);
                if (uid >= 0) {
                    uids.add(uid);
                }
            }
            List<String> subjects = new ArrayList<>();
            ArrayNode sa = r.array(t, p, "cert_subjects", "[\"CN=alice,O=example\"]");
            for (int j = 0; j < sa.size(); j++) {
                JsonNode s = sa.get(j);
                if (!s.isTextual()) {
                    r.problem(p + ".cert_subjects[" + j + "] must be a string");
                } else {
                    subjects.add(s.textValue());
                }
            }
            boolean admin = r.bool(t, p, "admin", false);
            Quota quota = Quota.UNLIMITED;
            ObjectNode q = r.table(t, p, "quota");
            if (q != null) {
                String qp = p + ".quota";
                r.onlyKnown(q, qp, orderedSet("sandboxes", "vcpus", "memory_mib"));
                quota = new Quota(
                        (int) r.integer(q, qp, "sandboxes", 0, 0, Integer.MAX_VALUE),
                        (int) r.integer(q, qp, "vcpus", 0, 0, Integer.MAX_VALUE),
                        r.integer(q, qp, "memory_mib", 0, 0, Long.MAX_VALUE / 2));
            }
            if (name != null) {
                out.add(new TenantSpec(name, uids, subjects, admin, quota));
            }
        }
        if (out.size() == arr.size()) {
            r.problems.addAll(validateTenants(out));
        }
        return out;
    }

    /** Cross-tenant rules: unique names, no uid or subject mapped twice, "root" reserved for uid 0. */
    static List<String> validateTenants(List<TenantSpec> tenants) {
        List<String> problems = new ArrayList<>();
        Map<String, Integer> names = new HashMap<>();
        Map<Long, Integer> uids = new HashMap<>();
        Map<String, Integer> subjects = new HashMap<>();
        for (int i = 0; i < tenants.size(); i++) {
            TenantSpec t = tenants.get(i);
            String p = "tenants[" + i + "]";
            Integer prev = names.putIfAbsent(t.name(), i);
            if (prev != null) {
                problems.add(p + ".name \"" + t.name() + "\" is already used by tenants[" + prev + "]");
            }
            if (t.name().equals("root") && !t.uids().contains(0L)) {
                problems.add(p + ".name \"root\" is reserved for the built-in uid 0 tenant; "
                        + "list 0 in its uids or choose another name");
            }
            for (int j = 0; j < t.uids().size(); j++) {
                long uid = t.uids().get(j);
                prev = uids.putIfAbsent(uid, i);
                if (prev != null) {
                    problems.add(p + ".uids[" + j + "]: uid " + uid + " is already mapped to tenant \""
                            + tenants.get(prev).name() + "\" (tenants[" + prev + "])");
                }
            }
            for (int j = 0; j < t.certSubjects().size(); j++) {
                String s = t.certSubjects().get(j);
                String canonical = canonicalSubject(s);
                if (canonical == null) {
                    problems.add(p + ".cert_subjects[" + j + "] \"" + s + "\" is not a valid distinguished name "
                            + "(RFC 2253, e.g. \"CN=alice,O=example\")");
                    continue;
                }
                prev = subjects.putIfAbsent(canonical, i);
                if (prev != null) {
                    problems.add(p + ".cert_subjects[" + j + "]: subject \"" + s + "\" is already mapped to tenant \""
                            + tenants.get(prev).name() + "\" (tenants[" + prev + "])");
                }
            }
        }
        return problems;
    }

    /**
     * The canonical form of a distinguished name used to compare configured subjects with client
     * certificate subjects (case and whitespace insensitive, RFC 2253 ordering), or null if invalid.
     */
    public static String canonicalSubject(String dn) {
        try {
            return new X500Principal(dn).getName(X500Principal.CANONICAL);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static Set<String> orderedSet(String... keys) {
        return new LinkedHashSet<>(List.of(keys));
    }
}
