# libFuzzer targets (LOOM_FUZZ=ON, clang). One include per area.
include(${CMAKE_CURRENT_LIST_DIR}/config.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/net.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/tcp.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/storage.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/http.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/rest.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/repl.cmake)
