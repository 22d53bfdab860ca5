// Boost.JSON compiled into the fuzz binary (header-only mode), as src/http/boost_sources.cpp
// does for the main build.
#include <boost/json/src.hpp>
