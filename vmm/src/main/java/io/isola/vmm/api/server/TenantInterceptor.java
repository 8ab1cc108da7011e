package io.isola.vmm.api.server;

import io.grpc.Attributes;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.isola.vmm.api.Tenant;
import io.isola.vmm.api.Tenants;

import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.security.auth.x500.X500Principal;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Objects;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * Authenticates every call from its transport (never from metadata): the SO_PEERCRED uid recorded
 * by {@link PeerCredentialsNegotiator} on the Unix socket, or the verified client certificate of a
 * mutual-TLS connection. The caller's {@link Tenant} goes into the call's Context
 * ({@link Tenants#current()}); unknown peers get PERMISSION_DENIED saying how to map them.
 */
public final class TenantInterceptor implements ServerInterceptor {

    private static final Logger LOG = Logger.getLogger(TenantInterceptor.class.getName());

    private final TenantDirectory directory;

    public TenantInterceptor(TenantDirectory directory) {
        this.directory = Objects.requireNonNull(directory);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        Status refused;
        Attributes attrs = call.getAttributes();
        Long uid = attrs.get(PeerCredentialsNegotiator.PEER_UID);
        SSLSession ssl = attrs.get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
        if (uid != null) {
            Optional<Tenant> t = directory.byUid(uid);
            if (t.isPresent()) {
                return Contexts.interceptCall(Tenants.withTenant(t.get()), call, headers, next);
            }
            refused = Status.PERMISSION_DENIED.withDescription("uid " + uid + " is not mapped to a tenant; add it to "
                    + "[[tenants]] uids in " + directory.configSource());
        } else if (ssl != null) {
            X500Principal subject = clientSubject(ssl);
            if (subject == null) {
                refused = Status.UNAUTHENTICATED.withDescription("no verified client certificate");
            } else {
                Optional<Tenant> t = directory.bySubject(subject);
                if (t.isPresent()) {
                    return Contexts.interceptCall(Tenants.withTenant(t.get()), call, headers, next);
                }
                refused = Status.PERMISSION_DENIED.withDescription("client certificate subject \""
                        + subject.getName(X500Principal.RFC2253) + "\" is not mapped to a tenant; add it to "
                        + "[[tenants]] cert_subjects in " + directory.configSource());
            }
        } else {
            // A listener that records neither: a wiring bug. Fail closed.
            refused = Status.UNAUTHENTICATED.withDescription("the connection carries no peer identity");
        }
        LOG.fine(() -> "refused " + call.getMethodDescriptor().getFullMethodName() + ": " + refusedDescription(uid, ssl));
        call.close(refused, new Metadata());
        return new ServerCall.Listener<>() {
        };
    }

    private static String refusedDescription(Long uid, SSLSession ssl) {
        return uid != null ? "uid " + uid : ssl != null ? "TLS peer" : "unknown transport";
    }

    static X500Principal clientSubject(SSLSession ssl) {
        try {
            Certificate[] chain = ssl.getPeerCertificates();
            if (chain.length > 0 && chain[0] instanceof X509Certificate) {
                return ((X509Certificate) chain[0]).getSubjectX500Principal();
            }
        } catch (SSLPeerUnverifiedException e) {
            return null;
        }
        return null;
    }
}
