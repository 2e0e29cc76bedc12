#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kam::runtime {

enum class log_level : uint8_t { error, warning, info, debug };

/// "error", "warning", "info", "debug".
const char* to_string(log_level x);

/// Parses a level name (as to_string() spells it); nullopt otherwise.
std::optional<log_level> parse_log_level(std::string_view text);

/// Lifecycle and error events, one line each on stderr (or `out`):
/// `2026-12-01T21:36:33.123Z warning kam: accept on 127.0.0.1:1601: Too many open files`.
/// Lines below the level are dropped before they are formatted.
///
/// Events that can flood (accept errors, resets) go through limited(): per
/// key at most `burst` lines per `period`; what is suppressed is counted and
/// reported once, with the next line of that key after the period:
/// `... (37 similar lines suppressed)`.
///
/// Thread rule: thread safe (one mutex per line written; a dropped level
/// costs one relaxed compare). Owned by the server's options and shared by
/// its threads; no global logger.
class logger {
public:
  using clock = std::chrono::steady_clock;

  explicit logger(log_level level = log_level::info, std::FILE* out = stderr,
                  size_t burst = 5, clock::duration period = std::chrono::seconds{1});

  log_level level() const { return level_; }
  bool enabled(log_level x) const { return x <= level_; }

  /// Writes one line (newlines inside `what` become spaces).
  void write(log_level x, std::string_view what);

  /// As write(), at most `burst` lines per `period` for `key`.
  void limited(std::string_view key, log_level x, std::string_view what);

private:
  struct window {
    clock::time_point start;
    size_t written = 0;
    size_t suppressed = 0;
  };

  void emit(log_level x, std::string_view what, size_t suppressed);

  log_level level_;
  std::FILE* out_;
  size_t burst_;
  clock::duration period_;
  std::mutex mtx_;
  std::unordered_map<std::string, window> windows_;
};

} // namespace kam::runtime
