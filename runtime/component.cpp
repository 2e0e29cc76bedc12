#include "runtime/component.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "runtime/actor_thread.hpp"
#include "runtime/introspect.hpp"

namespace kam::runtime {

namespace {

/// Composites nest a few levels deep; resolution never follows more (a
/// cycle cannot be built, children exist before their composite, but stay
/// bounded anyway).
constexpr int max_resolve_depth = 16;

/// A bit of caf::abstract_actor's flags that CAF 0.17 leaves unused: set
/// (once, in the constructor, before the actor is known to anyone) on
/// components that resolve links, so a source needs no dynamic_cast to
/// find out. Later flag updates by CAF read-modify-write the whole word and
/// keep it.
constexpr int resolving_flag = 0x40000000;
static_assert(
  (resolving_flag &
   (caf::abstract_actor::has_timeout_flag | caf::abstract_actor::is_registered_flag |
    caf::abstract_actor::is_initialized_flag | caf::abstract_actor::is_blocking_flag |
    caf::abstract_actor::is_detached_flag | caf::abstract_actor::is_serializable_flag |
    caf::abstract_actor::is_migrated_from_flag | caf::abstract_actor::has_used_aout_flag |
    caf::abstract_actor::is_terminated_flag | caf::abstract_actor::is_cleaned_up_flag |
    caf::abstract_actor::is_shutting_down_flag)) == 0,
  "resolving_flag collides with a CAF actor flag");

/// Where a message for (`dest`, `in`) really goes: follows composites whose
/// box resolves to a child's, past at most one that watches `control`.
void resolve_dest(caf::actor& dest, box& in, caf::actor& watch) {
  bool watcher_passed = false;
  for (int depth = 0; depth < max_resolve_depth; ++depth) {
    auto* c = component::resolving(dest);
    if (c == nullptr)
      return;
    caf::actor child;
    box child_in = in;
    if (!c->resolve_inbox(in, child, child_in) || !child)
      return;
    // The chain must be the same for `inbox` and `control` (one path), so
    // the watcher rule counts a watching composite on either.
    if (c->watches_control()) {
      if (watcher_passed)
        return;
      watcher_passed = true;
      if (in == control)
        watch = dest;
    }
    dest = std::move(child);
    in = child_in;
  }
}

/// Calls `f(source, source_out)` for every box that really feeds `src`'s
/// outbox `out` (see component::resolve_outbox()).
template <class F>
void for_each_source(const caf::actor& src, box out, F&& f, int depth = 0) {
  std::vector<std::pair<caf::actor, box>> sources;
  auto* c = depth < max_resolve_depth ? component::resolving(src) : nullptr;
  if (c == nullptr || !c->resolve_outbox(out, sources)) {
    f(src, out);
    return;
  }
  for (auto& [child, child_out] : sources)
    for_each_source(child, child_out, f, depth + 1);
}

} // namespace

component::component(caf::actor_config& cfg) : super(cfg), home_(current_actor_thread()) {
  set_default_handler([](caf::scheduled_actor* ptr, caf::message_view& x) {
    return static_cast<component*>(ptr)->on_unmatched(x);
  });
}

component::~component() = default;

// Whoever wakes us, we run at home (as caf::io's brokers run on their
// multiplexer): CAF schedules an actor on the execution unit it is given.
void component::enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) {
  // Sent from a turn on our home thread while we are idle: straight into
  // our behavior when that turn ends (actor_thread's hand-off).
  if (home_ && home_->try_handoff(this, ptr))
    return;
  super::enqueue(std::move(ptr), home_ ? home_->unit() : eu);
}

void component::launch(caf::execution_unit* eu, bool lazy, bool hide) {
  super::launch(home_ ? home_->unit() : eu, lazy, hide);
}

void component::on_exit() {
  links_.clear();
  super::on_exit();
}

void component::send_message_on(box out, const caf::message& payload) {
  for (auto& e : links_)
    if (e.out == out) {
      if (e.watch)
        send_watch(e, payload);
      send(e.dest, caf::make_message(e.in) + payload);
    }
}

void component::send_watch(const link_entry& e, caf::message payload) {
  send<caf::message_priority::high>(
    e.watch, caf::make_message(watch_atom::value, control) + payload);
}

const component* component::resolving(const caf::actor& x) {
  if (!x)
    return nullptr;
  auto* a = caf::actor_cast<caf::abstract_actor*>(x);
  // Only a component's constructor sets the flag: the cast is safe.
  return a->getf(resolving_flag) ? static_cast<const component*>(a) : nullptr;
}

void component::enable_resolution() {
  setf(resolving_flag);
}

bool component::resolve_inbox(box, caf::actor&, box&) const {
  return false;
}

bool component::watches_control() const {
  return false;
}

bool component::resolve_outbox(box, std::vector<std::pair<caf::actor, box>>&) const {
  return false;
}

void component::send_self_later(caf::message msg) {
  auto me = caf::actor_cast<caf::actor>(this);
  if (!home_ || !home_->post([me, msg = std::move(msg)] { caf::anon_send(me, msg); }))
    caf::anon_send(me, std::move(msg));
}

bool component::linked(box out) const {
  return std::any_of(links_.begin(), links_.end(),
                     [out](const link_entry& e) { return e.out == out; });
}

std::pair<caf::actor, box> component::target(box out) const {
  for (auto& e : links_)
    if (e.out == out)
      return {e.dest, e.in};
  return {caf::actor{}, inbox};
}

std::vector<std::pair<caf::actor, box>> component::targets(box out, bool& watched) const {
  std::vector<std::pair<caf::actor, box>> xs;
  watched = false;
  for (auto& e : links_)
    if (e.out == out) {
      xs.emplace_back(e.dest, e.in);
      watched = watched || static_cast<bool>(e.watch);
    }
  return xs;
}

void component::links_changed(box) {
  // nop
}

void component::add_link(box out, caf::actor dest, box in) {
  if (!dest)
    return;
  if (resolving(dest) == nullptr) { // the usual case: nothing to resolve
    links_.push_back(
      link_entry{out, std::move(dest), in, caf::actor{}, in, caf::actor{}});
    links_changed(out);
    return;
  }
  auto to = dest;
  auto to_in = in;
  caf::actor watch;
  resolve_dest(to, to_in, watch);
  if (to == dest) // nothing resolved after all
    links_.push_back(
      link_entry{out, std::move(to), to_in, caf::actor{}, in, caf::actor{}});
  else
    links_.push_back(
      link_entry{out, std::move(to), to_in, std::move(dest), in, std::move(watch)});
  links_changed(out);
}

void component::remove_links(box out) {
  links_.erase(std::remove_if(links_.begin(), links_.end(),
                              [out](const link_entry& e) { return e.out == out; }),
               links_.end());
  links_changed(out);
}

void component::remove_link(box out, const caf::actor& dest, box in) {
  links_.erase(std::remove_if(links_.begin(), links_.end(),
                              [&](const link_entry& e) {
                                // As requested: `asked` if it was resolved.
                                return e.out == out && e.asked_in == in &&
                                       (e.asked ? e.asked : e.dest) == dest;
                              }),
               links_.end());
  links_changed(out);
}

void component::describe(component_report& r) const {
  auto add = [](std::vector<box>& v, box b) {
    if (std::find(v.begin(), v.end(), b) == v.end())
      v.push_back(b);
  };
  r.id = id();
  r.name = name();
  for (auto b : {inbox, control})
    add(r.inboxes, b);
  for (auto b : {outbox, signal})
    add(r.outboxes, b);
  for (auto& e : links_) {
    add(r.outboxes, e.out);
    r.links.push_back(box_link{e.out, e.dest, e.in});
  }
}

void component::handle_batch(box in, const message_batch& b) {
  auto tag = caf::make_message(in);
  for (auto& x : b.xs) {
    if (getf(is_terminated_flag) || !has_behavior())
      return;
    auto one = tag + x;
    if (bhvr_stack().back()(one))
      continue;
    // Not the behavior's: what the mailbox would do next, the default handler.
    // Called from the default handler itself, CAF has moved that out while it
    // runs (call_handler): then ours. A subclass's handler decides by box,
    // and the box is the one it already passed on.
    auto elem = caf::make_mailbox_element(current_sender(), caf::make_message_id(), {},
                                          std::move(one));
    if (default_handler_)
      default_handler_(this, *elem);
    else
      on_unmatched(*elem);
  }
}

caf::result<caf::message> component::on_unmatched(caf::message_view& x) {
  auto msg = x.move_content_to_message();
  // One hop for many messages (a backplane round, see ipc.hpp).
  if (msg.match_elements<box, message_batch>()) {
    handle_batch(msg.get_as<box>(0), msg.get_as<message_batch>(1));
    return caf::message{};
  }
  // Kamaelia's Introspector asks (on our own thread: no lock on the tables).
  if (msg.match_elements<introspect_atom>()) {
    component_report r;
    describe(r);
    return caf::make_message(std::move(r));
  }
  // Link requests.
  if (msg.match_elements<link_atom, box, caf::actor, box>()) {
    add_link(msg.get_as<box>(1), msg.get_as<caf::actor>(2), msg.get_as<box>(3));
    return caf::message{};
  }
  if (msg.match_elements<unlink_atom, box>()) {
    remove_links(msg.get_as<box>(1));
    return caf::message{};
  }
  if (msg.match_elements<unlink_atom, box, caf::actor, box>()) {
    remove_link(msg.get_as<box>(1), msg.get_as<caf::actor>(2), msg.get_as<box>(3));
    return caf::message{};
  }
  if (msg.size() >= 1 && msg.match_element<box>(0)) {
    auto in = msg.get_as<box>(0);
    // Kamaelia's default reaction to the standard control messages.
    if (in == control && msg.size() == 2) {
      if (msg.match_element<shutdown_microprocess>(1)) {
        finish(shutdown_microprocess{});
        return caf::message{};
      }
      // Flow control is advisory: a component that cannot hold back ignores it.
      if (msg.match_element<pause_producing>(1) || msg.match_element<resume_producing>(1))
        return caf::message{};
      if (msg.match_element<producer_finished>(1) ||
          msg.match_element<socket_shutdown>(1)) {
        finish(producer_finished{});
        return caf::message{};
      }
    }
  }
  aout(this) << "*** " << name() << " (id " << id()
             << ") dropped unexpected message: " << to_string(msg) << std::endl;
  return caf::sec::unexpected_message;
}

void link(const caf::actor& src, box out, const caf::actor& dest, box in) {
  for_each_source(src, out, [&](const caf::actor& s, box o) {
    caf::anon_send(s, link_atom::value, o, dest, in);
  });
}

void unlink(const caf::actor& src, box out) {
  for_each_source(src, out, [&](const caf::actor& s, box o) {
    caf::anon_send(s, unlink_atom::value, o);
  });
}

void unlink(const caf::actor& src, box out, const caf::actor& dest, box in) {
  for_each_source(src, out, [&](const caf::actor& s, box o) {
    caf::anon_send(s, unlink_atom::value, o, dest, in);
  });
}

void link(caf::event_based_actor* self, const caf::actor& src, box out,
          const caf::actor& dest, box in) {
  for_each_source(src, out, [&](const caf::actor& s, box o) {
    self->send(s, link_atom::value, o, dest, in);
  });
}

} // namespace kam::runtime
