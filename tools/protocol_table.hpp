#pragma once

#include <string>
#include <vector>

#include "chassis/server.hpp"

namespace kam::tools {

/// The protocols kam-serve can serve, by name.
struct protocol_entry {
  std::string name;
  std::string description;
  chassis::connection_factory factory;
};

/// Every protocol kam-serve knows. Thread safe.
const std::vector<protocol_entry>& protocols();

/// The entry named `name`, or nullptr.
const protocol_entry* find_protocol(const std::string& name);

} // namespace kam::tools
