#include "runtime/scheduler.hpp"

#include <sched.h>

#include <algorithm>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/group.hpp>
#include <caf/policy/work_sharing.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>
#include <caf/settings.hpp>

#include "runtime/component.hpp"

namespace kam::runtime {

namespace {

using caf::detail::thread_safe_actor_clock;

/// Forwards everything to the coordinator's own clock (whose thread does
/// the work), except cancel_timeouts() for a component that never set one.
/// It derives from thread_safe_actor_clock only because the coordinator's
/// clock() returns that type; its own (inherited) state stays unused.
class quiet_clock : public thread_safe_actor_clock {
public:
  explicit quiet_clock(thread_safe_actor_clock& real) : real_(real) {}

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            uint64_t id) override {
    mark(self);
    real_.set_ordinary_timeout(t, self, type, id);
  }

  void set_request_timeout(time_point t, caf::abstract_actor* self,
                           caf::message_id id) override {
    mark(self);
    real_.set_request_timeout(t, self, id);
  }

  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         uint64_t id) override {
    mark(self);
    real_.set_multi_timeout(t, self, type, id);
  }

  void cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) override {
    real_.cancel_ordinary_timeout(self, type);
  }

  void cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) override {
    real_.cancel_request_timeout(self, id);
  }

  void cancel_timeouts(caf::abstract_actor* self) override {
    // Every ending actor comes here (local_actor::cleanup).
    if (auto* c = dynamic_cast<component*>(self); c != nullptr && !c->uses_clock())
      return; // nothing to cancel: skip waking the timer thread
    real_.cancel_timeouts(self);
  }

  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override {
    real_.schedule_message(t, std::move(receiver), std::move(content));
  }

  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                        caf::message content) override {
    real_.schedule_message(t, std::move(target), std::move(sender), std::move(content));
  }

  void cancel_all() override { real_.cancel_all(); }

private:
  static void mark(caf::abstract_actor* self) {
    if (auto* c = dynamic_cast<component*>(self))
      c->mark_uses_clock();
  }

  thread_safe_actor_clock& real_;
};

template <class Policy>
class coordinator : public caf::scheduler::coordinator<Policy> {
public:
  using super = caf::scheduler::coordinator<Policy>;

  explicit coordinator(caf::actor_system& sys) : super(sys), quiet_(super::clock()) {}

  thread_safe_actor_clock& clock() noexcept override { return quiet_; }

private:
  quiet_clock quiet_;
};

template <class Policy>
caf::actor_system::module* make_scheduler(caf::actor_system& sys) {
  return new coordinator<Policy>(sys);
}

} // namespace

bool install_scheduler(caf::actor_system_config& cfg) {
  auto policy = caf::get_or(cfg, "scheduler.policy", caf::atom("stealing"));
  if (policy == caf::atom("sharing"))
    cfg.module_factories.push_back(make_scheduler<caf::policy::work_sharing>);
  else if (policy == caf::atom("stealing"))
    cfg.module_factories.push_back(make_scheduler<caf::policy::work_stealing>);
  else
    return false;
  return true;
}

bool use_kam_scheduler(caf::actor_system_config& cfg) {
  if (!caf::get_if<caf::atom_value>(&cfg, "scheduler.policy"))
    cfg.set("scheduler.policy", caf::atom("sharing"));
  if (!caf::get_if<size_t>(&cfg, "scheduler.max-threads")) {
    cpu_set_t set;
    size_t cores = 1;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
      cores = static_cast<size_t>(std::max(1, CPU_COUNT(&set)));
    cfg.set("scheduler.max-threads", cores);
  }
  return install_scheduler(cfg);
}

} // namespace kam::runtime
