package io.isola.vmm.api;

import io.grpc.Context;
import io.grpc.stub.StreamObserver;
import io.isola.proto.v1.ContainersGrpc;
import io.isola.proto.v1.Event;
import io.isola.proto.v1.EventsGrpc;
import io.isola.proto.v1.GetHostInfoRequest;
import io.isola.proto.v1.HostGrpc;
import io.isola.proto.v1.HostInfo;
import io.isola.proto.v1.ProcessRef;
import io.isola.proto.v1.SubscribeRequest;
import io.isola.proto.v1.WaitResponse;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/** Trivial services for API-layer tests. */
final class TestServices {

    private TestServices() {
    }

    /** Host: answers with the caller's tenant; if {@code slowMillis > 0}, first waits that long (or until cancelled). */
    static final class Host extends HostGrpc.HostImplBase {
        volatile long slowMillis;
        final AtomicBoolean sawCancellation = new AtomicBoolean();
        final CountDownLatch finished = new CountDownLatch(1);

        @Override
        public void getHostInfo(GetHostInfoRequest request, StreamObserver<HostInfo> response) {
            try {
                if (slowMillis > 0) {
                    CountDownLatch cancelled = new CountDownLatch(1);
                    Context.current().addListener(c -> cancelled.countDown(), Runnable::run);
                    if (cancelled.await(slowMillis, TimeUnit.MILLISECONDS)) {
                        sawCancellation.set(true);
                    }
                }
                Tenant t = Tenants.current();
                response.onNext(HostInfo.newBuilder().setTenant(t.name()).setVersion(t.admin() ? "admin" : "user").build());
                response.onCompleted();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                response.onError(e);
            } finally {
                finished.countDown();
            }
        }
    }

    /** Events: one event after {@code delayMillis}, then completes (a streaming call). */
    static final class Events extends EventsGrpc.EventsImplBase {
        final long delayMillis;

        Events(long delayMillis) {
            this.delayMillis = delayMillis;
        }

        @Override
        public void subscribe(SubscribeRequest request, StreamObserver<Event> response) {
            try {
                Thread.sleep(delayMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            response.onNext(Event.newBuilder().setSandboxId(Tenants.current().name()).build());
            response.onCompleted();
        }
    }

    /** Containers.Wait (a unary call exempt from the server budget): answers after {@code delayMillis}. */
    static final class Waits extends ContainersGrpc.ContainersImplBase {
        final long delayMillis;

        Waits(long delayMillis) {
            this.delayMillis = delayMillis;
        }

        @Override
        public void wait(ProcessRef request, StreamObserver<WaitResponse> response) {
            try {
                Thread.sleep(delayMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            response.onNext(WaitResponse.newBuilder().setExitStatus(7).build());
            response.onCompleted();
        }
    }
}
