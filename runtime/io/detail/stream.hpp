#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>

#include "runtime/bytes.hpp"
#include "runtime/io/listen_options.hpp"
#include "runtime/ipc.hpp"

namespace kam::runtime {
struct server_stats;
} // namespace kam::runtime

namespace kam::runtime::io {
class connection_gate;
} // namespace kam::runtime::io

namespace kam::runtime::io::proxy {
struct header;
} // namespace kam::runtime::io::proxy

namespace kam::runtime::io::detail {

struct tls_layer;   // stream_tls.hpp: a TLS session under the stream
struct proxy_layer; // stream_proxy.cpp: a PROXY header before everything
template <class Stream>
class basic_handshake_pacer; // handshake_pacer.hpp

/// What a stream tells its owner (the CSA's side, or a test). Every call
/// comes on the stream's I/O thread, from inside a stream member function or
/// one of its Asio completions; none may call back into the stream.
class stream_events {
public:
  virtual ~stream_events() = default;
  /// Bytes read from the peer, one buffer per readiness event.
  virtual void on_data(bytes&& data) = 0;
  /// The peer's FIN was read: input is over (writes go on).
  virtual void on_eof() = 0;
  /// drain() ran: what the peer had sent was delivered; input is over.
  virtual void on_drained() = 0;
  /// The write queue reached the high watermark (`true`), or fell below the
  /// low one after that (`false`); one pair per episode.
  virtual void on_watermark(bool high) = 0;
  /// The last event: the socket is closed, or has sent its FIN after an
  /// orderly close (it may linger, discarding input, without an owner).
  virtual void on_closed(shutdown_reason why) = 0;
};

/// One accepted stream socket (TCP or Unix) on one I/O thread: reads into the thread's
/// buffer, queues and writes (writev), half-closes, lingers, times out.
/// The socket layer of a CSA, with no actor in it (muduo's TcpConnection,
/// CAF's io::network::stream).
///
/// Thread rule: every member function except in_io_thread(), executor()
/// and the destructor must be called on the stream's I/O thread (inside its
/// io_context's run()); each asserts it and aborts the process otherwise,
/// in every build type. Other threads post to executor() (the CSA does).
///
/// An idle stream holds no read buffer: it waits for readability, then
/// reads into the I/O thread's buffer and moves out only what arrived.
class stream : public std::enable_shared_from_this<stream> {
public:
  using executor_type = boost::asio::io_context::executor_type;
  using clock = std::chrono::steady_clock;
  /// A stream socket of any family (TCP, Unix: the protocol is a runtime
  /// value; reads and writes are the same calls) bound to an io_context's
  /// executor (not any_io_executor: 32 bytes fewer per socket and per timer,
  /// for idle connections). A tcp socket converts to it.
  using socket_type =
    boost::asio::basic_stream_socket<boost::asio::generic::stream_protocol,
                                     executor_type>;
  using timer_type =
    boost::asio::basic_waitable_timer<clock, boost::asio::wait_traits<clock>,
                                      executor_type>;

  /// The phases of a stream, in order; it only moves forward.
  enum class phase : uint8_t {
    fresh,      ///< made; not reading until start()
    reading,    ///< reading and writing
    input_over, ///< the peer's FIN was read, or drain() ran; writes go on
    closing,    ///< close_graceful(): flushing the write queue, then FIN
    lingering,  ///< FIN sent; discarding input until the peer's FIN or `linger`
    closed,     ///< socket closed
  };

  /// `sock`'s io_context is the stream's thread. `gate`, if any, holds a slot for this
  /// socket; released when it closes.
  /// `tls`, if any, makes the stream speak TLS: bytes read are decrypted
  /// before on_data(), write() encrypts, close_graceful() sends close_notify,
  /// and the peer's close_notify is its FIN (stream_tls.hpp).
  /// `stats`, if any, counts bytes, backpressure pauses and slow-consumer
  /// closes (listen_options::close_slow_consumers) into this thread's cells.
  stream(socket_type sock, const listen_options& opts,
         std::shared_ptr<connection_gate> gate, std::unique_ptr<tls_layer> tls,
         std::shared_ptr<server_stats> stats = nullptr);
  /// A plain TCP stream.
  stream(socket_type sock, const listen_options& opts,
         std::shared_ptr<connection_gate> gate = nullptr);
  ~stream();

  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  /// Whether the caller runs on this stream's I/O thread. Any thread.
  bool in_io_thread() const { return executor().running_in_this_thread(); }

  /// The I/O thread's executor, to post calls to. Any thread.
  executor_type executor() const {
    // Asio's get_executor() is not const; it only copies the executor.
    return const_cast<socket_type&>(sock_).get_executor();
  }

  /// Sets who hears this stream's events (before start(); may be null).
  void attach(std::shared_ptr<stream_events> events);

  /// Starts reading (and the idle timer). Once; ignored after drain/close.
  /// After read_proxy_header(), what followed the header comes first.
  void start();

  /// The header, or null if the connection was refused (the stream is then
  /// closed already).
  using proxy_done = std::function<void(const proxy::header*)>;

  /// Before start() (and attach()): reads a PROXY protocol header
  /// (runtime/io/proxy/parser.hpp) within `timeout`, trying at once (a
  /// proxy sends it right after connecting). `done(&header)` once it is
  /// whole: the bytes after it wait for start(), ahead of the TLS handshake
  /// if any. A missing, malformed or truncated header, the peer's FIN or a
  /// reset before its end, or `timeout`: the socket is closed, then
  /// `done(nullptr)`. `done` may run inside this call. close_now() before
  /// then closes without calling it.
  void read_proxy_header(std::chrono::milliseconds timeout, proxy_done done);

  /// Queues `buf` after everything queued before it. Writes at once when
  /// nothing is queued (muduo's sendInLoop); dropped once lingering/closed.
  void write(bytes buf);

  /// Closes with `timeout` unless bytes arrive within `d` (one-shot: the
  /// first bytes meet it); zero clears it. Ignored once input is over.
  void read_deadline(std::chrono::milliseconds d);

  /// Stops input, flushes the write queue, sends FIN, lingers, closes.
  void close_graceful();

  /// Closes at once, dropping queued output; on_closed(`why`).
  void close_now(shutdown_reason why);

  /// Reads what the peer already sent (until it would block, bounded),
  /// delivers it, stops input, then on_drained().
  void drain();

  phase state() const { return phase_; }

  /// Bytes queued for the socket and not yet taken by the kernel.
  size_t queued() const { return queued_; }

private:
  friend class basic_handshake_pacer<stream>; // deferred_read()

  enum class read_result : uint8_t { would_block, more, eof, failed };

  void assert_io_thread(const char* what) const;
  bool may_read() const;
  void wait_readable();
  /// At start() and after a read that brought data: read again once the
  /// jobs queued on the thread have run (the handler's answer has left by
  /// then, and a busy client has often sent its next message); only if
  /// nothing is there, wait_readable().
  void read_later();
  /// The read read_later() posted, or start() left to the handshake_pacer
  /// (read_pending_ set until it runs), in a turn of the thread's actors.
  void deferred_read();
  void on_readable(const boost::system::error_code& ec);
  /// What one read brought (`data`, then how it ended), as on_readable() and
  /// the bytes after a PROXY header see it.
  void on_input(bytes&& data, read_result r, const boost::system::error_code& rec);
  /// The PROXY header phase (stream_proxy.cpp).
  void wait_proxy_header();
  void read_proxy_header_now();
  void proxy_failed();
  /// After start(): delivers what followed the header, then reads on.
  void deliver_after_header();
  read_result read_into(bytes& out, size_t limit, bool until_would_block,
                        boost::system::error_code& ec);
  read_result read_some_into(bytes& out, size_t limit, bool until_would_block,
                             boost::system::error_code& ec);
  void discard_input();
  void deliver(bytes&& data);
  /// Decrypts `cipher` (stream_tls.cpp); handshake replies go out raw.
  void deliver_tls(bytes&& cipher);
  /// Encrypts and queues (stream_tls.cpp).
  void write_tls(bytes&& plain);
  /// Queues close_notify (stream_tls.cpp).
  void close_notify();
  /// The handshake did not complete: count it, close (stream_tls.cpp).
  void tls_failed(shutdown_reason why);
  /// Whether a TLS handshake is still under way.
  bool tls_handshaking() const;
  /// Queues bytes for the socket as they are (write() without TLS).
  void send_raw(bytes buf);
  void peer_finished();
  void wait_writable();
  void flush();
  void consume(size_t n);
  void apply_watermarks();
  void shutdown_output();
  void touch();
  void arm_timer();
  void on_timer();
  void time_out();
  void fail(const boost::system::error_code& ec);
  void notify_closed(shutdown_reason why);
  void close_socket();

  socket_type sock_;
  /// One timer for the idle timeout, the read deadline and the linger.
  timer_type timer_;
  clock::time_point armed_at_ = clock::time_point::max();
  clock::time_point deadline_ = clock::time_point::max();
  clock::time_point last_activity_;
  std::shared_ptr<connection_gate> gate_;
  std::shared_ptr<stream_events> events_;
  std::unique_ptr<tls_layer> tls_; ///< null for plain TCP (8 bytes, not a session)
  /// Set from read_proxy_header() until what followed it is delivered.
  std::unique_ptr<proxy_layer> proxy_;
  // Limits from listen_options, 32 bits each: idle connections are many.
  uint32_t max_read_;
  uint32_t high_;
  uint32_t low_;
  uint32_t hard_;
  std::chrono::duration<uint32_t, std::milli> linger_;
  std::chrono::duration<uint32_t, std::milli> idle_timeout_;

  // Write queue: wq_[wq_head_..] with wq_offset_ bytes of the first sent.
  std::vector<bytes> wq_;
  size_t wq_head_ = 0;
  size_t wq_offset_ = 0;
  size_t queued_ = 0;

  phase phase_ = phase::fresh;
  bool peer_eof_ = false;   ///< read up to the peer's FIN (a fact, not a phase)
  bool above_high_ = false; ///< told on_watermark(true), not yet (false)
  /// listen_options::close_slow_consumers: the hard limit closes, not pauses.
  bool close_slow_ = false;
  /// The server's counters (null in tests that make a stream alone).
  std::shared_ptr<server_stats> stats_;
  /// A read (read_later) or an async_wait for readability is queued.
  bool read_pending_ = false;
  bool write_pending_ = false; ///< an async_wait for writability is queued
};

} // namespace kam::runtime::io::detail
