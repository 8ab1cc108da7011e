package io.isola.vmm.api;

import io.isola.vmm.api.config.DaemonConfig;

import java.nio.file.Path;

final class TestConfigs {
    private TestConfigs() {
    }

    /** Parses {@code toml} and points the socket and roots into {@code dir}. */
    static DaemonConfig inDir(Path dir, String toml) {
        DaemonConfig c = DaemonConfig.parse(toml, dir.resolve("config.toml").toString());
        return c.withDaemon(c.daemon().withSocket(dir.resolve("run/isolad.sock"))
                .withRunRoot(dir.resolve("run")).withStateRoot(dir.resolve("state")));
    }
}
