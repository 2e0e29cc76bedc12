#include "runtime/io/csa.hpp"

#include <caf/all.hpp>

#include "runtime/component.hpp"
#include "runtime/io/detail/io_events.hpp"
#include "runtime/io/detail/tcp_connection.hpp"

namespace kam::runtime::io {

namespace {

using namespace detail;

class csa_actor : public component {
public:
  csa_actor(caf::actor_config& cfg, std::shared_ptr<tcp_connection> conn)
    : component(cfg), conn_(std::move(conn)) {
    set_exit_handler([this](caf::exit_msg& x) {
      if (x.source != handler_) {
        if (x.reason)
          quit(x.reason);
        return;
      }
      // Our handler ended: everything it sent is already in our mailbox.
      if (x.reason)
        conn_->close_now(shutdown_reason::error);
      else
        conn_->close_graceful();
    });
  }

  const char* name() const override { return "kam.csa"; }

  caf::behavior make_behavior() override {
    return {
      [this](inbox_atom, bytes& data) {
        if (closing_) // closed as a slow consumer: drop what still arrives
          return;
        auto queued = conn_->write(std::move(data));
        if (queued < conn_->high_watermark())
          return;
        if (queued >= conn_->hard_limit() && conn_->close_slow_consumers()) {
          // The pub/sub policy: this client reads slower than others write
          // to it; holding its output would grow without bound.
          closing_ = true;
          conn_->close_now(shutdown_reason::slow_consumer);
          return;
        }
        if (!paused_)
          pause();
      },
      [this](io_resume_atom) { on_low(); },
      [this](control_atom, producer_finished) { conn_->close_graceful(); },
      [this](control_atom, set_read_deadline d) {
        conn_->read_deadline(std::chrono::milliseconds(d.ms));
      },
      [this](control_atom, shutdown_microprocess) {
        // Stop now: the I/O side closes the socket on its own.
        conn_->close_now(shutdown_reason::closed);
        io_done_ = true;
        quit();
      },
      [this](start_atom, const caf::actor& handler) {
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
        // The outbox link the chassis made before `start` decides where
        // bytes read go; the I/O thread sends there directly.
        auto [reader, in] = target(outbox);
        conn_->start(std::move(reader), in);
      },
      [this](drain_atom) { conn_->drain(); },
      [this](io_eof_atom) { report(shutdown_reason::peer_closed); },
      [this](io_drained_atom) { report(shutdown_reason::server_shutdown); },
      [this](io_closed_atom, shutdown_reason why) {
        io_done_ = true;
        if (why != shutdown_reason::closed)
          report(why);
        quit();
      },
    };
  }

  void on_exit() override {
    // However we end, the socket must not outlive us half-open (once the I/O
    // side reported its end it may still linger for the peer's FIN).
    if (!io_done_)
      conn_->close_now(shutdown_reason::closed);
    conn_.reset();
    component::on_exit();
  }

private:
  void pause() {
    paused_ = true;
    send_on(ctrlout, pause_producing{});
    if (conn_->arm_resume()) // drained meanwhile
      on_low();
  }

  void on_low() {
    if (!paused_)
      return;
    // Refilled past the high mark since the I/O thread looked: wait again.
    if (conn_->queued() >= conn_->high_watermark() && !conn_->arm_resume())
      return;
    paused_ = false;
    send_on(ctrlout, resume_producing{});
  }

  void report(shutdown_reason why) {
    if (reported_)
      return;
    reported_ = true;
    // The handler hears it from us directly (one hop, not two through the
    // chassis); the chassis only does its bookkeeping.
    if (why == shutdown_reason::server_shutdown)
      send_on(ctrlout, producer_finished{});
    else
      send_on(ctrlout, socket_shutdown{why});
    send_on(signal, shutdown_csa{caf::actor_cast<caf::actor>(this), why});
  }

  std::shared_ptr<tcp_connection> conn_;
  caf::actor_addr handler_;
  bool reported_ = false;
  bool io_done_ = false;
  bool paused_ = false;  // told the handler pause_producing
  bool closing_ = false; // closed as a slow consumer
};

} // namespace

caf::actor spawn_csa(caf::actor_system& sys, std::shared_ptr<tcp_connection> conn) {
  auto* raw = conn.get();
  auto csa = sys.spawn<csa_actor, caf::lazy_init>(std::move(conn));
  raw->attach(csa);
  return csa;
}

} // namespace kam::runtime::io
