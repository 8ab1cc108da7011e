package io.isola.vmm.api.server;

import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Mutual-TLS contexts for the API: TLS 1.2 and 1.3 only, client certificate required. */
public final class TlsContexts {

    /** The only protocol versions offered or accepted. */
    public static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

    private TlsContexts() {
    }

    /**
     * @param cert      server certificate chain (PEM)
     * @param key       server private key (PKCS#8 PEM)
     * @param clientCa  CA certificate(s) (PEM) that client certificates must chain to
     */
    public static SslContext server(Path cert, Path key, Path clientCa) throws IOException {
        readable("tls.cert", cert);
        readable("tls.key", key);
        readable("tls.client_ca", clientCa);
        try {
            return GrpcSslContexts.forServer(cert.toFile(), key.toFile())
                    .trustManager(clientCa.toFile())
                    .clientAuth(ClientAuth.REQUIRE)
                    .protocols(PROTOCOLS)
                    .build();
        } catch (IllegalArgumentException | javax.net.ssl.SSLException e) {
            throw new IOException("cannot set up TLS from tls.cert " + cert + ", tls.key " + key + " (PKCS#8 PEM), "
                    + "tls.client_ca " + clientCa + ": " + e.getMessage(), e);
        }
    }

    /** A client context presenting {@code certChain}/{@code key} and trusting only {@code ca}. */
    public static SslContext client(Path certChain, Path key, Path ca) throws IOException {
        readable("client certificate", certChain);
        readable("client key", key);
        readable("CA certificate", ca);
        try {
            return GrpcSslContexts.forClient()
                    .keyManager(certChain.toFile(), key.toFile())
                    .trustManager(ca.toFile())
                    .protocols(PROTOCOLS)
                    .build();
        } catch (IllegalArgumentException | javax.net.ssl.SSLException e) {
            throw new IOException("cannot set up TLS client from " + certChain + ", " + key + ", " + ca + ": "
                    + e.getMessage(), e);
        }
    }

    private static void readable(String what, Path p) throws IOException {
        if (!Files.isReadable(p)) {
            throw new IOException(what + " " + p + " is missing or not readable");
        }
    }
}
