#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>

#include "runtime/boxes.hpp"
#include "runtime/bytes.hpp"
#include "runtime/ipc.hpp"

namespace kam::runtime {

class actor_thread;
struct component_report;

/// `(watch_atom, in, payload...)`: a copy of a message that a link resolved
/// past a composite sent to the composite's child (see
/// component::watches_control()), sent urgent so it arrives before anything
/// the child does about it.
using watch_atom = caf::atom_constant<caf::atom("kam_watch")>;

/// A Kamaelia component: a CAF event-based actor with named boxes.
///
/// Messages arrive tagged with the inbox they were sent to, as
/// `(inbox_name, payload...)`; the component's behavior matches them per box.
/// Outboxes are entries in a link table owned by this component: send_on()
/// delivers to every inbox linked to the outbox and discards when none is
/// (Axon's semantics). Links are made from outside with link() / unlink(),
/// which send requests that this component applies in mailbox order, so a
/// link made before a data message is sent is in place when it arrives.
///
/// Write a component as a function and spawn it with `sys.spawn(fn)`:
/// @code
/// caf::behavior echo(component* self) {
///   return {[=](inbox_atom, bytes& data) { self->send_on(outbox, std::move(data)); }};
/// }
/// @endcode
///
/// Messages the behavior does not match are handled by the component itself:
/// link requests; and on `control`, `producer_finished`, `socket_shutdown` and
/// `shutdown_microprocess` end the component after passing `producer_finished`
/// (or `shutdown_microprocess`) on `signal`; `pause_producing` and
/// `resume_producing` are ignored (flow control is advisory). Anything else is
/// reported and dropped. Every member function must be called from this actor only.
///
/// Where it runs: a component made while an actor_thread is current (on an
/// I/O thread, or inside the chassis's factory call for a connection) runs
/// on that thread, next to its socket; otherwise on CAF's scheduler. See
/// runtime/actor_thread.hpp.
class component : public caf::event_based_actor {
public:
  using super = caf::event_based_actor;

  explicit component(caf::actor_config& cfg);
  ~component() override;

  const char* name() const override { return "kam.component"; }

  /// The thread this component runs on, or null for CAF's scheduler. Fixed
  /// at construction; any thread may read it.
  const std::shared_ptr<actor_thread>& home() const { return home_; }

  /// Internal (runtime/scheduler.cpp): whether this component ever set a
  /// timeout with CAF's clock, so its end must cancel timeouts there.
  bool uses_clock() const { return uses_clock_.load(std::memory_order_relaxed); }
  void mark_uses_clock() { uses_clock_.store(true, std::memory_order_relaxed); }

  using super::enqueue;
  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) override;
  void launch(caf::execution_unit* eu, bool lazy, bool hide) override;

  /// Drops every link. Link tables hold strong references, and two linked
  /// components (handler <-> CSA) would otherwise keep each other alive
  /// after both ended. Overrides must call component::on_exit().
  void on_exit() override;

  /// Sends `xs...` on outbox `out` to every linked inbox; discards if none.
  template <class... Ts>
  void send_on(box out, Ts&&... xs) {
    const link_entry* last = nullptr;
    for (auto& e : links_) {
      if (e.out != out)
        continue;
      if (last != nullptr) {
        if (last->watch)
          watch_copy(*last, xs...);
        send(last->dest, last->in, xs...); // copies for fan-out
      }
      last = &e;
    }
    if (last != nullptr) {
      if (last->watch)
        watch_copy(*last, xs...);
      send(last->dest, last->in, std::forward<Ts>(xs)...);
    }
  }

  /// Sends `(in) + payload` to every inbox `in` linked to outbox `out`, as
  /// send_on() with the payload's elements (shared, not copied: a message is
  /// copy-on-write). For components that pass on messages of any type.
  void send_message_on(box out, const caf::message& payload);

  /// Returns whether outbox `out` has at least one link.
  bool linked(box out) const;

  /// Returns the first inbox linked to outbox `out`, or (nullptr, inbox).
  std::pair<caf::actor, box> target(box out) const;

  /// Every inbox linked to outbox `out` (resolved), in link order; `watched`
  /// says whether any of them is resolved past a composite that sees copies
  /// (then only send_on() delivers as the link table means).
  std::vector<std::pair<caf::actor, box>> targets(box out, bool& watched) const;

  /// Links outbox `out` to inbox `in` of `dest`. Many outboxes may link to
  /// one inbox; one outbox may link to several (each gets a copy). When
  /// `dest` is a local composite whose `in` resolves to a child's box (see
  /// resolve_inbox()), the link points at that box: the table holds where
  /// messages really go (target(), the Introspector's report); unlink
  /// requests still name (`dest`, `in`).
  void add_link(box out, caf::actor dest, box in);

  /// Removes every link from outbox `out`.
  void remove_links(box out);

  /// Removes the link from `out` to (`dest`, `in`).
  void remove_link(box out, const caf::actor& dest, box in);

  /// Sends `msg` to this component itself once the work its thread has
  /// queued now has run: on an I/O thread, through a post to its io_context
  /// (after the socket events and messages of this event-loop round, which
  /// the same-thread hop would otherwise interleave with it); elsewhere as
  /// an ordinary send to self. For flushing what a round accumulated
  /// (Netty's flush consolidation), e.g. lines::coalescing_joiner.
  void send_self_later(caf::message msg);

  /// Handles each message of `b`, in order, as if it had arrived on box
  /// `in` on its own: the current behavior first, then the default handler
  /// for what it does not match (control, a subclass's routing; from within
  /// the default handler, on_unmatched()). Stops when the component ends or
  /// has no behavior left, as the mailbox would.
  /// Called for `(in, message_batch)` by the default handler; a component
  /// that matches message_batch itself calls it for what it cannot take.
  void handle_batch(box in, const message_batch& b);

  /// Kamaelia's orderly end: sends `msg` on `signal`, then quits.
  template <class T>
  void finish(T msg) {
    send_on(signal, std::move(msg));
    quit();
  }

  /// Link resolution (Axon's passthrough, resolved when the link is made).
  ///
  /// A composite whose inbox `in` leads, for its whole life, to exactly one
  /// box of one child returns true and names it: a link made to (this, in)
  /// then points straight at (`child`, `child_in`), transitively, and the
  /// message skips this hop. Implementations return true for `inbox` and
  /// `control` together or not at all, each to the child's box of the same
  /// name, so a source's data and control keep one path and their order.
  /// Called from the source's thread: what it reads must be immutable from
  /// construction on (set before spawn returns). Default: false.
  virtual bool resolve_inbox(box in, caf::actor& child, box& child_in) const;

  /// Whether this component, when a link to its `control` is resolved past
  /// it, must still see every message on it: the source then also sends it
  /// `(watch_atom, control, payload...)`, urgent, before the child's copy.
  /// A resolution chain passes at most one such component. Immutable from
  /// construction on, as resolve_inbox(). Default: false.
  virtual bool watches_control() const;

  /// Link resolution on the outbox side: a composite whose outbox `out` is
  /// fed, for its whole life, only by its children's boxes appends them to
  /// `sources` and returns true; link() and unlink() then ask those children
  /// (transitively) instead of this composite, so a link is in place on the
  /// child as soon as the request is in the child's mailbox. Immutable from
  /// construction on, as resolve_inbox(). Default: false.
  virtual bool resolve_outbox(box out,
                              std::vector<std::pair<caf::actor, box>>& sources) const;

  /// Whether `x` is a local component that called enable_resolution(), so
  /// links to it may resolve past it; then that component, else null. A
  /// flag test, no RTTI (it runs for every link made). Any thread.
  static const component* resolving(const caf::actor& x);

  /// Fills `r` for Kamaelia's Introspector (`(introspect_atom)`, answered by
  /// the default handler): id, name, standard boxes and the link table. A
  /// subclass with more to say (a composite: its children and routes)
  /// extends it; overrides call component::describe().
  virtual void describe(component_report& r) const;

protected:
  /// For a subclass that overrides resolve_inbox() or resolve_outbox():
  /// call from its constructor (before spawn returns), else links to it are
  /// never resolved. Constructor only.
  void enable_resolution();

  /// Called on this component's thread after the links of outbox `out`
  /// changed (add_link(), remove_links(), remove_link()). Does nothing; a
  /// component whose messages another actor sends on its behalf tells that
  /// actor here (the Backplane's subscriber).
  virtual void links_changed(box out);

  /// The default handler: link requests, the standard
  /// control messages (see the class comment); a subclass that installs
  /// its own default handler passes on what it does not take.
  caf::result<caf::message> on_unmatched(caf::message_view& x);

private:
  struct link_entry {
    box out;
    caf::actor dest; // where messages go (resolved)
    box in;
    caf::actor asked; // the link as requested if resolved (else empty)
    box asked_in;     // the inbox as requested
    caf::actor watch; // a composite resolved past that sees copies (rare)
  };

  void send_watch(const link_entry& e, caf::message payload);

  /// Out of send_on()'s hot path: only links resolved past a graphline's
  /// `control` have a watch.
  template <class... Ts>
  [[gnu::cold, gnu::noinline]] void watch_copy(const link_entry& e, const Ts&... xs) {
    send_watch(e, caf::make_message(xs...));
  }

  friend class actor_thread;

  std::shared_ptr<actor_thread> home_;
  /// Messages waiting in home_'s hand-off queue for this component (home
  /// thread only; see actor_thread).
  uint32_t handoffs_ = 0;
  std::atomic<bool> uses_clock_{false};
  std::vector<link_entry> links_;
};

/// Asks `src` to link its outbox `out` to `dest`'s inbox `in`. Any thread.
/// When `src` is a local composite whose `out` is fed only by children (see
/// component::resolve_outbox()), the request goes to those children
/// directly, so it is in place before any message can reach them.
void link(const caf::actor& src, box out, const caf::actor& dest, box in);

/// Asks `src` to drop every link from its outbox `out` (resolved as link()).
/// Any thread.
void unlink(const caf::actor& src, box out);

/// Asks `src` to drop the link from its outbox `out` to (`dest`, `in`), as
/// requested (resolved as link()). Any thread.
void unlink(const caf::actor& src, box out, const caf::actor& dest, box in);

/// As link(), sent from actor `self`, keeping `self`'s send order.
void link(caf::event_based_actor* self, const caf::actor& src, box out,
          const caf::actor& dest, box in);

} // namespace kam::runtime
