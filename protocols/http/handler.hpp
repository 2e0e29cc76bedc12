#pragma once

#include <array>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/behavior.hpp>

#include "protocols/http/parser.hpp"
#include "runtime/component.hpp"
#include "runtime/stats.hpp"

namespace kam::protocols::http {

class file_root;

/// The access log: one Common Log Format line per completed response,
/// written and flushed at once. Thread safe (handlers on every I/O thread
/// share one).
class access_log {
public:
  /// Opens `path` for appending ("-": stdout); null with `error` set on failure.
  static std::shared_ptr<access_log> open(const std::string& path, std::string& error);
  ~access_log();
  access_log(const access_log&) = delete;
  access_log& operator=(const access_log&) = delete;

  /// Writes `line` plus a newline, then flushes. Any thread.
  void write(const std::string& line);

private:
  access_log() = default;
  std::mutex mtx_;
  std::FILE* out_ = nullptr;
  bool owned_ = false;
};

/// Responses by status class: `responses[0]` counts 1xx, ... `[4]` 5xx
/// (a 400 for an unparseable request is a 4xx). Each handler adds to its
/// I/O thread's cell; thread safe.
struct counters {
  std::array<runtime::sharded_counter, 5> responses;
};

/// What a route answers.
struct response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  /// Extra header lines, each ending in "\r\n" (e.g. Cache-Control).
  std::string headers;
};

/// Delivers a route's response: call it once, on the handler's actor —
/// inside the route, or later (e.g. from a `request(...).then(...)` of the
/// handler's `self`). Later calls, and calls after the connection ended,
/// are ignored. Requests pipelined behind wait for it (answers stay in order).
using reply_fn = std::function<void(response)>;

/// A custom responder: `(self, request, path, reply)`. `path` is the
/// normalized target (no query); `request` and its views are valid only
/// during the call. Runs on the handler's actor.
using route_fn = std::function<void(runtime::component* self, const request& req,
                                    const std::string& path, reply_fn reply)>;

/// GET/HEAD requests for exactly `path` go to `fn` instead of the files.
struct route {
  std::string path;
  route_fn fn;
};

/// What every HTTP handler of one server shares. Immutable once handlers
/// use it (the file root's cache and the log lock themselves).
struct config {
  /// Files to serve; null: `GET /` answers a small page, the rest is 404.
  std::shared_ptr<file_root> root;
  /// Null: no access log.
  std::shared_ptr<access_log> log;
  parser_limits limits;
  /// A request whose header section is not complete this long after its
  /// first byte is answered 408 and the connection closed (slowloris).
  std::chrono::milliseconds header_timeout{10000};
  /// Value of the `Server` header.
  std::string server = "kamaelia-caf";
  /// Checked (exact path) before the files; empty: no cost for the file server.
  std::vector<route> routes;
  /// Null: responses are not counted.
  std::shared_ptr<counters> stats;
  /// Files above this many bytes are sent in pieces of this size, one per
  /// turn, and held back while the CSA says pause_producing.
  size_t chunk_size = 64 * 1024;
};

/// An HTTP/1.1 server component for one connection (static files).
///
/// Bytes on `inbox` are parsed (protocols/http/parser.hpp); every complete
/// request is answered in order on `outbox`, the answers to the requests of
/// one read in one message. Keep-alive per HTTP/1.1 (`Connection: close`
/// honoured; HTTP/1.0 only with `Connection: keep-alive`, which the answer
/// repeats). Errors get a response with a body and `Connection: close`,
/// then `producer_finished` on `signal` (the CSA flushes and closes).
/// On `control`: `pause_producing`/`resume_producing` hold back a file
/// being sent (and further pipelined requests); `socket_shutdown{peer_closed}`
/// or `producer_finished` finish what was asked, then end; other reasons and
/// `shutdown_microprocess` end at once. `info` names the client in the log.
/// Spawn with `sys.spawn(handler, cfg, info)`; runs as any component.
caf::behavior handler(runtime::component* self, std::shared_ptr<const config> cfg,
                      runtime::connection_info info);

} // namespace kam::protocols::http
