// The stream's TLS layer: ciphertext read is decrypted before the owner
// sees it, plaintext written is encrypted before it is queued, so the write
// queue (and the watermarks) hold what the kernel must take.
#include "runtime/io/detail/stream_tls.hpp"
#include "runtime/io/detail/stream.hpp"

#include <boost/asio/post.hpp>

namespace kam::runtime::io::detail {

namespace asio = boost::asio;
using phase_t = tls::session::phase;

bool stream::tls_handshaking() const {
  return tls_ && tls_->session.state() == phase_t::handshaking;
}

void stream::deliver_tls(bytes&& cipher) {
  bytes plain;
  bytes out; // handshake flights, alerts, data that waited for the handshake
  bool was_handshaking = tls_handshaking();
  tls_->health_check = false; // it spoke TLS
  auto now = tls_->session.on_read(cipher.data(), cipher.size(), plain, out);
  if (was_handshaking && now == phase_t::open && !plain.empty() && events_ &&
      !out.empty()) {
    // The handshake just completed and the client's first bytes came with
    // its Finished (wrk, curl and browsers send both in one segment): what
    // OpenSSL wrote now (the session tickets) and what the handler answers
    // in this turn (the same-thread hop usually brings the answer before the
    // turn ends) are held, then leave in one write: with close_notify for a
    // connection per request, else when the posted flush runs after the
    // turn. One sendto instead of three, and one wake-up of the client.
    // Bounded: one turn's output for one request.
    tls_->held = std::move(out);
    tls_->holding = true;
    asio::post(executor(), [self = shared_from_this()] {
      if (!self->tls_)
        return;
      self->tls_->holding = false;
      if (!self->tls_->held.empty() && self->phase_ != phase::closed)
        self->send_raw(std::move(self->tls_->held));
      self->tls_->held = bytes{};
    });
  } else {
    send_raw(std::move(out));
  }
  if (phase_ == phase::closed)
    return;
  if (now == phase_t::failed) {
    // Whatever arrived before the bad record still counts.
    if (!plain.empty() && events_)
      events_->on_data(std::move(plain));
    if (was_handshaking)
      tls_failed(shutdown_reason::error);
    else {
      notify_closed(shutdown_reason::error);
      close_socket();
    }
    return;
  }
  if (was_handshaking && now != phase_t::handshaking)
    deadline_ = clock::time_point::max(); // the handshake met its deadline
  if (!plain.empty() && events_)
    events_->on_data(std::move(plain));
  if (now == phase_t::peer_closed)
    peer_finished(); // close_notify: TLS's FIN
}

void stream::write_tls(bytes&& plain) {
  bytes out;
  auto& dest = tls_->holding ? tls_->held : out; // held: after the tickets
  tls_->session.write(std::string_view{plain.data(), plain.size()}, dest);
  if (tls_->session.state() == phase_t::failed) {
    notify_closed(shutdown_reason::error);
    close_socket();
    return;
  }
  send_raw(std::move(out));
}

void stream::close_notify() {
  bytes out;
  out.swap(tls_->held); // what was held goes first, in the same write
  tls_->holding = false;
  tls_->session.shutdown(out);
  send_raw(std::move(out));
}

void stream::tls_failed(shutdown_reason why) {
  // A proxy's health check ends with a FIN or (haproxy's) a reset: no failure.
  bool check_ended = tls_->health_check && (why == shutdown_reason::peer_closed ||
                                            why == shutdown_reason::reset);
  if (tls_->stats && !check_ended)
    tls_->stats->tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
  notify_closed(why);
  close_socket();
}

} // namespace kam::runtime::io::detail
