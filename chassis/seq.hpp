#pragma once

#include <functional>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace kam::runtime {
class component;
} // namespace kam::runtime

namespace kam::chassis {

/// A component's body: what `sys.spawn(fn)` would run (e.g.
/// protocols::echo::handler). Seq and carousel spawn their children from
/// bodies so that a child's links are in place before its body runs: a
/// step may send at once (a banner, say).
using component_body = std::function<caf::behavior(runtime::component*)>;

/// Kamaelia's Seq: runs `steps` one after another, each as the only child.
///
/// The current child gets what arrives on the seq's `inbox` and `control`;
/// links requested on the seq's outboxes (`outbox`, `serversig`, ... but not
/// `signal`) are made on the current child, straight to the destination, and
/// on every later child before its body runs. A child's `signal` goes to the
/// seq: when it says it is done, input stops going to it and waits (held in
/// the seq) for the next step.
///
/// `control` (unlike Kamaelia's Seq) reaches the current child:
/// `producer_finished` or `socket_shutdown` ("input is over") is passed on
/// and also given to every later step when it starts, so the remaining
/// steps still run and see the end of input; `shutdown_microprocess` is
/// passed on and no further step starts. After the last step (or the stop)
/// the seq sends `producer_finished` (`shutdown_microprocess` if stopped)
/// on `signal` and ends.
///
/// The first step starts when the seq's outbox is first linked or its
/// first input arrives (not at spawn), so the links the chassis requests
/// right after spawning are in place before the step's body runs.
///
/// Input that reaches a step after it decided to end but before its
/// `signal` did is lost with it, as in Kamaelia: a step that ends by itself
/// should do so when the input it wanted is consumed.
/// Children are CAF-linked to the seq (a failing step fails it; killing it
/// kills the step). Thread safe.
caf::actor seq(caf::actor_system& sys, std::vector<component_body> steps);

} // namespace kam::chassis
