// The PROXY protocol header parser (haproxy's doc/proxy-protocol.txt): a case
// table for v1 and v2, every split point, a one-byte drip, and the client's
// data after the header left untouched.
#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "runtime/io/proxy/cidr.hpp"
#include "runtime/io/proxy/parser.hpp"

namespace {

using namespace kam::runtime::io::proxy;

const std::string sig{"\r\n\r\n\0\r\nQUIT\n", 12};

/// A v2 header: signature, version/command, family, length, then `block`.
std::string v2(uint8_t ver_cmd, uint8_t fam, const std::string& block,
               int len_override = -1) {
  auto len = len_override >= 0 ? static_cast<size_t>(len_override) : block.size();
  std::string h = sig;
  h += static_cast<char>(ver_cmd);
  h += static_cast<char>(fam);
  h += static_cast<char>((len >> 8) & 0xff);
  h += static_cast<char>(len & 0xff);
  return h + block;
}

std::string bytes(std::initializer_list<int> xs) {
  std::string s;
  for (int x : xs)
    s += static_cast<char>(x);
  return s;
}

/// 192.0.2.7:56324 -> 198.51.100.1:443 as a v2 INET block.
std::string inet_block() {
  return bytes({192, 0, 2, 7, 198, 51, 100, 1, 0xdc, 0x04, 0x01, 0xbb});
}

std::string inet6_block() {
  std::string b = bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  b += bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
  b += bytes({0x30, 0x39, 0x00, 0x50});
  return b;
}

struct good_case {
  const char* name;
  std::string input;
  size_t header_len;
  header expect;
};

std::vector<good_case> good_cases() {
  std::vector<good_case> xs;
  auto add = [&](const char* name, std::string in, header h) {
    auto len = in.size();
    xs.push_back({name, std::move(in), len, std::move(h)});
  };
  add("v1 TCP4", "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n",
      {1, false, false, "192.0.2.7", 56324, "198.51.100.1", 443});
  add("v1 TCP6", "PROXY TCP6 2001:db8::1 2001:db8::2 12345 80\r\n",
      {1, false, false, "2001:db8::1", 12345, "2001:db8::2", 80});
  add("v1 TCP6 written long is normalized",
      "PROXY TCP6 2001:0db8:0000:0000:0000:0000:0000:0001 ::1 1 65535\r\n",
      {1, false, false, "2001:db8::1", 1, "::1", 65535});
  add("v1 port 0", "PROXY TCP4 10.0.0.1 10.0.0.2 0 0\r\n",
      {1, false, false, "10.0.0.1", 0, "10.0.0.2", 0});
  add("v1 UNKNOWN alone", "PROXY UNKNOWN\r\n", {1, true, false, "", 0, "", 0});
  add("v1 UNKNOWN with anything after it",
      "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
      {1, true, false, "", 0, "", 0});
  add("v1 at the 107-byte maximum",
      "PROXY UNKNOWN " + std::string(107 - 14 - 2, 'x') + "\r\n",
      {1, true, false, "", 0, "", 0});
  add("v2 PROXY INET stream", v2(0x21, 0x11, inet_block()),
      {2, false, false, "192.0.2.7", 56324, "198.51.100.1", 443});
  add("v2 PROXY INET6 stream", v2(0x21, 0x21, inet6_block()),
      {2, false, false, "2001:db8::1", 12345, "2001:db8::2", 80});
  add("v2 PROXY INET with TLVs after the addresses",
      v2(0x21, 0x11, inet_block() + bytes({0x04, 0x00, 0x02, 'o', 'k'})),
      {2, false, false, "192.0.2.7", 56324, "198.51.100.1", 443});
  add("v2 LOCAL (health check) keeps the socket's addresses", v2(0x20, 0x00, ""),
      {2, true, false, "", 0, "", 0});
  add("v2 LOCAL with an address block skips it", v2(0x20, 0x11, inet_block()),
      {2, true, false, "", 0, "", 0});
  add("v2 PROXY UNSPEC keeps the socket's addresses", v2(0x21, 0x00, ""),
      {2, true, false, "", 0, "", 0});
  std::string ux(216, '\0');
  ux.replace(0, 9, "/run/a.s1");
  ux.replace(108, 9, "/run/b.s2");
  add("v2 PROXY UNIX stream", v2(0x21, 0x31, ux),
      {2, false, true, "/run/a.s1", 0, "/run/b.s2", 0});
  return xs;
}

void check_header(const header& got, const header& want) {
  CHECK(int{got.version} == int{want.version});
  CHECK(got.local == want.local);
  CHECK(got.unix_socket == want.unix_socket);
  CHECK(got.src_address == want.src_address);
  CHECK(got.src_port == want.src_port);
  CHECK(got.dst_address == want.dst_address);
  CHECK(got.dst_port == want.dst_port);
}

struct bad_case {
  const char* name;
  std::string input;
  parse_error error;
};

std::vector<bad_case> bad_cases() {
  return {
    {"plain HTTP", "GET / HTTP/1.1\r\n\r\n", parse_error::not_proxy},
    {"TLS ClientHello", bytes({0x16, 0x03, 0x01, 0x00, 0xa5}), parse_error::not_proxy},
    {"lower-case proxy", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", parse_error::not_proxy},
    {"v1 LF without CR", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", parse_error::v1_malformed},
    {"v1 CR not followed by LF", "PROXY TCP4 1.2.3.4\rx", parse_error::v1_malformed},
    {"v1 no CRLF within 107 bytes", "PROXY UNKNOWN " + std::string(120, 'x'),
     parse_error::v1_too_long},
    {"v1 unknown protocol", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
     parse_error::v1_malformed},
    {"v1 missing port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", parse_error::v1_malformed},
    {"v1 extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", parse_error::v1_malformed},
    {"v1 double space", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", parse_error::v1_malformed},
    {"v1 IPv6 address under TCP4", "PROXY TCP4 ::1 ::1 1 2\r\n",
     parse_error::v1_malformed},
    {"v1 IPv4 address under TCP6", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
     parse_error::v1_malformed},
    {"v1 bad IPv4", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", parse_error::v1_malformed},
    {"v1 port over 65535", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
     parse_error::v1_malformed},
    {"v1 port with a leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
     parse_error::v1_malformed},
    {"v1 negative port", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
     parse_error::v1_malformed},
    {"v1 empty after PROXY", "PROXY \r\n", parse_error::v1_malformed},
    {"v2 version 1", v2(0x11, 0x11, inet_block()), parse_error::v2_bad_version},
    {"v2 command 2", v2(0x22, 0x11, inet_block()), parse_error::v2_bad_command},
    {"v2 family 4", v2(0x21, 0x41, inet_block()), parse_error::v2_bad_family},
    {"v2 datagram", v2(0x21, 0x12, inet_block()), parse_error::v2_bad_family},
    {"v2 INET block too short", v2(0x21, 0x11, inet_block().substr(0, 8)),
     parse_error::v2_bad_length},
    {"v2 INET6 with an INET-sized block", v2(0x21, 0x21, inet_block()),
     parse_error::v2_bad_length},
    {"v2 length over the limit", v2(0x21, 0x11, "", 4000), parse_error::v2_too_long},
  };
}

} // namespace

TEST_SUITE("runtime/io/proxy/parser") {
  TEST_CASE("valid headers parse whole, in one feed and at every split point") {
    for (auto& c : good_cases()) {
      CAPTURE(c.name);
      parser p;
      auto r = p.feed(c.input);
      REQUIRE(r.status == parse_status::done);
      CHECK(r.consumed == c.header_len);
      check_header(p.result(), c.expect);
      // Every proper prefix is a valid beginning: need more, never an error.
      for (size_t n = 0; n < c.input.size(); ++n) {
        auto part = p.feed(std::string_view{c.input}.substr(0, n));
        CHECK_MESSAGE(part.status == parse_status::need_more, "prefix of " << n);
      }
    }
  }

  TEST_CASE("a one-byte drip ends exactly at the header's last byte") {
    for (auto& c : good_cases()) {
      CAPTURE(c.name);
      parser p;
      std::string seen;
      size_t done_at = 0;
      for (char ch : c.input) {
        seen += ch;
        auto r = p.feed(seen);
        if (r.status == parse_status::done) {
          done_at = seen.size();
          break;
        }
        REQUIRE(r.status == parse_status::need_more);
      }
      CHECK(done_at == c.header_len);
    }
  }

  TEST_CASE("the client's bytes after the header are not consumed") {
    for (auto& c : good_cases()) {
      CAPTURE(c.name);
      parser p;
      const std::string data = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
      auto r = p.feed(c.input + data);
      REQUIRE(r.status == parse_status::done);
      CHECK(r.consumed == c.header_len);
      CHECK((c.input + data).substr(r.consumed) == data);
      check_header(p.result(), c.expect);
    }
  }

  TEST_CASE(
    "invalid headers are refused with their reason, at the first byte that shows it") {
    for (auto& c : bad_cases()) {
      CAPTURE(c.name);
      parser p;
      auto r = p.feed(c.input);
      CHECK(r.status == parse_status::error);
      CHECK_MESSAGE(r.error == c.error, "got " << to_string(r.error));
      // Fed byte by byte, the parser waits while the prefix is valid, then
      // reports the same error.
      std::string seen;
      parse_result last;
      for (char ch : c.input) {
        seen += ch;
        last = p.feed(seen);
        if (last.status != parse_status::need_more)
          break;
      }
      CHECK(last.status == parse_status::error);
      CHECK(last.error == c.error);
    }
  }

  TEST_CASE("nothing yet is need-more; every error has a name") {
    parser p;
    CHECK(p.feed("").status == parse_status::need_more);
    CHECK(std::string{to_string(parse_error::v1_too_long)} == "v1_too_long");
    CHECK(std::string{to_string(parse_error::not_proxy)} == "not_proxy");
  }
}

TEST_SUITE("runtime/io/proxy/cidr") {
  TEST_CASE("the default --proxy-from matches loopback only") {
    std::string err;
    auto s = cidr_set::parse("127.0.0.0/8,::1", err);
    REQUIRE(s);
    CHECK(s->size() == 2);
    CHECK(s->contains("127.0.0.1"));
    CHECK(s->contains("127.255.255.254"));
    CHECK(s->contains("::1"));
    CHECK(s->contains("::ffff:127.0.0.5")); // IPv4-mapped
    CHECK_FALSE(s->contains("128.0.0.1"));
    CHECK_FALSE(s->contains("10.0.0.1"));
    CHECK_FALSE(s->contains("::2"));
    CHECK_FALSE(s->contains("not an address"));
  }

  TEST_CASE("prefix lengths that are not byte-aligned") {
    std::string err;
    auto s = cidr_set::parse("10.1.128.0/17,2001:db8:8000::/33", err);
    REQUIRE(s);
    CHECK(s->contains("10.1.128.1"));
    CHECK(s->contains("10.1.255.255"));
    CHECK_FALSE(s->contains("10.1.127.255"));
    CHECK(s->contains("2001:db8:8000::1"));
    CHECK_FALSE(s->contains("2001:db8:7fff::1"));
    auto all = cidr_set::parse("0.0.0.0/0", err);
    REQUIRE(all);
    CHECK(all->contains("203.0.113.9"));
    CHECK_FALSE(all->contains("::1")); // IPv4 networks never match IPv6 peers
  }

  TEST_CASE("bad lists are refused naming the entry") {
    for (auto bad : {"", "127.0.0.1,", "localhost", "10.0.0.0/33", "::1/129", "10.0.0.0/",
                     "10.0.0.0/x", "1.2.3.4/8/8", "::ffff:10.0.0.0/95"}) {
      CAPTURE(bad);
      std::string err;
      CHECK_FALSE(cidr_set::parse(bad, err));
      CHECK_FALSE(err.empty());
    }
    std::string err;
    CHECK_FALSE(cidr_set::parse("127.0.0.0/8,bogus", err));
    CHECK(err.find("'bogus'") != std::string::npos);
  }
}
