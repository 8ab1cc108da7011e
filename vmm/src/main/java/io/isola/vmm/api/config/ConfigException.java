package io.isola.vmm.api.config;

import java.util.List;

/** The daemon configuration is unreadable or invalid. The message names every offending key. */
public final class ConfigException extends RuntimeException {

    private final List<String> problems;

    public ConfigException(String source, List<String> problems) {
        super(source + ": " + String.join("; ", problems));
        this.problems = List.copyOf(problems);
    }

    public ConfigException(String source, String problem, Throwable cause) {
        super(source + ": " + problem, cause);
        this.problems = List.of(problem);
    }

    /** One entry per problem, each starting with the key it is about (e.g. "tenants[1].quota.vcpus must be >= 0"). */
    public List<String> problems() {
        return problems;
    }
}
