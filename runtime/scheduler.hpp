#pragma once

#include <caf/fwd.hpp>

namespace kam::runtime {

/// Installs kam's scheduler module in `cfg`. Call once the configuration is
/// final (after parsing the command line), before creating the actor system;
/// kam-serve does. It is CAF's own coordinator — work sharing or
/// work stealing, as `scheduler.policy` says, with all of CAF's scheduler
/// settings — with one change to its clock: an ending component that never
/// set a timeout does not message CAF's timer thread.
///
/// Why: CAF 0.17 cancels every ending actor's timeouts by pushing an event
/// to the timer thread and waking it (a mutex and a condition variable), and
/// with two actors per connection that wake-up was 40% of a server's time
/// under connection churn (docs/performance.md). Components that use
/// `after()` or request timeouts are cancelled as before; other actors are
/// untouched. Returns false, installing nothing, for a `scheduler.policy`
/// other than sharing and stealing (CAF then picks its own as usual).
bool install_scheduler(caf::actor_system_config& cfg);

/// kam's scheduler defaults, measured with kam-bench (docs/performance.md):
/// `scheduler.policy = sharing` and `scheduler.max-threads` = the cores this
/// process may run on (sched_getaffinity), each only where `cfg` does not
/// set it already (the command line or a config file win). CAF's default
/// (work stealing, max(cores, 4) workers polling with 50 us naps) costs
/// latency and CPU beside the I/O threads on a small machine. Then calls
/// install_scheduler(). Call once the configuration is final, before
/// creating the actor system; returns what install_scheduler() returns.
bool use_kam_scheduler(caf::actor_system_config& cfg);

} // namespace kam::runtime
