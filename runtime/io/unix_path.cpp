#include "runtime/io/unix_path.hpp"

#include <cerrno>
#include <cstring>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace kam::runtime::io {

namespace {

constexpr size_t max_path = sizeof(sockaddr_un::sun_path) - 1;

} // namespace

bool unix_socket_live(const std::string& path) {
  if (path.empty() || path.size() > max_path)
    return false;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  // A listening socket accepts into its backlog even when its server is
  // busy; a dead one refuses (ECONNREFUSED). A full backlog (EAGAIN) is live.
  int r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  ::close(fd);
  return r == 0 || err == EAGAIN;
}

std::string prepare_unix_path(const std::string& path) {
  auto named = "unix:" + path;
  if (path.empty())
    return "--unix needs a path";
  if (path.size() > max_path)
    return "cannot listen on " + named + ": path longer than " +
           std::to_string(max_path) + " bytes";
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return {};
    return "cannot listen on " + named + ": " + std::strerror(errno);
  }
  if (!S_ISSOCK(st.st_mode))
    return "cannot listen on " + named +
           ": a file that is not a socket is there (not removed)";
  if (unix_socket_live(path))
    return "cannot listen on " + named +
           ": Address already in use (a server answers there)";
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return "cannot remove the stale socket " + named + ": " + std::strerror(errno);
  return {};
}

int parse_unix_mode(const std::string& text) {
  if (text.empty() || text.size() > 4)
    return -1;
  int v = 0;
  for (char c : text) {
    if (c < '0' || c > '7')
      return -1;
    v = v * 8 + (c - '0');
  }
  return v <= 0777 ? v : -1;
}

} // namespace kam::runtime::io
