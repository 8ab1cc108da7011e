package io.isola.vmm.daemon;

import io.isola.proto.v1.ProcessSpec;
import io.isola.vmm.image.RunOptions;

/** Checks a ProcessSpec from the API and turns it into RunOptions. */
final class ProcessSpecs {
  private static final int MAX_ARGS = 1024;
  private static final int MAX_ENV = 1024;
  private static final int MAX_ITEM = 32 * 1024;
  private static final int MAX_TOTAL = 1 << 20;

  private ProcessSpecs() {}

  static RunOptions toRunOptions(ProcessSpec spec) {
    if (spec.getArgsCount() > MAX_ARGS) {
      throw Failures.invalid("at most " + MAX_ARGS + " arguments, got " + spec.getArgsCount());
    }
    if (spec.getEnvCount() > MAX_ENV) {
      throw Failures.invalid("at most " + MAX_ENV + " environment variables, got " + spec.getEnvCount());
    }
    long total = 0;
    for (String s : spec.getArgsList()) {
      total += check(s, "argument");
    }
    for (String kv : spec.getEnvList()) {
      total += check(kv, "environment variable");
      if (kv.indexOf('=') <= 0) {
        throw Failures.invalid("environment variables are KEY=VALUE, got one without a key or '='");
      }
    }
    if (total > MAX_TOTAL) {
      throw Failures.invalid("arguments and environment exceed " + MAX_TOTAL + " bytes in total");
    }
    if (!spec.getCwd().isEmpty() && !spec.getCwd().startsWith("/")) {
      throw Failures.invalid("cwd must be an absolute path");
    }
    return RunOptions.builder().args(spec.getArgsList()).env(spec.getEnvList())
        .cwd(spec.getCwd()).user(spec.getUser()).terminal(spec.getTty()).build();
  }

  private static int check(String s, String what) {
    if (s.length() > MAX_ITEM) {
      throw Failures.invalid("an " + what + " is longer than " + MAX_ITEM + " characters");
    }
    if (s.indexOf('\0') >= 0) {
      throw Failures.invalid("an " + what + " contains a NUL character");
    }
    return s.length();
  }

  /** The container's guest cgroup limits from the API; zero fields leave a limit unset. */
  static RunOptions withResources(RunOptions options, io.isola.proto.v1.Resources r) {
    if (r.getCpuQuotaUs() > 0 && r.getCpuQuotaUs() < 1000) {
      throw Failures.invalid("resources.cpu_quota_us must be at least 1000 (or 0 for none), got " + r.getCpuQuotaUs());
    }
    if (r.getCpuShares() > 262_144) {
      throw Failures.invalid("resources.cpu_shares must be at most 262144, got " + r.getCpuShares());
    }
    if (r.getMemoryLimitBytes() > 0 && r.getMemoryLimitBytes() < (4L << 20)) {
      throw Failures.invalid("resources.memory_limit_bytes must be at least 4 MiB (or 0 for none), got "
          + r.getMemoryLimitBytes());
    }
    return options.withResources(
        r.getMemoryLimitBytes() > 0 ? java.util.OptionalLong.of(r.getMemoryLimitBytes()) : java.util.OptionalLong.empty(),
        r.getPidsLimit() > 0 ? java.util.OptionalLong.of(r.getPidsLimit()) : java.util.OptionalLong.empty(),
        new RunOptions.CpuLimit(r.getCpuShares(), r.getCpuQuotaUs(), r.getCpuPeriodUs()));
  }
}
