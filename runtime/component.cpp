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
  super::enqueue(std::move(ptr), home_ ? home_->unit() : eu);
}

void component::launch(caf::execution_unit* eu, bool lazy, bool hide) {
  super::launch(home_ ? home_->unit() : eu, lazy, hide);
}

void component::on_exit() {
  links_.clear();
  inbound_.clear();
  outbound_.clear();
  super::on_exit();
}

void component::send_message_on(box out, const caf::message& payload) {
  for (auto& e : links_)
    if (e.out == out)
      send(e.dest, caf::make_message(e.in) + payload);
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

void component::forward_inbox(box in, caf::actor child, box child_in) {
  inbound_.push_back(inbound_entry{in, std::move(child), child_in});
}

void component::forward_outbox(box in, box out) {
  outbound_.push_back(outbound_entry{in, out});
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
  for (auto& e : inbound_) {
    add(r.inboxes, e.in);
    r.passthrough.push_back(box_link{e.in, e.child, e.child_in});
  }
  for (auto& e : outbound_) {
    add(r.inboxes, e.in);
    add(r.outboxes, e.out);
    r.passthrough.push_back(box_link{e.in, caf::actor{}, e.out});
  }
}

caf::result<caf::message> component::on_unmatched(caf::message_view& x) {
  auto msg = x.move_content_to_message();
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
    // Passthrough boxes.
    bool forwarded = false;
    for (auto& e : inbound_)
      if (e.in == in) {
        send(e.child, caf::make_message(e.child_in) + msg.drop(1));
        forwarded = true;
      }
    for (auto& e : outbound_)
      if (e.in == in) {
        auto out = e.out;
        auto rest = msg.drop(1);
        for (auto& l : links_)
          if (l.out == out)
            send(l.dest, caf::make_message(l.in) + rest);
        forwarded = true;
      }
    if (forwarded)
      return caf::message{};
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
