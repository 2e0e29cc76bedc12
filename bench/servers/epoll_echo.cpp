// bench-epoll-echo: the floor. One thread per --threads, each with its own
// SO_REUSEPORT listener and level-triggered epoll loop; reads into a per-thread
// buffer and writes straight back, keeping only unsent bytes per connection.

#include "../common/cli.hpp"
#include "../common/sys.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace kam::bench;

constexpr size_t read_buffer_size = 64 * 1024;
constexpr int max_reads_per_event = 8; // fairness between connections

struct connection {
  int fd;
  size_t index;              // position in loop::conns_
  std::vector<char> pending; // bytes the kernel did not take yet
};

// Tags the listener and the stop eventfd in epoll_event.data.ptr.
char listener_tag;
char stop_tag;

class loop {
public:
  loop(int listener, int stop_fd) : listener_(listener), stop_fd_(stop_fd) {}

  /// Runs on its own thread until the stop eventfd becomes readable.
  void run() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    add(listener_, EPOLLIN, &listener_tag);
    add(stop_fd_, EPOLLIN, &stop_tag);
    std::vector<epoll_event> events(256);
    std::vector<char> buf(read_buffer_size);
    for (;;) {
      int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), -1);
      for (int i = 0; i < n; ++i) {
        void* p = events[i].data.ptr;
        if (p == &stop_tag) {
          close_all();
          return;
        }
        if (p == &listener_tag)
          accept_all();
        else if (auto* c = static_cast<connection*>(p); c->fd >= 0)
          serve(c, events[i].events, buf);
      }
      reap();
    }
  }

private:
  void add(int fd, uint32_t ev, void* ptr) {
    epoll_event e{};
    e.events = ev;
    e.data.ptr = ptr;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &e);
  }

  void modify(connection* c, uint32_t ev) {
    epoll_event e{};
    e.events = ev;
    e.data.ptr = c;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &e);
  }

  void accept_all() {
    for (;;) {
      int fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {
          // Out of fds: accept with the spare and drop it, or the level-triggered
          // listener would spin.
          ::close(spare_fd_);
          int victim = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
          if (victim >= 0)
            ::close(victim);
          spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
          continue;
        }
        return; // EAGAIN or a transient error (ECONNABORTED, ...)
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      auto* c = new connection{fd, conns_.size(), {}};
      conns_.push_back(c);
      add(fd, EPOLLIN | EPOLLRDHUP, c);
    }
  }

  void serve(connection* c, uint32_t ev, std::vector<char>& buf) {
    if (!c->pending.empty()) {
      if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        return;
      if (!flush(c))
        return drop(c);
      if (!c->pending.empty())
        return;
      modify(c, EPOLLIN | EPOLLRDHUP);
    }
    for (int i = 0; i < max_reads_per_event; ++i) {
      ssize_t n = ::read(c->fd, buf.data(), buf.size());
      if (n == 0)
        return drop(c);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
          return;
        return drop(c);
      }
      ssize_t w = ::write(c->fd, buf.data(), static_cast<size_t>(n));
      if (w < 0) {
        if (errno != EAGAIN)
          return drop(c);
        w = 0;
      }
      if (w < n) {
        // Kernel buffer full: keep the rest and stop reading until it drains
        // (backpressure instead of an unbounded queue).
        c->pending.assign(buf.data() + w, buf.data() + n);
        modify(c, EPOLLOUT | EPOLLRDHUP);
        return;
      }
      if (static_cast<size_t>(n) < buf.size())
        return; // short read: drained for now
    }
  }

  bool flush(connection* c) {
    ssize_t w = ::write(c->fd, c->pending.data(), c->pending.size());
    if (w < 0)
      return errno == EAGAIN;
    c->pending.erase(c->pending.begin(), c->pending.begin() + w);
    return true;
  }

  void drop(connection* c) {
    ::close(c->fd); // also removes it from epoll
    c->fd = -1;
    dead_.push_back(c); // freed after the batch: it may have more events in it
  }

  void reap() {
    for (auto* c : dead_) {
      conns_[c->index] = conns_.back();
      conns_[c->index]->index = c->index;
      conns_.pop_back();
      delete c;
    }
    dead_.clear();
  }

  void close_all() {
    reap();
    for (auto* c : conns_) {
      ::close(c->fd);
      delete c;
    }
    conns_.clear();
    ::close(ep_);
  }

  int listener_;
  int stop_fd_;
  int ep_ = -1;
  int spare_fd_ = -1;
  std::vector<connection*> conns_;
  std::vector<connection*> dead_;
};

int run(int argc, char** argv) {
  cli args(argc, argv, {"host", "port", "threads"});
  auto host = args.str("host", "127.0.0.1");
  auto port = static_cast<uint16_t>(args.integer("port", 0, 0, 65535));
  auto threads = static_cast<int>(args.integer("threads", 1, 1, 256));
  raise_nofile_limit();
  block_stop_signals();
  std::vector<int> listeners;
  listeners.push_back(open_listener(host, port, true));
  port = local_port(listeners[0]);
  for (int i = 1; i < threads; ++i)
    listeners.push_back(open_listener(host, port, true));
  int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::vector<std::unique_ptr<loop>> loops;
  std::vector<std::thread> workers;
  for (int fd : listeners) {
    loops.push_back(std::make_unique<loop>(fd, stop_fd));
    workers.emplace_back([l = loops.back().get()] { l->run(); });
  }
  announce_listening(host, port);
  wait_for_stop_signal();
  uint64_t one = 1;
  if (::write(stop_fd, &one, sizeof(one)) < 0)
    std::perror("eventfd");
  for (auto& t : workers)
    t.join();
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  return kam::bench::run_main("bench-epoll-echo", run, argc, argv);
}
