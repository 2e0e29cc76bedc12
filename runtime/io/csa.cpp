#include "runtime/io/csa.hpp"

#include <boost/asio/post.hpp>
#include <caf/all.hpp>

#include "runtime/component.hpp"
#include "runtime/io/detail/io_events.hpp"
#include "runtime/io/detail/stream.hpp"

namespace kam::runtime::io {

namespace {

using namespace detail;

/// The stream's events, turned into messages. Runs on the stream's I/O
/// thread only (the stream calls it; the CSA touches it only through
/// calls it runs there). Bytes read go straight to the handler's inbox
/// (sender: the CSA), one hand-off per read, not two.
class csa_events : public stream_events {
public:
  /// Once, right after the CSA is spawned (before it can run).
  void bind(caf::actor csa) { csa_ = std::move(csa); }

  void reader(caf::actor dest, box in) {
    reader_ = std::move(dest);
    reader_in_ = in;
  }

  void on_data(bytes&& data) override {
    if (reader_)
      caf::send_as(csa_, reader_, reader_in_, std::move(data));
  }
  void on_eof() override { caf::anon_send(csa_, io_eof_atom::value); }
  void on_drained() override { caf::anon_send(csa_, io_drained_atom::value); }
  void on_watermark(bool high) override {
    if (high)
      caf::anon_send(csa_, io_pause_atom::value);
    else
      caf::anon_send(csa_, io_resume_atom::value);
  }
  void on_closed(shutdown_reason why) override {
    caf::anon_send(csa_, io_closed_atom::value, why);
  }

private:
  caf::actor csa_;
  caf::actor reader_;
  box reader_in_ = inbox;
};

/// Phases (behaviors): `open` until the client's input ends, then
/// `input_over`; the actor ends with its socket (io_closed).
class csa_actor : public component {
public:
  csa_actor(caf::actor_config& cfg, std::shared_ptr<stream> conn,
            std::shared_ptr<csa_events> events)
    : component(cfg), stream_(std::move(conn)), events_(std::move(events)) {
    set_exit_handler([this](caf::exit_msg& x) {
      if (x.source != handler_) {
        if (x.reason)
          quit(x.reason);
        return;
      }
      // Our handler ended: everything it sent is already in our mailbox.
      if (x.reason)
        on_io([](stream& s) { s.close_now(shutdown_reason::error); });
      else
        on_io([](stream& s) { s.close_graceful(); });
    });
  }

  const char* name() const override { return "kam.csa"; }

  caf::behavior make_behavior() override { return open(); }

  void on_exit() override {
    // However we end, the socket must not outlive us half-open; once the
    // stream reported its end (stream_ reset) it may still linger for the
    // peer's FIN.
    if (stream_)
      on_io([](stream& s) { s.close_now(shutdown_reason::closed); });
    stream_.reset();
    events_.reset();
    component::on_exit();
  }

private:
  /// Runs `f` on the stream: directly on its I/O thread, else posted there
  /// (muduo's runInLoop). Posts keep the order of the calls.
  template <class F>
  void on_io(F f) {
    if (!stream_)
      return;
    if (stream_->in_io_thread())
      f(*stream_);
    else
      boost::asio::post(stream_->executor(),
                        [s = stream_, f = std::move(f)]() mutable { f(*s); });
  }

  caf::behavior open() {
    return common().or_else(
      [this](io_eof_atom) { input_over(shutdown_reason::peer_closed); },
      [this](io_drained_atom) { input_over(shutdown_reason::server_shutdown); },
      [this](io_closed_atom, shutdown_reason why) {
        if (why != shutdown_reason::closed)
          input_over(why);
        io_done();
      });
  }

  caf::message_handler common() {
    return {
      [this](inbox_atom, bytes& data) {
        on_io([data = std::move(data)](stream& s) mutable { s.write(std::move(data)); });
      },
      [this](io_pause_atom) { send_on(ctrlout, pause_producing{}); },
      [this](io_resume_atom) { send_on(ctrlout, resume_producing{}); },
      [this](control_atom, producer_finished) {
        on_io([](stream& s) { s.close_graceful(); });
      },
      [this](control_atom, set_read_deadline d) {
        on_io([ms = std::chrono::milliseconds(d.ms)](stream& s) { s.read_deadline(ms); });
      },
      [this](control_atom, shutdown_microprocess) {
        // Stop now: the stream closes the socket on its own.
        on_io([](stream& s) { s.close_now(shutdown_reason::closed); });
        stream_.reset();
        quit();
      },
      [this](start_atom, const caf::actor& handler) { start(handler); },
      [this](drain_atom) { on_io([](stream& s) { s.drain(); }); },
    };
  }

  void start(const caf::actor& handler) {
    handler_ = handler.address();
    link_to(handler);
    // The standard wiring, unless the sender (the chassis) made other
    // links first: saves three link requests per connection.
    if (!linked(outbox))
      add_link(outbox, handler, inbox);
    if (!linked(ctrlout))
      add_link(ctrlout, handler, control);
    if (!linked(signal))
      add_link(signal, caf::actor_cast<caf::actor>(current_sender()), socketact);
    // The outbox link made before `start` decides where bytes read go; the
    // stream's events send there directly.
    auto [reader, in] = target(outbox);
    on_io([ev = events_, reader = std::move(reader), in = in](stream& s) mutable {
      ev->reader(std::move(reader), in);
      s.start();
    });
  }

  /// The client's input ended: tell the handler (directly, one hop) and the
  /// chassis (bookkeeping), once.
  void input_over(shutdown_reason why) {
    if (why == shutdown_reason::server_shutdown)
      send_on(ctrlout, producer_finished{});
    else
      send_on(ctrlout, socket_shutdown{why});
    send_on(signal, shutdown_csa{caf::actor_cast<caf::actor>(this), why});
    become(common().or_else([](io_eof_atom) {}, [](io_drained_atom) {},
                            [this](io_closed_atom, shutdown_reason) { io_done(); }));
  }

  /// The stream is closed (or lingers on its own): end.
  void io_done() {
    stream_.reset(); // on_exit must not close a lingering socket
    quit();
  }

  std::shared_ptr<stream> stream_; // null once the stream said it is done
  std::shared_ptr<csa_events> events_;
  caf::actor_addr handler_;
};

} // namespace

caf::actor spawn_csa(caf::actor_system& sys, std::shared_ptr<stream> conn) {
  auto events = std::make_shared<csa_events>();
  auto* raw = conn.get();
  auto csa = sys.spawn<csa_actor, caf::lazy_init>(std::move(conn), events);
  events->bind(csa);
  raw->attach(std::move(events));
  return csa;
}

} // namespace kam::runtime::io
