package io.isola.vmm.api.server;

import io.isola.vmm.api.Tenant;
import io.isola.vmm.api.config.DaemonConfig;

import javax.security.auth.x500.X500Principal;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Maps authenticated peers (local uid, remote certificate subject) to tenants.
 *
 * <p>Rule for uid 0: if no configured tenant lists uid 0, uid 0 is the built-in admin tenant
 * {@link Tenant#ROOT} with no quota (root can do anything on this host anyway; refusing it would
 * only break the CLI). A config that maps uid 0 to a tenant replaces that default.
 */
public final class TenantDirectory {

    private final Map<Long, Tenant> byUid = new HashMap<>();
    private final Map<String, Tenant> bySubject = new HashMap<>();
    private final String configSource;

    private TenantDirectory(String configSource) {
        this.configSource = configSource;
    }

    public static TenantDirectory from(DaemonConfig config) {
        TenantDirectory d = new TenantDirectory(config.source());
        for (DaemonConfig.TenantSpec s : config.tenants()) {
            Tenant t = new Tenant(s.name(), s.admin(), s.quota());
            for (long uid : s.uids()) {
                d.byUid.put(uid, t);
            }
            for (String subject : s.certSubjects()) {
                String canonical = DaemonConfig.canonicalSubject(subject);
                if (canonical != null) {
                    d.bySubject.put(canonical, t);
                }
            }
        }
        d.byUid.putIfAbsent(0L, Tenant.ROOT);
        return d;
    }

    /** The tenant of a local peer; {@code uid} is the unsigned 32-bit uid. */
    public Optional<Tenant> byUid(long uid) {
        return Optional.ofNullable(byUid.get(uid));
    }

    public Optional<Tenant> bySubject(X500Principal subject) {
        return Optional.ofNullable(bySubject.get(subject.getName(X500Principal.CANONICAL)));
    }

    /** Where the mapping is configured, for "what to do" messages. */
    public String configSource() {
        return configSource.startsWith("(") ? DaemonConfig.DEFAULT_FILE : configSource;
    }
}
