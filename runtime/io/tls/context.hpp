#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

struct ssl_ctx_st; // OpenSSL's SSL_CTX

namespace kam::runtime::io::tls {

/// What a TLS listener needs (kam-serve --tls-cert, --tls-key, --tls-ca).
struct tls_options {
  std::string cert_file; ///< PEM: the server certificate, then its chain.
  std::string key_file;  ///< PEM: the private key of cert_file.
  /// PEM CA bundle; set: every client must present a certificate it signed.
  std::string ca_file;
  /// ALPN protocols this listener speaks, in preference order (e.g.
  /// "http/1.1"); empty: negotiate none and ignore a client's offer.
  std::vector<std::string> alpn;
};

/// A server-side OpenSSL context: TLS 1.2 and 1.3 only (1.3 preferred, as
/// OpenSSL negotiates the highest both offer), OpenSSL's default secure
/// ciphers, no renegotiation, buffers released while a connection is idle.
///
/// Thread rule: immutable once made; connections on every I/O thread make
/// their SSL objects from it (OpenSSL's SSL_new is thread safe on a shared
/// SSL_CTX).
class tls_context {
public:
  /// Loads and checks the files; on failure returns nullopt and sets `error`
  /// to one line naming the file at fault (the key file for a key that does
  /// not match the certificate).
  static std::optional<tls_context> make(const tls_options& opts, std::string& error);

  /// OpenSSL's handle, for SSL_new or Asio's ssl::context.
  ssl_ctx_st* native() const { return ctx_.get(); }

  const tls_options& options() const { return *opts_; }

private:
  struct ctx_deleter {
    void operator()(ssl_ctx_st* p) const;
  };

  tls_context() = default;

  std::shared_ptr<ssl_ctx_st> ctx_;
  std::shared_ptr<const tls_options> opts_;
};

} // namespace kam::runtime::io::tls
