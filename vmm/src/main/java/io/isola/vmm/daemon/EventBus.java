package io.isola.vmm.daemon;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.isola.proto.v1.Event;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;

/**
 * Lifecycle events to subscribers, each seeing only its own tenant's events (admins see all).
 * A subscriber that stops reading is cut off rather than buffered without bound.
 */
final class EventBus {
  /** Events queued for a subscriber whose transport is not ready before it is dropped. */
  private static final int MAX_BACKLOG = 1000;

  private final Set<Subscriber> subscribers = new CopyOnWriteArraySet<>();

  private static final class Subscriber {
    final String tenant;
    final boolean admin;
    final ServerCallStreamObserver<Event> stream;
    int backlog;

    Subscriber(String tenant, boolean admin, ServerCallStreamObserver<Event> stream) {
      this.tenant = tenant;
      this.admin = admin;
      this.stream = stream;
    }
  }

  void subscribe(String tenant, boolean admin, ServerCallStreamObserver<Event> stream) {
    Subscriber subscriber = new Subscriber(tenant, admin, stream);
    stream.setOnCancelHandler(() -> subscribers.remove(subscriber));
    subscribers.add(subscriber);
  }

  void publish(String tenant, Event event) {
    for (Subscriber s : subscribers) {
      if (!s.admin && !s.tenant.equals(tenant)) {
        continue;
      }
      synchronized (s) {
        if (s.stream.isCancelled()) {
          subscribers.remove(s);
          continue;
        }
        s.backlog = s.stream.isReady() ? 0 : s.backlog + 1;
        if (s.backlog > MAX_BACKLOG) {
          subscribers.remove(s);
          s.stream.onError(Status.RESOURCE_EXHAUSTED
              .withDescription("event subscriber fell more than " + MAX_BACKLOG + " events behind; subscribe again")
              .asRuntimeException());
          continue;
        }
        s.stream.onNext(event);
      }
    }
  }

  /** Ends every subscription (daemon shutdown). */
  void closeAll() {
    for (Subscriber s : subscribers) {
      synchronized (s) {
        try {
          s.stream.onCompleted();
        } catch (RuntimeException ignored) {
          // already cancelled
        }
      }
    }
    subscribers.clear();
  }
}
