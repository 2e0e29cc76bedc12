#include "options.hpp"

#include "../common/cli.hpp"

#include <arpa/inet.h>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace kam::bench {

const char* to_string(load_mode m) {
  switch (m) {
  case load_mode::conn:
    return "conn";
  case load_mode::echo:
    return "echo";
  case load_mode::chat:
    return "chat";
  default:
    return "idle";
  }
}

load_options parse_load_options(int argc, char** argv) {
  cli args(argc, argv,
           {"mode",      "host",     "port",        "threads",       "duration",
            "warmup",    "count",    "concurrency", "rate",          "connections",
            "payload",   "pipeline", "timeout",     "connect-phase", "rotate-source",
            "hold-file", "progress", "more-ports",  "tls",           "tls-ca"});
  load_options o;
  auto mode = args.str("mode", "conn");
  if (mode == "conn")
    o.mode = load_mode::conn;
  else if (mode == "echo")
    o.mode = load_mode::echo;
  else if (mode == "idle")
    o.mode = load_mode::idle;
  else if (mode == "chat")
    o.mode = load_mode::chat;
  else
    throw cli_error("--mode=" + mode + ": expected conn, echo, idle or chat");
  o.host = args.str("host", o.host);
  in_addr probe{};
  if (inet_pton(AF_INET, o.host.c_str(), &probe) != 1)
    throw cli_error("--host=" + o.host + ": not an IPv4 address");
  if (!args.has("port"))
    throw cli_error("--port is required");
  o.port = static_cast<uint16_t>(args.integer("port", 0, 1, 65535));
  o.ports = {o.port};
  for (auto more = args.str("more-ports", ""); !more.empty();) {
    auto comma = more.find(',');
    auto item = more.substr(0, comma);
    more = comma == std::string::npos ? "" : more.substr(comma + 1);
    char* end = nullptr;
    auto v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 1 || v > 65535)
      throw cli_error("--more-ports: '" + item + "' is not a port");
    o.ports.push_back(static_cast<uint16_t>(v));
  }
  o.threads = static_cast<int>(args.integer("threads", o.threads, 1, 256));
  o.count = static_cast<uint64_t>(args.integer("count", 0, 0, int64_t{1} << 40));
  // With --count alone the run still ends: at most an hour.
  double dflt_duration = o.count > 0 ? 3600 : o.duration;
  o.duration = args.seconds("duration", dflt_duration, 0.01, 86400);
  o.warmup = args.seconds("warmup", o.mode == load_mode::idle ? 0 : o.warmup, 0, 3600);
  o.concurrency =
    static_cast<int>(args.integer("concurrency", o.concurrency, 1, 1000000));
  o.rate = static_cast<double>(args.integer("rate", 0, 0, 100000000));
  o.connections =
    static_cast<int>(args.integer("connections", o.connections, 1, 1000000));
  // idle: one small round trip proves the server accepted and serves each connection.
  o.payload =
    static_cast<size_t>(args.integer("payload", o.mode == load_mode::idle ? 1 : 64,
                                     o.mode == load_mode::idle ? 0 : 1, 64 << 20));
  o.pipeline = static_cast<int>(args.integer("pipeline", o.pipeline, 1, 4096));
  o.timeout = args.seconds("timeout", o.timeout, 0.001, 3600);
  o.connect_phase = args.seconds("connect-phase", o.connect_phase, 0.1, 3600);
  o.rotate_source = args.flag("rotate-source", (ntohl(probe.s_addr) >> 24) == 127);
  o.hold_file = args.str("hold-file", "");
  o.progress = args.flag("progress", true);
  o.tls_ca = args.str("tls-ca", "");
  o.tls = args.flag("tls", !o.tls_ca.empty());
  if (!o.tls && !o.tls_ca.empty())
    throw cli_error("--tls-ca needs --tls");
  if (o.tls && o.mode == load_mode::chat)
    throw cli_error("--tls applies to --mode=conn, echo and idle");
  if (o.rate > 0 && o.mode != load_mode::conn)
    throw cli_error("--rate applies to --mode=conn only");
  if (!o.hold_file.empty() && o.mode != load_mode::idle)
    throw cli_error("--hold-file applies to --mode=idle only");
  if (o.mode != load_mode::conn && o.connections < o.threads)
    o.threads = o.connections;
  if (o.mode == load_mode::conn && o.concurrency < o.threads)
    o.threads = o.concurrency;
  return o;
}

void to_json(nlohmann::json& j, const load_options& o) {
  j = nlohmann::json{{"mode", to_string(o.mode)},
                     {"host", o.host},
                     {"port", o.port},
                     {"threads", o.threads},
                     {"duration", o.duration},
                     {"warmup", o.warmup},
                     {"count", o.count},
                     {"payload", o.payload},
                     {"timeout", o.timeout},
                     {"rotate_source", o.rotate_source},
                     {"tls", o.tls}};
  if (o.tls)
    j["tls_verify"] = !o.tls_ca.empty();
  if (o.mode == load_mode::conn) {
    j["concurrency"] = o.concurrency;
    j["rate"] = o.rate;
  } else {
    j["connections"] = o.connections;
  }
  if (o.mode == load_mode::echo)
    j["pipeline"] = o.pipeline;
  if (o.mode == load_mode::idle)
    j["connect_phase"] = o.connect_phase;
}

} // namespace kam::bench
