package io.isola.vmm.image;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Builds the OCI runtime-spec {@code process} object, the same way for the container's first process
 * ({@link #run}) and for {@code exec} ({@link #exec}); they differ only in how args are chosen.
 * Defaults follow docker: its capability set, its NOFILE limits, PATH when the image has none.
 */
public final class ProcessSpecBuilder {
    static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    public static final String DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /** Docker's default capability set (moby oci/caps/defaults.go). */
    public static final List<String> DEFAULT_CAPABILITIES = List.of(
            "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
            "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
            "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE");

    /**
     * Docker's current default (moby 25+): a select()-safe soft limit, and a hard limit programs may raise
     * it to. crun needs CAP_SYS_RESOURCE to set a hard limit above its own; as root in the guest it has it.
     */
    public static final long NOFILE_SOFT = 1024;
    public static final long NOFILE_HARD = 524288;

    private ProcessSpecBuilder() {
    }

    /** The container's main process: Entrypoint + (user args, else image Cmd), docker-run style. */
    public static ObjectNode run(ImageConfig image, RunOptions run, Path rootfs) throws IOException {
        List<String> args = new ArrayList<>(run.entrypoint() != null ? run.entrypoint() : image.entrypoint());
        if (!run.args().isEmpty()) {
            args.addAll(run.args());
        } else if (run.entrypoint() == null) {
            // docker run --entrypoint drops the image's Cmd, which was written for the old entrypoint.
            args.addAll(image.cmd());
        }
        if (args.isEmpty()) {
            throw new ImageException("no command: the image has no Entrypoint/Cmd, give one after --");
        }
        return build(args, image, run, rootfs);
    }

    /** An exec'd process: exactly {@code run.args()}, with the image's env, cwd and user as defaults. */
    public static ObjectNode exec(ImageConfig image, RunOptions run, Path rootfs) throws IOException {
        if (run.args().isEmpty()) {
            throw new ImageException("no command: give the command to exec");
        }
        return build(run.args(), image, run, rootfs);
    }

    private static ObjectNode build(List<String> args, ImageConfig image, RunOptions run, Path rootfs)
            throws IOException {
        String userSpec = run.user() != null && !run.user().isEmpty() ? run.user() : image.user();
        UserResolver.User user = UserResolver.resolve(userSpec, rootfs);
        String cwd = run.cwd() != null && !run.cwd().isEmpty() ? run.cwd()
                : !image.workingDir().isEmpty() ? image.workingDir() : "/";
        if (!cwd.startsWith("/")) {
            throw new ImageException("working directory " + Digest.printable(cwd) + " must be an absolute path");
        }

        ObjectNode p = NODES.objectNode();
        p.put("terminal", run.terminal());
        ObjectNode u = p.putObject("user");
        u.put("uid", user.uid());
        u.put("gid", user.gid());
        if (!user.additionalGids().isEmpty()) {
            ArrayNode g = u.putArray("additionalGids");
            user.additionalGids().forEach(g::add);
        }
        strings(p.putArray("args"), args);
        strings(p.putArray("env"), env(image, run));
        p.put("cwd", cwd);
        ObjectNode caps = p.putObject("capabilities");
        strings(caps.putArray("bounding"), DEFAULT_CAPABILITIES);
        if (user.uid() == 0) {
            // Like docker: a non-root process would lose effective/permitted at execve anyway.
            strings(caps.putArray("effective"), DEFAULT_CAPABILITIES);
            strings(caps.putArray("permitted"), DEFAULT_CAPABILITIES);
        }
        ObjectNode nofile = p.putArray("rlimits").addObject();
        nofile.put("type", "RLIMIT_NOFILE");
        nofile.put("hard", NOFILE_HARD);
        nofile.put("soft", NOFILE_SOFT);
        // docker's default (setuid binaries such as su/ping keep working); the VM is the isolation boundary.
        p.put("noNewPrivileges", false);
        return p;
    }

    /** Image Env, then defaults for what is missing, then the user's KEY=VALUE overriding by key. */
    static List<String> env(ImageConfig image, RunOptions run) throws ImageException {
        Map<String, String> env = new LinkedHashMap<>();
        for (String kv : image.env()) {
            env.put(key(kv), kv);
        }
        env.putIfAbsent("PATH", DEFAULT_PATH);
        if (run.terminal()) {
            env.putIfAbsent("TERM", "TERM=xterm");
        }
        for (String kv : run.env()) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                // Docker's bare "KEY" copies the caller's environment; a daemon must not leak its own.
                throw new ImageException("invalid environment variable " + Digest.printable(kv) + ": want KEY=VALUE");
            }
            env.put(key(kv), kv);
        }
        return new ArrayList<>(env.values());
    }

    private static String key(String kv) {
        int eq = kv.indexOf('=');
        return eq < 0 ? kv : kv.substring(0, eq);
    }

    private static void strings(ArrayNode a, List<String> values) {
        values.forEach(a::add);
    }
}
