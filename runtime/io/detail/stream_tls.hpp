#pragma once

#include <chrono>
#include <memory>

#include "runtime/io/tls/session.hpp"
#include "runtime/stats.hpp"

namespace kam::runtime::io::detail {

class stream;
template <class Stream>
class basic_handshake_pacer;
using handshake_pacer = basic_handshake_pacer<stream>; // handshake_pacer.hpp

/// What a TLS stream holds beyond a plain one: the session (OpenSSL over
/// in-memory I/O, runtime/io/tls/session.hpp) and where failures are counted.
/// Owned by its stream; I/O thread only.
struct tls_layer {
  tls_layer(const tls::tls_context& ctx, std::chrono::milliseconds timeout,
            std::shared_ptr<server_stats> st, handshake_pacer* pacer = nullptr)
    : session(ctx), handshake_timeout(timeout), stats(std::move(st)), pacer(pacer) {}

  tls::session session;
  std::chrono::milliseconds handshake_timeout;
  std::shared_ptr<server_stats> stats;
  /// The I/O thread's, if any: start() has it begin the handshake (read the
  /// ClientHello) in its turn, not at once (handshake_pacer.hpp). It
  /// outlives the stream's start(), the only place it is used.
  handshake_pacer* pacer;
  /// After a PROXY header that was a proxy's health check (v2 LOCAL, v1
  /// UNKNOWN), until the first TLS byte: a close now is the check ending,
  /// not a failed handshake (not counted).
  bool health_check = false;
  /// Output held back for the rest of the turn in which the handshake
  /// completed, when the client's first request came with its Finished: the
  /// session tickets, then what the handler writes in that turn, leave in one
  /// write with close_notify (connection per request) or when the turn ends
  /// (stream_tls.cpp).
  bytes held;
  bool holding = false;
};

} // namespace kam::runtime::io::detail
