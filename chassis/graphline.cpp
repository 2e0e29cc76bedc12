#include "chassis/graphline.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include <caf/all.hpp>

#include "chassis/detail/composite.hpp"
#include "chassis/detail/graph.hpp"

namespace kam::chassis {

using namespace runtime;

namespace detail {

namespace {

constexpr const char* self_name = "self";

/// A graphline (or pipeline): a fixed set of children and a link table.
///
/// Its routes are fixed for its whole life, so links made to it resolve to
/// its children (Axon's passthrough; see runtime::component::resolve_inbox()):
/// everything a resolving source reads is computed here, in the constructor,
/// before spawn returns. The children's own wiring is requested here too, so
/// it is in their mailboxes before anyone can know this composite, let alone
/// send to a child past it.
class graph_composite : public composite {
public:
  graph_composite(caf::actor_config& cfg, std::vector<named_child> children,
                  std::vector<graph_link> links, bool own_signal)
    : composite(cfg), named_(std::move(children)), links_(std::move(links)),
      own_signal_(own_signal) {
    plan_resolution();
    wire_children();
  }

  const char* name() const override {
    return own_signal_ ? "kam.graphline" : "kam.pipeline";
  }

  // Any thread (immutable since construction).
  bool resolve_inbox(box in, caf::actor& child, box& child_in) const override {
    if (!front_ || (in != inbox && in != control))
      return false;
    child = front_;
    child_in = in;
    return true;
  }

  // Any thread (immutable since construction). A graphline's `control` also
  // decides its own report (shutdown_microprocess), so it watches.
  bool watches_control() const override { return own_signal_; }

  // Any thread (immutable since construction).
  bool resolve_outbox(box out,
                      std::vector<std::pair<caf::actor, box>>& sources) const override {
    for (auto& o : fixed_outs_)
      if (o.out == out) {
        sources.insert(sources.end(), o.sources.begin(), o.sources.end());
        return true;
      }
    return false;
  }

protected:
  void start() override {
    for (auto& c : named_)
      adopt(c.actor);
    for (auto& l : links_) {
      bool from_self = l.from.child == self_name;
      bool to_self = l.to.child == self_name;
      if (from_self && to_self)
        route_self(l.from.box, l.to.box);
      else if (from_self)
        route_in(l.from.box, find(l.to.child), l.to.box);
      else if (to_self && !(own_signal_ && l.to.box == signal))
        delegate_out(l.to.box, find(l.from.child), l.from.box, false);
      // child -> child and child -> own signal: wired in the constructor.
    }
    for (auto& c : named_)
      if (!controlled(c.name))
        route_in(control, c.actor, control);
    named_.clear(); // children() tracks who still runs
  }

  void on_control(caf::message payload) override {
    if (payload.match_elements<shutdown_microprocess>())
      stop_ = true;
    composite::on_control(std::move(payload));
  }

  void on_watched(box in, const caf::message& payload) override {
    if (in == control && payload.match_elements<shutdown_microprocess>())
      stop_ = true;
  }

  void on_child_signal(const caf::actor&, const caf::message& payload) override {
    if (payload.match_elements<shutdown_microprocess>())
      stop_ = true;
  }

  void child_ended(const caf::actor&) override {
    if (!children().empty())
      return;
    // A graphline's own signal is linked through its mailbox; a link
    // request there may still wait behind the exits of children that input
    // reached past it. A pipeline's outboxes are all its children's.
    if (own_signal_)
      finish_later();
    else
      quit();
  }

  void on_done() override {
    if (own_signal_) {
      if (stop_)
        emit(signal, caf::make_message(shutdown_microprocess{}));
      else
        emit(signal, caf::make_message(producer_finished{}));
    }
    quit();
  }

private:
  struct fixed_out {
    box out;
    std::vector<std::pair<caf::actor, box>> sources;
  };

  caf::actor find(const std::string& name) const {
    for (auto& c : named_)
      if (c.name == name)
        return c.actor;
    return caf::actor{}; // validated before spawning: unreachable
  }

  /// Whether a link targets child `name`'s `control`.
  bool controlled(const std::string& name) const {
    for (auto& l : links_)
      if (l.to.child == name && l.to.box == control)
        return true;
    return false;
  }

  /// Decides, once, what links to this composite resolve to.
  void plan_resolution() {
    // Outboxes fed by children only, each child box feeding nothing else
    // (so unlink(self, out) may drop every link of that box on the child).
    bool outs_fixed = true;
    for (auto& l : links_) {
      bool to_own = l.to.child == self_name && !(own_signal_ && l.to.box == signal);
      if (!to_own || std::any_of(fixed_outs_.begin(), fixed_outs_.end(),
                                 [&](const fixed_out& o) { return o.out == l.to.box; }))
        continue;
      fixed_out o{l.to.box, {}};
      bool ok = true;
      for (auto& m : links_) {
        if (m.to.child != self_name || m.to.box != o.out)
          continue;
        if (m.from.child == self_name) {
          ok = false; // ("self", x) -> ("self", out): the composite emits
          break;
        }
        size_t uses = 0;
        for (auto& k : links_)
          if (k.from.child == m.from.child && k.from.box == m.from.box)
            ++uses;
        if (uses != 1) {
          ok = false; // the child's box also feeds something else
          break;
        }
        o.sources.emplace_back(find(m.from.child), m.from.box);
      }
      if (ok)
        fixed_outs_.push_back(std::move(o));
      else
        outs_fixed = false;
    }
    // `inbox` and `control` each to exactly one box of the same child, of
    // the same name; and every outbox a child feeds resolved too, so no
    // link request on this composite's outbox can be overtaken by input
    // that skips it.
    if (!outs_fixed)
      return;
    std::vector<endpoint> in_to;
    std::vector<endpoint> ctl_to;
    for (auto& l : links_) {
      if (l.from.child != self_name)
        continue;
      if (l.from.box == inbox)
        in_to.push_back(l.to);
      else if (l.from.box == control)
        ctl_to.push_back(l.to);
    }
    for (auto& c : named_)
      if (!controlled(c.name))
        ctl_to.push_back(endpoint{c.name, control});
    if (in_to.size() != 1 || ctl_to.size() != 1)
      return;
    auto& i = in_to.front();
    auto& k = ctl_to.front();
    if (i.child == self_name || i.child != k.child || i.box != inbox || k.box != control)
      return;
    front_ = find(i.child);
  }

  /// Requests the links between children (and a graphline's children's
  /// signal into it): resolved as any link (runtime::link()), and in the
  /// children's mailboxes before spawn returns.
  void wire_children() {
    auto self = caf::actor_cast<caf::actor>(this);
    for (auto& l : links_) {
      bool from_self = l.from.child == self_name;
      bool to_self = l.to.child == self_name;
      if (from_self)
        continue;
      if (!to_self)
        runtime::link(find(l.from.child), l.from.box, find(l.to.child), l.to.box);
      else if (own_signal_ && l.to.box == signal)
        runtime::link(find(l.from.child), l.from.box, self, child_signal_atom::value);
    }
  }

  std::vector<named_child> named_;
  std::vector<graph_link> links_;
  bool own_signal_;
  bool stop_ = false;
  // Immutable after construction (read by resolving sources, any thread).
  caf::actor front_;
  std::vector<fixed_out> fixed_outs_;
};

void validate(const std::vector<named_child>& children,
              const std::vector<graph_link>& links) {
  if (children.empty())
    throw std::invalid_argument("composite: no children");
  for (size_t i = 0; i < children.size(); ++i) {
    if (!children[i].actor)
      throw std::invalid_argument("composite: child '" + children[i].name +
                                  "' is not a valid actor");
    if (children[i].name == self_name)
      throw std::invalid_argument("composite: a child may not be named 'self'");
    for (size_t j = 0; j < i; ++j)
      if (children[j].name == children[i].name)
        throw std::invalid_argument("composite: duplicate child name '" +
                                    children[i].name + "'");
  }
  auto known = [&](const std::string& name) {
    if (name == self_name)
      return true;
    for (auto& c : children)
      if (c.name == name)
        return true;
    return false;
  };
  for (auto& l : links)
    for (auto* e : {&l.from, &l.to})
      if (!known(e->child))
        throw std::invalid_argument("composite: link names unknown child '" + e->child +
                                    "'");
}

} // namespace

caf::actor spawn_graph(caf::actor_system& sys, std::vector<named_child> children,
                       std::vector<graph_link> links, bool own_signal) {
  validate(children, links);
  return sys.spawn<graph_composite>(std::move(children), std::move(links), own_signal);
}

} // namespace detail

caf::actor graphline(caf::actor_system& sys, std::vector<named_child> children,
                     std::vector<graph_link> links) {
  return detail::spawn_graph(sys, std::move(children), std::move(links), true);
}

} // namespace kam::chassis
