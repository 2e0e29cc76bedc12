#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kam::runtime::io::proxy {

/// Why a PROXY protocol header was refused.
enum class parse_error : uint8_t {
  none,
  not_proxy,      ///< The first bytes are neither "PROXY " nor the v2 signature.
  v1_malformed,   ///< A v1 line that breaks the grammar (fields, addresses, ports, CRLF).
  v1_too_long,    ///< No CRLF within the first 107 bytes (the v1 maximum).
  v2_bad_version, ///< The v2 version nibble is not 2.
  v2_bad_command, ///< The v2 command is neither LOCAL nor PROXY.
  v2_bad_family,  ///< A v2 address family or transport this listener cannot use.
  v2_bad_length,  ///< The v2 length is too short for its address family.
  v2_too_long,    ///< The v2 length exceeds the parser's limit.
};

/// Returns the error's name, e.g. "v1_malformed".
const char* to_string(parse_error x);

enum class parse_status : uint8_t {
  need_more, ///< A valid prefix of a header; feed more bytes.
  done,      ///< A whole header; see parse_result::consumed and parser::header().
  error,     ///< Not a valid header; see parse_result::error.
};

struct parse_result {
  parse_status status = parse_status::need_more;
  /// With `done`: the header's length; bytes after it are the client's data.
  size_t consumed = 0;
  parse_error error = parse_error::none;
};

/// The addresses a PROXY header carries.
struct header {
  uint8_t version = 0; ///< 1 or 2.
  /// v2 LOCAL (a proxy's own health check), v1 UNKNOWN, or a v2 PROXY with an
  /// unspecified family: keep the socket's own addresses.
  bool local = false;
  bool unix_socket = false; ///< v2 AF_UNIX: the addresses are paths.
  std::string src_address;  ///< The original client ("192.0.2.7", "2001:db8::1").
  uint16_t src_port = 0;
  std::string dst_address; ///< The address the client connected to (the proxy's).
  uint16_t dst_port = 0;
};

/// The PROXY protocol header (haproxy's doc/proxy-protocol.txt, v1 text or
/// v2 binary, either accepted) that a proxy sends before any client data.
///
/// Incremental in picohttpparser's way: give feed() every byte received so
/// far, from the first, as one contiguous buffer; it answers need_more until
/// the header is whole (a v1 line is at most 107 bytes, a v2 header 16 plus
/// its length, at most `max_v2_length`). No I/O, no actors, no exceptions;
/// allocates only the address strings. Not thread safe: one owner.
class parser {
public:
  /// v2 headers whose address block plus TLVs is longer than `max_v2_length`
  /// are refused (the spec allows 65535; haproxy sends a few hundred at most).
  explicit parser(size_t max_v2_length = 2048) : max_v2_(max_v2_length) {}

  parse_result feed(std::string_view data);

  /// The header of the last feed() that returned `done`.
  const header& result() const { return header_; }

  /// v1's maximum line, CRLF included.
  static constexpr size_t v1_max = 107;
  /// The v2 signature, version/command, family and length bytes.
  static constexpr size_t v2_fixed = 16;

private:
  parse_result feed_v1(std::string_view data);
  parse_result feed_v2(std::string_view data);
  parse_result fail(parse_error e) { return {parse_status::error, 0, e}; }

  size_t max_v2_;
  header header_;
};

} // namespace kam::runtime::io::proxy
