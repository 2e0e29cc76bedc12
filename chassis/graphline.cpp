#include "chassis/graphline.hpp"

#include <stdexcept>

#include <caf/all.hpp>

#include "chassis/detail/composite.hpp"
#include "chassis/detail/graph.hpp"

namespace kam::chassis {

using namespace runtime;

namespace detail {

namespace {

constexpr const char* self_name = "self";

/// A graphline (or pipeline): a fixed set of children and a link table.
class graph_composite : public composite {
public:
  graph_composite(caf::actor_config& cfg, std::vector<named_child> children,
                  std::vector<graph_link> links, bool own_signal)
    : composite(cfg), named_(std::move(children)), links_(std::move(links)),
      own_signal_(own_signal) {
    // nop
  }

  const char* name() const override {
    return own_signal_ ? "kam.graphline" : "kam.pipeline";
  }

protected:
  void start() override {
    for (auto& c : named_)
      adopt(c.actor);
    auto self = caf::actor_cast<caf::actor>(this);
    for (auto& l : links_) {
      bool from_self = l.from.child == self_name;
      bool to_self = l.to.child == self_name;
      if (from_self && to_self) {
        route_self(l.from.box, l.to.box);
      } else if (from_self) {
        route_in(l.from.box, find(l.to.child), l.to.box);
      } else if (to_self) {
        if (own_signal_ && l.to.box == signal)
          send(find(l.from.child), link_atom::value, l.from.box, self,
               child_signal_atom::value);
        else
          delegate_out(l.to.box, find(l.from.child), l.from.box, false);
      } else {
        send(find(l.from.child), link_atom::value, l.from.box, find(l.to.child),
             l.to.box);
      }
    }
    // `control` fans out to every child nobody else controls.
    for (auto& c : named_) {
      bool controlled = false;
      for (auto& l : links_)
        if (l.to.child == c.name && l.to.box == control)
          controlled = true;
      if (!controlled)
        route_in(control, c.actor, control);
    }
    named_.clear(); // children() tracks who still runs
  }

  void on_control(caf::message payload) override {
    if (payload.match_elements<shutdown_microprocess>())
      stop_ = true;
    composite::on_control(std::move(payload));
  }

  void on_child_signal(const caf::actor&, const caf::message& payload) override {
    if (payload.match_elements<shutdown_microprocess>())
      stop_ = true;
  }

  void child_ended(const caf::actor&) override {
    if (!children().empty())
      return;
    if (own_signal_) {
      if (stop_)
        emit(signal, caf::make_message(shutdown_microprocess{}));
      else
        emit(signal, caf::make_message(producer_finished{}));
    }
    quit();
  }

private:
  caf::actor find(const std::string& name) const {
    for (auto& c : named_)
      if (c.name == name)
        return c.actor;
    return caf::actor{}; // validated before spawning: unreachable
  }

  std::vector<named_child> named_;
  std::vector<graph_link> links_;
  bool own_signal_;
  bool stop_ = false;
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
