package io.isola.vmm.volume;

/** A volume that cannot be given to a container; the message says what to change. */
public final class VolumeException extends Exception {
  public VolumeException(String message) {
    super(message);
  }
}
