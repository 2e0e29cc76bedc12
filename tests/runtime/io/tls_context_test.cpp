// The server TLS context: files checked with errors that name the file, and
// what it negotiates, shown by real OpenSSL handshakes over memory BIOs
// (client and server in one thread, no sockets).
#include <memory>
#include <string>

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "runtime/io/tls/context.hpp"
#include "tests/support/test_certs.hpp"

namespace {

using kam::runtime::io::tls::tls_context;
using kam::runtime::io::tls::tls_options;
using kam::test::certs;

struct ssl_free {
  void operator()(SSL* p) const { SSL_free(p); }
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
using ssl_ptr = std::unique_ptr<SSL, ssl_free>;
using ctx_ptr = std::unique_ptr<SSL_CTX, ssl_free>;

/// A client context trusting the test CA; optional client cert, max version, ALPN.
ctx_ptr client_ctx(int max_version = 0, const std::string& cert = {},
                   const std::string& key = {}) {
  ctx_ptr c{SSL_CTX_new(TLS_client_method())};
  REQUIRE(c);
  REQUIRE(SSL_CTX_load_verify_locations(c.get(), certs().ca.c_str(), nullptr) == 1);
  SSL_CTX_set_verify(c.get(), SSL_VERIFY_PEER, nullptr);
  if (max_version != 0) {
    SSL_CTX_set_security_level(c.get(), 0); // let the client offer old versions
    SSL_CTX_set_min_proto_version(c.get(), TLS1_VERSION);
    SSL_CTX_set_max_proto_version(c.get(), max_version);
  }
  if (!cert.empty()) {
    REQUIRE(SSL_CTX_use_certificate_file(c.get(), cert.c_str(), SSL_FILETYPE_PEM) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(c.get(), key.c_str(), SSL_FILETYPE_PEM) == 1);
  }
  return c;
}

struct outcome {
  bool ok = false;
  int version = 0;
  std::string alpn;
};

/// Runs a handshake between a server SSL from `server` and a client SSL from
/// `client` over a BIO pair; `alpn_offer` in wire format ("\x08http/1.1").
outcome handshake(const tls_context& server, SSL_CTX* client,
                  const std::string& alpn_offer = {}) {
  ssl_ptr s{SSL_new(server.native())};
  ssl_ptr c{SSL_new(client)};
  REQUIRE(s);
  REQUIRE(c);
  BIO* sb = nullptr;
  BIO* cb = nullptr;
  REQUIRE(BIO_new_bio_pair(&sb, 0, &cb, 0) == 1);
  SSL_set_bio(s.get(), sb, sb);
  SSL_set_bio(c.get(), cb, cb);
  SSL_set_accept_state(s.get());
  SSL_set_connect_state(c.get());
  SSL_set_tlsext_host_name(c.get(), "localhost");
  if (!alpn_offer.empty())
    SSL_set_alpn_protos(c.get(),
                        reinterpret_cast<const unsigned char*>(alpn_offer.data()),
                        static_cast<unsigned>(alpn_offer.size()));
  bool s_done = false, c_done = false, failed = false;
  for (int i = 0; i < 100 && !(s_done && c_done) && !failed; ++i) {
    for (auto [ssl, done] : {std::pair{s.get(), &s_done}, std::pair{c.get(), &c_done}}) {
      if (*done)
        continue;
      auto r = SSL_do_handshake(ssl);
      if (r == 1) {
        *done = true;
        continue;
      }
      auto e = SSL_get_error(ssl, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        failed = true;
    }
  }
  // TLS 1.3: the server checks a client certificate after the client's side
  // is done; let the client read the server's verdict.
  if (s_done && c_done) {
    char buf[1];
    SSL_write(s.get(), "x", 1);
    auto r = SSL_read(c.get(), buf, 1);
    if (r != 1)
      failed = true;
  }
  ERR_clear_error();
  outcome o;
  o.ok = s_done && c_done && !failed;
  o.version = SSL_version(s.get());
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(s.get(), &p, &len);
  o.alpn.assign(reinterpret_cast<const char*>(p), len);
  return o;
}

tls_context make_ok(tls_options o) {
  std::string err;
  auto ctx = tls_context::make(o, err);
  REQUIRE_MESSAGE(ctx, err);
  return *ctx;
}

tls_options server_opts() {
  tls_options o;
  o.cert_file = certs().server;
  o.key_file = certs().server_key;
  return o;
}

} // namespace

TEST_SUITE("runtime/io/tls/context") {
  TEST_CASE("a valid certificate and key: TLS 1.3 is negotiated with a modern client") {
    auto ctx = make_ok(server_opts());
    auto client = client_ctx();
    auto o = handshake(ctx, client.get());
    CHECK(o.ok);
    CHECK(o.version == TLS1_3_VERSION);
  }

  TEST_CASE("a TLS 1.2 client is served; TLS 1.1 and older are refused") {
    auto ctx = make_ok(server_opts());
    auto c12 = client_ctx(TLS1_2_VERSION);
    auto o = handshake(ctx, c12.get());
    CHECK(o.ok);
    CHECK(o.version == TLS1_2_VERSION);
    for (int v : {TLS1_1_VERSION, TLS1_VERSION}) {
      CAPTURE(v);
      auto old = client_ctx(v);
      CHECK_FALSE(handshake(ctx, old.get()).ok);
    }
  }

  TEST_CASE(
    "ALPN: http/1.1 is selected when configured; otherwise a client's offer is ignored") {
    auto client = client_ctx();
    auto opts = server_opts();
    opts.alpn = {"http/1.1"};
    auto with = make_ok(opts);
    auto o = handshake(with, client.get(), std::string{"\x02h2\x08http/1.1", 12});
    CHECK(o.ok);
    CHECK(o.alpn == "http/1.1");
    // No protocol in common: the handshake goes on without ALPN.
    auto none = handshake(with, client.get(), std::string{"\x02h2", 3});
    CHECK(none.ok);
    CHECK(none.alpn.empty());
    auto without = make_ok(server_opts());
    auto o2 = handshake(without, client.get(), std::string{"\x08http/1.1", 9});
    CHECK(o2.ok);
    CHECK(o2.alpn.empty());
  }

  TEST_CASE("with a CA file every client must present a certificate that CA signed") {
    auto opts = server_opts();
    opts.ca_file = certs().ca;
    auto ctx = make_ok(opts);
    auto good = client_ctx(0, certs().client, certs().client_key);
    CHECK(handshake(ctx, good.get()).ok);
    auto none = client_ctx();
    CHECK_FALSE(handshake(ctx, none.get()).ok);
    auto stranger = client_ctx(0, certs().other, certs().other_key);
    CHECK_FALSE(handshake(ctx, stranger.get()).ok);
    // The same client certificate is not asked for without a CA file.
    auto plain = make_ok(server_opts());
    CHECK(handshake(plain, none.get()).ok);
  }

  TEST_CASE("bad files: one line naming the file at fault") {
    struct row {
      const char* what;
      tls_options opts;
      std::string named;
      const char* says;
    };
    auto& c = certs();
    auto mk = [](std::string cert, std::string key, std::string ca = {}) {
      tls_options o;
      o.cert_file = std::move(cert);
      o.key_file = std::move(key);
      o.ca_file = std::move(ca);
      return o;
    };
    for (auto& r : std::initializer_list<row>{
           {"missing cert", mk(c.dir + "/nope.pem", c.server_key), c.dir + "/nope.pem",
            "cannot read"},
           {"missing key", mk(c.server, c.dir + "/nope.key"), c.dir + "/nope.key",
            "cannot read"},
           {"cert not PEM", mk(c.not_pem, c.server_key), c.not_pem,
            "not a PEM certificate"},
           {"key not PEM", mk(c.server, c.not_pem), c.not_pem, "not a PEM private key"},
           {"key is a certificate", mk(c.server, c.server), c.server,
            "not a PEM private key"},
           {"key of another cert", mk(c.server, c.other_key), c.other_key,
            "does not match"},
           {"CA not PEM", mk(c.server, c.server_key, c.not_pem), c.not_pem,
            "no PEM certificate"},
           {"a directory as cert", mk(c.dir, c.server_key), c.dir, "TLS certificate"},
         }) {
      CAPTURE(r.what);
      std::string err;
      CHECK_FALSE(tls_context::make(r.opts, err));
      CHECK_MESSAGE(err.find("'" + r.named + "'") != std::string::npos, err);
      CHECK_MESSAGE(err.find(r.says) != std::string::npos, err);
      CHECK(err.find('\n') == std::string::npos);
    }
  }
}
