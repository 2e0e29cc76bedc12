// Preparing a Unix socket path: stale sockets removed, live ones and other
// files refused (never deleted), long paths refused; octal modes.
#include <cstdio>
#include <fstream>
#include <string>

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/io/unix_path.hpp"

namespace {

using namespace kam::runtime::io;

struct temp_dir {
  std::string path;
  temp_dir() {
    char t[] = "/tmp/kam-unix-XXXXXX";
    REQUIRE(::mkdtemp(t) != nullptr);
    path = t;
  }
  ~temp_dir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

/// A socket bound at `path`; listening unless `listen` is false.
int bound_socket(const std::string& path, bool listen) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  if (listen)
    REQUIRE(::listen(fd, 4) == 0);
  return fd;
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

} // namespace

TEST_SUITE("runtime/io/unix_path") {
  TEST_CASE("nothing at the path: ready") {
    temp_dir d;
    CHECK(prepare_unix_path(d.path + "/s").empty());
  }

  TEST_CASE("a stale socket (its server gone) is removed") {
    temp_dir d;
    auto p = d.path + "/stale.sock";
    ::close(bound_socket(p, true)); // the file stays, nobody listens
    REQUIRE(exists(p));
    CHECK_FALSE(unix_socket_live(p));
    CHECK(prepare_unix_path(p).empty());
    CHECK_FALSE(exists(p));
  }

  TEST_CASE("a live server's socket is an error like a port in use, and stays") {
    temp_dir d;
    auto p = d.path + "/live.sock";
    int fd = bound_socket(p, true);
    CHECK(unix_socket_live(p));
    auto err = prepare_unix_path(p);
    CHECK(err.find("unix:" + p) != std::string::npos);
    CHECK(err.find("in use") != std::string::npos);
    CHECK(exists(p));
    ::close(fd);
  }

  TEST_CASE("a regular file, a directory or a symlink is never deleted") {
    temp_dir d;
    auto file = d.path + "/file";
    std::ofstream{file} << "data";
    auto dir = d.path + "/dir";
    REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
    auto link = d.path + "/link";
    REQUIRE(::symlink(file.c_str(), link.c_str()) == 0);
    for (auto& p : {file, dir, link}) {
      CAPTURE(p);
      auto err = prepare_unix_path(p);
      CHECK(err.find("not a socket") != std::string::npos);
      CHECK(exists(p));
    }
  }

  TEST_CASE("a path longer than sun_path is refused; an empty one too") {
    CHECK(prepare_unix_path("/tmp/" + std::string(200, 'x')).find("longer than") !=
          std::string::npos);
    CHECK_FALSE(prepare_unix_path("").empty());
  }

  TEST_CASE("octal modes") {
    CHECK(parse_unix_mode("0660") == 0660);
    CHECK(parse_unix_mode("660") == 0660);
    CHECK(parse_unix_mode("0777") == 0777);
    CHECK(parse_unix_mode("0") == 0);
    for (auto bad : {"", "0888", "1777", "rw", "06600", "-1", "0x1ff"})
      CHECK_MESSAGE(parse_unix_mode(bad) == -1, bad);
  }
}
