// bench-asio-chat: the Boost.Asio chat server a competent user writes by
// hand, after Asio's own chat_server example (src/examples/cpp11/chat): a
// room of sessions, each line a client sends goes to every other session.
// Unlike the example (one queued message per line, written one by one),
// a read's complete lines are appended to each recipient's outgoing byte
// buffer, which is written with one async_write while the next one fills.
// One io_context on one thread (as the example), so the room needs no lock.
// A line longer than --max-line closes its sender.

#include "../common/cli.hpp"
#include "../common/sys.hpp"

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <set>
#include <string>
#include <string_view>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace kam::bench;

class session;

/// Everyone connected.
struct room {
  std::set<std::shared_ptr<session>> members;
  size_t max_line = 65536;
  void deliver(const session* from, std::string_view lines);
};

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket sock, room& r) : sock_(std::move(sock)), room_(r) {}

  void start() {
    room_.members.insert(shared_from_this());
    read();
  }

  /// Appends `lines` to the outgoing buffer; starts a write if none runs.
  void send(std::string_view lines) {
    pending_.append(lines);
    if (!writing_)
      write();
  }

private:
  void read() {
    sock_.async_read_some(asio::buffer(buf_),
                          [self = shared_from_this()](auto ec, size_t n) {
                            if (ec)
                              return self->leave();
                            self->on_read(n);
                          });
  }

  void on_read(size_t n) {
    std::string_view in(buf_.data(), n);
    auto last_nl = in.rfind('\n');
    if (last_nl == std::string_view::npos) {
      partial_.append(in);
    } else {
      if (!lines_fit(in.substr(0, last_nl + 1)))
        return leave();
      // Complete lines: the kept partial plus in[0..last_nl].
      if (partial_.empty()) {
        room_.deliver(this, in.substr(0, last_nl + 1));
      } else {
        partial_.append(in.substr(0, last_nl + 1));
        room_.deliver(this, partial_);
        partial_.clear();
      }
      partial_.assign(in.substr(last_nl + 1));
    }
    if (partial_.size() > room_.max_line)
      return leave();
    read();
  }

  bool lines_fit(std::string_view lines) const {
    size_t start = 0;
    for (size_t nl; (nl = lines.find('\n', start)) != std::string_view::npos;
         start = nl + 1)
      if (nl - start > room_.max_line + 1) // + a '\r'
        return false;
    return true;
  }

  void write() {
    writing_ = true;
    out_.swap(pending_);
    pending_.clear();
    asio::async_write(sock_, asio::buffer(out_),
                      [self = shared_from_this()](auto ec, size_t) {
                        self->writing_ = false;
                        if (ec)
                          return self->leave();
                        self->out_.clear();
                        if (!self->pending_.empty())
                          self->write();
                      });
  }

  void leave() {
    room_.members.erase(shared_from_this());
    boost::system::error_code ignored;
    sock_.close(ignored);
  }

  tcp::socket sock_;
  room& room_;
  std::array<char, 64 * 1024> buf_;
  std::string partial_;
  std::string pending_; // filling while out_ is written
  std::string out_;
  bool writing_ = false;
};

void room::deliver(const session* from, std::string_view lines) {
  for (auto& m : members)
    if (m.get() != from)
      m->send(lines);
}

class server {
public:
  server(asio::io_context& ctx, const tcp::endpoint& ep, room& r)
    : acceptor_(ctx, ep), room_(r) {
    accept();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

private:
  void accept() {
    acceptor_.async_accept([this](auto ec, tcp::socket sock) {
      if (!ec) {
        sock.set_option(tcp::no_delay(true));
        std::make_shared<session>(std::move(sock), room_)->start();
      }
      if (ec != asio::error::operation_aborted)
        accept();
    });
  }

  tcp::acceptor acceptor_;
  room& room_;
};

int run(int argc, char** argv) {
  cli args(argc, argv, {"host", "port", "max-line", "threads"});
  // One room on one thread (Asio's chat_server): --threads=1 only, accepted
  // so kam-ab can run it side by side with kam-serve --threads=1.
  args.integer("threads", 1, 1, 1);
  auto host = args.str("host", "127.0.0.1");
  auto port = static_cast<uint16_t>(args.integer("port", 0, 0, 65535));
  room r;
  r.max_line = static_cast<size_t>(args.integer("max-line", 65536, 1, 64 << 20));
  raise_nofile_limit();
  asio::io_context ctx{1};
  server srv(ctx, tcp::endpoint(asio::ip::make_address(host), port), r);
  asio::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) { ctx.stop(); });
  announce_listening(host, srv.port());
  ctx.run();
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  return kam::bench::run_main("bench-asio-chat", run, argc, argv);
}
