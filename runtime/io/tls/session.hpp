#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/bytes.hpp"
#include "runtime/io/tls/context.hpp"

struct ssl_st; // OpenSSL's SSL

namespace kam::runtime::io::tls {

/// One server-side TLS connection over in-memory I/O: ciphertext in and out
/// as byte buffers, plaintext in and out as byte buffers. It owns no socket, so
/// it sits under the stream like a codec: what the socket reads goes to
/// on_read(), what it returns in `out` goes to the socket's write queue (so
/// the write watermarks count the bytes the kernel must take, and
/// backpressure works as on plain TCP). No I/O, no actors, no exceptions.
///
/// Thread rule: one owner (the connection's I/O thread).
class session {
public:
  enum class phase : uint8_t {
    handshaking, ///< Until the handshake completes; application writes wait.
    open,        ///< Application data flows both ways.
    peer_closed, ///< The client's close_notify arrived (TLS's FIN); we may still write.
    closed,      ///< We sent close_notify (shutdown()).
    failed,      ///< A handshake or record error; see error(). Send `out`, then close.
  };

  explicit session(const tls_context& ctx);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Feeds `n` bytes read from the socket: appends decrypted application
  /// bytes to `plain` and bytes for the socket (handshake records, alerts,
  /// and application data that waited for the handshake) to `out`. Returns
  /// the phase after it.
  phase on_read(const char* data, size_t n, bytes& plain, bytes& out);

  /// Encrypts `data` into `out` (as records); before the handshake completes
  /// the bytes wait inside and leave with the handshake's last flight.
  /// Ignored once failed or closed.
  void write(std::string_view data, bytes& out);

  /// Sends close_notify into `out` (once); writes after it are ignored.
  void shutdown(bytes& out);

  phase state() const { return phase_; }

  /// Why it failed, e.g. "wrong version number", "http request".
  const std::string& error() const { return error_; }

  /// The ALPN protocol agreed on, or empty.
  std::string alpn() const;

  /// The negotiated version, e.g. "TLSv1.3" (once open).
  std::string version() const;

private:
  void advance(bytes& plain);
  void fail();
  void keep_unread();

  friend struct bio_access; // the BIO's callbacks (session.cpp)

  std::unique_ptr<ssl_st, void (*)(ssl_st*)> ssl_;
  // The BIO under the SSL (session.cpp, "one BIO, no copies"): OpenSSL reads
  // the ciphertext straight from [in_, in_ + in_left_) and appends what it
  // writes to *out_; both are set only during a call into OpenSSL.
  const char* in_ = nullptr;
  size_t in_left_ = 0;
  bytes* out_ = nullptr;
  bytes unread_; // ciphertext OpenSSL had not taken when a call returned
  phase phase_ = phase::handshaking;
  std::string error_;
  bytes early_; // application bytes written before the handshake completed
};

} // namespace kam::runtime::io::tls
