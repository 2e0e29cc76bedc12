#pragma once
// kam-load's output: the live progress line (stderr) and the JSON summary (stdout).

#include "options.hpp"
#include "stats.hpp"

#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

namespace kam::bench {

/// Sums of every thread's counters at one moment.
struct totals {
  uint64_t ops = 0, started = 0, established = 0, warmup_errors = 0, bytes = 0;
  std::array<uint64_t, error_kinds> errors{};
  std::vector<uint64_t> latency = std::vector<uint64_t>(latency_histogram::buckets);

  uint64_t errors_total() const;
};

/// Reads all threads' counters (safe while they run).
totals collect(const std::vector<std::unique_ptr<thread_stats>>& stats);

/// One progress line on stderr: "[kam-load] t=3.0s ops=... rate=.../s err=... p99=...us".
void print_progress(double t, const totals& now, const totals& before, double dt);

/// The final summary document.
nlohmann::json summary(const load_options& opts, const totals& t, double measured_s);

} // namespace kam::bench
