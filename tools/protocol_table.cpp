#include "tools/protocol_table.hpp"

#include <caf/actor_system.hpp>

#include "chassis/pipeline.hpp"
#include "protocols/chat/handler.hpp"
#include "protocols/echo/handler.hpp"
#include "protocols/http/handler.hpp"
#include "protocols/lines/upper_lines.hpp"

namespace kam::tools {

std::vector<protocol_entry> protocols(const protocol_options& opts) {
  auto http_cfg =
    opts.http ? opts.http : std::make_shared<const protocols::http::config>();
  return {
    {"echo", "sends every byte back (Kamaelia's EchoProtocol)",
     [](caf::actor_system& sys, const runtime::connection_info&) {
       return sys.spawn(protocols::echo::handler);
     }},
    {"upper-lines",
     "sends every line back in upper case: pipeline(framer, upper, joiner)",
     [](caf::actor_system& sys, const runtime::connection_info&) {
       return protocols::lines::upper_lines(sys);
     }},
    {"echo-pipeline", "echo through pipeline(echo, echo, echo): what composition costs",
     [](caf::actor_system& sys, const runtime::connection_info&) {
       using protocols::echo::handler;
       return chassis::pipeline(sys, sys.spawn(handler), sys.spawn(handler),
                                sys.spawn(handler));
     }},
    {"http", "HTTP/1.1 static files from --root (protocols/http, docs/http.md)",
     [http_cfg](caf::actor_system& sys, const runtime::connection_info& info) {
       return sys.spawn(protocols::http::handler, http_cfg, info);
     }},
    {"chat",
     "each line to every other client: graphline(framer -> publish_to, subscribe_to -> "
     "joiner) on the backplane CHAT (kam-serve makes it; --max-line)",
     [](caf::actor_system& sys, const runtime::connection_info&) {
       return protocols::chat::handler(sys, protocols::chat::chat_options{});
     }},
  };
}

const protocol_entry* find_protocol(const std::vector<protocol_entry>& table,
                                    const std::string& name) {
  for (auto& p : table)
    if (p.name == name)
      return &p;
  return nullptr;
}

} // namespace kam::tools
