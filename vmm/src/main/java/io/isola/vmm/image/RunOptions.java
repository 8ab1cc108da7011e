package io.isola.vmm.image;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * What the user asked for on top of the image, docker-run style. Build with {@link #builder()}.
 *
 * @param args       command after "--": replaces the image's Cmd, keeps its Entrypoint (empty = use Cmd);
 *                   for {@link ProcessSpecBuilder#exec} it is the whole command line
 * @param entrypoint replaces the image's Entrypoint and drops its Cmd, like {@code docker run --entrypoint}
 *                   (null = keep the image's)
 * @param env        extra {@code KEY=VALUE}, overriding the image's value of the same key
 * @param cwd        working directory (null/empty = image WorkingDir, else "/"); must be absolute
 * @param user       {@code user[:group]}, names or numbers (null/empty = image User, else root)
 * @param hostname   container hostname (null = leave unset)
 * @param mounts     mounts added to the defaults, in guest terms; one at a default's destination replaces it
 * @param shmSizeBytes size of /dev/shm (0 = 64 MiB)
 * @param cpu        CPU shares and quota of the container's cgroup in the guest
 */
public record RunOptions(List<String> args, List<String> entrypoint, List<String> env, String cwd, String user,
                         boolean terminal, String hostname, OptionalLong memoryLimitBytes, OptionalLong pidsLimit,
                         List<Mount> mounts, long shmSizeBytes, CpuLimit cpu) {

    /**
     * CPU limits as OCI states them (linux.resources.cpu); 0 leaves a field unset.
     *
     * @param shares relative weight under contention (cgroup v1 scale, 2..262144)
     * @param quotaMicros CPU time per period
     * @param periodMicros the quota's period (0 = 100000)
     */
    public record CpuLimit(long shares, long quotaMicros, long periodMicros) {
        public static final CpuLimit NONE = new CpuLimit(0, 0, 0);
    }

    public RunOptions {
        args = List.copyOf(args);
        entrypoint = entrypoint == null ? null : List.copyOf(entrypoint);
        env = List.copyOf(env);
        mounts = List.copyOf(mounts);
        cpu = cpu == null ? CpuLimit.NONE : cpu;
    }

    /** These options with the container's resource limits (each empty or NONE: unchanged). */
    public RunOptions withResources(OptionalLong memoryBytes, OptionalLong pids, CpuLimit cpuLimit) {
        return new RunOptions(args, entrypoint, env, cwd, user, terminal, hostname,
                memoryBytes.isPresent() ? memoryBytes : memoryLimitBytes, pids.isPresent() ? pids : pidsLimit,
                mounts, shmSizeBytes, cpuLimit.equals(CpuLimit.NONE) ? cpu : cpuLimit);
    }

    /** These options with {@code extra} mounts added and /dev/shm sized. */
    public RunOptions withMounts(List<Mount> extra, long shmBytes) {
        List<Mount> all = new ArrayList<>(mounts);
        all.addAll(extra);
        return new RunOptions(args, entrypoint, env, cwd, user, terminal, hostname, memoryLimitBytes, pidsLimit, all,
                shmBytes > 0 ? shmBytes : shmSizeBytes, cpu);
    }

    /** An OCI mount as crun in the guest performs it; {@code source} is a guest path for binds. */
    public record Mount(String destination, String type, String source, List<String> options) {
        public Mount {
            options = List.copyOf(options);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private List<String> args = List.of();
        private List<String> entrypoint;
        private final List<String> env = new ArrayList<>();
        private String cwd;
        private String user;
        private boolean terminal;
        private String hostname;
        private OptionalLong memoryLimitBytes = OptionalLong.empty();
        private OptionalLong pidsLimit = OptionalLong.empty();
        private CpuLimit cpu = CpuLimit.NONE;
        private final List<Mount> mounts = new ArrayList<>();
        private long shmSizeBytes;

        public Builder args(List<String> v) {
            args = v;
            return this;
        }

        public Builder entrypoint(List<String> v) {
            entrypoint = v;
            return this;
        }

        /** Adds one {@code KEY=VALUE}; may be called repeatedly. */
        public Builder env(String keyValue) {
            env.add(keyValue);
            return this;
        }

        public Builder env(List<String> keyValues) {
            env.addAll(keyValues);
            return this;
        }

        public Builder cwd(String v) {
            cwd = v;
            return this;
        }

        public Builder user(String v) {
            user = v;
            return this;
        }

        public Builder terminal(boolean v) {
            terminal = v;
            return this;
        }

        public Builder hostname(String v) {
            hostname = v;
            return this;
        }

        public Builder memoryLimitBytes(long v) {
            memoryLimitBytes = OptionalLong.of(v);
            return this;
        }

        public Builder pidsLimit(long v) {
            pidsLimit = OptionalLong.of(v);
            return this;
        }

        public Builder mounts(List<Mount> v) {
            mounts.addAll(v);
            return this;
        }

        public Builder shmSizeBytes(long v) {
            shmSizeBytes = v;
            return this;
        }

        public Builder cpu(CpuLimit v) {
            cpu = v;
            return this;
        }

        public RunOptions build() {
            return new RunOptions(args, entrypoint, env, cwd, user, terminal, hostname, memoryLimitBytes, pidsLimit,
                    mounts, shmSizeBytes, cpu);
        }
    }
}
