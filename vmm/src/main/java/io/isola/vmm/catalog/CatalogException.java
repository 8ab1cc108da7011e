package io.isola.vmm.catalog;

/** The catalog is missing, malformed, or does not have what was asked for. */
public final class CatalogException extends Exception {
  public CatalogException(String message) {
    super(message);
  }
}
