// bench-asio-echo: the Boost.Asio echo a competent user writes by hand. One
// io_context per thread, each with its own SO_REUSEPORT acceptor; a session
// does async_read_some into its buffer and async_write of what it read.

#include "../common/cli.hpp"
#include "../common/sys.hpp"

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <memory>
#include <sys/socket.h>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace kam::bench;
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// 64 KiB, like the epoll floor and kam-load: 8 KiB made 16 KiB echoes ~3x slower
// (more syscalls per message). Untouched pages of the array cost no RSS.
constexpr size_t session_buffer_size = 64 * 1024;

class session : public std::enable_shared_from_this<session> {
public:
  explicit session(tcp::socket sock) : sock_(std::move(sock)) {}

  void start() { read(); }

private:
  void read() {
    sock_.async_read_some(asio::buffer(buf_),
                          [self = shared_from_this()](auto ec, size_t n) {
                            if (!ec)
                              self->write(n);
                          });
  }

  void write(size_t n) {
    asio::async_write(sock_, asio::buffer(buf_.data(), n),
                      [self = shared_from_this()](auto ec, size_t) {
                        if (!ec)
                          self->read();
                      });
  }

  tcp::socket sock_;
  std::array<char, session_buffer_size> buf_;
};

class server {
public:
  server(asio::io_context& ctx, const tcp::endpoint& ep) : acceptor_(ctx) {
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.set_option(reuse_port(true));
    acceptor_.bind(ep);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    accept();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

private:
  void accept() {
    acceptor_.async_accept([this](auto ec, tcp::socket sock) {
      if (!ec) {
        sock.set_option(tcp::no_delay(true));
        std::make_shared<session>(std::move(sock))->start();
      }
      if (ec != asio::error::operation_aborted)
        accept();
    });
  }

  tcp::acceptor acceptor_;
};

int run(int argc, char** argv) {
  cli args(argc, argv, {"host", "port", "threads"});
  auto host = args.str("host", "127.0.0.1");
  auto port = static_cast<uint16_t>(args.integer("port", 0, 0, 65535));
  auto threads = static_cast<int>(args.integer("threads", 1, 1, 256));
  raise_nofile_limit();
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<server>> servers;
  for (int i = 0; i < threads; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    tcp::endpoint ep(asio::ip::make_address(host), port);
    servers.push_back(std::make_unique<server>(*contexts.back(), ep));
    port = servers.back()->port(); // the others share the port the first got
  }
  asio::signal_set signals(*contexts[0], SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) {
    for (auto& c : contexts)
      c->stop();
  });
  announce_listening(host, port);
  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i)
    workers.emplace_back([c = contexts[i].get()] { c->run(); });
  contexts[0]->run();
  for (auto& t : workers)
    t.join();
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  return kam::bench::run_main("bench-asio-echo", run, argc, argv);
}
