#include "runtime/component.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "runtime/actor_thread.hpp"
#include "runtime/introspect.hpp"

namespace kam::runtime {

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
    if (e.out == out)
      send(e.dest, caf::make_message(e.in) + payload);
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

void component::add_link(box out, caf::actor dest, box in) {
  if (!dest)
    return;
  links_.push_back(link_entry{out, std::move(dest), in});
}

void component::remove_links(box out) {
  links_.erase(std::remove_if(links_.begin(), links_.end(),
                              [out](const link_entry& e) { return e.out == out; }),
               links_.end());
}

void component::remove_link(box out, const caf::actor& dest, box in) {
  links_.erase(std::remove_if(links_.begin(), links_.end(),
                              [&](const link_entry& e) {
                                return e.out == out && e.dest == dest && e.in == in;
                              }),
               links_.end());
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
  caf::anon_send(src, link_atom::value, out, dest, in);
}

void unlink(const caf::actor& src, box out) {
  caf::anon_send(src, unlink_atom::value, out);
}

void link(caf::event_based_actor* self, const caf::actor& src, box out,
          const caf::actor& dest, box in) {
  self->send(src, link_atom::value, out, dest, in);
}

} // namespace kam::runtime
