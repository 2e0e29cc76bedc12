#pragma once

#include <string>
#include <vector>

namespace kam::protocols::lines {

/// The message between the line components: the complete lines from one
/// read, in order, without terminators. One message per read, not per
/// line, so a busy connection costs one hop per batch.
using line_batch = std::vector<std::string>;

/// The same lines as one contiguous block, each followed by "\n" (a "\r\n"
/// terminator is sent as "\n"): what block_framer() sends and the
/// coalescing joiner appends as is. The same type as runtime::bytes, so it
/// crosses nodes (CAF's built-in `std::vector<char>`) with no registration;
/// it is a line block by where it travels (framer -> joiner), not by type.
using line_block = std::vector<char>;

} // namespace kam::protocols::lines
