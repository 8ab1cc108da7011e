package io.isola.vmm.api;

/**
 * Per-tenant resource limits. A value of 0 means "unlimited" for that dimension.
 *
 * @param sandboxes  maximum number of sandboxes the tenant may have at once
 * @param vcpus      maximum total vCPUs over all the tenant's sandboxes
 * @param memoryMib  maximum total guest memory (MiB) over all the tenant's sandboxes
 */
public record Quota(int sandboxes, int vcpus, long memoryMib) {

    /** No limit in any dimension. */
    public static final Quota UNLIMITED = new Quota(0, 0, 0);

    public Quota {
        if (sandboxes < 0 || vcpus < 0 || memoryMib < 0) {
            throw new IllegalArgumentException("quota values must be >= 0 (0 = unlimited)");
        }
    }

    public boolean unlimited() {
        return sandboxes == 0 && vcpus == 0 && memoryMib == 0;
    }
}
