#pragma once
// Process-level helpers shared by the bench programs: fd limits, listening
// sockets, the `listening on` handshake and termination signals.

#include <cstdint>
#include <string>

namespace kam::bench {

/// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit.
/// Call from main() before starting threads.
uint64_t raise_nofile_limit();

/// Opens a non-blocking IPv4 TCP listener on host:port with SO_REUSEADDR and, if
/// `reuse_port`, SO_REUSEPORT. Throws std::system_error on failure.
int open_listener(const std::string& host, uint16_t port, bool reuse_port,
                  int backlog = 4096);

/// The port a bound socket actually got (for --port=0).
uint16_t local_port(int fd);

/// Prints `listening on HOST:PORT` on stdout and flushes at once: drivers wait
/// for this line before sending load.
void announce_listening(const std::string& host, uint16_t port);

/// Blocks SIGINT and SIGTERM in the calling thread; call before starting any
/// thread so every thread inherits the mask and only wait_for_stop_signal() sees them.
void block_stop_signals();

/// Waits (after block_stop_signals()) until SIGINT or SIGTERM arrives.
int wait_for_stop_signal();

} // namespace kam::bench
