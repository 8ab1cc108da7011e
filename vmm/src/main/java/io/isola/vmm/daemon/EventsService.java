package io.isola.vmm.daemon;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.isola.proto.v1.Event;
import io.isola.proto.v1.EventsGrpc;
import io.isola.proto.v1.SubscribeRequest;
import io.isola.vmm.api.Tenant;
import io.isola.vmm.api.Tenants;

/** Streams lifecycle events, each subscriber seeing only its own tenant's. */
final class EventsService extends EventsGrpc.EventsImplBase {
  private final EventBus bus;

  EventsService(EventBus bus) {
    this.bus = bus;
  }

  @Override
  public void subscribe(SubscribeRequest request, StreamObserver<Event> response) {
    Tenant tenant = Tenants.current();
    bus.subscribe(tenant.name(), tenant.admin(), (ServerCallStreamObserver<Event>) response);
  }
}
