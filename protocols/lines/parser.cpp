#include "protocols/lines/parser.hpp"

#include <algorithm>
#include <cstring>

namespace kam::protocols::lines {

const char* to_string(parse_error x) {
  switch (x) {
  case parse_error::none:
    return "none";
  case parse_error::line_too_long:
    return "line_too_long";
  }
  return "unknown";
}

parser::parser(size_t max_line_length) : max_(max_line_length) {
  // nop
}

bool parser::too_long(size_t len, bool cr_last) const {
  // An open line may hold one byte more than the limit if that byte is a
  // '\r' that a '\n' may still complete.
  return len > max_ && !(cr_last && len == max_ + 1);
}

parse_result parser::feed(std::string_view data, std::vector<std::string>& out) {
  parse_result res;
  if (error_ != parse_error::none) {
    res.status = parse_status::error;
    res.error = error_;
    return res;
  }
  size_t pos = 0;
  bool any = false;
  while (pos < data.size()) {
    auto rest = data.size() - pos;
    auto nl = static_cast<const char*>(std::memchr(data.data() + pos, '\n', rest));
    if (nl == nullptr) {
      partial_.append(data.data() + pos, rest);
      pos = data.size();
      if (too_long(partial_.size(), partial_.back() == '\r')) {
        error_ = parse_error::line_too_long;
        break;
      }
      break;
    }
    auto end = static_cast<size_t>(nl - data.data());
    std::string_view seg = data.substr(pos, end - pos);
    pos = end + 1;
    size_t len = partial_.size() + seg.size();
    bool cr =
      seg.empty() ? (!partial_.empty() && partial_.back() == '\r') : seg.back() == '\r';
    if (cr)
      --len;
    if (len > max_) {
      error_ = parse_error::line_too_long;
      break;
    }
    if (partial_.empty()) {
      out.emplace_back(seg.data(), len);
    } else {
      partial_.append(seg.data(), seg.size());
      partial_.resize(len);
      out.push_back(std::move(partial_));
      partial_.clear();
    }
    any = true;
    ++res.lines;
  }
  res.consumed = pos;
  if (error_ != parse_error::none) {
    partial_.clear();
    res.status = parse_status::error;
    res.error = error_;
  } else {
    res.status = any ? parse_status::lines : parse_status::need_more;
  }
  return res;
}

parse_result parser::feed_block(std::string_view data, std::vector<char>& out) {
  parse_result res;
  if (error_ != parse_error::none) {
    res.status = parse_status::error;
    res.error = error_;
    return res;
  }
  const char* base = data.data();
  // Whole lines of `data` without a '\r' are copied as one run: [run, pos).
  size_t run = 0;
  size_t pos = 0;
  auto flush = [&](size_t to) {
    if (to > run)
      out.insert(out.end(), base + run, base + to);
  };
  // One allocation for the block: it is at most the input and the partial
  // line, with a '\n' for a "\r\n" the partial line's '\r' ends.
  // Geometric growth if `out` is kept across feeds.
  auto need = out.size() + partial_.size() + data.size() + 1;
  if (need > out.capacity())
    out.reserve(std::max(need, 2 * out.capacity()));
  while (pos < data.size()) {
    auto rest = data.size() - pos;
    auto nl = static_cast<const char*>(std::memchr(base + pos, '\n', rest));
    if (nl == nullptr) {
      flush(pos);
      partial_.append(base + pos, rest);
      run = pos = data.size();
      if (too_long(partial_.size(), partial_.back() == '\r'))
        error_ = parse_error::line_too_long;
      break;
    }
    auto end = static_cast<size_t>(nl - base);
    std::string_view seg = data.substr(pos, end - pos);
    size_t len = partial_.size() + seg.size();
    bool cr =
      seg.empty() ? (!partial_.empty() && partial_.back() == '\r') : seg.back() == '\r';
    if (cr)
      --len;
    if (len > max_) {
      flush(pos);
      run = pos = end + 1;
      error_ = parse_error::line_too_long;
      break;
    }
    if (!partial_.empty()) {
      // The line began in an earlier feed: `run` is at `pos` here.
      partial_.append(seg.data(), seg.size());
      partial_.resize(len);
      partial_.push_back('\n');
      out.insert(out.end(), partial_.begin(), partial_.end());
      partial_.clear();
      run = end + 1;
    } else if (cr) {
      flush(end - 1); // without the '\r'
      out.push_back('\n');
      run = end + 1;
    }
    pos = end + 1;
    ++res.lines;
  }
  if (error_ == parse_error::none)
    flush(pos);
  res.consumed = pos;
  if (error_ != parse_error::none) {
    partial_.clear();
    res.status = parse_status::error;
    res.error = error_;
  } else {
    res.status = res.lines > 0 ? parse_status::lines : parse_status::need_more;
  }
  return res;
}

std::optional<std::string> parser::finish() {
  std::optional<std::string> res;
  if (error_ == parse_error::none && !partial_.empty())
    res = std::move(partial_);
  reset();
  return res;
}

void parser::reset() {
  partial_.clear();
  error_ = parse_error::none;
}

} // namespace kam::protocols::lines
