#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "runtime/stats.hpp"

namespace kam::protocols::chat {

/// A chat server's line counters; thread safe.
struct counters {
  /// Lines handed to a client's connection (one per receiving client).
  runtime::sharded_counter delivered;
  /// Lines a client sent that reached no one: longer than max_line (the
  /// sender is disconnected).
  runtime::sharded_counter dropped;
};

/// What a chat server is configured with.
struct chat_options {
  /// The backplane every connection publishes to and subscribes to; make it
  /// with runtime::backplane() before the first connection.
  std::string backplane = "CHAT";
  /// Longest line accepted (bytes, without the terminator); a longer one
  /// closes its sender's connection.
  size_t max_line = 65536;
  /// Null: lines are not counted.
  std::shared_ptr<counters> stats = nullptr;
};

/// Makes one chat connection's handler: Kamaelia's
/// `Graphline(framer -> PublishTo, SubscribeTo -> joiner)`:
///
///     self.inbox -> framer -> publish_to(backplane)
///     subscribe_to(backplane, skip: this publisher) -> joiner -> self.outbox
///     framer.signal -> publisher.control -> subscriber.control -> joiner.control
///
/// Each `\n`-terminated line the client sends reaches every other client, in
/// order, `\n`-terminated (a `\r\n` terminator is sent as `\n`; a last line
/// cut by the client's close is delivered as a line). The end of the
/// client's input, or an over-long line, ends the framer and, down the
/// chain, the rest; the connection is then flushed and closed.
/// Lines travel as protocols::lines::line_block: a program that federates
/// the backplane (runtime::federate) calls lines::add_message_types() on its
/// config so they cross nodes.
/// Throws std::runtime_error if the backplane does not exist (the chassis
/// then closes only this connection). Call from the chassis's factory.
caf::actor handler(caf::actor_system& sys, const chat_options& opts);

} // namespace kam::protocols::chat
