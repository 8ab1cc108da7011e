package io.isola.ttrpc;

/** The google.rpc.Code numbers that ttrpc statuses carry. */
public enum StatusCode {
  OK(0), CANCELLED(1), UNKNOWN(2), INVALID_ARGUMENT(3), DEADLINE_EXCEEDED(4), NOT_FOUND(5),
  ALREADY_EXISTS(6), PERMISSION_DENIED(7), RESOURCE_EXHAUSTED(8), FAILED_PRECONDITION(9),
  ABORTED(10), OUT_OF_RANGE(11), UNIMPLEMENTED(12), INTERNAL(13), UNAVAILABLE(14),
  DATA_LOSS(15), UNAUTHENTICATED(16);

  private final int value;

  StatusCode(int value) {
    this.value = value;
  }

  public int value() {
    return value;
  }

  /** Maps a wire value; anything a peer invents that we do not know becomes UNKNOWN. */
  public static StatusCode of(int value) {
    for (StatusCode code : values()) {
      if (code.value == value) {
        return code;
      }
    }
    return UNKNOWN;
  }
}
