// The one translation unit that compiles Boost.Asio's implementation
// (BOOST_ASIO_SEPARATE_COMPILATION), so other TUs include only declarations.
#include <boost/asio/impl/src.hpp>
