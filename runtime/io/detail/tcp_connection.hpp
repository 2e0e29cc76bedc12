#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/actor.hpp>

#include "runtime/boxes.hpp"
#include "runtime/bytes.hpp"
#include "runtime/io/listen_options.hpp"
#include "runtime/ipc.hpp"

namespace kam::runtime::io::detail {

/// The Asio half of a ConnectedSocketAdapter: owns one accepted socket on
/// one I/O thread's io_context and moves its bytes.
///
/// Thread rule: the public member functions are thread safe (they post to the
/// socket's I/O thread, in call order); everything private runs only on that
/// thread. Bytes read are sent straight from the I/O thread to the CSA's
/// outbox target (sender: the CSA), so a read costs one hand-off, not two.
class tcp_connection : public std::enable_shared_from_this<tcp_connection> {
public:
  tcp_connection(boost::asio::ip::tcp::socket sock, const listen_options& opts);
  ~tcp_connection();

  tcp_connection(const tcp_connection&) = delete;
  tcp_connection& operator=(const tcp_connection&) = delete;

  /// Sets the CSA actor that hears this connection's events. I/O thread
  /// only, once, right after construction (before any other call).
  void attach(caf::actor csa);

  /// Starts reading; bytes go to (`reader`, `reader_in`).
  void start(caf::actor reader, box reader_in);

  /// Queues `buf` for writing after everything queued before it.
  void write(bytes buf);

  /// Stops input, flushes queued output, sends FIN, lingers, closes.
  void close_graceful();

  /// Closes at once, dropping queued output; tells the CSA `why`.
  void close_now(shutdown_reason why);

  /// Reads what the peer already sent (until it would block), delivers it,
  /// stops input and tells the CSA (io_drained).
  void drain();

private:
  enum class read_result { would_block, more, eof, failed };

  void wait_readable();
  void on_readable(const boost::system::error_code& ec);
  read_result read_into(bytes& out, size_t limit);
  void deliver(bytes&& data);
  void flush_pending();
  void do_write();
  void shutdown_output();
  void finish_linger();
  void fail(const boost::system::error_code& ec);
  void close_socket();
  void release_actors();

  boost::asio::ip::tcp::socket sock_;
  boost::asio::steady_timer linger_timer_;
  size_t max_read_;
  std::chrono::milliseconds linger_;

  caf::actor csa_;
  caf::actor reader_;
  box reader_in_ = inbox;

  // Written by any thread under mtx_, moved to wq_ on the I/O thread.
  std::mutex mtx_;
  std::vector<bytes> pending_;
  bool flush_posted_ = false;

  // I/O thread only.
  std::deque<bytes> wq_;
  size_t wq_offset_ = 0;
  std::vector<boost::asio::const_buffer> iov_;
  bool started_ = false;
  bool read_wait_ = false;
  bool write_wait_ = false;
  bool input_done_ = false;
  bool closing_ = false;
  bool lingering_ = false;
  bool closed_ = false;
};

} // namespace kam::runtime::io::detail
