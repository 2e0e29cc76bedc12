#include "protocols/http/files.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <linux/openat2.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace kam::protocols::http {

const char* to_string(path_error x) {
  switch (x) {
  case path_error::none:
    return "none";
  case path_error::bad_target:
    return "bad_target";
  case path_error::bad_escape:
    return "bad_escape";
  case path_error::nul:
    return "nul";
  case path_error::backslash:
    return "backslash";
  case path_error::control_char:
    return "control_char";
  }
  return "unknown";
}

namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size())
    return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (lower(s[i]) != lower(prefix[i]))
      return false;
  return true;
}

int hex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19)
    return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

} // namespace

path_error normalize_target(std::string_view target, std::string& out) {
  out.clear();
  // Absolute form (RFC 7230 5.3.2): drop scheme and authority.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (istarts_with(target, scheme)) {
      target.remove_prefix(scheme.size());
      auto slash = target.find_first_of("/?#");
      target = slash == std::string_view::npos || target[slash] != '/'
                 ? std::string_view{"/"}
                 : target.substr(slash);
      break;
    }
  }
  if (target.empty() || target.front() != '/')
    return path_error::bad_target;
  target = target.substr(0, target.find_first_of("?#"));
  // Decode once, then split: an encoded '/' separates segments like a raw one.
  std::string decoded;
  decoded.reserve(target.size());
  for (size_t i = 0; i < target.size(); ++i) {
    char c = target[i];
    if (c == '%') {
      if (i + 2 >= target.size())
        return path_error::bad_escape;
      int hi = hex(target[i + 1]);
      int lo = hex(target[i + 2]);
      if (hi < 0 || lo < 0)
        return path_error::bad_escape;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    auto u = static_cast<unsigned char>(c);
    if (u == 0)
      return path_error::nul;
    if (c == '\\')
      return path_error::backslash;
    if (u < 0x20 || u == 0x7f)
      return path_error::control_char;
    decoded.push_back(c);
  }
  // Remove dot segments; ".." at the top stays at the top.
  std::vector<std::string_view> segs;
  std::string_view rest{decoded};
  while (!rest.empty()) {
    auto slash = rest.find('/');
    auto seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (seg == "..") {
      if (!segs.empty())
        segs.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segs.push_back(seg);
    }
  }
  auto last_seg = std::string_view{decoded}.substr(decoded.rfind('/') + 1);
  bool trailing = last_seg.empty() || last_seg == "." || last_seg == "..";
  out.push_back('/');
  for (size_t i = 0; i < segs.size(); ++i) {
    if (i > 0)
      out.push_back('/');
    out.append(segs[i]);
  }
  if (trailing && !segs.empty())
    out.push_back('/');
  return path_error::none;
}

// -- mime_table ---------------------------------------------------------------

mime_table mime_table::load(const std::string& path) {
  mime_table t;
  std::ifstream in{path};
  std::string line;
  while (std::getline(in, line)) {
    auto hash = line.find('#');
    if (hash != std::string::npos)
      line.resize(hash);
    std::istringstream words{line};
    std::string type;
    if (!(words >> type))
      continue;
    if (type.compare(0, 5, "text/") == 0)
      type += "; charset=utf-8";
    std::string ext;
    while (words >> ext) {
      for (auto& c : ext)
        c = lower(c);
      t.types_.emplace(ext, type); // the first mention wins
    }
  }
  return t;
}

std::string_view mime_table::lookup(std::string_view file_name) const {
  static const std::string fallback = "application/octet-stream";
  auto slash = file_name.rfind('/');
  if (slash != std::string_view::npos)
    file_name.remove_prefix(slash + 1);
  auto dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == file_name.size())
    return fallback;
  std::string ext{file_name.substr(dot + 1)};
  for (auto& c : ext)
    c = lower(c);
  auto i = types_.find(ext);
  return i == types_.end() ? std::string_view{fallback} : std::string_view{i->second};
}

// -- dates, validators, ranges -------------------------------------------------

std::string http_date(std::time_t t) {
  static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
  std::string s{trim(text)};
  for (const char* fmt : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                          "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = strptime(s.c_str(), fmt, &tm);
    if (end != nullptr && *end == '\0')
      return timegm(&tm);
  }
  return std::nullopt;
}

bool etag_matches(std::string_view header, std::string_view etag) {
  auto strip = [](std::string_view t) {
    t = trim(t);
    if (t.size() >= 2 && t[0] == 'W' && t[1] == '/')
      t.remove_prefix(2);
    return t;
  };
  auto want = strip(etag);
  while (!header.empty()) {
    auto comma = header.find(',');
    auto tok = strip(header.substr(0, comma));
    if (tok == "*" || tok == want)
      return true;
    if (comma == std::string_view::npos)
      break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

range_status parse_range(std::string_view header, uint64_t size, byte_range& out) {
  header = trim(header);
  if (!istarts_with(header, "bytes="))
    return range_status::ignore;
  auto spec = trim(header.substr(6));
  if (spec.find(',') != std::string_view::npos)
    return range_status::ignore;
  auto dash = spec.find('-');
  if (dash == std::string_view::npos)
    return range_status::ignore;
  auto a = trim(spec.substr(0, dash));
  auto b = trim(spec.substr(dash + 1));
  uint64_t first = 0;
  uint64_t last = 0;
  if (a.empty()) { // suffix: the last n bytes
    uint64_t n = 0;
    if (!parse_u64(b, n))
      return range_status::ignore;
    if (n == 0 || size == 0)
      return range_status::unsatisfiable;
    out.first = n >= size ? 0 : size - n;
    out.last = size - 1;
    return range_status::satisfiable;
  }
  if (!parse_u64(a, first))
    return range_status::ignore;
  if (b.empty()) {
    last = UINT64_MAX;
  } else if (!parse_u64(b, last) || last < first) {
    return range_status::ignore;
  }
  if (first >= size)
    return range_status::unsatisfiable;
  out.first = first;
  out.last = std::min(last, size - 1);
  return range_status::satisfiable;
}

// -- file_root ------------------------------------------------------------------

std::shared_ptr<file_root> file_root::open(const std::string& dir, std::string& error,
                                           size_t cache_max_file) {
  char buf[PATH_MAX];
  if (::realpath(dir.c_str(), buf) == nullptr) {
    error = "--root=" + dir + ": " + std::strerror(errno);
    return nullptr;
  }
  int fd = ::open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    error = "--root=" + dir +
            (errno == ENOTDIR ? std::string{": not a directory"}
                              : ": " + std::string{std::strerror(errno)});
    return nullptr;
  }
  std::shared_ptr<file_root> r{new file_root};
  r->dir_ = buf;
  r->fd_ = fd;
  r->cache_max_file_ = cache_max_file;
  r->mime_ = mime_table::load();
  return r;
}

file_root::~file_root() {
  if (fd_ >= 0)
    ::close(fd_);
}

int file_root::open_beneath(std::string_view rel, int flags) const {
  std::string name = rel.empty() ? std::string{"."} : std::string{rel};
  open_how how{};
  how.flags =
    static_cast<uint64_t>(flags | O_CLOEXEC | O_NONBLOCK); // a FIFO must not block
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  auto fd = ::syscall(SYS_openat2, fd_, name.c_str(), &how, sizeof(how));
  if (fd >= 0 || errno != ENOSYS)
    return static_cast<int>(fd);
  // No openat2 (Linux < 5.6): resolve, check the prefix with its separator.
  char buf[PATH_MAX];
  auto full = dir_ + "/" + name;
  if (::realpath(full.c_str(), buf) == nullptr)
    return -1;
  std::string_view real{buf};
  if (real != dir_ && real.substr(0, dir_.size() + 1) != dir_ + "/") {
    errno = EXDEV;
    return -1;
  }
  return ::open(buf, flags | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
}

std::shared_ptr<const file_entry> file_root::load(const std::string& path, int& err,
                                                  int& fd_out) const {
  fd_out = -1;
  std::string rel = path.substr(1);
  int fd = open_beneath(rel, O_RDONLY);
  if (fd < 0) {
    err = errno;
    return nullptr;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    err = errno;
    ::close(fd);
    return nullptr;
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    if (!rel.empty() && rel.back() != '/')
      rel.push_back('/');
    rel += "index.html";
    fd = open_beneath(rel, O_RDONLY);
    if (fd < 0) {
      err = errno == ENOENT ? EISDIR : errno;
      return nullptr;
    }
    if (::fstat(fd, &st) != 0) {
      err = errno;
      ::close(fd);
      return nullptr;
    }
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    err = ENOENT;
    return nullptr;
  }
  auto e = std::make_shared<file_entry>();
  e->size = static_cast<uint64_t>(st.st_size);
  e->mtime = st.st_mtim.tv_sec;
  char tag[64];
  std::snprintf(tag, sizeof(tag), "\"%llx-%llx%09lx\"",
                static_cast<unsigned long long>(st.st_size),
                static_cast<unsigned long long>(st.st_mtim.tv_sec),
                static_cast<unsigned long>(st.st_mtim.tv_nsec));
  e->etag = tag;
  e->last_modified = http_date(e->mtime);
  e->path = "/" + rel;
  e->type = std::string{mime_.lookup(rel)};
  if (e->size > cache_max_file_) {
    fd_out = fd;
    return e;
  }
  auto content = std::make_shared<std::string>();
  content->resize(e->size);
  size_t got = 0;
  while (got < e->size) {
    auto n = ::pread(fd, content->data() + got, e->size - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got != e->size) { // changed under us: try again next time
    err = EAGAIN;
    return nullptr;
  }
  e->content = std::move(content);
  return e;
}

std::shared_ptr<const file_entry> file_root::lookup(const std::string& path, int& err,
                                                    int& fd) const {
  fd = -1;
  auto now = std::time(nullptr);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = cache_.find(path);
    if (i != cache_.end() && i->second.checked == now)
      return i->second.entry;
  }
  auto e = load(path, err, fd);
  if (!e || !e->content)
    return e;
  std::lock_guard<std::mutex> guard{mtx_};
  auto& slot = cache_[path];
  if (slot.entry)
    cache_bytes_ -= slot.entry->size;
  if (cache_bytes_ + e->size > 64 * 1024 * 1024 || cache_.size() > 4096) {
    cache_.clear(); // simple bound: start over
    cache_bytes_ = 0;
  }
  cache_[path] = cached{e, now};
  cache_bytes_ += e->size;
  return e;
}

} // namespace kam::protocols::http
