// A server TLS session over memory BIOs against a real OpenSSL client: the
// handshake in any fragmentation, data both ways byte-exact, close_notify as
// a FIN both ways, and clients that speak plain text, garbage or old TLS.
#include <memory>
#include <random>
#include <string>

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "runtime/io/tls/context.hpp"
#include "runtime/io/tls/session.hpp"
#include "tests/support/test_certs.hpp"

namespace {

using kam::runtime::bytes;
using kam::runtime::io::tls::session;
using kam::runtime::io::tls::tls_context;
using kam::runtime::io::tls::tls_options;
using kam::test::certs;
using phase = session::phase;

tls_context server_ctx(std::vector<std::string> alpn = {}) {
  tls_options o;
  o.cert_file = certs().server;
  o.key_file = certs().server_key;
  o.alpn = std::move(alpn);
  std::string err;
  auto ctx = tls_context::make(o, err);
  REQUIRE_MESSAGE(ctx, err);
  return *ctx;
}

/// An OpenSSL client on memory BIOs.
struct client {
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx{SSL_CTX_new(TLS_client_method()),
                                                   SSL_CTX_free};
  std::unique_ptr<SSL, void (*)(SSL*)> ssl{nullptr, SSL_free};
  BIO* in = nullptr;  // what the server sent
  BIO* out = nullptr; // what the client sends

  explicit client(int max_version = 0) {
    REQUIRE(SSL_CTX_load_verify_locations(ctx.get(), certs().ca.c_str(), nullptr) == 1);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    if (max_version != 0) {
      SSL_CTX_set_security_level(ctx.get(), 0);
      SSL_CTX_set_min_proto_version(ctx.get(), TLS1_VERSION);
      SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    }
    ssl.reset(SSL_new(ctx.get()));
    in = BIO_new(BIO_s_mem());
    out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(ssl.get(), in, out);
    SSL_set_connect_state(ssl.get());
    SSL_set_tlsext_host_name(ssl.get(), "localhost");
  }

  std::string take_output() {
    std::string s(BIO_ctrl_pending(out), '\0');
    if (!s.empty())
      BIO_read(out, s.data(), static_cast<int>(s.size()));
    return s;
  }
  void give(const bytes& b) {
    if (!b.empty())
      BIO_write(in, b.data(), static_cast<int>(b.size()));
  }
  bool step_handshake() { // true once done
    auto r = SSL_do_handshake(ssl.get());
    ERR_clear_error();
    return r == 1;
  }
  void send(const std::string& s) {
    REQUIRE(SSL_write(ssl.get(), s.data(), int(s.size())) > 0);
  }
  std::string read_all() {
    std::string got;
    char buf[16384];
    int n;
    while ((n = SSL_read(ssl.get(), buf, sizeof(buf))) > 0)
      got.append(buf, static_cast<size_t>(n));
    ERR_clear_error();
    return got;
  }
};

/// Moves the client's output to the server in pieces of `piece` bytes (0:
/// whole), collecting plaintext; returns the server's output.
bytes feed(session& s, const std::string& wire, size_t piece, bytes& plain) {
  bytes out;
  if (piece == 0)
    piece = wire.size() == 0 ? 1 : wire.size();
  for (size_t i = 0; i < wire.size(); i += piece) {
    auto n = std::min(piece, wire.size() - i);
    s.on_read(wire.data() + i, n, plain, out);
  }
  if (wire.empty())
    s.on_read(nullptr, 0, plain, out);
  return out;
}

/// Runs the handshake; `piece` splits every flight.
bool handshake(session& s, client& c, size_t piece = 0) {
  bytes plain;
  for (int i = 0; i < 20; ++i) {
    bool done = c.step_handshake();
    c.give(feed(s, c.take_output(), piece, plain));
    if (done && s.state() == phase::open)
      return plain.empty();
    if (s.state() == phase::failed)
      return false;
  }
  return false;
}

} // namespace

TEST_SUITE("runtime/io/tls/session") {
  TEST_CASE(
    "a handshake completes whatever the fragmentation, then data flows both ways") {
    auto ctx = server_ctx();
    for (size_t piece : {size_t{0}, size_t{1}, size_t{7}, size_t{100}}) {
      CAPTURE(piece);
      session s{ctx};
      client c;
      REQUIRE(handshake(s, c, piece));
      CHECK(s.version() == "TLSv1.3");
      c.send("hello over TLS\n");
      bytes plain;
      auto out = feed(s, c.take_output(), piece, plain);
      CHECK(std::string(plain.begin(), plain.end()) == "hello over TLS\n");
      s.write("and back\n", out);
      c.give(out);
      CHECK(c.read_all() == "and back\n");
    }
  }

  TEST_CASE("1 MiB each way arrives byte-exact") {
    auto ctx = server_ctx();
    session s{ctx};
    client c;
    REQUIRE(handshake(s, c));
    std::string big(1 << 20, '\0');
    std::mt19937 rng{42};
    for (auto& ch : big)
      ch = static_cast<char>(rng());
    bytes plain;
    for (size_t i = 0; i < big.size(); i += 50000) {
      c.send(big.substr(i, 50000));
      auto out = feed(s, c.take_output(), 4096, plain);
      c.give(out);
    }
    CHECK(plain.size() == big.size());
    CHECK(std::string(plain.begin(), plain.end()) == big);
    bytes out;
    s.write(big, out);
    c.give(out);
    CHECK(c.read_all() == big);
  }

  TEST_CASE("bytes written before the handshake completes leave after it, in order") {
    auto ctx = server_ctx();
    session s{ctx};
    client c;
    bytes early;
    s.write("greeting\n", early);
    CHECK(early.empty()); // nothing can be encrypted yet
    REQUIRE(handshake(s, c));
    CHECK(c.read_all() == "greeting\n");
  }

  TEST_CASE(
    "the client's close_notify is its FIN: we may still write, then close_notify") {
    auto ctx = server_ctx();
    session s{ctx};
    client c;
    REQUIRE(handshake(s, c));
    c.send("last words");
    SSL_shutdown(c.ssl.get());
    bytes plain;
    auto out = feed(s, c.take_output(), 0, plain);
    CHECK(std::string(plain.begin(), plain.end()) == "last words");
    CHECK(s.state() == phase::peer_closed);
    s.write("reply after FIN", out);
    s.shutdown(out);
    CHECK(s.state() == phase::closed);
    c.give(out);
    CHECK(c.read_all() == "reply after FIN");
    CHECK((SSL_get_shutdown(c.ssl.get()) & SSL_RECEIVED_SHUTDOWN) != 0);
  }

  TEST_CASE("ALPN is visible to the server") {
    auto ctx = server_ctx({"http/1.1"});
    session s{ctx};
    client c;
    const unsigned char offer[] = "\x08http/1.1";
    SSL_set_alpn_protos(c.ssl.get(), offer, 9);
    REQUIRE(handshake(s, c));
    CHECK(s.alpn() == "http/1.1");
  }

  TEST_CASE("plain text, garbage and TLS 1.1 fail the handshake with a reason") {
    auto ctx = server_ctx();
    for (std::string wire :
         {std::string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n"}, std::string(64, '\xff')}) {
      session s{ctx};
      bytes plain;
      feed(s, wire, 0, plain);
      CHECK(s.state() == phase::failed);
      CHECK_FALSE(s.error().empty());
      CHECK(plain.empty());
    }
    session s{ctx};
    client old{TLS1_1_VERSION};
    CHECK_FALSE(handshake(s, old));
    CHECK(s.state() == phase::failed);
    CHECK_MESSAGE(s.error().find("protocol") != std::string::npos, s.error());
  }
}
