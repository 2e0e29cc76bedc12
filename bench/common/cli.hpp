#pragma once
// Minimal `--key=value` command-line parsing shared by the bench programs.
// Single-threaded: call from main() only.

#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

namespace kam::bench {

/// Thrown for any bad option; the message is one line, the program exits 2.
struct cli_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Parsed `--key=value` / `--flag` arguments, checked against a set of known keys.
class cli {
public:
  /// Parses argv; throws cli_error on a positional argument or an unknown key.
  cli(int argc, char** argv, std::set<std::string> known);

  bool has(const std::string& key) const { return args_.count(key) != 0; }
  std::string str(const std::string& key, const std::string& fallback) const;
  /// Integer in [lo, hi]; throws cli_error if malformed or out of range.
  int64_t integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const;
  /// Number of seconds (may be fractional) in [lo, hi].
  double seconds(const std::string& key, double fallback, double lo, double hi) const;
  /// `--flag`, `--flag=1|true|yes` -> true; `--flag=0|false|no` -> false.
  bool flag(const std::string& key, bool fallback) const;

private:
  std::map<std::string, std::string> args_;
};

/// Runs `run(argc, argv)` as a program's main: a cli_error prints one line
/// "NAME: message" and gives exit code 2, any other exception exit code 1.
int run_main(const char* name, int (*run)(int, char**), int argc, char** argv);

} // namespace kam::bench
