// The one translation unit that compiles Asio, Beast and Boost.JSON (their "separate
// compilation" mode), so that no other file pays for their implementation.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
#include <boost/json/src.hpp>
