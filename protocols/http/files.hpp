#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kam::protocols::http {

// -- request targets ----------------------------------------------------------

/// Why a request target names no file.
enum class path_error : uint8_t {
  none,
  bad_target,   ///< Not origin-form ("/...") or absolute-form ("http://host/...").
  bad_escape,   ///< A '%' not followed by two hex digits.
  nul,          ///< A NUL byte (raw or %00).
  backslash,    ///< A '\' (raw or %5c): no meaning on POSIX, refused.
  control_char, ///< A control byte other than NUL (raw or escaped).
};

/// Returns the error's name, e.g. "bad_escape".
const char* to_string(path_error x);

/// Turns a request target into a path below the root, in `out`: drops the
/// query and fragment (and scheme/authority of the absolute form),
/// percent-decodes once (so "%2f" is '/', "%252e" is the file name "%2e",
/// never '.'), then removes dot segments (RFC 3986 5.2.4; ".." never climbs
/// above "/"). `out` starts with '/' and has no "." or ".." segment and no
/// empty segment except a trailing one. Pure; thread safe.
path_error normalize_target(std::string_view target, std::string& out);

// -- media types --------------------------------------------------------------

/// Extension -> media type, read from a mime.types file (Debian's
/// /etc/mime.types, package media-types). Immutable after load(); thread safe.
class mime_table {
public:
  /// Reads `path`; a missing file gives an empty table (every type is then
  /// application/octet-stream). Returns the number of extensions read in `count`.
  static mime_table load(const std::string& path = "/etc/mime.types");

  /// The type for `file_name`'s extension (case-insensitive), or
  /// "application/octet-stream". Adds "; charset=utf-8" to text/* types.
  std::string_view lookup(std::string_view file_name) const;

  size_t size() const { return types_.size(); }

private:
  std::unordered_map<std::string, std::string> types_;
};

// -- dates and validators -----------------------------------------------------

/// `t` as an IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT". Thread safe.
std::string http_date(std::time_t t);

/// Parses an HTTP date (IMF-fixdate, RFC 850 or asctime form). Thread safe.
std::optional<std::time_t> parse_http_date(std::string_view text);

/// Whether an If-None-Match value matches `etag` (weak comparison; "*"
/// matches any). Thread safe.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

// -- ranges -------------------------------------------------------------------

/// One byte range, both ends inclusive.
struct byte_range {
  uint64_t first = 0;
  uint64_t last = 0;
};

enum class range_status : uint8_t {
  ignore,        ///< No usable single range (absent, malformed, several): send 200.
  satisfiable,   ///< Send 206 with `out`.
  unsatisfiable, ///< Send 416.
};

/// Parses a Range header against a representation of `size` bytes: a
/// single "bytes=a-b", "bytes=a-" or suffix "bytes=-n", the end clamped to
/// the last byte. Several ranges are ignored (RFC 7233 allows it). Pure.
range_status parse_range(std::string_view header, uint64_t size, byte_range& out);

// -- the file root --------------------------------------------------------------

/// What a lookup found.
struct file_entry {
  uint64_t size = 0;
  std::time_t mtime = 0;
  std::string etag;          ///< strong, "size-mtime" in hex, quoted
  std::string last_modified; ///< http_date(mtime)
  std::string type;          ///< media type
  std::string path;          ///< below the root, as opened (index.html added)
  /// The whole file when it is small (cached); otherwise null and lookup()
  /// hands over a descriptor of the same file to stream from.
  std::shared_ptr<const std::string> content;
};

/// Serves files from one directory, never outside it.
///
/// A path is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
/// relative to the root's descriptor: the kernel refuses ".." and symlinks
/// that leave the root, and absolute symlinks (where openat2 is missing it
/// falls back to realpath() with a prefix check including the trailing
/// separator, then O_NOFOLLOW). Only regular files are served; a directory
/// serves its index.html. Small files (up to `cache_max_file`) are kept in
/// memory and checked again with the file system at most once per second.
/// Thread safe (a mutex guards the cache).
class file_root {
public:
  /// Opens `dir`; on failure returns null and sets `error` (one line).
  static std::shared_ptr<file_root> open(const std::string& dir, std::string& error,
                                         size_t cache_max_file = 64 * 1024);
  ~file_root();
  file_root(const file_root&) = delete;
  file_root& operator=(const file_root&) = delete;

  /// Looks `path` up (a normalize_target() result). Returns the entry, or
  /// null with `err` set: ENOENT (or ENOTDIR, EXDEV, ELOOP for attempts to
  /// leave the root, EISDIR for a directory without index), EACCES. For a
  /// file too large to cache, `fd` receives an open descriptor of the file
  /// described (the caller closes it); otherwise it is set to -1.
  std::shared_ptr<const file_entry> lookup(const std::string& path, int& err,
                                           int& fd) const;

  const std::string& dir() const { return dir_; }
  const mime_table& mime() const { return mime_; }

private:
  file_root() = default;
  int open_beneath(std::string_view rel, int flags) const;
  std::shared_ptr<const file_entry> load(const std::string& path, int& err,
                                         int& fd) const;

  struct cached {
    std::shared_ptr<const file_entry> entry;
    std::time_t checked = 0;
  };

  std::string dir_; // realpath of the root
  int fd_ = -1;
  size_t cache_max_file_ = 0;
  mime_table mime_;
  mutable std::mutex mtx_;
  mutable std::unordered_map<std::string, cached> cache_;
  mutable size_t cache_bytes_ = 0;
};

} // namespace kam::protocols::http
