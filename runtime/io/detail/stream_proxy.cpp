// The stream's PROXY header phase: before start(), before TLS, before the
// handler exists. Bytes are read into the layer until the parser says the
// header is whole; what followed it is kept for start().
#include "runtime/io/detail/stream_proxy.hpp"
#include "runtime/io/detail/stream_tls.hpp"

namespace kam::runtime::io::detail {

namespace asio = boost::asio;
using boost::system::error_code;

void stream::read_proxy_header(std::chrono::milliseconds timeout, proxy_done done) {
  assert_io_thread("read_proxy_header");
  if (phase_ != phase::fresh || proxy_)
    return;
  proxy_ = std::make_unique<proxy_layer>(std::move(done));
  last_activity_ = clock::now(); // the idle timer counts from here too
  deadline_ = last_activity_ + timeout;
  arm_timer();
  read_proxy_header_now(); // a proxy sends the header with its connect
}

void stream::wait_proxy_header() {
  read_pending_ = true;
  sock_.async_wait(
    asio::socket_base::wait_read, [self = shared_from_this()](const error_code& ec) {
      self->read_pending_ = false;
      if (self->phase_ == phase::closed || ec == asio::error::operation_aborted)
        return;
      if (ec)
        self->proxy_failed();
      else
        self->read_proxy_header_now();
    });
}

void stream::read_proxy_header_now() {
  auto self = shared_from_this(); // done() may drop the last other owner
  auto& p = *proxy_;
  error_code rec;
  auto r = read_into(p.rest, max_read_, false, rec);
  if (!p.rest.empty()) {
    auto res = p.parser.feed(std::string_view{p.rest.data(), p.rest.size()});
    if (res.status == proxy::parse_status::done) {
      p.rest.erase(p.rest.begin(),
                   p.rest.begin() + static_cast<std::ptrdiff_t>(res.consumed));
      p.eof = r == read_result::eof;
      if (r == read_result::failed)
        p.ec = rec;
      deadline_ = clock::time_point::max(); // met
      touch();
      if (tls_ && p.parser.result().local)
        tls_->health_check = true;
      auto done = std::move(p.done);
      p.done = nullptr;
      done(&p.parser.result());
      return;
    }
    if (res.status == proxy::parse_status::error) {
      proxy_failed();
      return;
    }
  }
  if (r == read_result::eof || r == read_result::failed) {
    proxy_failed(); // truncated (or nothing at all)
    return;
  }
  wait_proxy_header();
}

void stream::proxy_failed() {
  auto self = shared_from_this();
  auto done = std::move(proxy_->done);
  proxy_->done = nullptr;
  close_socket(); // no owner yet: nobody to tell but `done`
  if (done)
    done(nullptr);
}

void stream::deliver_after_header() {
  auto p = std::move(proxy_);
  if (!p || phase_ != phase::reading) // drained (it took them) or closed meanwhile
    return;
  auto r = p->eof  ? read_result::eof
           : p->ec ? read_result::failed
                   : read_result::would_block;
  on_input(std::move(p->rest), r, p->ec);
}

} // namespace kam::runtime::io::detail
