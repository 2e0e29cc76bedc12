#pragma once
// kam-load --mode=chat: N clients of a chat server, each sending lines.

#include "options.hpp"

namespace kam::bench {

/// Connects `opts.connections` clients to a line chat server (every line to
/// every other client), waits until each hears the others, then for
/// `opts.duration` seconds (after `opts.warmup`) has every client send lines
/// of `opts.payload` bytes, at most `opts.pipeline` of its own lines not yet
/// received by every other client. Verifies per-sender order at every
/// receiver; prints one JSON summary (delivered lines/s, p50/p99 delivery
/// latency). One thread, poll(). Returns the exit code (1 on an order error,
/// a lost connection or nothing delivered).
int run_chat(const load_options& opts);

} // namespace kam::bench
