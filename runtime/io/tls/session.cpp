#include "runtime/io/tls/session.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace kam::runtime::io::tls {

namespace {

constexpr size_t chunk = 16 * 1024; // one TLS record's plaintext at most

BIO* as_bio(void* p) {
  return static_cast<BIO*>(p);
}

std::string reason_of_last_error() {
  auto code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0)
    return "protocol error";
  const char* r = ERR_reason_error_string(code);
  return r != nullptr ? r : "protocol error";
}

} // namespace

session::session(const tls_context& ctx)
  : ssl_(SSL_new(ctx.native()), [](ssl_st* p) { SSL_free(p); }) {
  if (!ssl_) {
    phase_ = phase::failed;
    error_ = "cannot create a TLS session";
    return;
  }
  auto* r = BIO_new(BIO_s_mem());
  auto* w = BIO_new(BIO_s_mem());
  // A memory BIO that runs dry says "retry", not EOF.
  BIO_set_mem_eof_return(r, -1);
  SSL_set_bio(ssl_.get(), r, w); // the SSL owns both BIOs now
  rbio_ = r;
  wbio_ = w;
  SSL_set_accept_state(ssl_.get());
}

session::~session() = default;

session::phase session::on_read(const char* data, size_t n, bytes& plain, bytes& out) {
  if (phase_ == phase::failed || phase_ == phase::closed || phase_ == phase::peer_closed)
    return phase_; // nothing more is read after close_notify or an error
  if (n > 0)
    BIO_write(as_bio(rbio_), data, static_cast<int>(n));
  advance(plain, out);
  return phase_;
}

void session::advance(bytes& plain, bytes& out) {
  if (phase_ == phase::handshaking) {
    auto r = SSL_do_handshake(ssl_.get());
    if (r != 1) {
      auto e = SSL_get_error(ssl_.get(), r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        drain_output(out);
        return;
      }
      fail(out);
      return;
    }
    phase_ = phase::open;
    if (!early_.empty()) {
      bytes pending;
      pending.swap(early_);
      write(std::string_view{pending.data(), pending.size()}, out);
    }
  }
  // Application data (and post-handshake messages such as TLS 1.3 tickets).
  while (phase_ == phase::open) {
    auto old = plain.size();
    plain.resize(old + chunk);
    size_t got = 0;
    auto r = SSL_read_ex(ssl_.get(), plain.data() + old, chunk, &got);
    plain.resize(old + (r == 1 ? got : 0));
    if (r == 1)
      continue;
    auto e = SSL_get_error(ssl_.get(), 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      ERR_clear_error();
      phase_ = phase::peer_closed;
      break;
    }
    fail(out);
    return;
  }
  drain_output(out);
}

void session::write(std::string_view data, bytes& out) {
  if (data.empty())
    return;
  if (phase_ == phase::handshaking) {
    early_.insert(early_.end(), data.begin(), data.end());
    return;
  }
  if (phase_ != phase::open && phase_ != phase::peer_closed)
    return;
  // With SSL_MODE_ENABLE_PARTIAL_WRITE a call may stop after one record;
  // a memory BIO never refuses, so loop until all is encrypted.
  while (!data.empty()) {
    size_t done = 0;
    if (SSL_write_ex(ssl_.get(), data.data(), data.size(), &done) != 1) {
      fail(out);
      return;
    }
    data.remove_prefix(done);
  }
  drain_output(out);
}

void session::shutdown(bytes& out) {
  if (phase_ == phase::failed || phase_ == phase::closed)
    return;
  if (phase_ == phase::handshaking) {
    phase_ = phase::closed; // nothing was said yet: just close
    return;
  }
  SSL_shutdown(ssl_.get()); // queues our close_notify; we don't wait for theirs
  ERR_clear_error();
  phase_ = phase::closed;
  drain_output(out);
}

void session::fail(bytes& out) {
  phase_ = phase::failed;
  error_ = reason_of_last_error();
  drain_output(out); // an alert, if OpenSSL made one
}

void session::drain_output(bytes& out) {
  auto pending = BIO_ctrl_pending(as_bio(wbio_));
  if (pending == 0)
    return;
  auto old = out.size();
  out.resize(old + pending);
  auto got = BIO_read(as_bio(wbio_), out.data() + old, static_cast<int>(pending));
  out.resize(old + (got > 0 ? static_cast<size_t>(got) : 0));
}

std::string session::alpn() const {
  if (!ssl_)
    return {};
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_.get(), &p, &len);
  return std::string(reinterpret_cast<const char*>(p), len);
}

std::string session::version() const {
  return ssl_ ? SSL_get_version(ssl_.get()) : "";
}

} // namespace kam::runtime::io::tls
