#include "runtime/io/tls/context.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace kam::runtime::io::tls {

namespace {

/// OpenSSL's last error as text (and the queue cleared), or `fallback`.
std::string ssl_error(const char* fallback) {
  auto code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0)
    return fallback;
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  // "error:0A00018F:SSL routines::ee key too small" -> the reason part.
  std::string s{buf};
  auto pos = s.rfind(':');
  return pos == std::string::npos ? s : s.substr(pos + 1);
}

/// Whether `path` can be opened for reading; else sets `error`.
bool readable(const std::string& path, const char* what, std::string& error) {
  auto* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    error =
      std::string{"cannot read "} + what + " '" + path + "': " + std::strerror(errno);
    return false;
  }
  std::fclose(f);
  return true;
}

/// Whether the file holds at least one PEM block of the given kind.
bool has_pem(const std::string& path, bool key) {
  auto* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    return false;
  bool ok = false;
  if (key) {
    auto* k = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    ok = k != nullptr;
    EVP_PKEY_free(k);
  } else {
    auto* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
    ok = x != nullptr;
    X509_free(x);
  }
  std::fclose(f);
  ERR_clear_error();
  return ok;
}

/// ALPN: the first of our protocols that the client offers; none in common
/// (or none of ours): carry on without ALPN, as OpenSSL's NOACK does.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen,
                const unsigned char* in, unsigned int inlen, void* arg) {
  auto* opts = static_cast<const tls_options*>(arg);
  for (auto& ours : opts->alpn) {
    for (unsigned i = 0; i < inlen;) {
      unsigned len = in[i];
      if (i + 1 + len > inlen)
        break;
      if (len == ours.size() && std::memcmp(in + i + 1, ours.data(), len) == 0) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

} // namespace

void tls_context::ctx_deleter::operator()(ssl_ctx_st* p) const {
  SSL_CTX_free(p);
}

std::optional<tls_context> tls_context::make(const tls_options& opts,
                                             std::string& error) {
  if (opts.cert_file.empty() || opts.key_file.empty()) {
    error = "TLS needs both a certificate (--tls-cert) and a key (--tls-key)";
    return std::nullopt;
  }
  if (!readable(opts.cert_file, "TLS certificate", error) ||
      !readable(opts.key_file, "TLS key", error) ||
      (!opts.ca_file.empty() && !readable(opts.ca_file, "TLS CA file", error)))
    return std::nullopt;
  ERR_clear_error();
  std::shared_ptr<ssl_ctx_st> ctx{SSL_CTX_new(TLS_server_method()), ctx_deleter{}};
  if (!ctx) {
    error = "cannot create a TLS context: " + ssl_error("out of memory");
    return std::nullopt;
  }
  auto* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Resumption by session tickets only (stateless, TLS 1.2 and 1.3): no
  // server-side session store, which every handshake would add to and
  // periodically sweep under a lock (nginx's default `ssl_session_cache
  // none` does the same).
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
  // Idle connections give their 2 x 16 KiB record buffers back; writes may
  // be partial and retried from a moved buffer (our write queue moves).
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!has_pem(opts.cert_file, false) ||
      SSL_CTX_use_certificate_chain_file(c, opts.cert_file.c_str()) != 1) {
    error = "TLS certificate '" + opts.cert_file +
            "' is not a PEM certificate: " + ssl_error("no certificate found");
    return std::nullopt;
  }
  if (!has_pem(opts.key_file, true)) {
    error = "TLS key '" + opts.key_file + "' is not a PEM private key";
    return std::nullopt;
  }
  // A PEM key OpenSSL refuses to pair with the certificate (it checks at
  // load time, or check_private_key does) is a mismatch.
  if (SSL_CTX_use_PrivateKey_file(c, opts.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(c) != 1) {
    ERR_clear_error();
    error = "TLS key '" + opts.key_file + "' does not match the certificate '" +
            opts.cert_file + "'";
    return std::nullopt;
  }
  if (!opts.ca_file.empty()) {
    auto* names = SSL_load_client_CA_file(opts.ca_file.c_str());
    if (names == nullptr ||
        SSL_CTX_load_verify_locations(c, opts.ca_file.c_str(), nullptr) != 1) {
      if (names != nullptr)
        sk_X509_NAME_pop_free(names, X509_NAME_free);
      error = "TLS CA file '" + opts.ca_file +
              "' holds no PEM certificate: " + ssl_error("no certificate found");
      return std::nullopt;
    }
    SSL_CTX_set_client_CA_list(c, names);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  tls_context out;
  out.opts_ = std::make_shared<const tls_options>(opts);
  if (!out.opts_->alpn.empty())
    SSL_CTX_set_alpn_select_cb(c, select_alpn, const_cast<tls_options*>(out.opts_.get()));
  out.ctx_ = std::move(ctx);
  return out;
}

} // namespace kam::runtime::io::tls
