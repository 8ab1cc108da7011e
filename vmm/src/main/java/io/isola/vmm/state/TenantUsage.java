package io.isola.vmm.state;

/** Resources a tenant holds right now (sandboxes CREATING or RUNNING), for quota checks. */
public record TenantUsage(int sandboxes, long vcpus, long memoryMib) {
}
