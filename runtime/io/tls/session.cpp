#include "runtime/io/tls/session.hpp"

#include <algorithm>
#include <cstring>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace kam::runtime::io::tls {

namespace {

constexpr size_t chunk = 16 * 1024; // one TLS record's plaintext at most

/// Where SSL_read_ex decrypts to before the bytes are appended to `plain`:
/// the thread's, so a read allocates (and zero-fills) no 16 KiB buffer.
char* scratch() {
  thread_local std::unique_ptr<char[]> buf{new char[chunk]};
  return buf.get();
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

// One BIO, no copies. A pair of memory BIOs (BIO_s_mem) costs a copy of
// every byte each way and, worse, grows and zero-fills their BUF_MEMs record
// by record (BUF_MEM_grow_clean): ~30k instructions per resumed handshake
// under callgrind, more than all of kam's own code for it. This BIO instead
// hands OpenSSL the ciphertext where the socket read it and appends what
// OpenSSL writes to the caller's `out`, which goes to the write queue as is.
struct bio_access {
  static session& of(BIO* b) { return *static_cast<session*>(BIO_get_data(b)); }

  static int write(BIO* b, const char* data, size_t n, size_t* written) {
    BIO_clear_retry_flags(b);
    auto& s = of(b);
    if (s.out_ == nullptr) { // OpenSSL writes only inside our calls
      *written = 0;
      return 0;
    }
    s.out_->insert(s.out_->end(), data, data + n);
    *written = n;
    return 1;
  }

  static int read(BIO* b, char* data, size_t n, size_t* got) {
    BIO_clear_retry_flags(b);
    auto& s = of(b);
    if (s.in_left_ == 0) { // ran dry: "retry", not EOF (SSL_ERROR_WANT_READ)
      BIO_set_retry_read(b);
      *got = 0;
      return 0;
    }
    auto k = std::min(n, s.in_left_);
    std::memcpy(data, s.in_, k);
    s.in_ += k;
    s.in_left_ -= k;
    *got = k;
    return 1;
  }

  static long ctrl(BIO* b, int cmd, long, void*) {
    switch (cmd) {
    case BIO_CTRL_FLUSH: // the handshake flushes after each flight
      return 1;
    case BIO_CTRL_PENDING:
      return static_cast<long>(of(b).in_left_);
    default: // WPENDING (nothing held), EOF (never: dry means retry), ktls...
      return 0;
    }
  }

  static int create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
  }

  static const BIO_METHOD* method() {
    static BIO_METHOD* m = [] {
      auto* bm =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "kam tls session");
      if (bm != nullptr) {
        BIO_meth_set_write_ex(bm, write);
        BIO_meth_set_read_ex(bm, read);
        BIO_meth_set_ctrl(bm, ctrl);
        BIO_meth_set_create(bm, create);
      }
      return bm;
    }(); // made once, kept for the process (OpenSSL's own methods are static too)
    return m;
  }
};

session::session(const tls_context& ctx)
  : ssl_(SSL_new(ctx.native()), [](ssl_st* p) { SSL_free(p); }) {
  const auto* method = bio_access::method();
  BIO* bio = ssl_ && method != nullptr ? BIO_new(method) : nullptr;
  if (bio == nullptr) {
    phase_ = phase::failed;
    error_ = "cannot create a TLS session";
    return;
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_.get(), bio, bio); // the SSL owns the BIO now (one reference)
  SSL_set_accept_state(ssl_.get());
}

session::~session() = default;

namespace {

/// Points the BIO's output at `out` for one call into OpenSSL (nested calls,
/// e.g. write() from advance(), keep the outer target).
struct output_to {
  output_to(bytes*& slot, bytes& out) : slot_(slot), old_(slot) { slot = &out; }
  ~output_to() { slot_ = old_; }
  output_to(const output_to&) = delete;
  output_to& operator=(const output_to&) = delete;
  bytes*& slot_;
  bytes* old_;
};

} // namespace

session::phase session::on_read(const char* data, size_t n, bytes& plain, bytes& out) {
  if (phase_ == phase::failed || phase_ == phase::closed || phase_ == phase::peer_closed)
    return phase_; // nothing more is read after close_notify or an error
  bytes joined;    // a record split across reads: what OpenSSL left, then this
  if (!unread_.empty()) {
    joined.swap(unread_);
    joined.insert(joined.end(), data, data + n);
    data = joined.data();
    n = joined.size();
  }
  in_ = data;
  in_left_ = n;
  {
    output_to to{out_, out};
    advance(plain);
  }
  keep_unread();
  return phase_;
}

void session::keep_unread() {
  // OpenSSL buffers a partial record itself, and both loops in advance() run
  // until the input is dry; this holds what is left if that ever changes.
  if (in_left_ > 0 && (phase_ == phase::handshaking || phase_ == phase::open))
    unread_.assign(in_, in_ + in_left_);
  in_ = nullptr;
  in_left_ = 0;
}

void session::advance(bytes& plain) {
  if (phase_ == phase::handshaking) {
    auto r = SSL_do_handshake(ssl_.get());
    if (r != 1) {
      auto e = SSL_get_error(ssl_.get(), r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return;
      fail();
      return;
    }
    phase_ = phase::open;
    if (!early_.empty()) {
      bytes pending;
      pending.swap(early_);
      write(std::string_view{pending.data(), pending.size()}, *out_);
    }
  }
  // Application data (and post-handshake messages such as TLS 1.3 tickets).
  auto* buf = scratch();
  while (phase_ == phase::open) {
    size_t got = 0;
    auto r = SSL_read_ex(ssl_.get(), buf, chunk, &got);
    if (r == 1) {
      plain.insert(plain.end(), buf, buf + got);
      continue;
    }
    auto e = SSL_get_error(ssl_.get(), 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      ERR_clear_error();
      phase_ = phase::peer_closed;
      break;
    }
    fail();
    return;
  }
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
  output_to to{out_, out};
  // With SSL_MODE_ENABLE_PARTIAL_WRITE a call may stop after one record;
  // our BIO never refuses, so loop until all is encrypted.
  while (!data.empty()) {
    size_t done = 0;
    if (SSL_write_ex(ssl_.get(), data.data(), data.size(), &done) != 1) {
      fail();
      return;
    }
    data.remove_prefix(done);
  }
}

void session::shutdown(bytes& out) {
  if (phase_ == phase::failed || phase_ == phase::closed)
    return;
  if (phase_ == phase::handshaking) {
    phase_ = phase::closed; // nothing was said yet: just close
    return;
  }
  output_to to{out_, out};
  SSL_shutdown(ssl_.get()); // queues our close_notify; we don't wait for theirs
  ERR_clear_error();
  phase_ = phase::closed;
}

void session::fail() {
  phase_ = phase::failed;
  error_ = reason_of_last_error(); // an alert, if OpenSSL made one, is in `out`
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
