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
}
