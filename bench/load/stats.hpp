#pragma once
// Counters and a latency histogram one load thread writes and the main thread
// reads while it runs (relaxed atomics; each instance has a single writer).

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace kam::bench {

enum class error_kind {
  refused,      ///< ECONNREFUSED
  reset,        ///< ECONNRESET / EPIPE
  timeout,      ///< no progress within --timeout
  short_read,   ///< peer closed before echoing everything
  mismatch,     ///< echoed bytes differ from what was sent (or too many)
  addr_unavail, ///< EADDRNOTAVAIL / EADDRINUSE: out of source ports
  fd_limit,     ///< EMFILE / ENFILE / ENOBUFS
  dropped,      ///< open loop: no free slot at the scheduled start time
  tls,          ///< --tls: handshake failed (or verification), bad record, alert
  other,
  count_
};

constexpr size_t error_kinds = static_cast<size_t>(error_kind::count_);
const char* to_string(error_kind k);
error_kind classify_errno(int err);

/// Log-linear histogram of nanoseconds: exact below 128, then 64 sub-buckets per
/// power of two (<1.6% error). Single writer, any number of readers.
class latency_histogram {
public:
  static constexpr int sub_bits = 6;
  static constexpr int buckets = (64 - sub_bits + 1) << sub_bits;

  static int index(uint64_t v) {
    if (v < (2u << sub_bits))
      return static_cast<int>(v);
    int e = 63 - __builtin_clzll(v); // >= sub_bits + 1
    int shift = e - sub_bits;
    return ((shift + 1) << sub_bits) + static_cast<int>((v >> shift) - (1u << sub_bits));
  }
  /// Midpoint of a bucket's range.
  static double value(int idx) {
    if (idx < (2 << sub_bits))
      return idx;
    int shift = (idx >> sub_bits) - 1;
    uint64_t lo = (uint64_t{1} << (shift + sub_bits)) +
                  (static_cast<uint64_t>(idx & ((1 << sub_bits) - 1)) << shift);
    return static_cast<double>(lo) + static_cast<double>(uint64_t{1} << shift) / 2;
  }

  void add(uint64_t ns) {
    auto& b = counts_[static_cast<size_t>(index(ns))];
    b.store(b.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  /// Adds this histogram's counts into `out` (size `buckets`).
  void merge_into(std::vector<uint64_t>& out) const {
    for (size_t i = 0; i < counts_.size(); ++i)
      out[i] += counts_[i].load(std::memory_order_relaxed);
  }

private:
  std::array<std::atomic<uint64_t>, buckets> counts_{};
};

/// Quantile q in [0,1] in nanoseconds from merged bucket counts (0 if empty).
double quantile(const std::vector<uint64_t>& counts, double q);

/// One load thread's measured results.
struct thread_stats {
  std::atomic<uint64_t> ops{0};           ///< measured completed ops
  std::atomic<uint64_t> started{0};       ///< open loop: connections started on time
  std::atomic<uint64_t> established{0};   ///< idle: connections open and served
  std::atomic<uint64_t> warmup_errors{0}; ///< errors outside the measured window
  std::atomic<uint64_t> bytes{0};         ///< measured bytes echoed back
  std::array<std::atomic<uint64_t>, error_kinds> errors{};
  latency_histogram latency;

  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

} // namespace kam::bench
