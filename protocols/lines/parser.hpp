#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kam::protocols::lines {

/// Why the parser failed.
enum class parse_error : uint8_t {
  none,
  line_too_long, ///< A line's content exceeds the maximum length.
};

/// Returns the error's name, e.g. "line_too_long".
const char* to_string(parse_error x);

/// What one feed() produced.
enum class parse_status : uint8_t {
  need_more, ///< No complete line yet; everything was buffered.
  lines,     ///< At least one complete line was appended.
  error,     ///< A line is too long; see parse_result::error.
};

struct parse_result {
  parse_status status = parse_status::need_more;
  /// Bytes of the input used: all of it, except after an error (then up to
  /// the end of the offending line, or all of it if the line is still open).
  size_t consumed = 0;
  parse_error error = parse_error::none;
  /// Complete lines appended.
  size_t lines = 0;
};

/// An incremental line framer: bytes in, complete lines out.
///
/// A line ends with "\n" or "\r\n"; the terminator is not part of the line.
/// Input may be split anywhere (even inside "\r\n"). A line whose content is
/// longer than `max_line_length` is an error; the parser then stays failed
/// (every feed() returns the error) until reset(). No I/O, no actors;
/// allocates only the lines it returns (feed_block: only the block's growth)
/// and the partial line it keeps.
/// Not thread safe: one owner.
class parser {
public:
  explicit parser(size_t max_line_length);

  /// Consumes `data`, appending each complete line to `out`.
  parse_result feed(std::string_view data, std::vector<std::string>& out);

  /// As feed(), but the complete lines go to `out` as one contiguous block,
  /// each followed by "\n" (a "\r\n" terminator becomes "\n"): one copy of
  /// the input's whole lines, no allocation per line (a line that began in
  /// an earlier feed comes from the partial line kept). On an error, the
  /// lines before the offending one are in `out`.
  parse_result feed_block(std::string_view data, std::vector<char>& out);

  /// End of input: returns the unterminated last line, if any (a trailing
  /// "\r" is kept: it was not followed by "\n"), and resets.
  std::optional<std::string> finish();

  /// Forgets the partial line and any error.
  void reset();

  size_t max_line_length() const { return max_; }

  /// Bytes of the partial line kept so far.
  size_t buffered() const { return partial_.size(); }

  parse_error error() const { return error_; }

private:
  bool too_long(size_t len, bool cr_last) const;

  size_t max_;
  std::string partial_;
  parse_error error_ = parse_error::none;
};

} // namespace kam::protocols::lines
