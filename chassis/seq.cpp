#include "chassis/seq.hpp"

#include <caf/all.hpp>

#include "chassis/detail/composite.hpp"

namespace kam::chassis {

using namespace runtime;

namespace {

/// Input held while no step takes it, at most this many messages.
constexpr size_t max_held = 4096;

class seq_composite : public detail::composite {
public:
  seq_composite(caf::actor_config& cfg, std::vector<component_body> steps)
    : composite(cfg), steps_(std::move(steps)) {
    // nop
  }

  const char* name() const override { return "kam.seq"; }

protected:
  // The first step starts when the seq's first outbox link or first input
  // arrives, not at spawn: links requested right after spawn (the chassis's)
  // are then in place before the step's body runs, so it may greet.
  void start() override {
    // nop
  }

  void ensure_started() {
    if (!started_) {
      started_ = true;
      start_next();
    }
  }

  void on_control(caf::message payload) override {
    ensure_started();
    if (payload.match_elements<shutdown_microprocess>()) {
      stopping_ = true;
      held_.clear();
    } else if (payload.match_elements<producer_finished>() ||
               payload.match_elements<socket_shutdown>()) {
      end_of_input_ = payload;
    }
    composite::on_control(std::move(payload)); // to the current step, if it takes input
  }

  void on_child_signal(const caf::actor& child, const caf::message&) override {
    // The step is done: input from now on waits for the next step.
    if (child && child == current_)
      unroute(child);
  }

  void unrouted(box in, caf::message payload) override {
    if (in == inbox && !stopping_ && held_.size() < max_held)
      held_.push_back(std::move(payload));
    if (in == inbox)
      ensure_started(); // runs the held input through the first step
  }

  void unsourced_link(box out) override {
    if (out == signal)
      return;
    if (!started_)
      ensure_started(); // the new step gets this link before its body runs
    else if (current_ && routed_to(current_))
      delegate_out(out, current_, out);
  }

  void child_ended(const caf::actor&) override {
    current_ = caf::actor{};
    start_next();
  }

private:
  void start_next() {
    if (stopping_ || next_ == steps_.size()) {
      emit(signal, stopping_ ? caf::make_message(shutdown_microprocess{})
                             : caf::make_message(producer_finished{}));
      quit();
      return;
    }
    current_ = start_current(std::move(steps_[next_++]));
    // Held input first, then the end of input it came before.
    auto held = std::move(held_);
    held_.clear();
    for (auto& m : held)
      receive_on(inbox, std::move(m));
    if (!end_of_input_.empty())
      send(current_, caf::make_message(control) + end_of_input_);
  }

  std::vector<component_body> steps_;
  size_t next_ = 0;
  bool started_ = false;
  caf::actor current_;
  bool stopping_ = false;
  caf::message end_of_input_;
  std::vector<caf::message> held_;
};

} // namespace

caf::actor seq(caf::actor_system& sys, std::vector<component_body> steps) {
  return sys.spawn<seq_composite>(std::move(steps));
}

} // namespace kam::chassis
