package io.isola.vmm.api;

import java.util.Objects;

/**
 * The authenticated caller of an API call. Every call handled by {@link ApiServer} carries one,
 * available to service code through {@link Tenants#current()}.
 *
 * @param name   tenant name ([a-z0-9][a-z0-9_-]{0,31})
 * @param admin  an admin tenant sees every tenant's objects
 * @param quota  resource limits (see {@link QuotaCheck})
 */
public record Tenant(String name, boolean admin, Quota quota) {

    /** The built-in identity of uid 0 when no configured tenant maps uid 0. */
    public static final Tenant ROOT = new Tenant("root", true, Quota.UNLIMITED);

    public Tenant {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(quota, "quota");
    }

    /** True if this tenant may see an object owned by {@code owner}. */
    public boolean canSee(String owner) {
        return admin || name.equals(owner);
    }
}
