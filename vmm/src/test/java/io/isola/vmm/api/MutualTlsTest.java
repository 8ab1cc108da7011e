package io.isola.vmm.api;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.isola.proto.v1.GetHostInfoRequest;
import io.isola.proto.v1.HostGrpc;
import io.isola.proto.v1.HostInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The mutual-TLS TCP listener with real certificates made in the test. */
class MutualTlsTest {

    @TempDir
    static Path dir;

    static TestPki.Issued ca;
    static TestPki.Issued alice;
    static TestPki.Issued bob;
    static TestPki.Issued mallory;
    static ApiServer server;
    static InetSocketAddress addr;

    @BeforeAll
    static void startServer() throws Exception {
        ca = TestPki.ca(dir, "ca", "CN=isola test CA");
        TestPki.Issued serverCert = TestPki.server(dir, "server", ca);
        alice = TestPki.client(dir, "alice", "CN=alice,O=example", ca);
        bob = TestPki.client(dir, "bob", "CN=bob,O=example", ca);
        TestPki.Issued otherCa = TestPki.ca(dir, "other-ca", "CN=isola test CA");
        // Same subject as alice, but issued by a CA the server does not trust.
        mallory = TestPki.client(dir, "mallory", "CN=alice,O=example", otherCa);
        String toml = """
                [tls]
                listen = "127.0.0.1:0"
                cert = "%s"
                key = "%s"
                client_ca = "%s"

                [[tenants]]
                name = "alice"
                cert_subjects = ["cn=alice, o=example"]
                """.formatted(serverCert.certPem(), serverCert.keyPem(), ca.certPem());
        server = ApiServer.start(TestConfigs.inDir(dir, toml), List.of(new TestServices.Host()));
        addr = server.tlsAddress().orElseThrow();
        assertTrue(addr.getPort() > 0);
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    private static HostInfo call(ManagedChannel ch) throws InterruptedException {
        try {
            return HostGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .getHostInfo(GetHostInfoRequest.getDefaultInstance());
        } finally {
            ch.shutdownNow();
            ch.awaitTermination(2, TimeUnit.SECONDS);
        }
    }

    @Test
    void clientCertificateOfAliceIsTenantAlice() throws Exception {
        ManagedChannel ch = ApiClients.tls("localhost", addr.getPort(), alice.certPem(), alice.keyPem(), ca.certPem());
        assertEquals("alice", call(ch).getTenant());
    }

    @Test
    void unmappedSubjectFromTheTrustedCaIsPermissionDenied() {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(
                ApiClients.tls("localhost", addr.getPort(), bob.certPem(), bob.keyPem(), ca.certPem())));
        assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
        assertEquals("client certificate subject \"CN=bob,O=example\" is not mapped to a tenant; add it to "
                + "[[tenants]] cert_subjects in " + dir.resolve("config.toml"), e.getStatus().getDescription());
    }

    @Test
    void certificateFromAnUnknownCaFailsTheHandshake() {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(
                ApiClients.tls("localhost", addr.getPort(), mallory.certPem(), mallory.keyPem(), ca.certPem())));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
    }

    @Test
    void clientWithoutCertificateFails() throws Exception {
        ManagedChannel ch = NettyChannelBuilder.forAddress("localhost", addr.getPort())
                .sslContext(GrpcSslContexts.forClient().trustManager(ca.certPem().toFile()).build()).build();
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(ch));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
    }

    @Test
    void plaintextClientToTheTlsPortFails() {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", addr.getPort()).usePlaintext().build();
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(ch));
        assertTrue(Set.of(Status.Code.UNAVAILABLE, Status.Code.INTERNAL, Status.Code.UNKNOWN)
                .contains(e.getStatus().getCode()), e.toString());
    }

    @Test
    void noTlsSectionMeansNoTcpListener(@TempDir Path other) throws Exception {
        try (ApiServer s = ApiServer.start(TestConfigs.inDir(other, ""), List.of(new TestServices.Host()))) {
            assertTrue(s.tlsAddress().isEmpty());
        }
        assertTrue(Files.exists(ca.certPem()));
    }
}
