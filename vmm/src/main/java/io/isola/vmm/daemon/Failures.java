package io.isola.vmm.daemon;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.isola.ttrpc.StatusCode;
import io.isola.ttrpc.TtrpcException;

/** gRPC statuses for what goes wrong, with messages that say what to do. */
final class Failures {
  private Failures() {}

  static StatusRuntimeException notFound(String kind, String id) {
    return Status.NOT_FOUND.withDescription(kind + " " + id + " not found").asRuntimeException();
  }

  static StatusRuntimeException invalid(String message) {
    return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
  }

  static StatusRuntimeException precondition(String message) {
    return Status.FAILED_PRECONDITION.withDescription(message).asRuntimeException();
  }

  static StatusRuntimeException internal(String message, Throwable cause) {
    return Status.INTERNAL.withDescription(message).withCause(cause).asRuntimeException();
  }

  /** An agent error, as the API's caller should see it. */
  static StatusRuntimeException fromAgent(String what, TtrpcException e) {
    Status status = switch (e.code()) {
      case NOT_FOUND -> Status.NOT_FOUND;
      case INVALID_ARGUMENT -> Status.INVALID_ARGUMENT;
      case PERMISSION_DENIED -> Status.PERMISSION_DENIED;
      case FAILED_PRECONDITION -> Status.FAILED_PRECONDITION;
      case ALREADY_EXISTS -> Status.ALREADY_EXISTS;
      case RESOURCE_EXHAUSTED -> Status.RESOURCE_EXHAUSTED;
      case DEADLINE_EXCEEDED -> Status.DEADLINE_EXCEEDED;
      case UNAVAILABLE, CANCELLED -> Status.UNAVAILABLE;
      default -> Status.INTERNAL;
    };
    return status.withDescription(what + ": " + e.detail()).asRuntimeException();
  }

  static boolean isGone(TtrpcException e) {
    return e.code() == StatusCode.UNAVAILABLE || e.code() == StatusCode.CANCELLED;
  }
}
