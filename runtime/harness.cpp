#include "runtime/harness.hpp"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

#include <caf/all.hpp>

#include "runtime/component.hpp"

namespace kam::runtime {

using probe_atom = caf::atom_constant<caf::atom("kam_probe")>;

struct harness::queue {
  std::mutex mtx;
  std::condition_variable cv;
  std::map<box, std::deque<caf::message>> boxes;
  std::optional<caf::error> exit;

  void push(box b, caf::message m) {
    {
      std::lock_guard<std::mutex> g{mtx};
      append(boxes[b], std::move(m));
    }
    cv.notify_all();
  }

  /// A message_batch is its messages, one by one, as a component gets them.
  static void append(std::deque<caf::message>& d, caf::message m) {
    if (!m.match_elements<message_batch>()) {
      d.push_back(std::move(m));
      return;
    }
    for (auto& x : m.get_as<message_batch>(0).xs)
      append(d, x);
  }
};

namespace {

caf::behavior collector_fn(caf::event_based_actor* self,
                           std::shared_ptr<harness::queue> q, caf::actor subject) {
  self->monitor(subject);
  self->set_default_handler(
    [q](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
      auto m = x.move_content_to_message();
      if (m.size() >= 1 && m.match_element<box>(0))
        q->push(m.get_as<box>(0), m.drop(1));
      return caf::message{};
    });
  self->set_down_handler([q](caf::down_msg& dm) {
    {
      std::lock_guard<std::mutex> g{q->mtx};
      q->exit = dm.reason;
    }
    q->cv.notify_all();
  });
  return {[](probe_atom) {}};
}

} // namespace

harness::harness(caf::actor_system& sys, caf::actor subject, std::vector<box> outboxes)
  : q_(std::make_shared<queue>()), subject_(std::move(subject)) {
  collector_ = sys.spawn(collector_fn, q_, subject_);
  for (auto b : outboxes)
    link(subject_, b, collector_, b);
}

harness::~harness() {
  if (subject_)
    caf::anon_send_exit(subject_, caf::exit_reason::kill);
  caf::anon_send_exit(collector_, caf::exit_reason::kill);
}

caf::actor harness::collector() const {
  return collector_;
}

std::optional<caf::message> harness::next(box out, duration timeout) {
  std::unique_lock<std::mutex> lock{q_->mtx};
  auto& d = q_->boxes[out];
  if (!q_->cv.wait_for(lock, timeout, [&] { return !d.empty(); }))
    return std::nullopt;
  auto m = std::move(d.front());
  d.pop_front();
  return m;
}

std::string harness::read_text(box out, size_t n, duration timeout) {
  std::string result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (result.size() < n) {
    auto left =
      std::chrono::duration_cast<duration>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    auto m = next(out, left);
    if (!m)
      break;
    if (m->match_elements<bytes>()) {
      auto& b = m->get_as<bytes>(0);
      result.append(b.data(), b.size());
    }
  }
  return result;
}

bool harness::silent(box out, duration quiet) {
  std::unique_lock<std::mutex> lock{q_->mtx};
  auto& d = q_->boxes[out];
  return !q_->cv.wait_for(lock, quiet, [&] { return !d.empty(); });
}

std::optional<caf::error> harness::wait_for_exit(duration timeout) {
  std::unique_lock<std::mutex> lock{q_->mtx};
  if (!q_->cv.wait_for(lock, timeout, [&] { return q_->exit.has_value(); }))
    return std::nullopt;
  return q_->exit;
}

} // namespace kam::runtime
