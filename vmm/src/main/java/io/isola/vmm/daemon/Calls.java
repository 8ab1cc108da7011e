package io.isola.vmm.daemon;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.isola.vmm.state.StateStoreException;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/** Runs a unary call body and turns every failure into a proper status. */
final class Calls {
  private static final Logger LOG = Logger.getLogger(Calls.class.getName());

  private Calls() {}

  static <T> void unary(StreamObserver<T> response, Supplier<T> body) {
    T result;
    try {
      result = body.get();
    } catch (StatusRuntimeException e) {
      response.onError(e);
      return;
    } catch (StateStoreException e) {
      LOG.log(Level.SEVERE, "state store failure", e);
      response.onError(Status.UNAVAILABLE.withDescription("isolad cannot write its state (" + e.getMessage()
          + "); check the disk under the state root").asRuntimeException());
      return;
    } catch (RuntimeException e) {
      LOG.log(Level.SEVERE, "internal error", e);
      response.onError(Status.INTERNAL.withDescription("internal error: " + e).asRuntimeException());
      return;
    }
    response.onNext(result);
    response.onCompleted();
  }
}
