#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>

#include <caf/fwd.hpp>

namespace boost::asio {
class io_context;
} // namespace boost::asio

namespace kam::runtime {

class component;

/// A thread that runs components between its own jobs: an I/O thread whose
/// Asio io_context also resumes the CAF actors placed on it.
///
/// CAF runs an actor on the execution unit that schedules it (caf::io's
/// brokers run on their multiplexer thread this way). A component made while
/// an actor_thread is current (see actor_thread_scope) keeps it as its home:
/// every wake-up of that component is posted to the home's io_context and
/// resumed there, so a connection's CSA and handler run on the thread that
/// owns its socket and a round trip crosses no thread. The components stay
/// ordinary CAF actors (mailbox, behavior, links, monitors, timers); actors
/// they wake that have no home (plain CAF actors, components made elsewhere)
/// go to CAF's scheduler as usual.
///
/// Once close() has run (the io_context stopped for good), components whose
/// home it is are resumed by CAF's scheduler instead, so none is stranded.
///
/// The same-thread hop. While a *turn* runs here (a component's resumption,
/// or a socket event wrapped in a turn_scope), a normal-priority async
/// message to a component whose home this is and that is idle (mailbox
/// blocked: empty, not scheduled) skips the mailbox: it waits in this
/// thread's hand-off queue and, when the turn ends, the receiver's behavior
/// runs on it directly (CAF's `scheduled_actor::activate(ctx, element)`, as
/// caf::io's brokers are fed). No enqueue, wake-up, Asio post or resume
/// loop; still one message at a time per actor, in send order: once a
/// receiver has a message waiting here, every later one this thread sends
/// it waits behind it, and each turn takes at most `handoff_batch` of them
/// before the rest go to the mailboxes in order. Urgent messages (exits),
/// requests and responses always take the mailbox.
///
/// Thread rule: exec() and unit() are thread safe; close() runs once, on the
/// io_context's thread after its run() returned (or on any thread if it never ran).
class actor_thread : public std::enable_shared_from_this<actor_thread> {
public:
  /// Resumes at most `max_throughput` messages per actor per turn, then lets
  /// the io_context's other work (sockets) run.
  actor_thread(caf::actor_system& sys, boost::asio::io_context& ioc,
               size_t max_throughput = 64);
  ~actor_thread();

  actor_thread(const actor_thread&) = delete;
  actor_thread& operator=(const actor_thread&) = delete;

  /// The execution unit to schedule a component living here with.
  caf::execution_unit* unit();

  /// Posts `f` to the io_context (after what is queued now); false once
  /// closed (then nothing is posted).
  bool post(std::function<void()> f);

  /// Runs what is still posted, then hands later jobs to CAF's scheduler.
  void close();

  /// Whether close() has begun.
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  class home_unit;
  class context_unit;

  /// Internal (component::enqueue): takes `ptr` for `rcv`'s next turn if
  /// the hand-off applies (see the class comment); else leaves it.
  bool try_handoff(component* rcv, caf::mailbox_element_ptr& ptr);

  /// Internal (turn_scope): begins a turn on this thread; false if one runs.
  bool begin_turn();
  /// Ends the turn begin_turn() began and delivers what it handed off.
  void end_turn();

  /// At most this many hand-offs are delivered directly per turn.
  static constexpr size_t handoff_batch = 256;

private:
  friend class home_unit;

  /// Takes over one reference to `job`.
  void exec(caf::resumable* job);
  void resume(caf::resumable* job);
  /// Works off local_ (at most drain_batch jobs per Asio job).
  void drain();
  /// Delivers the hand-off queue (end of a turn).
  void flush_handoffs();
  /// Posts `f` to the io_context unless closed (then `f` is destroyed
  /// unrun); safe against a concurrent close(). Defined in the .cpp.
  template <class F>
  bool post_open(F&& f);

  static constexpr size_t drain_batch = 256;

  caf::actor_system& sys_;
  boost::asio::io_context& ioc_;
  size_t max_throughput_;
  std::unique_ptr<home_unit> home_;
  std::unique_ptr<context_unit> context_;
  std::atomic<bool> closed_{false};
  std::atomic<size_t> posting_{0};
  // The io_context's thread only: jobs woken from that thread.
  std::deque<caf::resumable*> local_;
  bool drain_posted_ = false;
  // The io_context's thread only: messages for idle components here.
  struct handoff {
    component* rcv; // holds a strong reference until delivered
    caf::mailbox_element* msg;
  };
  std::deque<handoff> handoffs_;
  size_t flushed_ = 0; // hand-offs delivered since drain() last looked
};

/// Runs a socket event as a turn of its I/O thread's actor_thread: messages
/// it sends to idle components there are delivered when the scope ends
/// (see actor_thread). A no-op off an actor_thread or inside a turn.
class turn_scope {
public:
  turn_scope();
  ~turn_scope();
  turn_scope(const turn_scope&) = delete;
  turn_scope& operator=(const turn_scope&) = delete;

private:
  actor_thread* owner_;
};

/// The actor_thread components made on this thread get as their home (null:
/// CAF's scheduler). An I/O thread has its own for its whole life, and it is
/// current while a component runs on it (so what a component spawns lives
/// with it); the chassis sets the connection's around its factory call.
std::shared_ptr<actor_thread> current_actor_thread();

/// Makes `home` current on this thread until the scope ends (null: none).
class actor_thread_scope {
public:
  explicit actor_thread_scope(std::shared_ptr<actor_thread> home);
  ~actor_thread_scope();

  actor_thread_scope(const actor_thread_scope&) = delete;
  actor_thread_scope& operator=(const actor_thread_scope&) = delete;

private:
  std::shared_ptr<actor_thread> home_;
  actor_thread* prev_;
};

/// The home of `x` if it is a local component placed on an actor_thread.
std::shared_ptr<actor_thread> home_of(const caf::actor& x);

} // namespace kam::runtime
