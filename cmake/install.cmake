# Install rules for swattn (included by the top-level CMakeLists.txt when
# SWATTN_INSTALL is ON, which it is by default only for a top-level build).
#
# Installs:
#   <libdir>/libswattn.{a,so*}            the `swattn` target only; the
#                                          `swattn_shared` helper (the Python
#                                          binding's copy in static builds) is
#                                          deliberately not installed
#   <includedir>/swattn/*.h, *.hpp         the public headers
#   <libdir>/cmake/swattn/                 swattnConfig.cmake,
#                                          swattnConfigVersion.cmake,
#                                          swattnTargets*.cmake (swattn::swattn)
#   <libdir>/pkgconfig/swattn.pc           for pkg-config users
#
# Consumers: find_package(swattn CONFIG REQUIRED) and
# target_link_libraries(app PRIVATE swattn::swattn); or
# `pkg-config --cflags --libs swattn` (add --static for the static library).

include(CMakePackageConfigHelpers)

set(SWATTN_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/swattn"
    CACHE STRING "Where swattnConfig.cmake is installed, relative to the prefix")
mark_as_advanced(SWATTN_INSTALL_CMAKEDIR)

# --- The library and its headers --------------------------------------------
install(TARGETS swattn
  EXPORT swattnTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/swattn
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")

# --- CMake package ----------------------------------------------------------
install(EXPORT swattnTargets
  NAMESPACE swattn::
  FILE swattnTargets.cmake
  DESTINATION ${SWATTN_INSTALL_CMAKEDIR})

# Recorded in swattnConfig.cmake so that it asks for exactly the dependencies
# this build links against.
get_target_property(_swattn_type swattn TYPE)
if(_swattn_type STREQUAL "SHARED_LIBRARY")
  set(SWATTN_CONFIG_SHARED ON)
else()
  set(SWATTN_CONFIG_SHARED OFF)
endif()
if(SWATTN_WITH_TBB)
  set(SWATTN_CONFIG_WITH_TBB ON)
else()
  set(SWATTN_CONFIG_WITH_TBB OFF)
endif()

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/swattnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/swattnConfig.cmake
  INSTALL_DESTINATION ${SWATTN_INSTALL_CMAKEDIR})
# 0.x releases follow the same rule as later ones: a request for 0.1 accepts
# any 0.y >= 0.1.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/swattnConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/swattnConfig.cmake
  ${PROJECT_BINARY_DIR}/swattnConfigVersion.cmake
  DESTINATION ${SWATTN_INSTALL_CMAKEDIR})

# --- pkg-config -------------------------------------------------------------
# Paths in swattn.pc are those of the prefix actually installed to, which is
# only known at install time (`cmake --install build --prefix /opt/x`), so the
# file is configured in two steps: everything but the prefix now, the prefix
# by an install(CODE) step just before the file is copied.
set(SWATTN_PC_PREFIX "@SWATTN_PC_INSTALL_PREFIX@")  # filled at install time
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(SWATTN_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(SWATTN_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()

# Shared library: consumers need only -lswattn (and -DSWATTN_SHARED, which
# selects dllimport on Windows and is harmless elsewhere).
# Static archive: consumers also link its dependencies, listed as private so
# that `pkg-config --static` adds them: Highway, oneTBB when built with it,
# and the C++ runtime libraries a C compiler driver does not add by itself.
set(SWATTN_PC_CFLAGS "")
set(SWATTN_PC_REQUIRES_PRIVATE "")
set(SWATTN_PC_LIBS_PRIVATE "")
if(SWATTN_CONFIG_SHARED)
  set(SWATTN_PC_CFLAGS " -DSWATTN_SHARED")
else()
  set(SWATTN_PC_REQUIRES_PRIVATE "libhwy")
  if(SWATTN_WITH_TBB)
    string(APPEND SWATTN_PC_REQUIRES_PRIVATE " tbb")
  endif()
  foreach(lib IN LISTS CMAKE_CXX_IMPLICIT_LINK_LIBRARIES)
    if(NOT lib IN_LIST CMAKE_C_IMPLICIT_LINK_LIBRARIES
       AND NOT lib MATCHES "^(gcc|gcc_s|gcc_eh|c)$")
      if(IS_ABSOLUTE "${lib}")
        string(APPEND SWATTN_PC_LIBS_PRIVATE " ${lib}")
      else()
        string(APPEND SWATTN_PC_LIBS_PRIVATE " -l${lib}")
      endif()
    endif()
  endforeach()
  if(SWATTN_PC_LIBS_PRIVATE STREQUAL "" AND
     CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    set(SWATTN_PC_LIBS_PRIVATE " -lstdc++ -lm")
  endif()
  # The libraries are used through std::thread / TBB worker threads.
  string(APPEND SWATTN_PC_LIBS_PRIVATE " -pthread")
endif()
string(STRIP "${SWATTN_PC_LIBS_PRIVATE}" SWATTN_PC_LIBS_PRIVATE)

configure_file(${CMAKE_CURRENT_LIST_DIR}/swattn.pc.in
  ${PROJECT_BINARY_DIR}/swattn.pc.in-prefix @ONLY)
install(CODE "
  file(READ \"${PROJECT_BINARY_DIR}/swattn.pc.in-prefix\" _swattn_pc)
  string(REPLACE \"@SWATTN_PC_INSTALL_PREFIX@\" \"\${CMAKE_INSTALL_PREFIX}\"
         _swattn_pc \"\${_swattn_pc}\")
  file(WRITE \"${PROJECT_BINARY_DIR}/swattn.pc\" \"\${_swattn_pc}\")
")
install(FILES ${PROJECT_BINARY_DIR}/swattn.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

unset(_swattn_type)
