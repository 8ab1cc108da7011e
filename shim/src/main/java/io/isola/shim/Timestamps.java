package io.isola.shim;

import com.google.protobuf.Timestamp;
import java.time.Instant;

/** Timestamps as containerd reads them: never 1970; Go's zero time means "not (yet)". */
final class Timestamps {
  /** Go's time.Time{} in seconds since the Unix epoch. */
  static final Timestamp GO_ZERO = Timestamp.newBuilder().setSeconds(-62135596800L).build();

  private Timestamps() {}

  static Timestamp now() {
    return of(Instant.now());
  }

  static Timestamp of(Instant at) {
    if (at == null) {
      return GO_ZERO;
    }
    return Timestamp.newBuilder().setSeconds(at.getEpochSecond()).setNanos(at.getNano()).build();
  }
}
