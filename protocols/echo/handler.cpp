#include "protocols/echo/handler.hpp"

#include <caf/all.hpp>

namespace kam::protocols::echo {

using namespace runtime;

caf::behavior handler(component* self) {
  return {
    [=](inbox_atom, bytes& data) { self->send_on(outbox, std::move(data)); },
    [=](control_atom, producer_finished msg) { self->finish(msg); },
    [=](control_atom, socket_shutdown) { self->finish(producer_finished{}); },
    [=](control_atom, shutdown_microprocess msg) { self->finish(msg); },
  };
}

} // namespace kam::protocols::echo
