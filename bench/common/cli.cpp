#include "cli.hpp"

#include <cstdio>

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace kam::bench {

cli::cli(int argc, char** argv, std::set<std::string> known) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2)
      throw cli_error("unexpected argument '" + arg + "' (options are --key=value)");
    auto eq = arg.find('=');
    auto key = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    auto val = eq == std::string::npos ? std::string{} : arg.substr(eq + 1);
    if (known.count(key) == 0)
      throw cli_error("unknown option --" + key);
    args_[key] = val;
  }
}

std::string cli::str(const std::string& key, const std::string& fallback) const {
  auto i = args_.find(key);
  if (i == args_.end())
    return fallback;
  if (i->second.empty())
    throw cli_error("--" + key + " needs a value (--" + key + "=...)");
  return i->second;
}

int64_t cli::integer(const std::string& key, int64_t fallback, int64_t lo,
                     int64_t hi) const {
  auto i = args_.find(key);
  if (i == args_.end())
    return fallback;
  const auto& s = i->second;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  // Accept the k/K, m/M suffixes (x1000) for counts.
  if (end && (*end == 'k' || *end == 'K')) {
    v *= 1000;
    ++end;
  } else if (end && (*end == 'm' || *end == 'M')) {
    v *= 1000000;
    ++end;
  }
  if (s.empty() || errno != 0 || end == nullptr || *end != '\0')
    throw cli_error("--" + key + "=" + s + ": not an integer");
  if (v < lo || v > hi)
    throw cli_error("--" + key + "=" + s + ": out of range [" + std::to_string(lo) +
                    ", " + std::to_string(hi) + "]");
  return v;
}

double cli::seconds(const std::string& key, double fallback, double lo, double hi) const {
  auto i = args_.find(key);
  if (i == args_.end())
    return fallback;
  const auto& s = i->second;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (end && *end == 's')
    ++end;
  if (s.empty() || errno != 0 || end == nullptr || *end != '\0' || !std::isfinite(v))
    throw cli_error("--" + key + "=" + s + ": not a number of seconds");
  if (v < lo || v > hi)
    throw cli_error("--" + key + "=" + s + ": out of range [" + std::to_string(lo) +
                    ", " + std::to_string(hi) + "]");
  return v;
}

bool cli::flag(const std::string& key, bool fallback) const {
  auto i = args_.find(key);
  if (i == args_.end())
    return fallback;
  const auto& s = i->second;
  if (s.empty() || s == "1" || s == "true" || s == "yes")
    return true;
  if (s == "0" || s == "false" || s == "no")
    return false;
  throw cli_error("--" + key + "=" + s + ": expected 0 or 1");
}

int run_main(const char* name, int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const cli_error& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
}

} // namespace kam::bench
