#pragma once

#include <caf/behavior.hpp>

#include "runtime/component.hpp"

namespace kam::protocols::echo {

/// Kamaelia's EchoProtocol: bytes on `inbox` go out on `outbox` unchanged;
/// `producer_finished`, `socket_shutdown` or `shutdown_microprocess` on
/// `control` end it, passing `producer_finished` (or `shutdown_microprocess`)
/// on `signal` so the CSA flushes and closes. Spawn with `sys.spawn(handler)`.
caf::behavior handler(runtime::component* self);

} // namespace kam::protocols::echo
