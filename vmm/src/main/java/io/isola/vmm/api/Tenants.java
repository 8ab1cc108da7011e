package io.isola.vmm.api;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

import java.util.Objects;
import java.util.Optional;

/**
 * Access to the tenant of the current gRPC call. The tenant is put into the {@link Context} by the
 * authentication interceptor that {@link ApiServer} installs in front of every service, so service
 * code (and anything it calls on the same thread or with {@code Context.current().wrap(...)}) can
 * simply call {@link #current()}.
 */
public final class Tenants {

    static final Context.Key<Tenant> KEY = Context.key("isola-tenant");

    private Tenants() {
    }

    /**
     * The tenant of the current call.
     *
     * @throws io.grpc.StatusRuntimeException INTERNAL if called outside an authenticated call
     *         (a wiring bug: the service was not served through {@link ApiServer} or {@link #fixed})
     */
    public static Tenant current() {
        Tenant t = KEY.get();
        if (t == null) {
            throw Status.INTERNAL.withDescription("no authenticated tenant in this call context")
                    .asRuntimeException();
        }
        return t;
    }

    /** The tenant of the current call, if any. */
    public static Optional<Tenant> find() {
        return Optional.ofNullable(KEY.get());
    }

    /** A context derived from the current one carrying {@code tenant}. */
    public static Context withTenant(Tenant tenant) {
        return Context.current().withValue(KEY, Objects.requireNonNull(tenant));
    }

    /**
     * An interceptor that authenticates every call as {@code tenant}. For in-process tests of
     * service code only; never install it on a real listener.
     */
    public static ServerInterceptor fixed(Tenant tenant) {
        Objects.requireNonNull(tenant);
        return new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                               ServerCallHandler<Q, R> next) {
                return Contexts.interceptCall(withTenant(tenant), call, headers, next);
            }
        };
    }
}
