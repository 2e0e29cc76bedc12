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

/// A graph link with its ends as child indices (`self_index`: the composite).
struct indexed_link {
  int from;
  box from_box;
  int to;
  box to_box;
};

constexpr int self_index = -1;

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
                  const std::vector<graph_link>& links, bool own_signal)
    : composite(cfg), own_signal_(own_signal) {
    kids_.reserve(children.size());
    for (auto& c : children)
      kids_.push_back(std::move(c.actor));
    // Names to indices, once (validated before spawning).
    auto index = [&](const std::string& name) {
      if (name == self_name)
        return self_index;
      for (size_t i = 0; i < children.size(); ++i)
        if (children[i].name == name)
          return static_cast<int>(i);
      return self_index; // unreachable
    };
    links_.reserve(links.size());
    for (auto& l : links)
      links_.push_back(
        indexed_link{index(l.from.child), l.from.box, index(l.to.child), l.to.box});
    plan_resolution();
    if (front_ || !fixed_outs_.empty())
      enable_resolution();
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
    for (auto& c : kids_)
      adopt(c);
    for (auto& l : links_) {
      bool from_self = l.from == self_index;
      bool to_self = l.to == self_index;
      if (from_self && to_self)
        route_self(l.from_box, l.to_box);
      else if (from_self)
        route_in(l.from_box, kids_[l.to], l.to_box);
      else if (to_self && !(own_signal_ && l.to_box == signal))
        delegate_out(l.to_box, kids_[l.from], l.from_box, false);
      // child -> child and child -> own signal: wired in the constructor.
    }
    for (size_t i = 0; i < kids_.size(); ++i)
      if (!controlled(static_cast<int>(i)))
        route_in(control, kids_[i], control);
    // children() tracks who still runs; the table is no longer needed.
    kids_.clear();
    links_.clear();
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

  /// Whether a link targets child `i`'s `control`.
  bool controlled(int i) const {
    for (auto& l : links_)
      if (l.to == i && l.to_box == control)
        return true;
    return false;
  }

  /// Whether `l` leads out of one of the composite's outboxes that its
  /// children feed (not a graphline's own signal).
  bool to_own_outbox(const indexed_link& l) const {
    return l.to == self_index && !(own_signal_ && l.to_box == signal);
  }

  /// Decides, once, what links to this composite resolve to.
  void plan_resolution() {
    // Outboxes fed by children only, each child box feeding nothing else
    // (so unlink(self, out) may drop every link of that box on the child).
    bool outs_fixed = true;
    for (auto& l : links_) {
      if (!to_own_outbox(l) ||
          std::any_of(fixed_outs_.begin(), fixed_outs_.end(),
                      [&](const fixed_out& o) { return o.out == l.to_box; }))
        continue;
      fixed_out o{l.to_box, {}};
      bool ok = true;
      for (auto& m : links_) {
        if (m.to != self_index || m.to_box != o.out)
          continue;
        if (m.from == self_index) {
          ok = false; // ("self", x) -> ("self", out): the composite emits
          break;
        }
        auto uses =
          std::count_if(links_.begin(), links_.end(), [&](const indexed_link& k) {
            return k.from == m.from && k.from_box == m.from_box;
          });
        if (uses != 1) {
          ok = false; // the child's box also feeds something else
          break;
        }
        o.sources.emplace_back(kids_[m.from], m.from_box);
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
    const indexed_link* in_to = nullptr;
    const indexed_link* ctl_to = nullptr;
    size_t ins = 0;
    size_t ctls = 0;
    for (auto& l : links_) {
      if (l.from != self_index)
        continue;
      if (l.from_box == inbox) {
        ++ins;
        in_to = &l;
      } else if (l.from_box == control) {
        ++ctls;
        ctl_to = &l;
      }
    }
    int ctl_child = ctl_to != nullptr ? ctl_to->to : self_index;
    bool ctl_box_ok = ctl_to == nullptr || ctl_to->to_box == control;
    for (size_t i = 0; i < kids_.size(); ++i)
      if (!controlled(static_cast<int>(i))) {
        ++ctls; // the fan-out route to a child nobody controls
        ctl_child = static_cast<int>(i);
      }
    if (ins != 1 || ctls != 1 || !ctl_box_ok)
      return;
    if (in_to->to == self_index || in_to->to != ctl_child || in_to->to_box != inbox)
      return;
    front_ = kids_[in_to->to];
  }

  /// Requests the links between children (and a graphline's children's
  /// signal into it): resolved as any link (runtime::link()), and in the
  /// children's mailboxes before spawn returns.
  void wire_children() {
    caf::actor self;
    for (auto& l : links_) {
      if (l.from == self_index)
        continue;
      if (l.to != self_index) {
        runtime::link(kids_[l.from], l.from_box, kids_[l.to], l.to_box);
      } else if (own_signal_ && l.to_box == signal) {
        if (!self)
          self = caf::actor_cast<caf::actor>(this);
        runtime::link(kids_[l.from], l.from_box, self, child_signal_atom::value);
      }
    }
  }

  bool own_signal_;
  bool stop_ = false;
  // The table, by index; until start().
  std::vector<caf::actor> kids_;
  std::vector<indexed_link> links_;
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
  return sys.spawn<graph_composite>(std::move(children), links, own_signal);
}

} // namespace detail

caf::actor graphline(caf::actor_system& sys, std::vector<named_child> children,
                     std::vector<graph_link> links) {
  return detail::spawn_graph(sys, std::move(children), std::move(links), true);
}

} // namespace kam::chassis
