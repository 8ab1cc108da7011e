package io.isola.vmm.state;

/** The view of the store inside {@link StateStore#transaction}: valid only during the callback. */
public interface Tx extends StateAccess {
}
