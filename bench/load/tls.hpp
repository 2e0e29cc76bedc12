#pragma once
// kam-load --tls: the client side of TLS 1.3 over the workers' non-blocking
// sockets (OpenSSL's socket BIO on the slot's fd). OpenSSL stays in tls.cpp.

#include "options.hpp"
#include "stats.hpp"

#include <cstddef>
#include <string>

struct ssl_ctx_st; // OpenSSL's SSL_CTX
struct ssl_st;     // OpenSSL's SSL

namespace kam::bench {

/// What one non-blocking TLS call did.
enum class tls_status {
  ok,     ///< done (handshake complete) or `n` bytes moved
  again,  ///< would block: retry on the next readiness edge
  closed, ///< the server's close_notify or a plain EOF
  failed, ///< a TLS or socket error, classified in `error`
};

struct tls_result {
  tls_status status = tls_status::ok;
  size_t n = 0;
  error_kind error = error_kind::other;
};

/// One client context: TLS 1.3 only, OpenSSL's default ciphers and groups,
/// read-ahead on (one read() takes many records). With --tls-ca the server's
/// chain must lead to that CA and its certificate must name --host (an IP
/// SAN); without it nothing is verified. No session reuse: every connection
/// is a full handshake.
///
/// Thread rule: make one per worker thread (each worker's sessions come from
/// its own context, so no OpenSSL context is shared between threads).
class tls_client {
public:
  /// Throws cli_error naming the CA file if it cannot be loaded.
  explicit tls_client(const load_options& opts);
  ~tls_client();
  tls_client(const tls_client&) = delete;
  tls_client& operator=(const tls_client&) = delete;

  /// A client session on the connected (or connecting) non-blocking `fd`;
  /// nullptr if OpenSSL could not make one. Free it with tls_close().
  ssl_st* make(int fd) const;

private:
  ssl_ctx_st* ctx_ = nullptr;
  std::string host_;
  bool verify_ = false;
};

/// Advances the handshake.
tls_result tls_handshake(ssl_st* ssl);

/// Encrypts and sends up to `n` bytes (one or more records); n > 0. After
/// `again`, call again with the same `data` and at least the same `n`.
tls_result tls_write(ssl_st* ssl, const char* data, size_t n);

/// Reads up to `n` decrypted bytes.
tls_result tls_read(ssl_st* ssl, char* data, size_t n);

/// Sends close_notify if it can without blocking, then frees the session
/// (the caller closes the fd).
void tls_close(ssl_st* ssl);

} // namespace kam::bench
