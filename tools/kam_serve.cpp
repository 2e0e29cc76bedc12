// kam-serve: serves one protocol with the kamaelia-caf chassis.
//
//   kam-serve --protocol=echo --host=127.0.0.1 --port=1601 --threads=2 --drain-timeout=5
//
// Robustness: --max-connections=N (0 = no limit), --idle-timeout=S (0 = off),
// --write-high-watermark / --write-low-watermark / --write-hard-limit (bytes
// queued per connection: pause the handler above high, stop reading the
// client above hard, resume both below low).
//
// Chat: --protocol=chat [--max-line=N] (default 65536) makes the backplane
// CHAT for the server and closes a client whose queued output reaches
// --write-hard-limit (the pub/sub slow-consumer policy, docs/backplane.md).
//
// Options use CAF's `--key=value` syntax; CAF's own (e.g.
// --scheduler.max-threads=2) pass through. Prints `listening on HOST:PORT`
// once accepting. SIGINT/SIGTERM drain gracefully, then exit 0; a second
// signal closes what is left at once.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sched.h>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/config_option_adder.hpp>
#include <caf/send.hpp>

#include "chassis/server.hpp"
#include "protocols/chat/handler.hpp"
#include "runtime/backplane.hpp"
#include "runtime/boxes.hpp"
#include "runtime/ipc.hpp"
#include "runtime/scheduler.hpp"
#include "tools/protocol_table.hpp"

namespace {

class config : public caf::actor_system_config {
public:
  std::string protocol = "echo";
  std::string host = "127.0.0.1";
  int64_t port = 1601;
  int64_t threads = 0;
  double drain_timeout = 5.0;
  int64_t backlog = 1024;
  int64_t max_connections = 0;
  double idle_timeout = 0;
  int64_t write_high = 1024 * 1024;
  int64_t write_low = 256 * 1024;
  int64_t write_hard = 4 * 1024 * 1024;
  std::string placement = "io";
  int64_t max_line = 65536;

  config() {
    opt_group{custom_options_, "global"}
      .add(protocol, "protocol",
           "protocol to serve: echo, upper-lines, echo-pipeline, chat")
      .add(host, "host", "address to listen on (IPv4 or IPv6)")
      .add(port, "port", "port to listen on, 0 picks a free one")
      .add(threads, "threads", "I/O threads, 0 = one per core")
      .add(backlog, "backlog", "listen backlog per I/O thread")
      .add(drain_timeout, "drain-timeout", "seconds to drain on shutdown")
      .add(max_connections, "max-connections", "open connections at most, 0 = no limit")
      .add(idle_timeout, "idle-timeout", "seconds without traffic to close, 0 = off")
      .add(write_high, "write-high-watermark", "queued bytes that pause a handler")
      .add(write_low, "write-low-watermark", "queued bytes that resume it")
      .add(write_hard, "write-hard-limit", "queued bytes that stop reading a client")
      .add(max_line, "max-line", "chat: longest line in bytes (1..67108864)")
      .add(placement, "placement",
           "where connection actors run: io (their socket's I/O thread) or "
           "scheduler (CAF's workers)");
  }
};

int fail(const std::string& msg) {
  std::cerr << "kam-serve: " << msg << std::endl;
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  config cfg;
  kam::runtime::add_message_types(cfg);
  if (auto err = cfg.parse(argc, argv)) {
    // CAF renders e.g. parser_error(not_an_option, ({"argument" = "--x=1"})).
    auto text = cfg.render(err);
    auto key = std::string{"\"argument\" = \""};
    auto pos = text.find(key);
    if (pos != std::string::npos) {
      auto arg = text.substr(pos + key.size());
      arg = arg.substr(0, arg.find('"'));
      auto why = text.find("not_an_option") != std::string::npos ? "unknown option"
                                                                 : "invalid value in";
      return fail(std::string{why} + " '" + arg + "' (see --help)");
    }
    return fail("bad command line: " + text);
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (cfg.port < 0 || cfg.port > 65535)
    return fail("--port=" + std::to_string(cfg.port) + " is out of range (0..65535)");
  if (cfg.threads < 0 || cfg.threads > 1024)
    return fail("--threads=" + std::to_string(cfg.threads) +
                " is out of range (0..1024)");
  if (cfg.backlog < 1)
    return fail("--backlog must be positive");
  if (!(cfg.drain_timeout >= 0) || cfg.drain_timeout > 86400)
    return fail("--drain-timeout must be between 0 and 86400 seconds");
  if (cfg.max_connections < 0)
    return fail("--max-connections must not be negative");
  if (!(cfg.idle_timeout >= 0) || cfg.idle_timeout > 86400)
    return fail("--idle-timeout must be between 0 and 86400 seconds");
  if (cfg.placement != "io" && cfg.placement != "scheduler")
    return fail("--placement must be io or scheduler, not '" + cfg.placement + "'");
  if (cfg.write_low < 0 || cfg.write_high < 1 || cfg.write_hard < 1)
    return fail("--write-* limits must be positive");
  if (!(cfg.write_low <= cfg.write_high && cfg.write_high <= cfg.write_hard))
    return fail("need --write-low-watermark <= --write-high-watermark"
                " <= --write-hard-limit");
  if (cfg.max_line < 1 || cfg.max_line > 64 * 1024 * 1024)
    return fail("--max-line=" + std::to_string(cfg.max_line) +
                " is out of range (1..67108864)");
  // Scheduler defaults measured with kam-bench (docs/performance.md): CAF's
  // work-stealing workers poll with 50 us naps and it starts max(cores, 4)
  // of them, which on a small machine costs latency and CPU beside the I/O
  // threads. A shared queue with one worker per usable core did better at
  // every concurrency measured. Either setting given on the command line wins.
  if (!caf::get_if<caf::atom_value>(&cfg, "scheduler.policy"))
    cfg.set("scheduler.policy", caf::atom("sharing"));
  if (!caf::get_if<size_t>(&cfg, "scheduler.max-threads")) {
    cpu_set_t set;
    size_t cores = 1;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
      cores = std::max(1, CPU_COUNT(&set));
    cfg.set("scheduler.max-threads", cores);
  }
  kam::runtime::install_scheduler(cfg);
  auto proto = kam::tools::find_protocol(cfg.protocol);
  if (proto == nullptr) {
    std::string known;
    for (auto& p : kam::tools::protocols())
      known += (known.empty() ? "" : ", ") + p.name;
    return fail("unknown protocol '" + cfg.protocol + "' (known: " + known + ")");
  }
  // Signals are taken by an Asio signal_set on this thread; block them first
  // so no other thread is picked to run a default handler meanwhile.
  boost::asio::io_context sig_ioc{1};
  boost::asio::signal_set signals{sig_ioc, SIGINT, SIGTERM};
  caf::actor_system sys{cfg};
  kam::chassis::server_options opts;
  opts.listen.host = cfg.host;
  opts.listen.port = static_cast<uint16_t>(cfg.port);
  opts.listen.threads = static_cast<size_t>(cfg.threads);
  opts.listen.backlog = static_cast<int>(cfg.backlog);
  opts.listen.max_connections = static_cast<size_t>(cfg.max_connections);
  opts.listen.idle_timeout =
    std::chrono::milliseconds(static_cast<int64_t>(cfg.idle_timeout * 1000));
  opts.listen.write_high_watermark = static_cast<size_t>(cfg.write_high);
  opts.listen.write_low_watermark = static_cast<size_t>(cfg.write_low);
  opts.listen.write_hard_limit = static_cast<size_t>(cfg.write_hard);
  opts.listen.actors_on_io_threads = cfg.placement == "io";
  opts.drain_timeout =
    std::chrono::milliseconds(static_cast<int64_t>(cfg.drain_timeout * 1000));
  auto factory = proto->factory;
  caf::actor chat_bp; // the chat protocol's backplane, ended after the server
  if (proto->name == "chat") {
    auto bp = kam::runtime::backplane(sys, "CHAT");
    if (!bp)
      return fail(sys.render(bp.error()));
    chat_bp = *bp;
    kam::protocols::chat::chat_options chat{"CHAT", static_cast<size_t>(cfg.max_line)};
    factory = [chat](caf::actor_system& s, const kam::runtime::connection_info&) {
      return kam::protocols::chat::handler(s, chat);
    };
    opts.listen.close_slow_consumers = true;
  }
  auto srv = kam::chassis::more_complex_server(sys, factory, opts);
  auto end_chat = [&chat_bp] {
    if (chat_bp)
      caf::anon_send_exit(chat_bp, caf::exit_reason::user_shutdown);
  };
  if (!srv) {
    end_chat();
    auto& ctx = srv.error().context();
    if (ctx.match_elements<std::string>())
      return fail(ctx.get_as<std::string>(0));
    return fail(sys.render(srv.error()));
  }
  srv->on_stopped([&sig_ioc] { sig_ioc.stop(); });
  std::printf("listening on %s:%u\n",
              srv->host().find(':') != std::string::npos
                ? ("[" + srv->host() + "]").c_str()
                : srv->host().c_str(),
              static_cast<unsigned>(srv->port()));
  std::fflush(stdout);
  int signals_seen = 0;
  std::function<void(const boost::system::error_code&, int)> on_signal;
  on_signal = [&](const boost::system::error_code& ec, int) {
    if (ec)
      return;
    if (++signals_seen == 1)
      srv->shutdown();
    else
      srv->shutdown_now();
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  if (!srv->stopped())
    sig_ioc.run();
  srv->wait();
  end_chat();
  // Back to the default dispositions: a signal during teardown terminates.
  boost::system::error_code ignored;
  signals.clear(ignored);
  return 0;
}
