#include "report.hpp"

#include <cstdio>

namespace kam::bench {

uint64_t totals::errors_total() const {
  uint64_t n = 0;
  for (auto e : errors)
    n += e;
  return n;
}

totals collect(const std::vector<std::unique_ptr<thread_stats>>& stats) {
  totals t;
  auto get = [](const std::atomic<uint64_t>& c) {
    return c.load(std::memory_order_relaxed);
  };
  for (auto& s : stats) {
    t.ops += get(s->ops);
    t.started += get(s->started);
    t.established += get(s->established);
    t.warmup_errors += get(s->warmup_errors);
    t.bytes += get(s->bytes);
    for (size_t i = 0; i < error_kinds; ++i)
      t.errors[i] += get(s->errors[i]);
    s->latency.merge_into(t.latency);
  }
  return t;
}

void print_progress(double t, const totals& now, const totals& before, double dt) {
  double rate = dt > 0 ? static_cast<double>(now.ops - before.ops) / dt : 0;
  std::fprintf(stderr,
               "[kam-load] t=%.1fs ops=%llu rate=%.0f/s open=%llu err=%llu p99=%.0fus\n",
               t, static_cast<unsigned long long>(now.ops), rate,
               static_cast<unsigned long long>(now.established),
               static_cast<unsigned long long>(now.errors_total()),
               quantile(now.latency, 0.99) / 1000.0);
}

nlohmann::json summary(const load_options& opts, const totals& t, double measured_s) {
  auto us = [&](double q) { return quantile(t.latency, q) / 1000.0; };
  nlohmann::json errors = nlohmann::json::object();
  for (size_t i = 0; i < error_kinds; ++i)
    errors[to_string(static_cast<error_kind>(i))] = t.errors[i];
  nlohmann::json j;
  j["tool"] = "kam-load";
  j["mode"] = to_string(opts.mode);
  j["ops"] = t.ops;
  j["duration_s"] = measured_s;
  j["ops_per_sec"] = measured_s > 0 ? static_cast<double>(t.ops) / measured_s : 0.0;
  j["bytes"] = t.bytes;
  j["latency_us"] = {{"p50", us(0.5)},
                     {"p90", us(0.9)},
                     {"p99", us(0.99)},
                     {"p999", us(0.999)},
                     {"max", us(1.0)}};
  j["errors"] = errors;
  j["errors_total"] = t.errors_total();
  j["warmup_errors"] = t.warmup_errors;
  if (opts.rate > 0) {
    j["target_rate"] = opts.rate;
    j["started"] = t.started;
    j["achieved_rate"] = j["ops_per_sec"];
  }
  j["settings"] = opts;
  return j;
}

} // namespace kam::bench
