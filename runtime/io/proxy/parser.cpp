#include "runtime/io/proxy/parser.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include <arpa/inet.h>

namespace kam::runtime::io::proxy {

namespace {

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::array<char, 12> v2_signature = {'\r', '\n', '\r', '\n', '\0', '\r',
                                               '\n', 'Q',  'U',  'I',  'T',  '\n'};

/// Whether `data` and `full` agree on their common length.
bool agrees(std::string_view data, std::string_view full) {
  auto n = std::min(data.size(), full.size());
  return data.substr(0, n) == full.substr(0, n);
}

/// Splits off the next field up to a single space; false if empty.
bool next_field(std::string_view& rest, std::string_view& field) {
  auto sp = rest.find(' ');
  field = rest.substr(0, sp);
  rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
  return !field.empty();
}

/// A decimal port: 1-5 digits, no leading zero (the spec), at most 65535.
bool parse_port(std::string_view s, uint16_t& out) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0'))
    return false;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535)
    return false;
  out = static_cast<uint16_t>(v);
  return true;
}

/// A textual address of family `af`, normalized by inet_ntop.
bool parse_address(int af, std::string_view s, std::string& out) {
  if (s.size() >= INET6_ADDRSTRLEN)
    return false;
  char text[INET6_ADDRSTRLEN];
  std::memcpy(text, s.data(), s.size());
  text[s.size()] = '\0';
  unsigned char bin[16];
  if (::inet_pton(af, text, bin) != 1)
    return false;
  char norm[INET6_ADDRSTRLEN];
  if (::inet_ntop(af, bin, norm, sizeof(norm)) == nullptr)
    return false;
  out = norm;
  return true;
}

std::string binary_address(int af, const char* p) {
  char norm[INET6_ADDRSTRLEN];
  if (::inet_ntop(af, p, norm, sizeof(norm)) == nullptr)
    return {};
  return norm;
}

uint16_t be16(const char* p) {
  return static_cast<uint16_t>((static_cast<uint8_t>(p[0]) << 8) |
                               static_cast<uint8_t>(p[1]));
}

/// A NUL-padded AF_UNIX path of at most 108 bytes.
std::string unix_path(const char* p) {
  return std::string(p, strnlen(p, 108));
}

} // namespace

const char* to_string(parse_error x) {
  switch (x) {
  case parse_error::none:
    return "none";
  case parse_error::not_proxy:
    return "not_proxy";
  case parse_error::v1_malformed:
    return "v1_malformed";
  case parse_error::v1_too_long:
    return "v1_too_long";
  case parse_error::v2_bad_version:
    return "v2_bad_version";
  case parse_error::v2_bad_command:
    return "v2_bad_command";
  case parse_error::v2_bad_family:
    return "v2_bad_family";
  case parse_error::v2_bad_length:
    return "v2_bad_length";
  case parse_error::v2_too_long:
    return "v2_too_long";
  }
  return "unknown";
}

parse_result parser::feed(std::string_view data) {
  header_ = header{};
  if (data.empty())
    return {};
  std::string_view sig{v2_signature.data(), v2_signature.size()};
  if (agrees(data, v1_prefix))
    return data.size() < v1_prefix.size() ? parse_result{} : feed_v1(data);
  if (agrees(data, sig))
    return data.size() < v2_fixed ? parse_result{} : feed_v2(data);
  return fail(parse_error::not_proxy);
}

parse_result parser::feed_v1(std::string_view data) {
  auto window = data.substr(0, v1_max);
  auto lf = window.find('\n');
  if (lf == std::string_view::npos) {
    // A CR may only be the last byte seen so far (its LF still to come).
    auto cr = window.find('\r');
    if (cr != std::string_view::npos && cr + 1 < window.size())
      return fail(parse_error::v1_malformed);
    if (window.size() >= v1_max)
      return fail(parse_error::v1_too_long);
    return {};
  }
  if (lf == 0 || window[lf - 1] != '\r')
    return fail(parse_error::v1_malformed);
  auto line = window.substr(v1_prefix.size(), lf - 1 - v1_prefix.size());
  if (line.find('\r') != std::string_view::npos)
    return fail(parse_error::v1_malformed);
  header h;
  h.version = 1;
  std::string_view proto;
  if (!next_field(line, proto))
    return fail(parse_error::v1_malformed);
  if (proto == "UNKNOWN") {
    // "the receiver must ignore anything presented before the CRLF".
    h.local = true;
    header_ = h;
    return {parse_status::done, lf + 1, parse_error::none};
  }
  int af = proto == "TCP4" ? AF_INET : proto == "TCP6" ? AF_INET6 : 0;
  std::string_view src, dst, sport, dport;
  if (af == 0 || !next_field(line, src) || !next_field(line, dst) ||
      !next_field(line, sport) || !next_field(line, dport) || !line.empty() ||
      !parse_address(af, src, h.src_address) || !parse_address(af, dst, h.dst_address) ||
      !parse_port(sport, h.src_port) || !parse_port(dport, h.dst_port))
    return fail(parse_error::v1_malformed);
  header_ = h;
  return {parse_status::done, lf + 1, parse_error::none};
}

parse_result parser::feed_v2(std::string_view data) {
  auto ver_cmd = static_cast<uint8_t>(data[12]);
  auto fam = static_cast<uint8_t>(data[13]);
  size_t len = be16(data.data() + 14);
  if ((ver_cmd >> 4) != 2)
    return fail(parse_error::v2_bad_version);
  auto cmd = ver_cmd & 0x0f;
  if (cmd > 1)
    return fail(parse_error::v2_bad_command);
  if (len > max_v2_)
    return fail(parse_error::v2_too_long);
  auto family = fam >> 4;
  auto transport = fam & 0x0f;
  if (family > 3 || transport > 2)
    return fail(parse_error::v2_bad_family);
  size_t need = family == 1 ? 12 : family == 2 ? 36 : family == 3 ? 216 : 0;
  if (cmd == 1 && family != 0 && transport != 1)
    return fail(parse_error::v2_bad_family); // a datagram header on a stream listener
  if (len < need && cmd == 1)
    return fail(parse_error::v2_bad_length);
  if (data.size() < v2_fixed + len)
    return {};
  header h;
  h.version = 2;
  // LOCAL: the proxy's own connection (a health check); UNSPEC: unknown
  // origin. Either way the socket's own addresses hold; the block is skipped.
  if (cmd == 0 || family == 0) {
    h.local = true;
    header_ = h;
    return {parse_status::done, v2_fixed + len, parse_error::none};
  }
  const char* a = data.data() + v2_fixed;
  if (family == 1) {
    h.src_address = binary_address(AF_INET, a);
    h.dst_address = binary_address(AF_INET, a + 4);
    h.src_port = be16(a + 8);
    h.dst_port = be16(a + 10);
  } else if (family == 2) {
    h.src_address = binary_address(AF_INET6, a);
    h.dst_address = binary_address(AF_INET6, a + 16);
    h.src_port = be16(a + 32);
    h.dst_port = be16(a + 34);
  } else {
    h.unix_socket = true;
    h.src_address = unix_path(a);
    h.dst_address = unix_path(a + 108);
  }
  header_ = h;
  return {parse_status::done, v2_fixed + len, parse_error::none};
}

} // namespace kam::runtime::io::proxy
