#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace kam::protocols::http {

/// Why a request could not be parsed; each maps to one response status.
enum class parse_error : uint8_t {
  none,
  bad_request,           ///< Malformed request line, field or framing (400).
  header_too_large,      ///< The header section exceeds the limit (431).
  body_too_large,        ///< Content-Length or the body exceeds the limit (413).
  bad_content_length,    ///< Invalid or conflicting Content-Length (400).
  bad_transfer_encoding, ///< Transfer-Encoding with Content-Length, twice... (400).
  unsupported_transfer_encoding, ///< Any coding but a single `chunked` (501).
  bad_version,                   ///< Not HTTP/1.0 or HTTP/1.1 (505).
  bad_expectation,               ///< `Expect` other than `100-continue` (417).
};

/// Returns the error's name, e.g. "header_too_large".
const char* to_string(parse_error x);

/// The response status that answers `x` (400, 413, 417, 431, 501, 505).
int status_of(parse_error x);

/// What one feed() produced.
enum class parse_status : uint8_t {
  need_more, ///< The request is incomplete: keep the bytes, feed them again with more.
  expect_continue, ///< Header complete, a body is announced and the client sent
                   ///< `Expect: 100-continue`: answer `100 Continue` (or a final
                   ///< status) and feed again. Returned once per request.
  request,         ///< A complete request; see parse_result::consumed.
  error,           ///< See parse_result::error; the parser stays failed until reset().
};

/// The method, for the common ones (`other`: see request::method).
enum class method : uint8_t {
  get,
  head,
  post,
  put,
  delete_,
  options,
  trace,
  connect,
  other
};

struct header_field {
  std::string_view name;
  std::string_view value;
};

/// One parsed request. Views point into the buffer given to the feed() that
/// returned it (or, for a chunked body, into the parser): valid until that
/// buffer changes or the parser is fed again.
struct request {
  http::method verb = http::method::other;
  std::string_view method; ///< as sent, e.g. "GET"
  std::string_view target; ///< as sent, e.g. "/a%20b?x=1"
  unsigned version = 11;   ///< 10 or 11
  /// Whether the connection may stay open after the response (HTTP/1.1
  /// unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`).
  bool keep_alive = true;
  bool expect_continue = false;
  std::vector<header_field> fields; ///< in order, names as sent
  std::string_view body;            ///< decoded (chunked framing removed)

  /// The first field named `name` (case-insensitive), or empty.
  std::string_view field(std::string_view name) const;
  /// Whether a field named `name` is present.
  bool has_field(std::string_view name) const;
};

/// Limits a parser enforces.
struct parser_limits {
  /// Request line plus fields, in bytes (431 above).
  size_t header_limit = 8 * 1024;
  /// Body bytes after decoding (413 above); always a number (Beast 1.74
  /// mishandles an unlimited body_limit).
  uint64_t body_limit = 1024 * 1024;
};

struct parse_result {
  parse_status status = parse_status::need_more;
  /// On `request`: the request's size in bytes, to drop before the next
  /// feed() (pipelining: the rest is the next request's start). On
  /// `need_more`/`expect_continue`: blank lines skipped before the request
  /// (drop them too). Otherwise 0.
  size_t consumed = 0;
  parse_error error = parse_error::none;
};

/// An incremental HTTP/1.1 request parser: a thin wrapper over Boost.Beast's
/// `http::basic_parser<true>` (kept out of this header).
///
/// Each feed() gets every byte of the current request received so far,
/// contiguous and from its first byte (the bytes of earlier calls unchanged,
/// then any new ones); the parser remembers how far it got, so nothing is
/// parsed twice. A fresh Beast parser is emplaced for every request. Works
/// around Beast 1.74's defects: a numeric body limit, Content-Length checked
/// against it here, any Transfer-Encoding but a single `chunked` refused,
/// obs-fold refused, HTTP/1.1 without exactly one Host refused.
/// No I/O, no actors, no exceptions. Not thread safe: one owner.
class parser {
public:
  explicit parser(parser_limits limits = {});
  ~parser();
  parser(parser&&) noexcept;
  parser& operator=(parser&&) noexcept;

  /// Parses `data` (see the class comment), filling `out` on `request` and
  /// `expect_continue`.
  parse_result feed(std::string_view data, request& out);

  /// Forgets the current request and any error.
  void reset();

  /// Whether some bytes of a request (not only blank lines) were fed.
  bool started() const;

  /// Whether the current request's header section is complete.
  bool header_done() const;

  const parser_limits& limits() const { return limits_; }

private:
  struct impl;
  parser_limits limits_;
  std::unique_ptr<impl> impl_;
};

} // namespace kam::protocols::http
