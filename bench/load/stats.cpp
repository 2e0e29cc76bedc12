#include "stats.hpp"

#include <cerrno>
#include <cstddef>

namespace kam::bench {

const char* to_string(error_kind k) {
  switch (k) {
  case error_kind::refused:
    return "refused";
  case error_kind::reset:
    return "reset";
  case error_kind::timeout:
    return "timeout";
  case error_kind::short_read:
    return "short_read";
  case error_kind::mismatch:
    return "mismatch";
  case error_kind::addr_unavail:
    return "addr_unavail";
  case error_kind::fd_limit:
    return "fd_limit";
  case error_kind::dropped:
    return "dropped";
  case error_kind::tls:
    return "tls";
  default:
    return "other";
  }
}

error_kind classify_errno(int err) {
  switch (err) {
  case ECONNREFUSED:
    return error_kind::refused;
  case ECONNRESET:
  case EPIPE:
  case ECONNABORTED:
    return error_kind::reset;
  case ETIMEDOUT:
    return error_kind::timeout;
  case EADDRNOTAVAIL:
  case EADDRINUSE:
    return error_kind::addr_unavail;
  case EMFILE:
  case ENFILE:
  case ENOBUFS:
    return error_kind::fd_limit;
  default:
    return error_kind::other;
  }
}

double quantile(const std::vector<uint64_t>& counts, double q) {
  uint64_t total = 0;
  for (auto c : counts)
    total += c;
  if (total == 0)
    return 0;
  // Smallest bucket whose cumulative count reaches ceil(q * total).
  auto rank = static_cast<uint64_t>(q * static_cast<double>(total));
  if (rank < 1)
    rank = 1;
  if (rank > total)
    rank = total;
  uint64_t seen = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (seen >= rank)
      return latency_histogram::value(static_cast<int>(i));
  }
  return 0;
}

} // namespace kam::bench
