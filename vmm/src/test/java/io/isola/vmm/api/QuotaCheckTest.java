package io.isola.vmm.api;

import io.grpc.Status;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QuotaCheckTest {

    static final Tenant ALICE = new Tenant("alice", false, new Quota(10, 16, 8192));

    @Test
    void withinQuotaIsOk() {
        assertTrue(QuotaCheck.check(ALICE, new QuotaCheck.Usage(9, 14, 4096), 2, 4096).isOk());
        assertTrue(QuotaCheck.check(ALICE, QuotaCheck.Usage.NONE, 16, 8192).isOk(), "exactly at the limit is allowed");
    }

    @Test
    void vcpusExceeded() {
        Status s = QuotaCheck.check(ALICE, new QuotaCheck.Usage(3, 15, 1024), 2, 256);
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, s.getCode());
        assertEquals("quota exceeded for tenant alice: vcpus 15 in use + 2 requested > 16 allowed", s.getDescription());
    }

    @Test
    void everyExceededLimitIsNamed() {
        Status s = QuotaCheck.check(ALICE, new QuotaCheck.Usage(10, 16, 8000), 1, 512);
        assertEquals("quota exceeded for tenant alice: sandboxes 10 in use + 1 requested > 10 allowed, "
                + "vcpus 16 in use + 1 requested > 16 allowed, memory_mib 8000 in use + 512 requested > 8192 allowed",
                s.getDescription());
    }

    @Test
    void zeroMeansUnlimited() {
        Tenant t = new Tenant("bob", false, new Quota(0, 4, 0));
        assertTrue(QuotaCheck.check(t, new QuotaCheck.Usage(1000, 0, Long.MAX_VALUE - 10), 4, 5).isOk());
        assertTrue(QuotaCheck.check(Tenant.ROOT, new QuotaCheck.Usage(1 << 20, 1 << 20, 1L << 40), 64, 1 << 20).isOk());
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, QuotaCheck.check(t, QuotaCheck.Usage.NONE, 5, 1).getCode());
    }

    @Test
    void hugeRequestDoesNotOverflow() {
        Status s = QuotaCheck.check(ALICE, new QuotaCheck.Usage(0, 0, 100), 1, Long.MAX_VALUE);
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, s.getCode());
        assertTrue(s.getDescription().contains("memory_mib 100 in use + " + Long.MAX_VALUE + " requested > 8192 allowed"));
    }

    @Test
    void negativeQuotaIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> new Quota(0, -1, 0));
    }
}
