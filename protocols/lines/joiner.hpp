#pragma once

#include <caf/behavior.hpp>

#include "protocols/lines/line_batch.hpp"
#include "runtime/component.hpp"

namespace kam::protocols::lines {

/// The line-joiner (serializer): a line_batch on `inbox` -> one bytes
/// message on `outbox`, each line followed by "\n". Ends on `control` by
/// the component's default. Spawn with `sys.spawn(joiner)`.
caf::behavior joiner(runtime::component* self);

} // namespace kam::protocols::lines
