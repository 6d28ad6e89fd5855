# package.install: install the already-built library into a fresh prefix.
#   cmake -D BUILD_DIR=<build> -D PREFIX=<dir> [-D CONFIG=<cfg>] -P install_prefix.cmake
foreach(var BUILD_DIR PREFIX)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_prefix.cmake: ${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${PREFIX}")
set(config_args)
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
          ${config_args}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()

# The layout consumers rely on.
file(GLOB_RECURSE installed RELATIVE "${PREFIX}" "${PREFIX}/*")
list(SORT installed)
string(REPLACE ";" "\n  " listing "${installed}")
message(STATUS "Installed into ${PREFIX}:\n  ${listing}")
foreach(pattern
    "^include/swattn/swattn\\.h$"
    "^lib[^/]*(/[^/]+)?/cmake/swattn/swattnConfig\\.cmake$"
    "^lib[^/]*(/[^/]+)?/cmake/swattn/swattnConfigVersion\\.cmake$"
    "^lib[^/]*(/[^/]+)?/cmake/swattn/swattnTargets\\.cmake$"
    "^lib[^/]*(/[^/]+)?/pkgconfig/swattn\\.pc$"
    "^lib[^/]*(/[^/]+)?/libswattn\\.(a|so)$")
  set(found FALSE)
  foreach(f IN LISTS installed)
    if(f MATCHES "${pattern}")
      set(found TRUE)
    endif()
  endforeach()
  if(NOT found)
    message(FATAL_ERROR "nothing installed matches ${pattern}")
  endif()
endforeach()
# Only the library itself: no test, benchmark or binding helper.
foreach(f IN LISTS installed)
  if(f MATCHES "^bin/|swattn_shared|swattn_objects|Catch|benchmark")
    message(FATAL_ERROR "unexpected file installed: ${f}")
  endif()
endforeach()
