#include "tls.hpp"

#include "../common/cli.hpp"

#include <cerrno>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace kam::bench {

namespace {

/// Maps SSL_get_error after a call that returned `r` <= 0.
tls_result outcome(SSL* ssl, int r) {
  tls_result out;
  int saved = errno;
  switch (SSL_get_error(ssl, r)) {
  case SSL_ERROR_WANT_READ:
  case SSL_ERROR_WANT_WRITE:
    out.status = tls_status::again;
    break;
  case SSL_ERROR_ZERO_RETURN:
    out.status = tls_status::closed;
    break;
  case SSL_ERROR_SYSCALL:
    // OpenSSL 3: a FIN without close_notify is SSL_R_UNEXPECTED_EOF_WHILE_READING
    // (an SSL_ERROR_SSL); a zero errno here is an EOF too.
    if (saved == 0) {
      out.status = tls_status::closed;
    } else {
      out.status = tls_status::failed;
      out.error = classify_errno(saved);
    }
    break;
  default:
    if (ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
      out.status = tls_status::closed;
    } else {
      out.status = tls_status::failed;
      out.error = error_kind::tls;
    }
    break;
  }
  ERR_clear_error();
  return out;
}

} // namespace

tls_client::tls_client(const load_options& opts) : host_(opts.host) {
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr)
    throw cli_error("--tls: cannot create an OpenSSL context");
  SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx_, TLS1_3_VERSION);
  // Writes may be partial and are retried from the pattern, whose pointer
  // stays the same; the flag only spares a check.
  SSL_CTX_set_mode(ctx_,
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_read_ahead(ctx_, 1);
  SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
  if (!opts.tls_ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx_, opts.tls_ca.c_str(), nullptr) != 1) {
      SSL_CTX_free(ctx_);
      ERR_clear_error();
      throw cli_error("--tls-ca=" + opts.tls_ca + ": not a readable PEM CA file");
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    verify_ = true;
  } else {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  }
}

tls_client::~tls_client() {
  SSL_CTX_free(ctx_);
}

ssl_st* tls_client::make(int fd) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr)
    return nullptr;
  if (SSL_set_fd(ssl, fd) != 1 ||
      (verify_ &&
       X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host_.c_str()) != 1)) {
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_connect_state(ssl);
  return ssl;
}

tls_result tls_handshake(ssl_st* ssl) {
  errno = 0;
  int r = SSL_do_handshake(ssl);
  if (r == 1)
    return {};
  auto out = outcome(ssl, r);
  if (out.status == tls_status::closed) { // the server hung up mid-handshake
    out.status = tls_status::failed;
    out.error = error_kind::tls;
  }
  return out;
}

tls_result tls_write(ssl_st* ssl, const char* data, size_t n) {
  errno = 0;
  size_t written = 0;
  if (SSL_write_ex(ssl, data, n, &written) == 1)
    return {tls_status::ok, written, error_kind::other};
  auto out = outcome(ssl, 0);
  if (out.status == tls_status::closed) {
    out.status = tls_status::failed;
    out.error = error_kind::reset;
  }
  return out;
}

tls_result tls_read(ssl_st* ssl, char* data, size_t n) {
  errno = 0;
  size_t got = 0;
  if (SSL_read_ex(ssl, data, n, &got) == 1)
    return {tls_status::ok, got, error_kind::other};
  return outcome(ssl, 0);
}

void tls_close(ssl_st* ssl) {
  if (ssl == nullptr)
    return;
  if (SSL_is_init_finished(ssl))
    SSL_shutdown(ssl); // queues close_notify; not waiting for the server's
  ERR_clear_error();
  SSL_free(ssl);
}

} // namespace kam::bench
