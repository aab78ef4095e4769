# Unit tests: no root, no EAL. One include per area so areas evolve apart.
include(${CMAKE_CURRENT_LIST_DIR}/config.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/net.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/port.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/scripts.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/tcp.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/profiles.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/hosttools.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/install.cmake)
