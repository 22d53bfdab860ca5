# Shared compile settings. Every target gets the same warnings and the same definitions, so
# that the precompiled header (which must match them) can be reused everywhere.

add_library(tollgate_options INTERFACE)
target_compile_options(tollgate_options INTERFACE
  -Wall -Wextra -Wpedantic -Wno-missing-field-initializers
  # GCC 12 reports Asio's coroutine frames (awaitable_frame_base's own operator new and
  # delete, which match) as a mismatched allocation when a frame is inlined: GCC bug 109224.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>
  $<$<CXX_COMPILER_ID:GNU>:-fdiagnostics-color=always>)
target_compile_definitions(tollgate_options INTERFACE
  # Beast, Asio and JSON are compiled once (src/http/boost_sources.cpp), not in every TU.
  BOOST_ASIO_SEPARATE_COMPILATION
  BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED
  BOOST_ASIO_DISABLE_BOOST_COROUTINE
  # Recycled blocks per purpose and thread (Asio's default is 2): a tools/call has more
  # coroutine frames alive at once than that, and each miss was a malloc and a free.
  BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=16
  SPDLOG_FMT_EXTERNAL)
target_include_directories(tollgate_options INTERFACE
  ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
# spdlog is linked here, not per library: its target adds SPDLOG_COMPILED_LIB, and the
# precompiled header is only reused by targets compiled with the same definitions.
target_link_libraries(tollgate_options INTERFACE Boost::headers Threads::Threads fmt::fmt spdlog::spdlog)

# One precompiled header, built once and reused by every C++ target.
add_library(tollgate_pch OBJECT ${PROJECT_SOURCE_DIR}/src/common/pch.cpp)
target_link_libraries(tollgate_pch PUBLIC tollgate_options)
target_precompile_headers(tollgate_pch PUBLIC ${PROJECT_SOURCE_DIR}/src/common/pch.hpp)

function(tollgate_use_pch target)
  target_precompile_headers(${target} REUSE_FROM tollgate_pch)
  target_link_libraries(${target} PRIVATE tollgate_options)
endfunction()

# tollgate_embed(<target> <function> <base_dir> <files...>): compiles the files' bytes into
# <target>, reachable through `std::span<const EmbeddedFile> <function>()`.
function(tollgate_embed target function base_dir)
  set(output ${CMAKE_CURRENT_BINARY_DIR}/${function}.cpp)
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} -DFUNCTION=${function} -DBASE_DIR=${base_dir}
            "-DFILES=${ARGN}" -P ${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake
    DEPENDS ${ARGN} ${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake
    COMMENT "Embedding ${function}"
    VERBATIM)  # keeps the ;-separated file list one argument
  target_sources(${target} PRIVATE ${output})
endfunction()
