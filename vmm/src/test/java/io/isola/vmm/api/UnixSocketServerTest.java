package io.isola.vmm.api;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.isola.proto.v1.ContainersGrpc;
import io.isola.proto.v1.Event;
import io.isola.proto.v1.EventsGrpc;
import io.isola.proto.v1.GetHostInfoRequest;
import io.isola.proto.v1.HostGrpc;
import io.isola.proto.v1.HostInfo;
import io.isola.proto.v1.ProcessRef;
import io.isola.proto.v1.SubscribeRequest;
import io.isola.vmm.api.config.DaemonConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The Unix-socket listener with real sockets: SO_PEERCRED identity, refusal, stale sockets, server deadlines. */
class UnixSocketServerTest {

    @TempDir
    Path dir;

    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private ApiServer start(String toml, io.grpc.BindableService... services) throws IOException {
        ApiServer s = ApiServer.start(TestConfigs.inDir(dir, toml), List.of(services));
        closeables.add(s);
        return s;
    }

    private ManagedChannel client(ApiServer s) {
        ManagedChannel ch = ApiClients.unix(s.unixSocket());
        closeables.add(() -> {
            ch.shutdownNow();
            ch.awaitTermination(2, TimeUnit.SECONDS);
        });
        return ch;
    }

    private static HostInfo hostInfo(ManagedChannel ch) {
        return HostGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
                .getHostInfo(GetHostInfoRequest.getDefaultInstance());
    }

    @Test
    void rootWithoutConfigIsTheBuiltInAdminTenant() throws Exception {
        assumeTrue(isRoot(), "tests must run as root");
        ApiServer s = start("", new TestServices.Host());
        HostInfo info = hostInfo(client(s));
        assertEquals("root", info.getTenant());
        assertEquals("admin", info.getVersion());
    }

    @Test
    void socketIsWorldConnectableInA0755Directory() throws Exception {
        ApiServer s = start("", new TestServices.Host());
        assertEquals("rw-rw-rw-", PosixFilePermissions.toString(Files.getPosixFilePermissions(s.unixSocket())));
        assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(s.unixSocket().getParent())));
    }

    @Test
    void configMappingUid0ReplacesTheBuiltInRoot() throws Exception {
        assumeTrue(isRoot(), "tests must run as root");
        ApiServer s = start("""
                [[tenants]]
                name = "alice"
                uids = [0]
                """, new TestServices.Host());
        HostInfo info = hostInfo(client(s));
        assertEquals("alice", info.getTenant());
        assertEquals("user", info.getVersion());
    }

    /** Decision: the built-in root applies whenever no tenant lists uid 0, even if other tenants exist. */
    @Test
    void configNotMappingUid0KeepsTheBuiltInRoot() throws Exception {
        assumeTrue(isRoot(), "tests must run as root");
        ApiServer s = start("""
                [[tenants]]
                name = "alice"
                uids = [1000]
                """, new TestServices.Host());
        assertEquals("root", hostInfo(client(s)).getTenant());
    }

    @Test
    void unmappedUidIsRefusedAndMappedUidIsAccepted() throws Exception {
        assumeTrue(isRoot(), "needs root to run a client as another uid");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path cp = copyClasspathForOtherUsers();
        ApiServer s = start("""
                [[tenants]]
                name = "alice"
                uids = [65533]
                """, new TestServices.Host());
        String out = runAs(65534, cp, s.unixSocket());
        assertEquals("ERR PERMISSION_DENIED uid 65534 is not mapped to a tenant; add it to [[tenants]] uids in "
                + dir.resolve("config.toml"), out);
        s.close();

        ApiServer s2 = start("""
                [[tenants]]
                name = "nobody-tenant"
                uids = [65534]
                """, new TestServices.Host());
        assertEquals("OK nobody-tenant", runAs(65534, cp, s2.unixSocket()));
    }

    @Test
    void staleSocketIsReplacedButALiveOneIsNot() throws Exception {
        Path sock = dir.resolve("run/isolad.sock");
        Files.createDirectories(sock.getParent());
        // A bound-then-closed socket leaves a file nobody listens on.
        try (ServerSocketChannel old = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            old.bind(UnixDomainSocketAddress.of(sock));
        }
        assertTrue(Files.exists(sock));
        ApiServer s = start("", new TestServices.Host());
        assumeTrue(isRoot());
        assertEquals("root", hostInfo(client(s)).getTenant());

        IOException e = assertThrows(IOException.class,
                () -> ApiServer.start(TestConfigs.inDir(dir, ""), List.of(new TestServices.Host())));
        assertTrue(e.getMessage().contains("already listening"), e.getMessage());
        // The running server is untouched.
        assertEquals("root", hostInfo(client(s)).getTenant());
    }

    @Test
    void aRegularFileAtTheSocketPathIsNeverRemoved() throws Exception {
        Path sock = dir.resolve("run/isolad.sock");
        Files.createDirectories(sock.getParent());
        Files.writeString(sock, "precious");
        IOException e = assertThrows(IOException.class,
                () -> ApiServer.start(TestConfigs.inDir(dir, ""), List.of(new TestServices.Host())));
        assertTrue(e.getMessage().contains("not a socket"), e.getMessage());
        assertEquals("precious", Files.readString(sock));
    }

    @Test
    void closeRemovesTheSocketAndStopsServing() throws Exception {
        ApiServer s = start("", new TestServices.Host());
        s.close();
        assertFalse(Files.exists(s.unixSocket()), "socket file left behind");
    }

    @Test
    void slowUnaryCallIsCancelledByTheServerBudget() throws Exception {
        TestServices.Host host = new TestServices.Host();
        host.slowMillis = 20_000;
        ApiServer s = start("[daemon]\nunary_timeout_seconds = 0.3\n", host);
        long t0 = System.nanoTime();
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> hostInfo(client(s)));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("server time budget for isola.v1.Host/GetHostInfo"),
                e.getStatus().getDescription());
        assertTrue(ms >= 250 && ms < 5_000, "took " + ms + " ms");
        assertTrue(host.finished.await(5, TimeUnit.SECONDS));
        assertTrue(host.sawCancellation.get(), "service context was not cancelled");
    }

    @Test
    void fastUnaryCallIsNotCancelled() throws Exception {
        TestServices.Host host = new TestServices.Host();
        host.slowMillis = 100;
        ApiServer s = start("[daemon]\nunary_timeout_seconds = 2\n", host);
        assertEquals("root", hostInfo(client(s)).getTenant());
        assertFalse(host.sawCancellation.get());
    }

    @Test
    void streamingCallsAndWaitAreExemptFromTheBudget() throws Exception {
        ApiServer s = start("[daemon]\nunary_timeout_seconds = 0.2\n",
                new TestServices.Host(), new TestServices.Events(700), new TestServices.Waits(700));
        ManagedChannel ch = client(s);
        Iterator<Event> events = EventsGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
                .subscribe(SubscribeRequest.getDefaultInstance());
        assertTrue(events.hasNext());
        assertFalse(events.next().getSandboxId().isEmpty());
        assertFalse(events.hasNext());
        assertEquals(7, ContainersGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
                .wait(ProcessRef.newBuilder().setContainerId("c1").build()).getExitStatus());
    }

    // ---------------------------------------------------------------------------------------------

    private static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    /** The test classpath, copied where uid 65534 can read it (~/.m2 of root is not readable). */
    private Path copyClasspathForOtherUsers() throws IOException {
        Path cpDir = dir.resolve("cp");
        Files.createDirectories(cpDir);
        List<String> entries = new ArrayList<>();
        int i = 0;
        for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path src = Path.of(e);
            if (!Files.exists(src)) {
                continue;
            }
            Path dst = cpDir.resolve((i++) + "-" + src.getFileName());
            if (Files.isDirectory(src)) {
                try (Stream<Path> tree = Files.walk(src)) {
                    for (Path p : (Iterable<Path>) tree::iterator) {
                        Path q = dst.resolve(src.relativize(p).toString());
                        if (Files.isDirectory(p)) {
                            Files.createDirectories(q);
                        } else {
                            Files.copy(p, q);
                        }
                    }
                }
            } else {
                Files.copy(src, dst);
            }
            entries.add(dst.toString());
        }
        try (Stream<Path> tree = Files.walk(cpDir)) {
            for (Path p : (Iterable<Path>) tree::iterator) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
        Path list = dir.resolve("cp.txt");
        Files.writeString(list, String.join(java.io.File.pathSeparator, entries));
        return list;
    }

    private String runAs(int uid, Path classpathFile, Path socket) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path tmp = dir.resolve("tmp-" + uid);
        Files.createDirectories(tmp);
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxrwxrwx"));
        Process p = new ProcessBuilder("/usr/bin/setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups",
                java, "-Djava.io.tmpdir=" + tmp, "-cp", Files.readString(classpathFile),
                PeerProbe.class.getName(), socket.toString())
                .redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "probe did not finish");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        String last = out.lines().reduce((a, b) -> b).orElse("");
        assertTrue(last.startsWith("OK ") || last.startsWith("ERR "), "probe output: " + out);
        return last;
    }
}
