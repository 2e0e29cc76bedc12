#include "chassis/pipeline.hpp"

#include <string>

#include "chassis/detail/graph.hpp"

namespace kam::chassis {

using namespace runtime;

caf::actor pipeline(caf::actor_system& sys, std::vector<caf::actor> children) {
  // A pipeline is a graphline with a generated table whose signal passes out.
  std::vector<named_child> named;
  std::vector<graph_link> links;
  named.reserve(children.size());
  for (size_t i = 0; i < children.size(); ++i)
    named.push_back(named_child{std::to_string(i), std::move(children[i])});
  if (!named.empty()) {
    const auto& first = named.front().name;
    const auto& last = named.back().name;
    links.push_back({{"self", inbox}, {first, inbox}});
    links.push_back({{"self", control}, {first, control}});
    for (size_t i = 0; i + 1 < named.size(); ++i) {
      links.push_back({{named[i].name, outbox}, {named[i + 1].name, inbox}});
      links.push_back({{named[i].name, signal}, {named[i + 1].name, control}});
    }
    links.push_back({{last, outbox}, {"self", outbox}});
    links.push_back({{last, signal}, {"self", signal}});
    for (auto& c : named)
      links.push_back({{c.name, serversig}, {"self", serversig}});
  }
  return detail::spawn_graph(sys, std::move(named), std::move(links), false);
}

} // namespace kam::chassis
