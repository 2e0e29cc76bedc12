#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chassis/server.hpp"

namespace kam::protocols::http {
struct config;
} // namespace kam::protocols::http

namespace kam::tools {

/// Settings protocols take from kam-serve's command line, captured by the
/// factories of the table built from them.
struct protocol_options {
  /// For `http`: root, access log, limits (null: defaults, no root).
  std::shared_ptr<const protocols::http::config> http;
};

/// The protocols kam-serve can serve, by name.
struct protocol_entry {
  std::string name;
  std::string description;
  chassis::connection_factory factory;
};

/// Every protocol kam-serve knows, their factories bound to `opts`. Thread safe.
std::vector<protocol_entry> protocols(const protocol_options& opts = {});

/// The entry named `name` in `table`, or nullptr.
const protocol_entry* find_protocol(const std::vector<protocol_entry>& table,
                                    const std::string& name);

} // namespace kam::tools
