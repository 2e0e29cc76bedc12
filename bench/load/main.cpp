// kam-load: a lean epoll load generator for echo servers. See --help in
// docs/performance.md; one JSON summary on stdout, progress on stderr.

#include "../common/cli.hpp"
#include "../common/sys.hpp"
#include "chat.hpp"
#include "options.hpp"
#include "report.hpp"
#include "tls.hpp"
#include "worker.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>

namespace {

using namespace kam::bench;

constexpr uint64_t sec = 1000000000;

uint64_t to_ns(double s) {
  return static_cast<uint64_t>(s * 1e9);
}

int run(int argc, char** argv) {
  auto opts = parse_load_options(argc, argv);
  if (opts.mode == load_mode::chat) {
    std::signal(SIGPIPE, SIG_IGN);
    raise_nofile_limit();
    return run_chat(opts);
  }
  std::signal(SIGPIPE, SIG_IGN);
  auto nofile = raise_nofile_limit();
  auto fds = static_cast<uint64_t>(opts.mode == load_mode::conn ? opts.concurrency
                                                                : opts.connections);
  if (fds + 64 > nofile)
    std::fprintf(stderr, "kam-load: warning: RLIMIT_NOFILE %llu < %llu connections\n",
                 static_cast<unsigned long long>(nofile),
                 static_cast<unsigned long long>(fds));
  run_clock clock;
  clock.start_ns = now_ns();
  clock.measure_ns = clock.start_ns + to_ns(opts.warmup);
  clock.end_ns = opts.mode == load_mode::idle
                   ? clock.start_ns + to_ns(opts.connect_phase + opts.duration) + 5 * sec
                   : clock.measure_ns + to_ns(opts.duration);
  std::vector<std::unique_ptr<thread_stats>> stats;
  std::vector<std::unique_ptr<tls_client>> tls; // one context per worker thread
  std::vector<std::unique_ptr<worker>> workers;
  for (int i = 0; i < opts.threads; ++i) {
    stats.push_back(std::make_unique<thread_stats>());
    if (opts.tls)
      tls.push_back(std::make_unique<tls_client>(opts));
    workers.push_back(std::make_unique<worker>(opts, i, clock, *stats.back(),
                                               opts.tls ? tls.back().get() : nullptr));
  }
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (auto& w : workers)
    threads.emplace_back([&finished, w = w.get()] {
      w->run();
      finished.fetch_add(1);
    });

  // Supervise: progress once a second, phase markers for drivers, idle hold.
  bool measuring = false, all_open = false, done = false;
  uint64_t hold_until = 0, last_print = clock.start_ns;
  double connect_time = 0;
  totals last;
  int exit_code = 0;
  while (!done) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto now = now_ns();
    if (!measuring && now >= clock.measure_ns) {
      measuring = true;
      std::fprintf(stderr, "[kam-load] phase=measure\n");
    }
    if (opts.mode == load_mode::idle) {
      auto open = collect(stats).established;
      if (!all_open && open >= fds) {
        all_open = true;
        connect_time = static_cast<double>(now - clock.start_ns) / 1e9;
        hold_until = now + to_ns(opts.duration);
        std::fprintf(stderr, "all connected %llu in %.2fs\n",
                     static_cast<unsigned long long>(open), connect_time);
        if (!opts.hold_file.empty())
          std::ofstream(opts.hold_file) << open << "\n";
      } else if (!all_open && now >= clock.start_ns + to_ns(opts.connect_phase)) {
        std::fprintf(stderr, "kam-load: only %llu of %llu connections open after %.1fs\n",
                     static_cast<unsigned long long>(open),
                     static_cast<unsigned long long>(fds), opts.connect_phase);
        exit_code = 1;
        done = true;
      }
      if (all_open && now >= hold_until)
        done = true;
    } else if (now >= clock.end_ns || finished.load() == opts.threads) {
      done = true;
    }
    if (opts.progress && (now - last_print >= sec || done)) {
      auto t = collect(stats);
      print_progress(static_cast<double>(now - clock.start_ns) / 1e9, t, last,
                     static_cast<double>(now - last_print) / 1e9);
      last = std::move(t);
      last_print = now;
    }
  }
  std::fprintf(stderr, "[kam-load] phase=done\n");
  clock.stop = true;
  for (auto& t : threads)
    t.join();

  auto t = collect(stats);
  double measured = 0;
  if (opts.mode == load_mode::idle) {
    measured = connect_time;
    t.ops = t.established;
  } else {
    uint64_t last_done = clock.measure_ns;
    for (auto& w : workers)
      last_done = std::max(last_done, w->done_ns());
    measured = static_cast<double>(last_done - clock.measure_ns) / 1e9;
  }
  auto j = summary(opts, t, measured);
  if (opts.mode == load_mode::idle) {
    j["connections_open"] = t.established;
    j["all_connected"] = all_open;
    j["connect_time_s"] = connect_time;
  }
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
  if (t.ops == 0)
    exit_code = 1;
  return exit_code;
}

} // namespace

int main(int argc, char** argv) {
  return kam::bench::run_main("kam-load", run, argc, argv);
}
