#include "runtime/io/connection_gate.hpp"

namespace kam::runtime::io {

bool connection_gate::try_reserve() {
  auto v = open_.load(std::memory_order_relaxed);
  while (v < max_)
    if (open_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel))
      return true;
  return false;
}

void connection_gate::release() {
  if (open_.fetch_sub(1, std::memory_order_acq_rel) == max_) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (on_room_)
      on_room_();
  }
}

void connection_gate::on_room(std::function<void()> f) {
  std::lock_guard<std::mutex> guard{mtx_};
  on_room_ = std::move(f);
}

} // namespace kam::runtime::io
