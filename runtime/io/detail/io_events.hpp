#pragma once

#include <caf/atom.hpp>

namespace kam::runtime::io::detail {

// Events from a connection's stream (on its I/O thread) to its CSA actor,
// sent by the CSA's stream_events (runtime/io/csa.cpp).

/// `(io_eof_atom)`: the peer sent FIN; no more input.
using io_eof_atom = caf::atom_constant<caf::atom("kam_ioeof")>;
/// `(io_drained_atom)`: drain finished; input delivered and stopped.
using io_drained_atom = caf::atom_constant<caf::atom("kam_iodrn")>;
/// `(io_closed_atom, shutdown_reason)`: the socket is closed or has sent
/// its FIN after an orderly close; the CSA may end.
using io_closed_atom = caf::atom_constant<caf::atom("kam_iocls")>;
/// `(io_pause_atom)`: the write queue reached the high watermark.
using io_pause_atom = caf::atom_constant<caf::atom("kam_iopau")>;
/// `(io_resume_atom)`: after io_pause, the write queue fell below the low
/// watermark.
using io_resume_atom = caf::atom_constant<caf::atom("kam_iores")>;

} // namespace kam::runtime::io::detail
