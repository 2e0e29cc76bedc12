// Kamaelia's SimpleServer(protocol=EchoProtocol) against the installed package.
// Usage: consumer_echo (listens on 127.0.0.1, a free port; prints it; stops on stdin EOF)
#include <iostream>
#include <limits>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "chassis/server.hpp"
#include "protocols/echo/handler.hpp"
#include "runtime/ipc.hpp"

int main() {
  caf::actor_system_config cfg;
  kam::runtime::add_message_types(cfg);
  caf::actor_system sys{cfg};
  kam::chassis::server_options opts;
  opts.listen.host = "127.0.0.1";
  opts.listen.port = 0;
  auto srv = kam::chassis::simple_server(
    sys, [](caf::actor_system& s) { return s.spawn(kam::protocols::echo::handler); },
    opts);
  if (!srv) {
    std::cerr << sys.render(srv.error()) << std::endl;
    return 2;
  }
  std::cout << "listening on 127.0.0.1:" << srv->port() << std::endl;
  std::cin.ignore(std::numeric_limits<std::streamsize>::max()); // until stdin closes
  srv->shutdown();
  srv->wait();
}
