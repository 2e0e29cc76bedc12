#include "protocols/http/handler.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <unistd.h>

#include <caf/all.hpp>

#include "protocols/http/files.hpp"

namespace kam::protocols::http {

using namespace runtime;

// -- access_log -----------------------------------------------------------------

std::shared_ptr<access_log> access_log::open(const std::string& path,
                                             std::string& error) {
  std::shared_ptr<access_log> log{new access_log};
  if (path == "-") {
    log->out_ = stdout;
    return log;
  }
  log->out_ = std::fopen(path.c_str(), "ae");
  if (log->out_ == nullptr) {
    error = "--access-log=" + path + ": " + std::strerror(errno);
    return nullptr;
  }
  log->owned_ = true;
  return log;
}

access_log::~access_log() {
  if (owned_)
    std::fclose(out_);
}

void access_log::write(const std::string& line) {
  std::lock_guard<std::mutex> guard{mtx_};
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fputc('\n', out_);
  std::fflush(out_);
}

namespace {

using more_atom = caf::atom_constant<caf::atom("http_more")>;
using timeout_atom = caf::atom_constant<caf::atom("http_tout")>;

const char* reason(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 200:
    return "OK";
  case 206:
    return "Partial Content";
  case 304:
    return "Not Modified";
  case 400:
    return "Bad Request";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 413:
    return "Payload Too Large";
  case 416:
    return "Range Not Satisfiable";
  case 417:
    return "Expectation Failed";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 503:
    return "Service Unavailable";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Unknown";
  }
}

/// The Date header's value, formatted once per second per thread.
const std::string& date_now() {
  thread_local std::time_t last = 0;
  thread_local std::string text;
  auto now = std::time(nullptr);
  if (now != last) {
    last = now;
    text = http_date(now);
  }
  return text;
}

/// The CLF timestamp, e.g. "[10/Oct/2000:13:55:36 +0000]".
std::string clf_time() {
  auto now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "[%d/%b/%Y:%H:%M:%S +0000]", &tm);
  return buf;
}

template <class Out>
void append_num(Out& out, uint64_t v) {
  char buf[24];
  auto n = std::snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(v));
  out.append(buf, static_cast<size_t>(n));
}

/// Escapes what must not reach a log line raw (quotes, controls, non-ASCII).
void append_escaped(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
}

const std::string index_page = "<!DOCTYPE html>\n<html><head><title>kamaelia-caf</title>"
                               "</head><body><h1>kamaelia-caf</h1><p>HTTP/1.1 on the "
                               "ConnectedServer chassis. Start kam-serve with "
                               "--root=DIR to serve files.</p></body></html>\n";

/// Responses being gathered: appended to in place, then moved out whole as
/// the outbox message (no copy).
struct outbuf {
  bytes buf;
  outbuf& operator+=(std::string_view s) {
    buf.insert(buf.end(), s.begin(), s.end());
    return *this;
  }
  void push_back(char c) { buf.push_back(c); }
  void append(const std::string& s, size_t pos, size_t n) {
    *this += std::string_view{s}.substr(pos, n);
  }
  void append(const char* p, size_t n) { buf.insert(buf.end(), p, p + n); }
  void resize(size_t n) { buf.resize(n); }
  char* data() { return buf.data(); }
  size_t size() const { return buf.size(); }
  bool empty() const { return buf.empty(); }
  bytes take() {
    bytes b = std::move(buf);
    buf = bytes{};
    buf.reserve(512);
    return b;
  }
};

/// One connection's state. Lives as long as the behavior.
struct conn_state : std::enable_shared_from_this<conn_state> {
  conn_state(component* s, std::shared_ptr<const config> c, connection_info i)
    : self(s), cfg(std::move(c)), info(std::move(i)), p(cfg->limits) {}

  ~conn_state() { close_file(); }

  component* self;
  std::shared_ptr<const config> cfg;
  connection_info info;
  parser p;
  request req;
  std::string in;   // unparsed input (the current request's start first)
  outbuf out;       // responses gathered during one read
  std::string path; // scratch
  // A file being sent in pieces.
  int fd = -1;
  uint64_t pos = 0;
  uint64_t end = 0;
  std::string log_line; // its log line, written when the last piece is out
  bool paused = false;
  bool more_pending = false;
  bool closing = false;     // close after what is queued
  bool input_ended = false; // no more requests will come
  bool done = false;
  uint64_t request_gen = 0; // counts requests started
  uint64_t timer_gen = ~uint64_t{0};
  // A route's answer being waited for (later requests wait behind it).
  struct pending_route {
    bool keep = true;
    bool is_head = false;
    unsigned version = 11;
    std::string method;
    std::string target;
  };
  bool awaiting = false;
  bool in_route_call = false; // the route answered before returning
  uint64_t route_gen = 0;
  pending_route pending;

  bool streaming() const { return fd >= 0; }

  /// Whether answers are still owed: a file being sent, a route's answer,
  /// or requests held back by pause_producing (resume_producing finishes
  /// them, then ends).
  bool busy() const { return streaming() || awaiting || (paused && !in.empty()); }

  void count(int status) {
    if (cfg->stats && status >= 100 && status < 600)
      cfg->stats->responses[static_cast<size_t>(status / 100 - 1)].add(
        this_thread_shard());
  }

  /// Hands the request to `rt`; its reply comes to route_done().
  void serve_route(const route& rt, const request& r, bool keep, bool is_head) {
    awaiting = true;
    auto token = ++route_gen;
    pending = pending_route{keep, is_head, r.version, std::string{r.method},
                            std::string{r.target}};
    std::weak_ptr<conn_state> weak = shared_from_this();
    in_route_call = true;
    try {
      rt.fn(self, r, path, [weak, token](response resp) {
        auto st = weak.lock();
        if (st && !st->done && st->awaiting && st->route_gen == token)
          st->route_done(std::move(resp));
      });
    } catch (const std::exception&) {
      if (awaiting && route_gen == token)
        route_done(response{500, "text/plain; charset=utf-8", "500 route failed\n", {}});
    }
    in_route_call = false;
  }

  void route_done(response resp) {
    awaiting = false;
    auto& pr = pending;
    head(resp.status, resp.body.size(), resp.content_type, pr.keep, pr.version);
    out += resp.headers;
    out += "\r\n";
    if (!pr.is_head)
      out += resp.body;
    log(resp.status, pr.is_head ? 0 : resp.body.size(), pr.method, pr.target, pr.version);
    if (!pr.keep)
      closing = true;
    if (!in_route_call) // answered later: go on with what waited behind it
      after_response();
  }

  void close_file() {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }

  void flush_out() {
    if (!out.empty()) {
      self->send_on(outbox, out.take());
    }
  }

  void end_connection() {
    if (done)
      return;
    done = true;
    flush_out();
    close_file();
    self->finish(producer_finished{});
  }

  void log(int status, uint64_t body_bytes, std::string_view method,
           std::string_view target, unsigned version) {
    count(status); // every final response is logged exactly once
    if (!cfg->log)
      return;
    log_line = make_log_line(status, body_bytes, method, target, version);
    if (!streaming())
      write_log();
  }

  void write_log() {
    if (!log_line.empty() && cfg->log)
      cfg->log->write(log_line);
    log_line.clear();
  }

  std::string make_log_line(int status, uint64_t body_bytes, std::string_view method,
                            std::string_view target, unsigned version) {
    std::string line;
    line.reserve(128);
    line += info.peer_address.empty() ? std::string{"-"} : info.peer_address;
    line += " - - ";
    line += clf_time();
    line += " \"";
    append_escaped(line, method);
    line.push_back(' ');
    append_escaped(line, target);
    line += version == 10 ? " HTTP/1.0\" " : " HTTP/1.1\" ";
    append_num(line, static_cast<uint64_t>(status));
    line.push_back(' ');
    if (body_bytes == 0)
      line.push_back('-');
    else
      append_num(line, body_bytes);
    return line;
  }

  /// Status line and the headers every response has.
  void head(int status, uint64_t length, std::string_view type, bool keep_alive,
            unsigned version) {
    out += "HTTP/1.1 ";
    append_num(out, static_cast<uint64_t>(status));
    out.push_back(' ');
    out += reason(status);
    out += "\r\nDate: ";
    out += date_now();
    out += "\r\nServer: ";
    out += cfg->server;
    out += "\r\nContent-Length: ";
    append_num(out, length);
    if (!type.empty()) {
      out += "\r\nContent-Type: ";
      out += type;
    }
    if (!keep_alive)
      out += "\r\nConnection: close";
    else if (version == 10)
      out += "\r\nConnection: keep-alive";
    out += "\r\n";
  }

  /// A complete small response with a text body (errors, the index page).
  void simple(int status, bool keep_alive, unsigned version, bool with_body,
              std::string_view extra_headers = {}, std::string_view body = {},
              std::string_view type = "text/plain; charset=utf-8") {
    std::string text;
    if (body.empty()) {
      text = std::to_string(status) + " " + reason(status) + "\n";
      body = text;
    }
    head(status, body.size(), type, keep_alive, version);
    out += extra_headers;
    out += "\r\n";
    if (with_body)
      out += body;
  }

  /// Answers a parse error and closes.
  void fail(int status, unsigned version = 11) {
    simple(status, false, version, true);
    log(status, 0, "-", "-", version);
    closing = true;
  }

  void serve(const request& r) {
    bool keep = r.keep_alive && !input_ended;
    bool is_head = r.verb == method::head;
    auto done_with = [&](int status, uint64_t body) {
      log(status, body, r.method, r.target, r.version);
      if (!keep)
        closing = true;
    };
    if (r.verb != method::get && !is_head) {
      simple(405, keep, r.version, true, "Allow: GET, HEAD\r\n");
      return done_with(405, 0);
    }
    if (auto err = normalize_target(r.target, path); err != path_error::none) {
      simple(400, keep, r.version, !is_head);
      return done_with(400, 0);
    }
    for (auto& rt : cfg->routes)
      if (rt.path == path)
        return serve_route(rt, r, keep, is_head);
    if (!cfg->root) {
      if (path == "/") {
        simple(200, keep, r.version, !is_head, {}, index_page,
               "text/html; charset=utf-8");
        return done_with(200, is_head ? 0 : index_page.size());
      }
      simple(404, keep, r.version, !is_head);
      return done_with(404, 0);
    }
    int err = 0;
    int file = -1;
    auto e = cfg->root->lookup(path, err, file);
    if (!e) {
      int status = err == EACCES ? 403 : 404;
      simple(status, keep, r.version, !is_head);
      return done_with(status, 0);
    }
    struct closer {
      int& fd;
      ~closer() {
        if (fd >= 0)
          ::close(fd);
      }
    } guard{file};
    // Conditionals (RFC 7232 6: If-None-Match wins over If-Modified-Since).
    bool not_modified = false;
    if (auto inm = r.field("If-None-Match"); !inm.empty()) {
      not_modified = etag_matches(inm, e->etag);
    } else if (auto ims = r.field("If-Modified-Since"); !ims.empty()) {
      auto t = parse_http_date(ims);
      not_modified = t && e->mtime <= *t;
    }
    std::string validators = "Last-Modified: " + e->last_modified +
                             "\r\nETag: " + e->etag + "\r\nAccept-Ranges: bytes\r\n";
    if (not_modified) {
      // 304 has no body; its Content-Length is the 200's (RFC 7230 3.3.2).
      out += "HTTP/1.1 304 Not Modified\r\nDate: ";
      out += date_now();
      out += "\r\nServer: ";
      out += cfg->server;
      out += "\r\nContent-Length: ";
      append_num(out, e->size);
      out += "\r\n";
      if (!keep)
        out += "Connection: close\r\n";
      else if (r.version == 10)
        out += "Connection: keep-alive\r\n";
      out += validators;
      out += "\r\n";
      return done_with(304, 0);
    }
    int status = 200;
    uint64_t first = 0;
    uint64_t length = e->size;
    std::string extra = validators;
    if (auto range = r.field("Range"); !range.empty()) {
      auto if_range = r.field("If-Range");
      bool current =
        if_range.empty() || if_range == e->etag || if_range == e->last_modified;
      byte_range br;
      auto rs = current ? parse_range(range, e->size, br) : range_status::ignore;
      if (rs == range_status::unsatisfiable) {
        std::string cr = "Content-Range: bytes */" + std::to_string(e->size) + "\r\n";
        simple(416, keep, r.version, !is_head, cr);
        return done_with(416, 0);
      }
      if (rs == range_status::satisfiable) {
        status = 206;
        first = br.first;
        length = br.last - br.first + 1;
        extra += "Content-Range: bytes " + std::to_string(br.first) + "-" +
                 std::to_string(br.last) + "/" + std::to_string(e->size) + "\r\n";
      }
    }
    head(status, length, e->type, keep, r.version);
    out += extra;
    out += "\r\n";
    if (is_head)
      return done_with(status, 0);
    if (e->content) {
      out.append(*e->content, first, length);
      return done_with(status, length);
    }
    // Large: send in pieces, under the CSA's watermarks.
    fd = file;
    file = -1;
    pos = first;
    end = first + length;
    done_with(status, length); // process() sends the first piece with the headers
  }

  /// Sends the next piece of the file (with any headers gathered before it).
  void send_piece() {
    more_pending = false;
    if (!streaming() || done)
      return;
    if (paused)
      return; // resume_producing continues
    auto n = static_cast<size_t>(std::min<uint64_t>(cfg->chunk_size, end - pos));
    auto off = out.size();
    out.resize(off + n);
    size_t got = 0;
    while (got < n) {
      auto r =
        ::pread(fd, out.data() + off + got, n - got, static_cast<off_t>(pos + got));
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      got += static_cast<size_t>(r);
    }
    if (got < n) { // the file shrank: the length promised cannot be kept
      out.resize(off + got);
      closing = true;
      close_file();
      write_log();
      end_connection();
      return;
    }
    pos += n;
    flush_out();
    if (pos < end) {
      more_pending = true;
      self->send(self, more_atom::value);
      return;
    }
    close_file();
    write_log();
    after_response();
  }

  /// After a response is complete: close, or go on with buffered input.
  void after_response() {
    if (closing) {
      end_connection();
      return;
    }
    process();
  }

  /// Parses and answers what is buffered, until it runs out, a file is
  /// being streamed, the CSA says pause, or the connection must close.
  void process() {
    size_t off = 0;
    while (!done && !closing && !streaming() && !paused && !awaiting) {
      std::string_view data{in.data() + off, in.size() - off};
      if (data.empty())
        break;
      auto res = p.feed(data, req);
      if (res.status == parse_status::error) {
        fail(status_of(res.error), p.header_done() ? req.version : 11);
        break;
      }
      if (res.status == parse_status::expect_continue) {
        off += res.consumed;
        if (req.verb == method::get || req.verb == method::head) {
          out += "HTTP/1.1 100 Continue\r\n\r\n";
          count(100);
          continue;
        }
        // A final status instead; the body will not be read.
        req.keep_alive = false;
        serve(req);
        break;
      }
      if (res.status == parse_status::need_more) {
        off += res.consumed;
        break;
      }
      off += res.consumed;
      ++request_gen;
      serve(req);
    }
    in.erase(0, off);
    if (streaming()) {
      if (!more_pending)
        send_piece(); // ends in after_response(), which may come back here
      return;
    }
    if (closing) {
      end_connection();
      return;
    }
    flush_out();
    if (done || awaiting)
      return;
    if (!streaming() && !paused) {
      if (input_ended) {
        end_connection();
        return;
      }
      // Part of a request is here: the rest must come within the deadline.
      if (!in.empty() && !p.header_done() && timer_gen != request_gen &&
          cfg->header_timeout.count() > 0) {
        timer_gen = request_gen;
        self->delayed_send(self, cfg->header_timeout, timeout_atom::value, request_gen);
      }
    }
  }

  void on_timeout(uint64_t gen) {
    if (done || gen != request_gen || streaming() || awaiting || p.header_done())
      return;
    if (in.empty())
      return;
    simple(408, false, 11, true);
    log(408, 0, "-", "-", 11);
    end_connection();
  }

  void on_input(bytes& data) {
    if (done || closing)
      return;
    // While a file streams, later requests wait (bounded: the header limit
    // per request, a few requests' worth).
    if (streaming() || paused || awaiting) {
      if (in.size() + data.size() >
          4 * (cfg->limits.header_limit + cfg->limits.body_limit)) {
        end_connection();
        return;
      }
    }
    in.append(data.data(), data.size());
    process();
  }
};

} // namespace

caf::behavior handler(component* self, std::shared_ptr<const config> cfg,
                      connection_info info) {
  auto st = std::make_shared<conn_state>(self, std::move(cfg), std::move(info));
  return {
    [st](inbox_atom, bytes& data) { st->on_input(data); },
    [st](more_atom) { st->send_piece(); },
    [st](timeout_atom, uint64_t gen) { st->on_timeout(gen); },
    [st](control_atom, pause_producing) { st->paused = true; },
    [st](control_atom, resume_producing) {
      st->paused = false;
      if (st->streaming()) {
        if (!st->more_pending)
          st->send_piece();
      } else {
        st->process();
      }
    },
    [st](control_atom, socket_shutdown msg) {
      st->input_ended = true;
      if (msg.reason != shutdown_reason::peer_closed) {
        st->end_connection();
        return;
      }
      if (!st->busy())
        st->end_connection();
    },
    [st](control_atom, producer_finished) {
      st->input_ended = true;
      if (!st->busy())
        st->end_connection();
    },
    [st](control_atom, shutdown_microprocess msg) {
      st->done = true;
      st->close_file();
      st->self->finish(msg);
    },
  };
}

} // namespace kam::protocols::http
