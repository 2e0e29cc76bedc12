#pragma once
// kam-load's settings, parsed and validated from the command line.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace kam::bench {

enum class load_mode { conn, echo, idle, chat };

/// Everything kam-load was told to do. Built once in main(), then read-only.
struct load_options {
  load_mode mode = load_mode::conn;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  /// chat: client i dials ports[i % size] (--port, then --more-ports: a
  /// room spread over federated nodes).
  std::vector<uint16_t> ports;
  int threads = 1;
  double duration = 10; ///< measured seconds (idle: hold time once all connected)
  double warmup = 1;    ///< seconds before measuring (not counted)
  uint64_t count = 0;   ///< stop after this many measured ops (0: by duration)
  int concurrency = 16; ///< conn: slots (closed loop) or max in flight (open loop)
  double rate = 0;      ///< conn: connections/s for an open loop (0: closed loop)
  int connections = 64; ///< echo/idle: persistent connections
  size_t payload = 64;  ///< bytes per message
  int pipeline = 1;     ///< echo: messages in flight per connection
  double timeout = 5;   ///< seconds before an op without progress counts as timed out
  double connect_phase = 60; ///< idle: seconds allowed to open all connections
  bool rotate_source = true; ///< bind to 127.0.0.2-254 before connect
  std::string hold_file;     ///< idle: created once all connections are open
  bool progress = true;      ///< live progress on stderr
  bool tls = false;          ///< conn/echo/idle over TLS 1.3 (bench/load/tls.hpp)
  std::string tls_ca;        ///< --tls-ca: verify the server against it (implies tls)
};

/// Parses argv; throws cli_error (one-line message) on any bad option.
load_options parse_load_options(int argc, char** argv);

const char* to_string(load_mode m);

/// All settings, for the JSON summary.
void to_json(nlohmann::json& out, const load_options& opts);

} // namespace kam::bench
