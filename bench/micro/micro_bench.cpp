// Google Benchmark micro-benchmarks of the runtime's per-message costs:
// one actor hop, a message through a component link, spawning a handler+CSA
// pair's worth of actors, and handing a byte buffer across (move vs copy).
#include <benchmark/benchmark.h>

#include <future>
#include <memory>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <caf/all.hpp>

#include "chassis/pipeline.hpp"
#include "protocols/echo/handler.hpp"
#include "protocols/lines/parser.hpp"
#include "runtime/actor_thread.hpp"
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

// Created and destroyed inside main(): CAF's actor system must not be a
// static (its teardown after main races CAF's own statics).
bench_system* the_system_ptr = nullptr;

bench_system& the_system() {
  return *the_system_ptr;
}

/// Round trip: blocking caller -> event-based actor -> caller (two hops).
void BM_actor_round_trip(benchmark::State& state) {
  auto& sys = *the_system().sys;
  auto pong = sys.spawn(
    [](caf::event_based_actor*) -> caf::behavior { return {[](int x) { return x; }}; });
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

/// Messages through pipeline(echo x N): the cost of each stage per message.
void BM_pipeline_stages(benchmark::State& state) {
  auto& sys = *the_system().sys;
  const int batch = 1000;
  const auto stages = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    caf::scoped_actor self{sys};
    std::vector<caf::actor> children;
    for (size_t i = 0; i < stages; ++i)
      children.push_back(sys.spawn(kam::protocols::echo::handler));
    auto pipe = kam::chassis::pipeline(sys, children);
    link(pipe, outbox, caf::actor_cast<caf::actor>(self), inbox);
    for (int i = 0; i < batch; ++i)
      self->send(pipe, inbox_atom::value, bytes(64, 'x'));
    int got = 0;
    self->receive_for(got, batch)([](inbox_atom, bytes&) {});
    caf::anon_send_exit(pipe, caf::exit_reason::kill);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_pipeline_stages)->Arg(1)->Arg(3)->UseRealTime();

/// An I/O thread of its own: an io_context run on a thread, with an
/// actor_thread, as kam-serve's connections get.
struct io_thread {
  explicit io_thread(caf::actor_system& sys)
    : guard(ioc.get_executor()), home(std::make_shared<actor_thread>(sys, ioc)),
      thread([this] { ioc.run(); }) {}
  ~io_thread() {
    guard.reset();
    ioc.stop();
    thread.join();
    home->close();
  }
  boost::asio::io_context ioc{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard;
  std::shared_ptr<actor_thread> home;
  std::thread thread;
};

/// As BM_pipeline_stages, but the pipeline and its stages live on an
/// actor_thread (placement `io`, where kam-serve runs a connection's
/// handler): the difference between /3 and /1, halved, is one same-thread
/// hop per message.
void BM_pipeline_stages_io(benchmark::State& state) {
  auto& sys = *the_system().sys;
  const int batch = 1000;
  const auto stages = static_cast<size_t>(state.range(0));
  io_thread io{sys};
  for (auto _ : state) {
    caf::scoped_actor self{sys};
    caf::actor pipe;
    {
      actor_thread_scope scope{io.home};
      std::vector<caf::actor> children;
      for (size_t i = 0; i < stages; ++i)
        children.push_back(sys.spawn(kam::protocols::echo::handler));
      pipe = kam::chassis::pipeline(sys, children);
    }
    link(pipe, outbox, caf::actor_cast<caf::actor>(self), inbox);
    for (int i = 0; i < batch; ++i)
      self->send(pipe, inbox_atom::value, bytes(64, 'x'));
    int got = 0;
    self->receive_for(got, batch)([](inbox_atom, bytes&) {});
    caf::anon_send_exit(pipe, caf::exit_reason::kill);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_pipeline_stages_io)->Arg(1)->Arg(3)->UseRealTime();

/// One message at a time through pipeline(echo x N), everything on one
/// actor_thread: a driver component sends a message, the pipeline's last
/// stage answers into the driver's inbox, the driver sends the next, 1000
/// times per iteration. Only the end of an iteration crosses threads, so
/// (time(/3) - time(/1)) / 2 per message is the cost of one same-thread hop
/// with nothing queued (the shape of a connection's round trip).
void BM_hop_io(benchmark::State& state) {
  auto& sys = *the_system().sys;
  const int batch = 1000;
  const auto stages = static_cast<size_t>(state.range(0));
  io_thread io{sys};
  for (auto _ : state) {
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    caf::actor pipe;
    {
      actor_thread_scope scope{io.home};
      std::vector<caf::actor> children;
      for (size_t i = 0; i < stages; ++i)
        children.push_back(sys.spawn(kam::protocols::echo::handler));
      pipe = kam::chassis::pipeline(sys, children);
      auto driver = sys.spawn([=](component* self) -> caf::behavior {
        auto left = std::make_shared<int>(batch);
        return {
          [=](control_atom, int) { self->send(pipe, inbox_atom::value, bytes(64, 'x')); },
          [=](inbox_atom, bytes& b) {
            if (--*left == 0) {
              done->set_value();
              self->quit();
              return;
            }
            self->send(pipe, inbox_atom::value, std::move(b));
          },
        };
      });
      link(pipe, outbox, driver, inbox);
      caf::anon_send(driver, control_atom::value, 0);
    }
    fut.wait();
    caf::anon_send_exit(pipe, caf::exit_reason::kill);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_hop_io)->Arg(1)->Arg(3)->UseRealTime();

/// The line parser's throughput on 64-byte lines.
void BM_lines_parser(benchmark::State& state) {
  std::string input;
  while (input.size() < 64 * 1024)
    input += std::string(63, 'a') + "\n";
  kam::protocols::lines::parser p{8192};
  std::vector<std::string> out;
  for (auto _ : state) {
    out.clear();
    p.feed(input, out);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
}
BENCHMARK(BM_lines_parser);

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

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 1;
  {
    bench_system sys;
    the_system_ptr = &sys;
    benchmark::RunSpecifiedBenchmarks();
    the_system_ptr = nullptr;
  }
  benchmark::Shutdown();
  return 0;
}
