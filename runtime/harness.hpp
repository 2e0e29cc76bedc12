#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>
#include <caf/send.hpp>

#include "runtime/boxes.hpp"
#include "runtime/bytes.hpp"

namespace kam::runtime {

/// An in-memory test bench for one component: no sockets.
///
/// Links the subject's outboxes to a collector, sends to its inboxes, and
/// returns what it sent, per outbox, in order; also watches it end. A
/// message_batch counts as its messages, one by one, as a component gets it.
/// @code
/// harness h{sys, sys.spawn(echo::handler)};
/// h.send(inbox, to_bytes("hi"));
/// CHECK(h.read_text(outbox, 2) == "hi");
/// h.send(control, producer_finished{});
/// CHECK(h.next_as<producer_finished>(signal));
/// CHECK(h.wait_for_exit());
/// @endcode
/// Thread rule: use from one (test) thread; calls block up to their timeout.
class harness {
public:
  using duration = std::chrono::milliseconds;

  /// Links `outboxes` of `subject` to the collector (the box name is kept).
  harness(caf::actor_system& sys, caf::actor subject,
          std::vector<box> outboxes = {outbox, signal, serversig});

  /// Kills the subject if it is still running.
  ~harness();

  const caf::actor& subject() const { return subject_; }

  /// The collector's handle, to link further outboxes by hand.
  caf::actor collector() const;

  /// Sends `(in, xs...)` to the subject, as Kamaelia's send to an inbox.
  template <class... Ts>
  void send(box in, Ts&&... xs) {
    caf::anon_send(subject_, in, std::forward<Ts>(xs)...);
  }

  /// Sends `text` as one bytes message to inbox `in`.
  void send_text(box in, std::string_view text) { send(in, to_bytes(text)); }

  /// The next message from outbox `out` (without the box name), waiting up
  /// to `timeout`.
  std::optional<caf::message> next(box out, duration timeout = duration{2000});

  /// As next(), if the message is exactly one `T`.
  template <class T>
  std::optional<T> next_as(box out, duration timeout = duration{2000}) {
    auto m = next(out, timeout);
    if (!m || !m->match_elements<T>())
      return std::nullopt;
    return m->get_as<T>(0);
  }

  /// Bytes sent on `out`, concatenated, until `n` bytes or `timeout`.
  std::string read_text(box out, size_t n, duration timeout = duration{2000});

  /// Returns whether nothing arrives on `out` within `quiet`.
  bool silent(box out, duration quiet = duration{100});

  /// Waits for the subject to end; returns its exit reason (empty error for
  /// a normal end), or nothing on timeout.
  std::optional<caf::error> wait_for_exit(duration timeout = duration{2000});

  struct queue;

private:
  std::shared_ptr<queue> q_;
  caf::actor collector_;
  caf::actor subject_;
};

} // namespace kam::runtime
