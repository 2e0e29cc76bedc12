#pragma once

#include <string_view>
#include <vector>

namespace kam::runtime {

/// An owned run of bytes, the payload of every data message between components.
/// Moved from hop to hop, never copied (CAF 0.17 has no byte_buffer yet).
using bytes = std::vector<char>;

/// Copies `text` into a new byte buffer. Thread safe.
inline bytes to_bytes(std::string_view text) {
  return bytes(text.begin(), text.end());
}

/// Views `buf` as text. Thread safe.
inline std::string_view as_text(const bytes& buf) {
  return std::string_view(buf.data(), buf.size());
}

} // namespace kam::runtime
