#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>

namespace kam::runtime::io {

/// Counts a broker's open sockets for listen_options::max_connections
/// (ranch's connection supervisor: the limit in one place).
///
/// Thread rule: thread safe. The broker reserves a slot before each accept
/// (on its I/O threads); a stream releases its slot once, when its socket
/// closes (on that stream's I/O thread, or wherever the stream is destroyed).
/// Shared by the broker and its streams, which may outlive it.
class connection_gate {
public:
  explicit connection_gate(size_t max) : max_(max) {}

  connection_gate(const connection_gate&) = delete;
  connection_gate& operator=(const connection_gate&) = delete;

  /// Takes a slot if fewer than `max` are taken.
  bool try_reserve();

  /// Gives a slot back; leaving the full state runs the room callback.
  void release();

  /// Slots taken now.
  size_t open() const { return open_.load(std::memory_order_relaxed); }

  /// Sets (or, with nullptr, clears) what runs when a slot frees at the
  /// limit. It runs under the gate's lock, on the releasing thread.
  void on_room(std::function<void()> f);

private:
  const size_t max_;
  std::atomic<size_t> open_{0};
  std::mutex mtx_;
  std::function<void()> on_room_;
};

} // namespace kam::runtime::io
