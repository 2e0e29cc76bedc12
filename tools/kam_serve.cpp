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
// Transports: --tls-cert/--tls-key[/--tls-ca]; --unix=PATH [--unix-mode=0660]
// instead of --host/--port; --proxy-protocol [--proxy-from=CIDR,...]
// (docs/transports.md).
//
// Nodes: --node-port=N [--node-host=H] [--join=HOST:PORT,...] [--node-cookie=S]
// federates the chat backplane with other kam-serve nodes through CAF's
// middleman (docs/federation.md).
//
// Admin: --admin-port=N [--admin-host=H] serves /metrics, /healthz, /graph,
// /graph.dot and a page drawing the graph on its own listener (docs/admin.md).
//
// Options use CAF's `--key=value` syntax; CAF's own (e.g.
// --scheduler.max-threads=2) pass through. Prints `listening on HOST:PORT`
// once accepting. SIGINT/SIGTERM drain gracefully, then exit 0; a second
// signal closes what is left at once.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
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
#include "protocols/http/files.hpp"
#include "protocols/http/handler.hpp"
#include "protocols/lines/line_batch.hpp"
#include "runtime/backplane.hpp"
#include "runtime/boxes.hpp"
#include "runtime/io/proxy/cidr.hpp"
#include "runtime/io/tls/context.hpp"
#include "runtime/io/unix_path.hpp"
#include "runtime/ipc.hpp"
#include "runtime/log.hpp"
#include "runtime/memory.hpp"
#include "runtime/node.hpp"
#include "runtime/scheduler.hpp"
#include "tools/admin.hpp"
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
  int64_t accept_batch = 256;
  int64_t max_connections = 0;
  double idle_timeout = 0;
  int64_t write_high = 1024 * 1024;
  int64_t write_low = 256 * 1024;
  int64_t write_hard = 4 * 1024 * 1024;
  std::string placement = "io";
  std::string log_level = "warning";
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  double tls_handshake_timeout = 10;
  int64_t tls_handshakes_per_round = 4;
  std::string http_root;
  std::string http_access_log;
  double http_header_timeout = 10;
  int64_t max_line = 65536;
  int64_t relay_limit = 65536;
  std::string unix_path;
  std::string unix_mode = "0660";
  bool proxy_protocol = false;
  std::string proxy_from = "127.0.0.0/8,::1";
  int64_t admin_port = -1;
  std::string admin_host = "127.0.0.1";
  int64_t node_port = -1;
  std::string node_host;
  std::string join;
  std::string node_cookie = "kam";

  config() {
    opt_group{custom_options_, "global"}
      .add(protocol, "protocol",
           "protocol to serve: echo, upper-lines, echo-pipeline, http, chat")
      .add(host, "host", "address to listen on (IPv4 or IPv6)")
      .add(port, "port", "port to listen on, 0 picks a free one")
      .add(threads, "threads", "I/O threads, 0 = one per core")
      .add(backlog, "backlog", "listen backlog per I/O thread")
      .add(accept_batch, "accept-batch",
           "connections accepted per listener wake-up at most (1..65536); "
           "their TLS handshakes: --tls-handshakes-per-round")
      .add(drain_timeout, "drain-timeout", "seconds to drain on shutdown")
      .add(max_connections, "max-connections", "open connections at most, 0 = no limit")
      .add(idle_timeout, "idle-timeout", "seconds without traffic to close, 0 = off")
      .add(write_high, "write-high-watermark", "queued bytes that pause a handler")
      .add(write_low, "write-low-watermark", "queued bytes that resume it")
      .add(write_hard, "write-hard-limit", "queued bytes that stop reading a client")
      .add(max_line, "max-line", "chat: longest line in bytes (1..67108864)")
      .add(relay_limit, "backplane-relay-limit",
           "chat: publications held for one lagging I/O thread before it misses "
           "the rest (counted; 1..16777216)")
      .add(placement, "placement",
           "where connection actors run: io (their socket's I/O thread) or "
           "scheduler (CAF's workers)")
      .add(tls_cert, "tls-cert", "PEM certificate (chain): serve TLS 1.2/1.3 with it")
      .add(tls_key, "tls-key", "PEM private key of --tls-cert")
      .add(tls_ca, "tls-ca", "PEM CA bundle: require client certificates it signed")
      .add(tls_handshake_timeout, "tls-handshake-timeout",
           "seconds a TLS client has to complete its handshake")
      .add(tls_handshakes_per_round, "tls-handshakes-per-round",
           "TLS handshakes each I/O thread starts per event-loop round, behind "
           "the round's other events (0..65536; 0 = all at once)")
      .add(unix_path, "unix", "listen on this Unix socket path instead of host:port")
      .add(unix_mode, "unix-mode", "octal permissions of the --unix socket file")
      .add(proxy_protocol, "proxy-protocol",
           "require a PROXY protocol v1/v2 header (haproxy) on every connection")
      .add(proxy_from, "proxy-from", "networks allowed to send it: CIDR[,CIDR...]")
      .add(log_level, "log-level",
           "events on stderr at or above: error, warning, info, debug");
    opt_group{custom_options_, "global"}
      .add(http_root, "root", "http: directory to serve files from")
      .add(http_access_log, "access-log", "http: Common Log Format file, - for stdout")
      .add(http_header_timeout, "header-timeout",
           "http: seconds to finish a request's headers before 408");
    opt_group{custom_options_, "global"}
      .add(admin_port, "admin-port",
           "admin endpoint port (/metrics, /healthz, /graph), 0 picks one, -1 = off")
      .add(admin_host, "admin-host", "admin endpoint address (default 127.0.0.1)");
    opt_group{custom_options_, "global"}
      .add(node_port, "node-port",
           "federate the chat backplane: this node's CAF (BASP) port, 0 picks one, "
           "-1 = off")
      .add(node_host, "node-host", "address of the node port (default: --host)")
      .add(join, "join",
           "peer nodes to dial: HOST:PORT[,HOST:PORT...] (their node ports)")
      .add(node_cookie, "node-cookie",
           "identifier of the mesh (not a password): nodes with another one are refused");
  }

  /// The first key of a config file's [global] section that is no option
  /// (CAF stores it silently; a typo must not go unnoticed), or empty.
  std::string unknown_global_key() const {
    for (auto& kv : content)
      if (!caf::holds_alternative<caf::settings>(kv.second) &&
          custom_options_.qualified_name_lookup("global", kv.first) == nullptr)
        return kv.first;
    return {};
  }
};

/// Names the config file in CAF's rendering of an error reading it, e.g.
/// parser_error(unexpected_character, ({"column" = 7, "line" = 2})) or
/// system_error(cannot_open_file, ("/etc/x.conf")); empty for other errors.
std::string config_file_error(const config& cfg, const std::string& text) {
  auto file = "config file '" + cfg.config_file_path + "'";
  if (text.find("cannot_open_file") != std::string::npos)
    return "cannot open " + file;
  auto number_after = [&](const std::string& key) {
    auto pos = text.find("\"" + key + "\" = ");
    if (pos == std::string::npos)
      return std::string{};
    pos += key.size() + 5;
    return text.substr(pos, text.find_first_not_of("0123456789", pos) - pos);
  };
  auto line = number_after("line");
  if (text.rfind("parser_error(", 0) != 0 || line.empty())
    return {};
  auto kind = text.substr(13, text.find_first_of(",)", 13) - 13);
  return file + ": " + kind + " at line " + line + ", column " + number_after("column");
}

int fail(const std::string& msg) {
  std::cerr << "kam-serve: " << msg << std::endl;
  return 2;
}

/// "HOST:PORT", "[V6]:PORT" or "unix:PATH" (the broker's host() for --unix).
std::string listen_name(const std::string& host, uint16_t port, bool is_unix) {
  if (is_unix)
    return host;
  auto h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

/// --unix, --unix-mode, --proxy-protocol, --proxy-from into `l`; returns an
/// error line, or empty. --host/--port on the command line conflict with
/// --unix (the config file's are ignored then).
std::string transport_options(const config& cfg, int argc, char** argv,
                              kam::runtime::io::listen_options& l) {
  namespace io = kam::runtime::io;
  if (!cfg.unix_path.empty()) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      for (auto opt : {"--host", "--port"})
        if (a == opt || a.rfind(std::string{opt} + "=", 0) == 0)
          return std::string{opt} + " cannot be combined with --unix";
    }
    auto mode = io::parse_unix_mode(cfg.unix_mode);
    if (mode < 0)
      return "--unix-mode must be octal permissions such as 0660, not '" + cfg.unix_mode +
             "'";
    l.unix_path = cfg.unix_path;
    l.unix_mode = static_cast<unsigned>(mode);
  }
  if (cfg.proxy_protocol) {
    std::string why;
    auto set = io::proxy::cidr_set::parse(cfg.proxy_from, why);
    if (!set)
      return "--proxy-from: " + why;
    l.proxy_protocol = true;
    l.proxy_from = std::make_shared<const io::proxy::cidr_set>(std::move(*set));
  }
  return {};
}

} // namespace

int main(int argc, char** argv) {
  kam::runtime::tune_allocator(); // before any thread starts
  config cfg;
  kam::runtime::add_message_types(cfg);
  kam::protocols::lines::add_message_types(cfg); // chat's line blocks cross nodes
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
    if (auto where = config_file_error(cfg, text); !where.empty())
      return fail(where);
    return fail("bad command line: " + text);
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (auto key = cfg.unknown_global_key(); !key.empty())
    return fail("unknown option '" + key + "' in config file '" + cfg.config_file_path +
                "' (see --help)");
  if (cfg.port < 0 || cfg.port > 65535)
    return fail("--port=" + std::to_string(cfg.port) + " is out of range (0..65535)");
  if (cfg.admin_port < -1 || cfg.admin_port > 65535)
    return fail("--admin-port=" + std::to_string(cfg.admin_port) +
                " is out of range (0..65535, -1 = off)");
  if (cfg.admin_port > 0 && cfg.admin_port == cfg.port)
    return fail("--admin-port must differ from --port (" + std::to_string(cfg.port) +
                ")");
  if (cfg.node_port < -1 || cfg.node_port > 65535)
    return fail("--node-port=" + std::to_string(cfg.node_port) +
                " is out of range (0..65535, -1 = off)");
  if (cfg.node_port > 0 && (cfg.node_port == cfg.port || cfg.node_port == cfg.admin_port))
    return fail("--node-port must differ from --port and --admin-port");
  std::vector<std::string> join;
  for (size_t pos = 0; pos < cfg.join.size();) {
    auto comma = cfg.join.find(',', pos);
    auto item =
      cfg.join.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? cfg.join.size() : comma + 1;
    std::string h;
    uint16_t p = 0;
    std::string why;
    if (!kam::runtime::parse_node_address(item, h, p, why))
      return fail("--join: " + why);
    join.push_back(item);
  }
  if (cfg.node_port < 0 && (!join.empty() || !cfg.node_host.empty()))
    return fail(std::string{!join.empty() ? "--join" : "--node-host"} +
                " needs --node-port");
  if (cfg.node_port >= 0) {
    auto nh = cfg.node_host.empty() ? cfg.host : cfg.node_host;
    if (nh == "0.0.0.0" || nh == "::" || nh.empty())
      return fail("--node-host must be an address peers can dial, not '" + nh +
                  "' (it is this node's address in the mesh)");
  }
  if (cfg.node_cookie.empty())
    return fail("--node-cookie must not be empty");
  if (cfg.threads < 0 || cfg.threads > 1024)
    return fail("--threads=" + std::to_string(cfg.threads) +
                " is out of range (0..1024)");
  if (cfg.backlog < 1)
    return fail("--backlog must be positive");
  if (cfg.accept_batch < 1 || cfg.accept_batch > 65536)
    return fail("--accept-batch=" + std::to_string(cfg.accept_batch) +
                " is out of range (1..65536)");
  if (!(cfg.drain_timeout >= 0) || cfg.drain_timeout > 86400)
    return fail("--drain-timeout must be between 0 and 86400 seconds");
  if (cfg.max_connections < 0)
    return fail("--max-connections must not be negative");
  if (!(cfg.idle_timeout >= 0) || cfg.idle_timeout > 86400)
    return fail("--idle-timeout must be between 0 and 86400 seconds");
  if (cfg.placement != "io" && cfg.placement != "scheduler")
    return fail("--placement must be io or scheduler, not '" + cfg.placement + "'");
  auto level = kam::runtime::parse_log_level(cfg.log_level);
  if (!level)
    return fail("--log-level must be error, warning, info or debug, not '" +
                cfg.log_level + "'");
  if (cfg.tls_handshakes_per_round < 0 || cfg.tls_handshakes_per_round > 65536)
    return fail(
      "--tls-handshakes-per-round=" + std::to_string(cfg.tls_handshakes_per_round) +
      " is out of range (0..65536)");
  if (!(cfg.tls_handshake_timeout > 0) || cfg.tls_handshake_timeout > 3600)
    return fail("--tls-handshake-timeout must be more than 0 and at most 3600 seconds");
  std::shared_ptr<const kam::runtime::io::tls::tls_context> tls;
  if (!cfg.tls_cert.empty() || !cfg.tls_key.empty() || !cfg.tls_ca.empty()) {
    kam::runtime::io::tls::tls_options t;
    t.cert_file = cfg.tls_cert;
    t.key_file = cfg.tls_key;
    t.ca_file = cfg.tls_ca;
    if (cfg.protocol == "http")
      t.alpn = {"http/1.1"}; // other protocols negotiate none
    std::string why;
    auto ctx = kam::runtime::io::tls::tls_context::make(t, why);
    if (!ctx)
      return fail(why);
    tls = std::make_shared<const kam::runtime::io::tls::tls_context>(std::move(*ctx));
  }
  if (cfg.write_low < 0 || cfg.write_high < 1 || cfg.write_hard < 1)
    return fail("--write-* limits must be positive");
  if (!(cfg.write_low <= cfg.write_high && cfg.write_high <= cfg.write_hard))
    return fail("need --write-low-watermark <= --write-high-watermark"
                " <= --write-hard-limit");
  if (cfg.max_line < 1 || cfg.max_line > 64 * 1024 * 1024)
    return fail("--max-line=" + std::to_string(cfg.max_line) +
                " is out of range (1..67108864)");
  if (cfg.relay_limit < 1 || cfg.relay_limit > 16 * 1024 * 1024)
    return fail("--backplane-relay-limit=" + std::to_string(cfg.relay_limit) +
                " is out of range (1..16777216)");
  // Scheduler defaults (sharing, one worker per usable core) unless given.
  kam::runtime::use_kam_scheduler(cfg);
  if (cfg.node_port >= 0)
    kam::runtime::use_node(cfg, cfg.node_cookie);
  kam::tools::protocol_options popts;
  {
    namespace http = kam::protocols::http;
    auto hc = std::make_shared<http::config>();
    std::string why;
    if (!cfg.http_root.empty() && !(hc->root = http::file_root::open(cfg.http_root, why)))
      return fail(why);
    if (!cfg.http_access_log.empty() &&
        !(hc->log = http::access_log::open(cfg.http_access_log, why)))
      return fail(why);
    if (!(cfg.http_header_timeout >= 0) || cfg.http_header_timeout > 86400)
      return fail("--header-timeout must be between 0 and 86400 seconds");
    hc->header_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(cfg.http_header_timeout * 1000));
    hc->stats = std::make_shared<http::counters>();
    popts.http = std::move(hc);
  }
  auto table = kam::tools::protocols(popts);
  auto proto = kam::tools::find_protocol(table, cfg.protocol);
  if (proto == nullptr) {
    std::string known;
    for (auto& p : table)
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
  opts.listen.accept_batch = static_cast<int>(cfg.accept_batch);
  opts.listen.log = std::make_shared<kam::runtime::logger>(*level);
  opts.listen.max_connections = static_cast<size_t>(cfg.max_connections);
  opts.listen.idle_timeout =
    std::chrono::milliseconds(static_cast<int64_t>(cfg.idle_timeout * 1000));
  opts.listen.write_high_watermark = static_cast<size_t>(cfg.write_high);
  opts.listen.write_low_watermark = static_cast<size_t>(cfg.write_low);
  opts.listen.write_hard_limit = static_cast<size_t>(cfg.write_hard);
  opts.listen.actors_on_io_threads = cfg.placement == "io";
  opts.listen.tls = tls;
  opts.listen.tls_handshakes_per_round = static_cast<int>(cfg.tls_handshakes_per_round);
  opts.listen.tls_handshake_timeout =
    std::chrono::milliseconds(static_cast<int64_t>(cfg.tls_handshake_timeout * 1000));
  opts.drain_timeout =
    std::chrono::milliseconds(static_cast<int64_t>(cfg.drain_timeout * 1000));
  if (auto why = transport_options(cfg, argc, argv, opts.listen); !why.empty())
    return fail(why);
  auto factory = proto->factory;
  caf::actor chat_bp; // the chat protocol's backplane, ended after the server
  auto chat_stats = std::make_shared<kam::protocols::chat::counters>();
  if (proto->name == "chat") {
    auto bp = kam::runtime::backplane(
      sys, "CHAT", kam::runtime::backplane_options{static_cast<size_t>(cfg.relay_limit)});
    if (!bp)
      return fail(sys.render(bp.error()));
    chat_bp = *bp;
    kam::protocols::chat::chat_options chat{"CHAT", static_cast<size_t>(cfg.max_line),
                                            chat_stats};
    factory = [chat](caf::actor_system& s, const kam::runtime::connection_info&) {
      return kam::protocols::chat::handler(s, chat);
    };
    opts.listen.close_slow_consumers = true;
  }
  std::optional<kam::runtime::node> node;
  auto end_chat = [&chat_bp, &node] {
    if (chat_bp)
      caf::anon_send_exit(chat_bp, caf::exit_reason::user_shutdown);
    if (node)
      caf::anon_send_exit(node->actor, caf::exit_reason::user_shutdown);
  };
  if (cfg.node_port >= 0) {
    kam::runtime::node_options no;
    no.host = cfg.node_host.empty() ? cfg.host : cfg.node_host;
    no.port = static_cast<uint16_t>(cfg.node_port);
    no.join = join;
    auto n = kam::runtime::start_node(sys, no);
    if (!n) {
      end_chat();
      auto& ctx = n.error().context();
      return fail(ctx.match_elements<std::string>() ? ctx.get_as<std::string>(0)
                                                    : sys.render(n.error()));
    }
    node = std::move(*n);
    if (chat_bp)
      kam::runtime::federate(*node, chat_bp);
    std::printf("node at %s\n", node->address.c_str());
    std::fflush(stdout); // before "admin at" and "listening on" (issue 15)
  }
  auto srv = kam::chassis::more_complex_server(sys, factory, opts);
  if (!srv) {
    end_chat();
    auto& ctx = srv.error().context();
    if (ctx.match_elements<std::string>())
      return fail(ctx.get_as<std::string>(0));
    return fail(sys.render(srv.error()));
  }
  srv->on_stopped([&sig_ioc] { sig_ioc.stop(); });
  // The admin endpoint: its own server, so it answers while this one drains.
  std::optional<kam::chassis::server> admin;
  if (cfg.admin_port >= 0) {
    kam::tools::admin_sources src{
      &sys, &*srv, popts.http->stats, chat_stats, node ? node->stats : nullptr, chat_bp};
    auto a = kam::tools::start_admin(sys, cfg.admin_host,
                                     static_cast<uint16_t>(cfg.admin_port), src);
    if (!a) {
      end_chat();
      auto& ctx = a.error().context();
      return fail("admin endpoint: " + (ctx.match_elements<std::string>()
                                          ? ctx.get_as<std::string>(0)
                                          : sys.render(a.error())));
    }
    admin.emplace(std::move(*a));
    auto h = admin->host();
    std::printf("admin at %s:%u\n",
                h.find(':') != std::string::npos ? ("[" + h + "]").c_str() : h.c_str(),
                static_cast<unsigned>(admin->port()));
    std::fflush(stdout); // "admin at" is its own flushed line (issue 13)
  }
  auto where = listen_name(srv->host(), srv->port(), !cfg.unix_path.empty());
  std::printf("listening on %s\n", where.c_str());
  std::fflush(stdout);
  auto& log = *opts.listen.log;
  log.write(kam::runtime::log_level::info,
            "serving " + cfg.protocol + " on " + where + " (placement " + cfg.placement +
              (tls ? ", TLS" : "") + (cfg.proxy_protocol ? ", PROXY protocol" : "") +
              ")");
  int signals_seen = 0;
  std::function<void(const boost::system::error_code&, int)> on_signal;
  on_signal = [&](const boost::system::error_code& ec, int sig) {
    if (ec)
      return;
    if (++signals_seen == 1) {
      log.write(kam::runtime::log_level::info,
                std::string{sig == SIGINT ? "SIGINT" : "SIGTERM"} +
                  ": listeners closed, draining open connections for at most " +
                  std::to_string(opts.drain_timeout.count()) + " ms");
      srv->shutdown();
    } else {
      log.write(kam::runtime::log_level::info,
                "second signal: closing the remaining connections now");
      srv->shutdown_now();
    }
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  if (!srv->stopped())
    sig_ioc.run();
  srv->wait();
  auto& st = srv->stats();
  log.write(kam::runtime::log_level::info,
            "stopped: " + std::to_string(st.accepted.load()) + " connections accepted, " +
              std::to_string(st.closed.load()) + " closed, " +
              std::to_string(st.forced_closes.load()) + " forced closes, " +
              std::to_string(st.handler_failures.load()) + " handler failures" +
              (tls ? ", " + std::to_string(st.tls_handshake_failures.load()) +
                       " TLS handshake failures"
                   : std::string{}) +
              (chat_bp ? ", " + std::to_string(st.slow_consumer_disconnects.load()) +
                           " slow consumers disconnected"
                       : std::string{}));
  if (cfg.proxy_protocol)
    log.write(kam::runtime::log_level::info,
              "PROXY protocol: " + std::to_string(st.proxy_header_rejects.load()) +
                " header rejects");
  end_chat();
  admin.reset(); // open until here: a draining server still answered
  // Back to the default dispositions: a signal during teardown terminates.
  boost::system::error_code ignored;
  signals.clear(ignored);
  return 0;
}
