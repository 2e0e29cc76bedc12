#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kam::runtime::io::proxy {

/// A set of networks, e.g. `--proxy-from=127.0.0.0/8,::1`: which peers may
/// send a PROXY header. IPv4-mapped IPv6 peers (::ffff:a.b.c.d) match IPv4
/// networks. Pure (inet_pton only); immutable after parse(): any thread.
class cidr_set {
public:
  /// Parses a comma-separated list of `ADDR` or `ADDR/BITS`; on error returns
  /// nullopt and sets `error` to a message naming the bad entry.
  static std::optional<cidr_set> parse(std::string_view list, std::string& error);

  /// Whether the textual address `addr` lies in one of the networks.
  bool contains(std::string_view addr) const;

  size_t size() const { return nets_.size(); }

private:
  struct net {
    bool v6 = false;
    std::array<uint8_t, 16> addr{};
    unsigned bits = 0;
  };

  std::vector<net> nets_;
};

} // namespace kam::runtime::io::proxy
