#include "runtime/io/proxy/cidr.hpp"

#include <cstring>

#include <arpa/inet.h>

namespace kam::runtime::io::proxy {

namespace {

/// Parses `text` as IPv4 (v6 = false, 4 bytes) or IPv6 (16 bytes); an
/// IPv4-mapped IPv6 address comes back as IPv4.
bool to_binary(std::string_view text, bool& v6, std::array<uint8_t, 16>& out) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN)
    return false;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  out.fill(0);
  if (::inet_pton(AF_INET, buf, out.data()) == 1) {
    v6 = false;
    return true;
  }
  if (::inet_pton(AF_INET6, buf, out.data()) != 1)
    return false;
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(out.data(), mapped, 12) == 0) {
    std::memmove(out.data(), out.data() + 12, 4);
    std::memset(out.data() + 4, 0, 12);
    v6 = false;
    return true;
  }
  v6 = true;
  return true;
}

bool prefix_equal(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b,
                  unsigned bits) {
  unsigned full = bits / 8;
  if (std::memcmp(a.data(), b.data(), full) != 0)
    return false;
  unsigned rest = bits % 8;
  if (rest == 0)
    return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

} // namespace

std::optional<cidr_set> cidr_set::parse(std::string_view list, std::string& error) {
  cidr_set out;
  while (true) {
    auto comma = list.find(',');
    auto entry = list.substr(0, comma);
    auto bad = [&](const char* why) {
      error = "'" + std::string{entry} + "' is not a network (" + why + ")";
      return std::nullopt;
    };
    if (entry.empty())
      return bad("empty entry");
    auto slash = entry.find('/');
    net n;
    if (!to_binary(entry.substr(0, slash), n.v6, n.addr))
      return bad("expected ADDR or ADDR/BITS, IPv4 or IPv6");
    unsigned max = n.v6 ? 128 : 32;
    n.bits = max;
    if (slash != std::string_view::npos) {
      auto digits = entry.substr(slash + 1);
      if (digits.empty() || digits.size() > 3)
        return bad("bad prefix length");
      unsigned v = 0;
      for (char c : digits) {
        if (c < '0' || c > '9')
          return bad("bad prefix length");
        v = v * 10 + static_cast<unsigned>(c - '0');
      }
      // A mapped IPv6 network (::ffff:10.0.0.0/104) counts its IPv4 bits.
      if (!n.v6 && entry.find(':') != std::string_view::npos) {
        if (v < 96)
          return bad("prefix too short for an IPv4-mapped address");
        v -= 96;
      }
      if (v > max)
        return bad("prefix length too large");
      n.bits = v;
    }
    out.nets_.push_back(n);
    if (comma == std::string_view::npos)
      break;
    list = list.substr(comma + 1);
  }
  return out;
}

bool cidr_set::contains(std::string_view addr) const {
  bool v6 = false;
  std::array<uint8_t, 16> bin{};
  if (!to_binary(addr, v6, bin))
    return false;
  for (auto& n : nets_)
    if (n.v6 == v6 && prefix_equal(n.addr, bin, n.bits))
      return true;
  return false;
}

} // namespace kam::runtime::io::proxy
