// kam's one instantiation of the handshake pacer (the others' TUs see the
// extern template in the header).
#include "runtime/io/detail/handshake_pacer.hpp"

#include "runtime/io/detail/stream.hpp"

namespace kam::runtime::io::detail {

template class basic_handshake_pacer<stream>;

} // namespace kam::runtime::io::detail
