package io.isola.vmm.daemon;

import com.google.protobuf.ByteString;
import io.isola.proto.agent.v1.StdioStream;

/** Where a process's output goes as it arrives: its log file. */
interface OutputSink {
  void append(StdioStream stream, ByteString data);

  /** The process's output has ended (both streams at EOF). */
  void close();
}
