#include "chassis/carousel.hpp"

#include <caf/all.hpp>

#include "chassis/detail/composite.hpp"

namespace kam::chassis {

using namespace runtime;

namespace {

/// Input held while no child takes it, at most this many messages.
constexpr size_t max_held = 4096;

class carousel_composite : public detail::composite {
public:
  carousel_composite(caf::actor_config& cfg, carousel_factory factory,
                     std::optional<caf::message> first)
    : composite(cfg), factory_(std::move(factory)), pending_(std::move(first)) {
    // nop
  }

  const char* name() const override { return "kam.carousel"; }

protected:
  // As seq: the first child (from `first`) starts with the first outbox link
  // or input, so links requested right after spawn are in place for it.
  void start() override {
    // nop
  }

  void ensure_started() {
    if (!started_) {
      started_ = true;
      if (pending_ && !current_)
        make_child();
    }
  }

  bool owns_inbox(box in) const override { return in == next_atom::value; }

  bool on_own_inbox(box, caf::message& args) override {
    started_ = true;
    if (ending_)
      return true;
    pending_ = std::move(args);
    if (!current_) {
      make_child();
    } else if (routed_to(current_)) {
      // Ask the current child to finish; input waits for its successor.
      unroute(current_);
      send(current_, control_atom::value, producer_finished{});
    } // else: it is ending already; the newest request wins
    return true;
  }

  void on_control(caf::message payload) override {
    ensure_started();
    if (payload.match_elements<shutdown_microprocess>())
      stop_ = true;
    ending_ = true;
    pending_.reset();
    held_.clear();
    if (!current_) {
      finish();
      return;
    }
    composite::on_control(std::move(payload));
  }

  void on_child_signal(const caf::actor& child, const caf::message&) override {
    if (child && child == current_)
      unroute(child);
  }

  void unrouted(box in, caf::message payload) override {
    if (in == inbox && !ending_ && held_.size() < max_held)
      held_.push_back(std::move(payload));
    if (in == inbox)
      ensure_started();
  }

  void unsourced_link(box out) override {
    if (out == signal)
      return;
    if (!started_)
      ensure_started();
    else if (current_ && routed_to(current_))
      delegate_out(out, current_, out);
  }

  void child_ended(const caf::actor&) override {
    current_ = caf::actor{};
    if (ending_)
      finish();
    else if (pending_)
      make_child();
    else
      emit(reqnext_atom::value, caf::make_message(producer_finished{}));
  }

private:
  void make_child() {
    auto args = std::move(*pending_);
    pending_.reset();
    // The factory runs as the child's body: if it throws, the child fails,
    // and so does the carousel.
    current_ =
      start_current([fn = factory_, args](component* self) { return fn(self, args); });
    auto held = std::move(held_);
    held_.clear();
    for (auto& m : held)
      receive_on(inbox, std::move(m));
  }

  void finish() {
    emit(signal, stop_ ? caf::make_message(shutdown_microprocess{})
                       : caf::make_message(producer_finished{}));
    quit();
  }

  carousel_factory factory_;
  std::optional<caf::message> pending_;
  caf::actor current_;
  bool started_ = false;
  bool ending_ = false;
  bool stop_ = false;
  std::vector<caf::message> held_;
};

} // namespace

caf::actor carousel(caf::actor_system& sys, carousel_factory factory,
                    std::optional<caf::message> first) {
  return sys.spawn<carousel_composite>(std::move(factory), std::move(first));
}

} // namespace kam::chassis
