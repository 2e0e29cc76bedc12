// bench-caf-broker-echo: the idiomatic CAF 0.17 caf::io echo server, what a CAF
// user writes today: middleman().spawn_server() with a broker that forks one
// broker per connection; new_data_msg -> wr_buf -> flush. All caf::io brokers
// share the middleman's single multiplexer thread; --threads sets
// scheduler.max-threads.

#include "../common/cli.hpp"
#include "../common/sys.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <cstdio>

namespace {

using namespace caf;
using namespace caf::io;
using namespace kam::bench;

// 8 KiB reads: tried 64 KiB, no faster (the single multiplexer thread is the
// limit) and CAF zero-fills each scribe's buffer, ~64 KiB RSS per connection.
constexpr size_t read_chunk = 8 * 1024;

behavior echo_connection(broker* self, connection_handle hdl) {
  self->configure_read(hdl, receive_policy::at_most(read_chunk));
  return {
    [=](const new_data_msg& msg) {
      auto& out = self->wr_buf(msg.handle);
      out.insert(out.end(), msg.buf.begin(), msg.buf.end());
      self->flush(msg.handle);
    },
    [=](const connection_closed_msg&) { self->quit(); },
  };
}

behavior echo_server(broker* self) {
  return {
    [=](const new_connection_msg& msg) { self->fork(echo_connection, msg.handle); },
    [=](const acceptor_closed_msg&) { self->quit(); },
  };
}

int run(int argc, char** argv) {
  cli args(argc, argv, {"host", "port", "threads"});
  auto host = args.str("host", "127.0.0.1");
  auto port = static_cast<uint16_t>(args.integer("port", 0, 0, 65535));
  auto threads = static_cast<size_t>(args.integer("threads", 1, 1, 256));
  raise_nofile_limit();
  block_stop_signals(); // before CAF starts its threads, so they inherit the mask
  actor_system_config cfg;
  cfg.load<middleman>();
  cfg.set("scheduler.max-threads", threads);
  actor_system system{cfg};
  // spawn_server() binds the wildcard address: CAF 0.17's idiomatic call takes no host.
  auto server = system.middleman().spawn_server(echo_server, port);
  if (!server) {
    std::fprintf(stderr, "bench-caf-broker-echo: cannot listen on port %u: %s\n",
                 static_cast<unsigned>(port), system.render(server.error()).c_str());
    return 1;
  }
  announce_listening(host, port);
  wait_for_stop_signal();
  anon_send_exit(*server, exit_reason::user_shutdown);
  // Connection brokers live as long as their clients; don't wait for them.
  system.await_actors_before_shutdown(false);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  return kam::bench::run_main("bench-caf-broker-echo", run, argc, argv);
}
