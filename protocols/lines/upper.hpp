#pragma once

#include <caf/behavior.hpp>

#include "protocols/lines/line_batch.hpp"
#include "runtime/component.hpp"

namespace kam::protocols::lines {

/// The uppercase component: a line_batch on `inbox` -> the same lines in
/// ASCII upper case on `outbox` (in place, no copy). Ends on `control` by
/// the component's default (passing `producer_finished` or
/// `shutdown_microprocess` on `signal`). Spawn with `sys.spawn(upper)`.
caf::behavior upper(runtime::component* self);

} // namespace kam::protocols::lines
