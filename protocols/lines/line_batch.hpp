#pragma once

#include <string>
#include <vector>

namespace kam::protocols::lines {

/// The message between the line components: the complete lines from one
/// read, in order, without terminators. One message per read, not per
/// line, so a busy connection costs one hop per batch.
using line_batch = std::vector<std::string>;

} // namespace kam::protocols::lines
