package io.isola.vmm.api;

import io.grpc.Status;

import java.util.ArrayList;
import java.util.List;

/**
 * Quota arithmetic for creating one more sandbox. Pure: the caller supplies the tenant's current
 * usage (and must hold whatever lock makes check-then-create atomic).
 */
public final class QuotaCheck {

    /** What a tenant currently holds (sandboxes that count against the quota). */
    public record Usage(int sandboxes, int vcpus, long memoryMib) {
        public static final Usage NONE = new Usage(0, 0, 0);
    }

    private QuotaCheck() {
    }

    /**
     * Checks one new sandbox with {@code vcpus} and {@code memoryMib} against the tenant's quota.
     *
     * @return {@link Status#OK}, or RESOURCE_EXHAUSTED naming every exceeded limit with its numbers, e.g.
     *         "quota exceeded for tenant alice: vcpus 15 in use + 2 requested > 16 allowed"
     */
    public static Status check(Tenant tenant, Usage usage, int vcpus, long memoryMib) {
        return check(tenant.name(), tenant.quota(), usage, vcpus, memoryMib);
    }

    public static Status check(String tenantName, Quota quota, Usage usage, int vcpus, long memoryMib) {
        List<String> exceeded = new ArrayList<>(3);
        over(exceeded, "sandboxes", quota.sandboxes(), usage.sandboxes(), 1);
        over(exceeded, "vcpus", quota.vcpus(), usage.vcpus(), vcpus);
        over(exceeded, "memory_mib", quota.memoryMib(), usage.memoryMib(), memoryMib);
        if (exceeded.isEmpty()) {
            return Status.OK;
        }
        return Status.RESOURCE_EXHAUSTED.withDescription(
                "quota exceeded for tenant " + tenantName + ": " + String.join(", ", exceeded));
    }

    private static void over(List<String> out, String what, long allowed, long inUse, long requested) {
        // 0 = unlimited; compare without overflow (inUse + requested may exceed Long.MAX_VALUE only in theory)
        if (allowed > 0 && (requested > allowed || inUse > allowed - requested)) {
            out.add(what + " " + inUse + " in use + " + requested + " requested > " + allowed + " allowed");
        }
    }
}
