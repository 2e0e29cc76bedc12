#include "runtime/actor_thread.hpp"

#include <deque>
#include <thread>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/execution_unit.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include "runtime/component.hpp"

namespace kam::runtime {

namespace {

/// The home components made on this thread get (raw: set around every
/// resume, so it must be cheap; actor_thread_scope keeps it alive).
thread_local actor_thread* current_home = nullptr;

/// The actor_thread whose turn runs on this thread (a resumption, a direct
/// delivery, or a turn_scope), or null: where hand-offs may be taken.
thread_local actor_thread* current_turn = nullptr;

/// One resumption posted to the io_context. Holds the reference exec() took
/// over; if the io_context is destroyed with the job still queued, the job
/// goes to CAF's scheduler rather than being lost with its actor's mailbox.
class resume_job {
public:
  resume_job(caf::resumable* job, caf::actor_system* sys) : job_(job), sys_(sys) {}
  resume_job(resume_job&& other) noexcept
    : job_(std::exchange(other.job_, nullptr)), sys_(other.sys_) {}
  resume_job& operator=(resume_job&&) = delete;
  ~resume_job() {
    if (job_ != nullptr)
      sys_->scheduler().enqueue(job_);
  }

  /// Hands the job (and its reference) over.
  caf::resumable* take() { return std::exchange(job_, nullptr); }

private:
  caf::resumable* job_;
  caf::actor_system* sys_;
};

} // namespace

/// What components living on the thread are scheduled with: wakes them on it.
class actor_thread::home_unit : public caf::execution_unit {
public:
  home_unit(caf::actor_system* sys, actor_thread* owner)
    : caf::execution_unit(sys), owner_(owner) {}
  void exec_later(caf::resumable* ptr) override { owner_->exec(ptr); }

private:
  actor_thread* owner_;
};

/// What actors run with while resumed here (their context()): whatever they
/// wake that has no home of its own goes to CAF's scheduler, as from any
/// thread outside it.
class actor_thread::context_unit : public caf::execution_unit {
public:
  using caf::execution_unit::execution_unit;
  void exec_later(caf::resumable* ptr) override { system().scheduler().enqueue(ptr); }
};

actor_thread::actor_thread(caf::actor_system& sys, boost::asio::io_context& ioc,
                           size_t max_throughput)
  : sys_(sys), ioc_(ioc), max_throughput_(max_throughput == 0 ? 1 : max_throughput),
    home_(std::make_unique<home_unit>(&sys, this)),
    context_(std::make_unique<context_unit>(&sys)) {}

actor_thread::~actor_thread() = default;

caf::execution_unit* actor_thread::unit() {
  return home_.get();
}

void actor_thread::exec(caf::resumable* job) {
  if (!closed_.load(std::memory_order_relaxed) &&
      ioc_.get_executor().running_in_this_thread()) {
    // Woken from this thread (by an actor here, or by the socket side): into
    // the local run queue, which one Asio job works off. A chain of hops
    // (read -> handler -> CSA) then costs one pass of Asio's queue, not one
    // pass (and one epoll_wait) per hop.
    local_.push_back(job);
    if (!drain_posted_) {
      drain_posted_ = true;
      boost::asio::post(ioc_, [self = shared_from_this()] { self->drain(); });
    }
    return;
  }
  // Refused once closed: the lambda's resume_job then hands the job to CAF's
  // scheduler as it is destroyed.
  post_open([this, j = resume_job(job, &sys_)]() mutable { resume(j.take()); });
}

template <class F>
bool actor_thread::post_open(F&& f) {
  // posting_ lets close() wait out a post that saw closed_ == false.
  posting_.fetch_add(1, std::memory_order_seq_cst);
  if (closed_.load(std::memory_order_seq_cst)) {
    posting_.fetch_sub(1, std::memory_order_release);
    return false;
  }
  boost::asio::post(ioc_, std::forward<F>(f));
  posting_.fetch_sub(1, std::memory_order_release);
  return true;
}

bool actor_thread::post(std::function<void()> f) {
  return post_open(std::move(f));
}

void actor_thread::drain() {
  drain_posted_ = false;
  // Bounded, so sockets on this thread get their turn between batches.
  // A turn's hand-offs count as work too: a chain of direct deliveries ends
  // this job as a long mailbox would.
  for (size_t work = 0; work < drain_batch && !local_.empty();) {
    auto* job = local_.front();
    local_.pop_front();
    flushed_ = 0;
    resume(job);
    work += 1 + flushed_;
  }
  if (!local_.empty() && !drain_posted_) {
    drain_posted_ = true;
    boost::asio::post(ioc_, [self = shared_from_this()] { self->drain(); });
  }
}

void actor_thread::resume(caf::resumable* job) {
  // What a component spawns while it runs here lives here too.
  auto* prev = std::exchange(current_home, this);
  bool turn = begin_turn();
  auto result = job->resume(context_.get(), max_throughput_);
  current_home = prev;
  if (turn)
    end_turn();
  switch (result) {
  case caf::resumable::resume_later:
    // More in its mailbox: other sockets and actors on this thread first.
    exec(job);
    break;
  case caf::resumable::shutdown_execution_unit:
    break; // not ours to count
  case caf::resumable::done:
  case caf::resumable::awaiting_message:
    caf::intrusive_ptr_release(job);
    break;
  }
}

void actor_thread::close() {
  if (closed_.exchange(true, std::memory_order_seq_cst))
    return;
  while (posting_.load(std::memory_order_seq_cst) != 0)
    std::this_thread::yield();
  // Everything posted before now still runs here, in order; what those jobs
  // post for themselves goes to the scheduler.
  ioc_.restart();
  while (ioc_.poll() != 0)
    ;
  // Not expected (every local job has a drain posted), but never strand one.
  for (auto* job : local_)
    sys_.scheduler().enqueue(job);
  local_.clear();
}

bool actor_thread::try_handoff(component* rcv, caf::mailbox_element_ptr& ptr) {
  if (current_turn != this)
    return false;
  auto mid = ptr->mid;
  if (!mid.is_async() || !mid.is_normal_message())
    return false;
  // Idle: nothing in its mailbox (not even skipped messages, which a direct
  // delivery would overtake) and no resumption scheduled. With a message
  // already waiting here, later ones wait behind it (send order).
  if (rcv->handoffs_ == 0 &&
      (!rcv->mailbox().blocked() || !rcv->get_normal_queue().cache().empty()))
    return false;
  ++rcv->handoffs_;
  caf::intrusive_ptr_add_ref(rcv->ctrl());
  handoffs_.push_back(handoff{rcv, ptr.release()});
  return true;
}

bool actor_thread::begin_turn() {
  if (current_turn != nullptr || closed_.load(std::memory_order_relaxed))
    return false;
  current_turn = this;
  return true;
}

void actor_thread::end_turn() {
  current_turn = nullptr;
  if (!handoffs_.empty())
    flush_handoffs();
}

void actor_thread::flush_handoffs() {
  auto* prev_home = std::exchange(current_home, this);
  size_t delivered = 0;
  while (!handoffs_.empty()) {
    auto h = handoffs_.front();
    handoffs_.pop_front();
    --h.rcv->handoffs_;
    caf::mailbox_element_ptr msg{h.msg};
    if (delivered < handoff_batch && !closed_.load(std::memory_order_relaxed)) {
      ++delivered;
      // The receiver's turn, on this one message: what it sends to idle
      // components here is handed off behind the queue's rest. Its mailbox
      // stays blocked meanwhile, so messages from other threads still
      // schedule it (a resumption that runs after this, here).
      current_turn = this;
      auto res = h.rcv->activate(context_.get(), *msg);
      current_turn = nullptr;
      if (res == caf::scheduled_actor::activation_result::skipped)
        h.rcv->push_to_cache(std::move(msg));
      // terminated: dropped, as a mailbox that closed drops it
    } else {
      // The rest of a long chain takes the mailboxes, in order.
      h.rcv->caf::scheduled_actor::enqueue(std::move(msg), home_.get());
    }
    caf::intrusive_ptr_release(h.rcv->ctrl());
  }
  flushed_ += delivered;
  current_home = prev_home;
}

turn_scope::turn_scope() : owner_(nullptr) {
  if (current_home != nullptr && current_home->begin_turn())
    owner_ = current_home;
}

turn_scope::~turn_scope() {
  if (owner_ != nullptr)
    owner_->end_turn();
}

std::shared_ptr<actor_thread> current_actor_thread() {
  return current_home != nullptr ? current_home->shared_from_this() : nullptr;
}

actor_thread_scope::actor_thread_scope(std::shared_ptr<actor_thread> home)
  : home_(std::move(home)), prev_(std::exchange(current_home, home_.get())) {}

actor_thread_scope::~actor_thread_scope() {
  current_home = prev_;
}

std::shared_ptr<actor_thread> home_of(const caf::actor& x) {
  if (!x)
    return nullptr;
  auto* c = dynamic_cast<component*>(caf::actor_cast<caf::abstract_actor*>(x));
  return c != nullptr ? c->home() : nullptr;
}

} // namespace kam::runtime
