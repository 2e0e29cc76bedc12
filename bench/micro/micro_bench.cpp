// Google Benchmark micro-benchmarks of the runtime's per-message costs:
// one actor hop, a message through a component link, spawning a handler+CSA
// pair's worth of actors, and handing a byte buffer across (move vs copy).
#include <benchmark/benchmark.h>

#include <caf/all.hpp>

#include "protocols/echo/handler.hpp"
#include "runtime/component.hpp"
#include "runtime/ipc.hpp"

using namespace kam::runtime;

namespace {

struct bench_system {
  bench_system() {
    add_message_types(cfg);
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
};

bench_system& the_system() {
  static bench_system s;
  return s;
}

/// Round trip: blocking caller -> event-based actor -> caller (two hops).
void BM_actor_round_trip(benchmark::State& state) {
  auto& sys = *the_system().sys;
  auto pong = sys.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](int x) { return x; }};
  });
  caf::scoped_actor self{sys};
  for (auto _ : state) {
    self->request(pong, caf::infinite, 1).receive([](int) {}, [](caf::error&) {});
  }
  caf::anon_send_exit(pong, caf::exit_reason::kill);
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_actor_round_trip)->UseRealTime();

/// Messages through an echo component's link: N bytes messages in, N out.
void BM_link_echo_throughput(benchmark::State& state) {
  auto& sys = *the_system().sys;
  const int batch = 1000;
  for (auto _ : state) {
    caf::scoped_actor self{sys};
    auto echo = sys.spawn(kam::protocols::echo::handler);
    link(echo, outbox, caf::actor_cast<caf::actor>(self), inbox);
    for (int i = 0; i < batch; ++i)
      self->send(echo, inbox_atom::value, bytes(64, 'x'));
    int got = 0;
    self->receive_for(got, batch)([](inbox_atom, bytes&) {});
    caf::anon_send_exit(echo, caf::exit_reason::kill);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_link_echo_throughput)->UseRealTime();

/// Spawning and ending two components (a handler+CSA pair's actor cost).
void BM_spawn_pair(benchmark::State& state) {
  auto& sys = *the_system().sys;
  caf::scoped_actor self{sys};
  for (auto _ : state) {
    auto a = sys.spawn(kam::protocols::echo::handler);
    auto b = sys.spawn<caf::lazy_init>(kam::protocols::echo::handler);
    self->send_exit(a, caf::exit_reason::kill);
    self->send_exit(b, caf::exit_reason::kill);
  }
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_spawn_pair)->UseRealTime();

/// Putting a 16 KiB buffer into a message: moved vs copied.
void BM_buffer_move_into_message(benchmark::State& state) {
  for (auto _ : state) {
    bytes b(static_cast<size_t>(state.range(0)), 'x');
    auto m = caf::make_message(inbox_atom::value, std::move(b));
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_buffer_move_into_message)->Arg(64)->Arg(16384);

void BM_buffer_copy_into_message(benchmark::State& state) {
  for (auto _ : state) {
    bytes b(static_cast<size_t>(state.range(0)), 'x');
    auto m = caf::make_message(inbox_atom::value, b);
    benchmark::DoNotOptimize(m);
    benchmark::DoNotOptimize(b);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_buffer_copy_into_message)->Arg(64)->Arg(16384);

} // namespace

BENCHMARK_MAIN();
