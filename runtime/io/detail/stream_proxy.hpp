#pragma once

#include <boost/system/error_code.hpp>

#include "runtime/bytes.hpp"
#include "runtime/io/detail/stream.hpp"
#include "runtime/io/proxy/parser.hpp"

namespace kam::runtime::io::detail {

/// A stream's PROXY header phase (listen_options::proxy_protocol): the
/// parser, the bytes read so far and who to tell. Owned by its stream from
/// read_proxy_header() until start() delivered what followed the header;
/// I/O thread only.
struct proxy_layer {
  explicit proxy_layer(stream::proxy_done d) : done(std::move(d)) {}

  proxy::parser parser;
  /// The header's bytes so far; once it is whole, what followed it.
  bytes rest;
  /// Set while the header is awaited; moved out when it is whole or refused.
  stream::proxy_done done;
  /// How the read that completed the header ended: the peer's FIN, or an
  /// error (start() reports either after delivering `rest`).
  bool eof = false;
  boost::system::error_code ec;
};

} // namespace kam::runtime::io::detail
