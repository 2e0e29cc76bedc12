#include "chassis/detail/composite.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "runtime/introspect.hpp"

namespace kam::chassis::detail {

using namespace runtime;

composite::composite(caf::actor_config& cfg) : super(cfg) {
  set_exit_handler([this](caf::exit_msg& em) { on_exit_msg(em); });
  // Payloads other than bytes and Ipc on the composite's inboxes reach the
  // default handler; route them before the component's own fallback (which
  // would end the component on `control`).
  auto fallback = default_handler_;
  set_default_handler([fallback](caf::scheduled_actor* ptr,
                                 caf::message_view& x) -> caf::result<caf::message> {
    auto self = static_cast<composite*>(ptr);
    auto& xs = x.content();
    if (xs.size() >= 2 && xs.match_element<box>(0) &&
        xs.get_as<box>(0) == watch_atom::value && xs.match_element<box>(1)) {
      auto msg = x.move_content_to_message();
      self->on_watched(msg.get_as<box>(1), msg.drop(2));
      return caf::message{};
    }
    if (xs.size() >= 1 && xs.match_element<box>(0)) {
      auto in = xs.get_as<box>(0);
      if (self->claims(in)) {
        auto msg = x.move_content_to_message();
        self->receive_on(in, msg.drop(1));
        return caf::message{};
      }
    }
    return fallback(ptr, x);
  });
}

caf::behavior composite::make_behavior() {
  start();
  return {
    [this](link_atom, box out, caf::actor& dest, box in) {
      request_link(out, std::move(dest), in);
    },
    [this](unlink_atom, box out) { request_unlink(out); },
    [this](unlink_atom, box out, const caf::actor& dest, box in) {
      request_unlink(out, dest, in);
    },
    [this](inbox_atom, bytes& data) { deliver_bytes(inbox, std::move(data)); },
    [this](control_atom, producer_finished x) { on_control(caf::make_message(x)); },
    [this](control_atom, socket_shutdown x) { on_control(caf::make_message(x)); },
    [this](control_atom, shutdown_microprocess x) { on_control(caf::make_message(x)); },
    [this](composite_done_atom) { on_done(); },
    [this](child_signal_atom, producer_finished x) {
      on_child_signal(sender_child(), caf::make_message(x));
    },
    [this](child_signal_atom, shutdown_microprocess x) {
      on_child_signal(sender_child(), caf::make_message(x));
    },
    [this](child_signal_atom, socket_shutdown x) {
      on_child_signal(sender_child(), caf::make_message(x));
    },
  };
}

void composite::on_exit() {
  // Normally every child has ended before the composite does; if not (a
  // subclass quit early), none may outlive it.
  for (auto& c : children_)
    caf::anon_send_exit(c, caf::exit_reason::kill);
  children_.clear();
  in_routes_.clear();
  out_sources_.clear();
  out_links_.clear();
  super::on_exit();
}

void composite::describe(component_report& r) const {
  super::describe(r);
  auto add = [](std::vector<box>& v, box b) {
    if (std::find(v.begin(), v.end(), b) == v.end())
      v.push_back(b);
  };
  r.children = children_;
  for (auto& x : in_routes_) {
    add(r.inboxes, x.in);
    if (!x.child)
      add(r.outboxes, x.child_in);
    r.passthrough.push_back(box_link{x.in, x.child, x.child_in});
  }
  for (auto& s : out_sources_)
    add(r.outboxes, s.out);
}

bool composite::claims(box in) const {
  return in == inbox || in == control || routed(in) || owns_inbox(in);
}

void composite::receive_on(box in, caf::message payload) {
  if (owns_inbox(in) && on_own_inbox(in, payload))
    return;
  if (in == control) {
    on_control(std::move(payload));
    return;
  }
  if (in == inbox && payload.match_elements<bytes>()) {
    deliver_bytes(in, std::move(payload.get_mutable_as<bytes>(0)));
    return;
  }
  if (!forward_routes(in, payload))
    unrouted(in, std::move(payload));
}

bool composite::forward_routes(box in, const caf::message& payload) {
  bool any = false;
  for (auto& r : in_routes_) {
    if (r.in != in)
      continue;
    any = true;
    if (r.child)
      send(r.child, caf::make_message(r.child_in) + payload);
    else
      emit(r.child_in, payload);
  }
  return any;
}

void composite::on_control(caf::message payload) {
  if (!forward_routes(control, payload))
    unrouted(control, std::move(payload));
}

void composite::on_watched(box, const caf::message&) {
  // nop
}

void composite::finish_later() {
  send(this, composite_done_atom::value);
}

void composite::on_done() {
  quit();
}

void composite::on_child_signal(const caf::actor&, const caf::message&) {
  // nop
}

void composite::unrouted(box, caf::message) {
  // Axon's semantics: a message for a box that leads nowhere is discarded.
}

bool composite::on_own_inbox(box, caf::message&) {
  return false;
}

bool composite::owns_inbox(box) const {
  return false;
}

void composite::unsourced_link(box) {
  // nop: the link stays in the composite's own table (see emit()).
}

void composite::adopt(const caf::actor& child) {
  if (!child)
    return;
  link_to(child);
  children_.push_back(child);
}

void composite::track(const caf::actor& child) {
  if (child)
    children_.push_back(child);
}

void composite::route_in(box in, caf::actor child, box child_in) {
  in_routes_.push_back(in_route{in, std::move(child), child_in});
}

void composite::route_self(box in, box out) {
  in_routes_.push_back(in_route{in, caf::actor{}, out});
}

bool composite::routed(box in) const {
  return std::any_of(in_routes_.begin(), in_routes_.end(),
                     [in](const in_route& r) { return r.in == in; });
}

bool composite::routed_to(const caf::actor& child) const {
  return std::any_of(in_routes_.begin(), in_routes_.end(),
                     [&](const in_route& r) { return r.child == child; });
}

void composite::unroute(const caf::actor& child) {
  in_routes_.erase(std::remove_if(in_routes_.begin(), in_routes_.end(),
                                  [&](const in_route& r) { return r.child == child; }),
                   in_routes_.end());
  out_sources_.erase(
    std::remove_if(out_sources_.begin(), out_sources_.end(),
                   [&](const out_source& s) { return s.child == child; }),
    out_sources_.end());
}

void composite::delegate_out(box out, caf::actor child, box child_out, bool replay) {
  if (replay)
    for (auto& l : out_links_)
      if (l.out == out)
        send(child, link_atom::value, child_out, l.dest, l.in);
  out_sources_.push_back(out_source{out, std::move(child), child_out});
}

bool composite::sourced(box out) const {
  return std::any_of(out_sources_.begin(), out_sources_.end(),
                     [out](const out_source& s) { return s.out == out; });
}

void composite::emit(box out, const caf::message& payload) {
  for (auto& l : out_links_)
    if (l.out == out)
      send(l.dest, caf::make_message(l.in) + payload);
}

caf::actor composite::spawn_child(std::function<caf::behavior(component*)> body,
                                  std::vector<out_link> links) {
  links.push_back(
    out_link{signal, caf::actor_cast<caf::actor>(this), child_signal_atom::value});
  auto child = spawn<caf::linked>(
    [](component* self, const std::function<caf::behavior(component*)>& fn,
       const std::vector<out_link>& ls) -> caf::behavior {
      for (auto& l : ls)
        self->add_link(l.out, l.dest, l.in);
      return fn(self);
    },
    std::move(body), std::move(links));
  track(child);
  return child;
}

caf::actor composite::start_current(std::function<caf::behavior(component*)> body) {
  std::vector<out_link> links;
  std::vector<box> outs{outbox, serversig};
  for (auto& l : out_links_) {
    if (l.out == signal)
      continue;
    links.push_back(l);
    if (std::find(outs.begin(), outs.end(), l.out) == outs.end())
      outs.push_back(l.out);
  }
  auto child = spawn_child(std::move(body), std::move(links));
  route_in(inbox, child, inbox);
  route_in(control, child, control);
  for (auto out : outs)
    delegate_out(out, child, out, false);
  return child;
}

void composite::request_link(box out, caf::actor dest, box in) {
  if (!dest)
    return;
  out_links_.push_back(out_link{out, dest, in});
  bool any = false;
  for (auto& s : out_sources_)
    if (s.out == out) {
      send(s.child, link_atom::value, s.child_out, dest, in);
      any = true;
    }
  if (!any)
    unsourced_link(out); // a subclass delegating here replays this link too
}

void composite::unlink_sources(const out_link& l) {
  for (auto& s : out_sources_)
    if (s.out == l.out)
      send(s.child, unlink_atom::value, s.child_out, l.dest, l.in);
}

void composite::request_unlink(box out) {
  for (auto& l : out_links_)
    if (l.out == out)
      unlink_sources(l);
  out_links_.erase(std::remove_if(out_links_.begin(), out_links_.end(),
                                  [out](const out_link& l) { return l.out == out; }),
                   out_links_.end());
}

void composite::request_unlink(box out, const caf::actor& dest, box in) {
  auto pred = [&](const out_link& l) {
    return l.out == out && l.dest == dest && l.in == in;
  };
  for (auto& l : out_links_)
    if (pred(l))
      unlink_sources(l);
  out_links_.erase(std::remove_if(out_links_.begin(), out_links_.end(), pred),
                   out_links_.end());
}

void composite::deliver_bytes(box in, bytes&& data) {
  // The hot path: one route (pipeline, graphline's usual self.inbox) moves
  // the buffer; fan-out copies for all but the last target.
  size_t n = 0;
  for (auto& r : in_routes_)
    if (r.in == in)
      ++n;
  if (n == 0) {
    unrouted(in, caf::make_message(std::move(data)));
    return;
  }
  for (auto& r : in_routes_) {
    if (r.in != in)
      continue;
    if (!r.child) {
      emit(r.child_in, caf::make_message(data));
      --n;
      continue;
    }
    if (--n == 0) {
      send(r.child, r.child_in, std::move(data));
      return;
    }
    send(r.child, r.child_in, data);
  }
}

void composite::on_exit_msg(caf::exit_msg& em) {
  auto i = std::find_if(children_.begin(), children_.end(),
                        [&](const caf::actor& c) { return c.address() == em.source; });
  if (i == children_.end() || em.reason) {
    // A failed child fails the composite (and, through the links, every
    // other child and whoever is linked to the composite: its CSA). Others
    // linked to the composite: CAF's default (a normal end is ignored).
    if (em.reason)
      quit(std::move(em.reason));
    return;
  }
  auto child = std::move(*i);
  children_.erase(i);
  unroute(child);
  child_ended(child);
}

caf::actor composite::sender_child() const {
  auto& src = const_cast<composite*>(this)->current_sender();
  for (auto& c : children_)
    if (caf::actor_cast<caf::strong_actor_ptr>(c) == src)
      return c;
  return caf::actor{};
}

} // namespace kam::chassis::detail
