#include "chat.hpp"

#include "../common/sys.hpp"
#include "worker.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace kam::bench {

namespace {

struct chat_client {
  int fd = -1;
  std::string in;     // unparsed input
  std::string out;    // not yet sent
  uint64_t sent = 0;  // data lines queued by this client
  bool heard = false; // received any line (wired into the room)
};

int dial(const load_options& o, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (fd < 0 || ::inet_pton(AF_INET, o.host.c_str(), &a.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0)
    throw std::runtime_error("connect to " + o.host + ":" + std::to_string(port) +
                             " failed: " + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

/// Writes what it can of `c.out`; false on error.
bool flush(chat_client& c) {
  while (!c.out.empty()) {
    auto r = ::send(c.fd, c.out.data(), c.out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0)
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    c.out.erase(0, static_cast<size_t>(r));
  }
  return true;
}

} // namespace

int run_chat(const load_options& o) {
  const size_t n = static_cast<size_t>(o.connections);
  if (n < 2)
    throw std::runtime_error("--mode=chat needs --connections >= 2");
  std::vector<chat_client> cs(n);
  for (size_t i = 0; i < n; ++i)
    cs[i].fd = dial(o, o.ports[i % o.ports.size()]);
  // next[r][s]: the sequence number receiver r expects next from sender s.
  std::vector<std::vector<uint64_t>> next(n, std::vector<uint64_t>(n, 0));
  // Lines of sender s received by all others = min over r of next[r][s].
  std::vector<uint64_t> lat_us;
  lat_us.reserve(1 << 22);
  uint64_t delivered = 0, order_errors = 0, lost = 0;
  auto start = now_ns();
  bool joined = false;
  uint64_t measure_ns = 0, end_ns = 0, last_sync = 0;
  const std::string pad(o.payload > 40 ? o.payload - 40 : 0, 'x');
  std::vector<pollfd> pfds(n);
  char buf[64 * 1024];
  for (;;) {
    auto now = now_ns();
    if (!joined) {
      if (now - start > 10'000'000'000ull)
        throw std::runtime_error("chat: clients did not all hear each other in 10 s");
      if (std::all_of(cs.begin(), cs.end(), [](auto& c) { return c.heard; })) {
        joined = true;
        measure_ns = now + static_cast<uint64_t>(o.warmup * 1e9);
        end_ns = measure_ns + static_cast<uint64_t>(o.duration * 1e9);
      } else if (now - last_sync > 20'000'000) {
        last_sync = now;
        cs[0].out += "sync\n";
        cs[1].out += "sync\n";
      }
    } else if (now >= end_ns) {
      break;
    }
    if (joined)
      for (size_t s = 0; s < n; ++s) {
        // Window: lines of s not yet received by every other client.
        uint64_t slowest = UINT64_MAX;
        for (size_t r = 0; r < n; ++r)
          if (r != s)
            slowest = std::min(slowest, next[r][s]);
        auto& c = cs[s];
        while (c.sent - slowest < static_cast<uint64_t>(o.pipeline)) {
          char head[48];
          int len = std::snprintf(head, sizeof(head), "%zu %llu %llu ", s,
                                  static_cast<unsigned long long>(c.sent),
                                  static_cast<unsigned long long>(now));
          c.out.append(head, static_cast<size_t>(len));
          c.out += pad;
          c.out += '\n';
          ++c.sent;
        }
      }
    for (size_t i = 0; i < n; ++i) {
      if (!flush(cs[i]))
        throw std::runtime_error("chat: send failed: " +
                                 std::string(std::strerror(errno)));
      pfds[i] = pollfd{cs[i].fd,
                       static_cast<short>(POLLIN | (cs[i].out.empty() ? 0 : POLLOUT)), 0};
    }
    if (::poll(pfds.data(), pfds.size(), 10) < 0 && errno != EINTR)
      throw std::runtime_error("chat: poll failed");
    now = now_ns();
    bool measuring = joined && now >= measure_ns;
    for (size_t r = 0; r < n; ++r) {
      if (!(pfds[r].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      auto got = ::recv(cs[r].fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (got <= 0) {
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
          continue;
        ++lost;
        goto done;
      }
      auto& in = cs[r].in;
      in.append(buf, static_cast<size_t>(got));
      size_t pos = 0;
      for (size_t nl; (nl = in.find('\n', pos)) != std::string::npos; pos = nl + 1) {
        cs[r].heard = true;
        if (in[pos] == 's') // sync
          continue;
        char* end = nullptr;
        auto s = std::strtoull(in.c_str() + pos, &end, 10);
        auto seq = std::strtoull(end, &end, 10);
        auto ts = std::strtoull(end, &end, 10);
        if (s >= n || s == r || seq != next[r][s]) {
          ++order_errors;
        } else {
          next[r][s] = seq + 1;
        }
        if (measuring && ts >= measure_ns) {
          ++delivered;
          lat_us.push_back(static_cast<uint32_t>((now - ts) / 1000));
        }
      }
      in.erase(0, pos);
    }
  }
done:
  for (auto& c : cs)
    ::close(c.fd);
  std::sort(lat_us.begin(), lat_us.end());
  auto pct = [&](double p) {
    return lat_us.empty()
             ? 0.0
             : static_cast<double>(lat_us[std::min(
                 lat_us.size() - 1, static_cast<size_t>(p * lat_us.size()))]);
  };
  double secs = o.duration;
  nlohmann::json j{
    {"mode", "chat"},
    {"connections", n},
    {"payload", o.payload},
    {"window", o.pipeline},
    {"duration_s", secs},
    {"delivered", delivered},
    {"lines_per_s", secs > 0 ? static_cast<double>(delivered) / secs : 0.0},
    {"p50_us", pct(0.50)},
    {"p99_us", pct(0.99)},
    {"order_errors", order_errors},
    {"lost_connections", lost}};
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
  return (order_errors == 0 && lost == 0 && delivered > 0) ? 0 : 1;
}

} // namespace kam::bench
