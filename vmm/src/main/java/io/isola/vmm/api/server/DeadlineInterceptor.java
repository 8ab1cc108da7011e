package io.isola.vmm.api.server;

import com.google.common.util.concurrent.MoreExecutors;
import io.grpc.Context;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A server-side time budget for every unary call. The call runs in a Context with a deadline
 * (visible to service code through {@code Context.current()}, propagated to outgoing gRPC calls,
 * cancelling the context when it passes); when it passes, the call is closed with
 * DEADLINE_EXCEEDED and anything the service sends afterwards is dropped. A shorter client
 * deadline still wins. Streaming calls and the methods in the exempt set (long waits by design,
 * e.g. {@code isola.v1.Containers/Wait}) have no server budget.
 */
public final class DeadlineInterceptor implements ServerInterceptor {

    /** Unary methods that legitimately block for as long as the client wants. */
    public static final Set<String> DEFAULT_EXEMPT = Set.of("isola.v1.Containers/Wait");

    private final ScheduledExecutorService scheduler;
    private final Duration unaryBudget;
    private final Map<String, Duration> perMethod;
    private final Set<String> exempt;

    /**
     * @param perMethod budgets by full method name ("isola.v1.Sandboxes/CreateSandbox") overriding {@code unaryBudget}
     * @param exempt    full method names without a server budget
     */
    public DeadlineInterceptor(ScheduledExecutorService scheduler, Duration unaryBudget,
                               Map<String, Duration> perMethod, Set<String> exempt) {
        this.scheduler = Objects.requireNonNull(scheduler);
        this.unaryBudget = Objects.requireNonNull(unaryBudget);
        this.perMethod = Map.copyOf(perMethod);
        this.exempt = Set.copyOf(exempt);
    }

    public DeadlineInterceptor(ScheduledExecutorService scheduler, Duration unaryBudget) {
        this(scheduler, unaryBudget, Map.of(), DEFAULT_EXEMPT);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        if (call.getMethodDescriptor().getType() != MethodDescriptor.MethodType.UNARY || exempt.contains(method)) {
            return next.startCall(call, headers);
        }
        Duration budget = perMethod.getOrDefault(method, unaryBudget);
        Context.CancellableContext ctx = Context.current().withDeadlineAfter(budget.toNanos(), TimeUnit.NANOSECONDS, scheduler);
        GuardedCall<Q, R> guarded = new GuardedCall<>(call);
        ctx.addListener(c -> {
            if (c.cancellationCause() instanceof TimeoutException) {
                guarded.closeIfOpen(Status.DEADLINE_EXCEEDED.withDescription(
                        "server time budget for " + method + " exceeded (" + budget.toMillis() + " ms)"));
            }
        }, MoreExecutors.directExecutor());
        ServerCall.Listener<Q> delegate;
        Context previous = ctx.attach();
        try {
            delegate = next.startCall(guarded, headers);
        } catch (RuntimeException e) {
            ctx.cancel(e);
            throw e;
        } finally {
            ctx.detach(previous);
        }
        return new ContextListener<>(delegate, ctx);
    }

    /** Serializes the service's use of the call with the deadline's close; drops output after close. */
    static final class GuardedCall<Q, R> extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
        private boolean closed;

        GuardedCall(ServerCall<Q, R> delegate) {
            super(delegate);
        }

        synchronized void closeIfOpen(Status status) {
            if (!closed) {
                closed = true;
                super.close(status, new Metadata());
            }
        }

        @Override
        public synchronized void close(Status status, Metadata trailers) {
            if (!closed) {
                closed = true;
                super.close(status, trailers);
            }
        }

        @Override
        public synchronized void sendHeaders(Metadata headers) {
            if (!closed) {
                super.sendHeaders(headers);
            }
        }

        @Override
        public synchronized void sendMessage(R message) {
            if (!closed) {
                super.sendMessage(message);
            }
        }

        @Override
        public synchronized void request(int numMessages) {
            if (!closed) {
                super.request(numMessages);
            }
        }
    }

    /** Runs every callback inside the deadline context; releases the timer when the call ends. */
    static final class ContextListener<Q> extends ServerCall.Listener<Q> {
        private final ServerCall.Listener<Q> delegate;
        private final Context.CancellableContext ctx;

        ContextListener(ServerCall.Listener<Q> delegate, Context.CancellableContext ctx) {
            this.delegate = delegate;
            this.ctx = ctx;
        }

        @Override
        public void onMessage(Q message) {
            Context previous = ctx.attach();
            try {
                delegate.onMessage(message);
            } finally {
                ctx.detach(previous);
            }
        }

        @Override
        public void onHalfClose() {
            Context previous = ctx.attach();
            try {
                delegate.onHalfClose();
            } finally {
                ctx.detach(previous);
            }
        }

        @Override
        public void onReady() {
            Context previous = ctx.attach();
            try {
                delegate.onReady();
            } finally {
                ctx.detach(previous);
            }
        }

        @Override
        public void onCancel() {
            Context previous = ctx.attach();
            try {
                delegate.onCancel();
            } finally {
                ctx.detach(previous);
                ctx.cancel(null);
            }
        }

        @Override
        public void onComplete() {
            Context previous = ctx.attach();
            try {
                delegate.onComplete();
            } finally {
                ctx.detach(previous);
                ctx.cancel(null);
            }
        }
    }
}
