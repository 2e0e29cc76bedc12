#include "protocols/http/parser.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include <boost/beast/http/basic_parser.hpp>

namespace kam::protocols::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

const char* to_string(parse_error x) {
  switch (x) {
  case parse_error::none:
    return "none";
  case parse_error::bad_request:
    return "bad_request";
  case parse_error::header_too_large:
    return "header_too_large";
  case parse_error::body_too_large:
    return "body_too_large";
  case parse_error::bad_content_length:
    return "bad_content_length";
  case parse_error::bad_transfer_encoding:
    return "bad_transfer_encoding";
  case parse_error::unsupported_transfer_encoding:
    return "unsupported_transfer_encoding";
  case parse_error::bad_version:
    return "bad_version";
  case parse_error::bad_expectation:
    return "bad_expectation";
  }
  return "unknown";
}

int status_of(parse_error x) {
  switch (x) {
  case parse_error::header_too_large:
    return 431;
  case parse_error::body_too_large:
    return 413;
  case parse_error::unsupported_transfer_encoding:
    return 501;
  case parse_error::bad_version:
    return 505;
  case parse_error::bad_expectation:
    return 417;
  default:
    return 400;
  }
}

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  auto lower = [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
  };
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i]))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

method to_method(bhttp::verb v) {
  switch (v) {
  case bhttp::verb::get:
    return method::get;
  case bhttp::verb::head:
    return method::head;
  case bhttp::verb::post:
    return method::post;
  case bhttp::verb::put:
    return method::put;
  case bhttp::verb::delete_:
    return method::delete_;
  case bhttp::verb::options:
    return method::options;
  case bhttp::verb::trace:
    return method::trace;
  case bhttp::verb::connect:
    return method::connect;
  default:
    return method::other;
  }
}

/// A piece of the request, as an offset from its first byte (so it survives
/// the caller's buffer growing between feeds).
struct span {
  size_t off = 0;
  size_t len = 0;
};

} // namespace

std::string_view request::field(std::string_view name) const {
  for (auto& f : fields)
    if (iequals(f.name, name))
      return f.value;
  return {};
}

bool request::has_field(std::string_view name) const {
  return std::any_of(fields.begin(), fields.end(),
                     [&](const header_field& f) { return iequals(f.name, name); });
}

struct parser::impl {
  class beast_parser : public bhttp::basic_parser<true> {
  public:
    explicit beast_parser(impl& owner) : owner_(owner) {}

  private:
    span at(beast::string_view s) const {
      return span{static_cast<size_t>(s.data() - owner_.base_), s.size()};
    }
    bool inside(beast::string_view s) const {
      return s.data() >= owner_.base_ && s.data() + s.size() <= owner_.end_;
    }

    void on_request_impl(bhttp::verb v, beast::string_view method_str,
                         beast::string_view target, int version,
                         beast::error_code& ec) override {
      owner_.verb_ = to_method(v);
      owner_.method_ = at(method_str);
      owner_.target_ = at(target);
      owner_.version_ = static_cast<unsigned>(version);
    }

    void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}

    void on_field_impl(bhttp::field f, beast::string_view name, beast::string_view value,
                       beast::error_code& ec) override {
      // An obs-fold value is unfolded by Beast into a buffer of its own:
      // refuse it (RFC 7230 3.2.4 allows a 400) rather than copy it.
      if (!inside(name) || !inside(value)) {
        owner_.why_ = parse_error::bad_request;
        ec = bhttp::error::bad_value;
        return;
      }
      std::string_view v{value.data(), value.size()};
      switch (f) {
      case bhttp::field::transfer_encoding:
        // Beast 1.74 takes "gzip, chunked" as chunked and "gzip" as no
        // body at all (a request smuggling vector): only a lone chunked.
        if (!iequals(trim(v), "chunked")) {
          owner_.why_ = parse_error::unsupported_transfer_encoding;
          ec = bhttp::error::bad_transfer_encoding;
          return;
        }
        break;
      case bhttp::field::expect:
        if (!iequals(trim(v), "100-continue")) {
          owner_.why_ = parse_error::bad_expectation;
          ec = bhttp::error::bad_value;
          return;
        }
        owner_.expect_continue_ = true;
        break;
      case bhttp::field::host:
        ++owner_.hosts_;
        break;
      default:
        break;
      }
      owner_.fields_.push_back({at(name), at(value)});
    }

    void on_header_impl(beast::error_code& ec) override {
      if (owner_.version_ >= 11 && owner_.hosts_ != 1) {
        owner_.why_ = parse_error::bad_request; // RFC 7230 5.4
        ec = bhttp::error::bad_value;
        return;
      }
      // Checked here, not trusted to Beast (issue #2201/#2183).
      auto cl = content_length();
      if (cl && *cl > owner_.limits_.body_limit) {
        owner_.why_ = parse_error::body_too_large;
        ec = bhttp::error::body_limit;
      }
    }

    void on_body_init_impl(const boost::optional<std::uint64_t>&,
                           beast::error_code&) override {}

    std::size_t on_body_impl(beast::string_view body, beast::error_code&) override {
      if (owner_.body_.len == 0)
        owner_.body_.off = static_cast<size_t>(body.data() - owner_.base_);
      owner_.body_.len += body.size();
      return body.size();
    }

    void on_chunk_header_impl(std::uint64_t, beast::string_view,
                              beast::error_code&) override {}

    std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                   beast::error_code& ec) override {
      if (owner_.chunked_.size() + body.size() > owner_.limits_.body_limit) {
        owner_.why_ = parse_error::body_too_large;
        ec = bhttp::error::body_limit;
        return 0;
      }
      owner_.chunked_.append(body.data(), body.size());
      return body.size();
    }

    void on_finish_impl(beast::error_code&) override {}

    impl& owner_;
  };

  explicit impl(const parser_limits& limits) : limits_(limits) {}

  void start() {
    p_.emplace(*this);
    p_->eager(true);
    p_->header_limit(
      static_cast<std::uint32_t>(std::min<size_t>(limits_.header_limit, UINT32_MAX)));
    p_->body_limit(limits_.body_limit);
    cursor_ = 0;
    header_end_ = 0;
    hosts_ = 0;
    expect_continue_ = false;
    continue_reported_ = false;
    verb_ = method::other;
    method_ = target_ = body_ = span{};
    version_ = 11;
    fields_.clear();
    chunked_.clear();
    why_ = parse_error::none;
  }

  void fill(std::string_view data, request& out) const {
    auto view = [&](span s) { return data.substr(s.off, s.len); };
    out.verb = verb_;
    out.method = view(method_);
    out.target = view(target_);
    out.version = version_;
    out.keep_alive = p_->keep_alive();
    out.expect_continue = expect_continue_;
    out.fields.clear();
    for (auto& f : fields_)
      out.fields.push_back({view(f.first), view(f.second)});
    if (p_->chunked())
      out.body = std::string_view{chunked_};
    else
      out.body = view(body_);
  }

  parse_error map(const beast::error_code& ec) const {
    if (why_ != parse_error::none)
      return why_;
    if (ec == bhttp::error::header_limit)
      return parse_error::header_too_large;
    if (ec == bhttp::error::body_limit)
      return parse_error::body_too_large;
    if (ec == bhttp::error::bad_content_length)
      return parse_error::bad_content_length;
    if (ec == bhttp::error::bad_transfer_encoding)
      return parse_error::bad_transfer_encoding;
    if (ec == bhttp::error::bad_version) {
      // Beast says bad_version for any junk after the target: 505 only for
      // a well-formed "HTTP/x.y" it does not speak.
      // Beast has parsed method and target: look at the version's 8 bytes
      // only, so the answer does not depend on how much came after them.
      auto line = std::string_view{base_, static_cast<size_t>(end_ - base_)};
      auto sp1 = line.find(' ');
      auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
      auto v =
        sp2 == std::string_view::npos ? std::string_view{} : line.substr(sp2 + 1, 8);
      bool http_xy = v.size() == 8 && v.substr(0, 5) == "HTTP/" && v[5] >= '0' &&
                     v[5] <= '9' && v[6] == '.' && v[7] >= '0' && v[7] <= '9';
      return http_xy ? parse_error::bad_version : parse_error::bad_request;
    }
    return parse_error::bad_request;
  }

  parser_limits limits_;
  std::optional<beast_parser> p_;
  const char* base_ = nullptr; // the current feed's request start
  const char* end_ = nullptr;
  size_t cursor_ = 0;     // bytes of the request Beast has consumed
  size_t header_end_ = 0; // cursor when the header completed (0: not yet)
  unsigned hosts_ = 0;
  bool expect_continue_ = false;
  bool continue_reported_ = false;
  method verb_ = method::other;
  span method_;
  span target_;
  span body_;
  unsigned version_ = 11;
  std::vector<std::pair<span, span>> fields_;
  std::string chunked_;
  parse_error why_ = parse_error::none;
  parse_error failed_ = parse_error::none;
};

parser::parser(parser_limits limits)
  : limits_(limits), impl_(std::make_unique<impl>(limits)) {
  // nop
}

parser::~parser() = default;
parser::parser(parser&&) noexcept = default;
parser& parser::operator=(parser&&) noexcept = default;

void parser::reset() {
  impl_->p_.reset();
  impl_->failed_ = parse_error::none;
}

bool parser::started() const {
  return impl_->p_.has_value() && impl_->p_->got_some();
}

bool parser::header_done() const {
  return impl_->p_.has_value() && impl_->p_->is_header_done();
}

parse_result parser::feed(std::string_view data, request& out) {
  auto& m = *impl_;
  parse_result res;
  auto fail = [&](parse_error e) {
    m.failed_ = e;
    res.status = parse_status::error;
    res.error = e;
    res.consumed = 0;
    return res;
  };
  if (m.failed_ != parse_error::none)
    return fail(m.failed_);
  if (!m.p_ || !m.p_->got_some()) {
    // RFC 7230 3.5: ignore empty lines before a request-line.
    size_t skip = 0;
    while (skip < data.size() &&
           (data[skip] == '\n' ||
            (data[skip] == '\r' && skip + 1 < data.size() && data[skip + 1] == '\n')))
      skip += data[skip] == '\r' ? 2 : 1;
    data.remove_prefix(skip);
    res.consumed = skip;
    if (data.empty() || data == "\r") // a blank line's CR, its LF to come
      return res;
    if (!m.p_)
      m.start();
  }
  m.base_ = data.data();
  m.end_ = data.data() + data.size();
  beast::error_code ec;
  auto rest = data.substr(m.cursor_);
  auto n =
    rest.empty() ? 0 : m.p_->put(boost::asio::const_buffer(rest.data(), rest.size()), ec);
  m.cursor_ += n;
  if (ec && ec != bhttp::error::need_more)
    return fail(m.map(ec));
  if (!m.p_->is_header_done()) {
    if (data.size() >= m.limits_.header_limit)
      return fail(parse_error::header_too_large);
    res.status = parse_status::need_more;
    return res;
  }
  if (m.header_end_ == 0) {
    // Beast requires CRLF line endings: the header ends at the first blank line.
    auto eoh = data.find("\r\n\r\n");
    m.header_end_ = eoh == std::string_view::npos ? data.size() : eoh + 4;
    if (m.header_end_ > m.limits_.header_limit)
      return fail(parse_error::header_too_large);
  }
  if (m.p_->is_done()) {
    m.fill(data, out);
    res.status = parse_status::request;
    res.consumed += m.cursor_;
    m.p_.reset(); // the next request gets a fresh parser
    return res;
  }
  // Body pending. Chunk framing (extensions) is not counted by Beast's
  // limit: bound what the caller must keep for this request.
  if (m.cursor_ - m.header_end_ > 2 * m.limits_.body_limit + 16 * 1024)
    return fail(parse_error::body_too_large);
  if (m.expect_continue_ && !m.continue_reported_) {
    m.continue_reported_ = true;
    m.fill(data, out);
    res.status = parse_status::expect_continue;
    return res;
  }
  res.status = parse_status::need_more;
  return res;
}

} // namespace kam::protocols::http
