#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kam::test {

/// A child process with stdout and stderr captured (for kam-serve tests).
/// Destroying it kills the child (SIGKILL) if it still runs.
class child_process {
public:
  using duration = std::chrono::milliseconds;

  /// Starts `path` with `args` (argv[1..]); check pid() > 0.
  child_process(const std::string& path, const std::vector<std::string>& args);
  ~child_process();

  int pid() const { return pid_; }

  /// Reads stdout until a line containing `needle` arrives; returns that line.
  std::optional<std::string> wait_for_line(const std::string& needle,
                                           duration timeout = duration{5000});

  /// Reads stderr until it holds `needle` at or after byte `from`; returns
  /// the offset just past it (for the next call), or nullopt on timeout.
  std::optional<size_t> wait_for_err(const std::string& needle, size_t from = 0,
                                     duration timeout = duration{5000});
  /// Waits for exit; returns the exit code (128+N if killed by signal N).
  std::optional<int> wait_exit(duration timeout = duration{10000});

  void signal(int sig);

  /// Everything read from stdout / stderr so far (stderr is read on exit).
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

private:
  void drain_stderr();
  int pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  std::optional<int> status_;
};

/// The outcome of a program run expected to end by itself.
struct run_result {
  std::optional<int> code; ///< exit code (128+N if killed by N); empty on timeout
  std::string out;
  std::string err;
};

/// Runs `path` with `args` until it exits (at most `timeout`), capturing both streams.
run_result run_to_exit(const std::string& path, const std::vector<std::string>& args,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds{
                         10000});

/// Number of '\n' in `text`.
size_t count_lines(const std::string& text);

/// Path of a program built into build/bin (KAM_BIN_DIR, set by ctest).
std::string bin_path(const std::string& name);

/// The port from a "listening on HOST:PORT" line, or 0.
uint16_t port_of(const std::string& listening_line);

/// A field of /proc/PID/status in KiB (e.g. "VmRSS"), or -1.
long status_kib(int pid, const std::string& field);

/// A loopback port nothing listens on now (bound to 0, read back, closed),
/// for tests that must name a port before a process binds it; 0 on error.
uint16_t free_port();

} // namespace kam::test
