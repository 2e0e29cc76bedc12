#pragma once

#include <string>

namespace kam::runtime::io {

/// Makes `path` ready for a Unix stream listener to bind (kam-serve --unix):
/// nothing there, fine; a socket nobody answers on (a server that died),
/// removed; a socket a live server answers on, an error like a port in use;
/// anything else (a regular file, a directory, a symlink), an error — never
/// deleted. Also checks the length against sun_path. Returns an empty string
/// on success, else one line naming the path and the cause.
///
/// Thread rule: any thread; it races with other processes as bind() does
/// (bind still fails with EADDRINUSE if someone takes the path meanwhile).
std::string prepare_unix_path(const std::string& path);

/// Whether `path` is a socket file a server answers on (connect succeeds).
bool unix_socket_live(const std::string& path);

/// Parses an octal permission mode such as "0660" or "660" (at most 0777);
/// returns -1 if it is not one.
int parse_unix_mode(const std::string& text);

} // namespace kam::runtime::io
