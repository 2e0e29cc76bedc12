#include "tests/support/process.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace kam::test {

namespace {

using clock = std::chrono::steady_clock;

} // namespace

child_process::child_process(const std::string& path,
                             const std::vector<std::string>& args) {
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    return;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return;
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(path.c_str()));
    for (auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
}

child_process::~child_process() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  if (out_fd_ >= 0)
    ::close(out_fd_);
  if (err_fd_ >= 0)
    ::close(err_fd_);
}

namespace {

/// Appends what `fd` has to `buf`, waiting until `deadline`; false at EOF,
/// on an error or once the deadline has passed.
bool read_more(int fd, std::string& buf, clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now())
                .count();
  if (left <= 0 || fd < 0)
    return false;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left)) <= 0)
    return true; // nothing yet: the caller looks again, then gives up at the deadline
  char chunk[4096];
  auto n = ::read(fd, chunk, sizeof(chunk));
  if (n <= 0)
    return false;
  buf.append(chunk, static_cast<size_t>(n));
  return true;
}

} // namespace

std::optional<std::string> child_process::wait_for_line(const std::string& needle,
                                                        duration timeout) {
  auto deadline = clock::now() + timeout;
  for (;;) {
    // A complete line holding the needle?
    size_t start = 0;
    for (;;) {
      auto nl = out_.find('\n', start);
      if (nl == std::string::npos)
        break;
      auto line = out_.substr(start, nl - start);
      if (line.find(needle) != std::string::npos)
        return line;
      start = nl + 1;
    }
    if (!read_more(out_fd_, out_, deadline))
      return std::nullopt;
  }
}

std::optional<size_t> child_process::wait_for_err(const std::string& needle,
                                                  size_t from, duration timeout) {
  auto deadline = clock::now() + timeout;
  for (;;) {
    auto at = from <= err_.size() ? err_.find(needle, from) : std::string::npos;
    if (at != std::string::npos)
      return at + needle.size();
    if (!read_more(err_fd_, err_, deadline))
      return std::nullopt;
  }
}

void child_process::drain_stderr() {
  if (err_fd_ < 0)
    return;
  char buf[4096];
  for (;;) {
    pollfd p{err_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      break;
    auto n = ::read(err_fd_, buf, sizeof(buf));
    if (n <= 0)
      break;
    err_.append(buf, static_cast<size_t>(n));
  }
}

std::optional<int> child_process::wait_exit(duration timeout) {
  if (status_)
    return status_;
  auto deadline = clock::now() + timeout;
  for (;;) {
    int st = 0;
    auto r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      drain_stderr();
      return status_;
    }
    if (clock::now() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void child_process::signal(int sig) {
  if (pid_ > 0 && !status_)
    ::kill(pid_, sig);
}

std::string bin_path(const std::string& name) {
  const char* dir = std::getenv("KAM_BIN_DIR");
  return std::string{dir != nullptr ? dir : "build/bin"} + "/" + name;
}

uint16_t port_of(const std::string& line) {
  auto colon = line.rfind(':');
  if (colon == std::string::npos)
    return 0;
  return static_cast<uint16_t>(std::strtoul(line.c_str() + colon + 1, nullptr, 10));
}

run_result run_to_exit(const std::string& path, const std::vector<std::string>& args,
                       std::chrono::milliseconds timeout) {
  child_process p{path, args};
  run_result r;
  if (p.pid() <= 0)
    return r;
  r.code = p.wait_exit(timeout);
  // stdout is only read on demand: pick up what is there (the process ended).
  p.wait_for_line("\x01never\x01", std::chrono::milliseconds{100});
  r.out = p.out();
  r.err = p.err();
  return r;
}

size_t count_lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

long status_kib(int pid, const std::string& field) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, field.size() + 1, field + ":") == 0)
      return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
  return -1;
}

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  return ok ? ntohs(a.sin_port) : 0;
}

} // namespace kam::test
