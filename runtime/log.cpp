#include "runtime/log.hpp"

#include <ctime>

namespace kam::runtime {

const char* to_string(log_level x) {
  switch (x) {
  case log_level::error:
    return "error";
  case log_level::warning:
    return "warning";
  case log_level::info:
    return "info";
  case log_level::debug:
    return "debug";
  }
  return "unknown";
}

std::optional<log_level> parse_log_level(std::string_view text) {
  for (auto x : {log_level::error, log_level::warning, log_level::info, log_level::debug})
    if (text == to_string(x))
      return x;
  return std::nullopt;
}

logger::logger(log_level level, std::FILE* out, size_t burst, clock::duration period)
  : level_(level), out_(out), burst_(burst == 0 ? 1 : burst), period_(period) {}

void logger::write(log_level x, std::string_view what) {
  if (!enabled(x))
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  emit(x, what, 0);
}

void logger::limited(std::string_view key, log_level x, std::string_view what) {
  if (!enabled(x))
    return;
  auto now = clock::now();
  std::lock_guard<std::mutex> guard{mtx_};
  auto& w = windows_[std::string{key}];
  if (w.written == 0 || now - w.start >= period_) {
    auto suppressed = w.suppressed;
    w = window{now, 1, 0};
    emit(x, what, suppressed);
    return;
  }
  if (w.written < burst_) {
    ++w.written;
    emit(x, what, 0);
    return;
  }
  ++w.suppressed;
}

void logger::emit(log_level x, std::string_view what, size_t suppressed) {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms =
    std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line;
  line.reserve(what.size() + 64);
  line += stamp;
  char frac[8];
  std::snprintf(frac, sizeof(frac), ".%03dZ ", static_cast<int>(ms.count()));
  line += frac;
  line += to_string(x);
  line += " kam: ";
  for (char c : what)
    line += (c == '\n' || c == '\r') ? ' ' : c;
  if (suppressed > 0)
    line += " (" + std::to_string(suppressed) + " similar lines suppressed)";
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

} // namespace kam::runtime
