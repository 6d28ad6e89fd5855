# package.pkg_config: build consumer.c with nothing but the C compiler and
# `pkg-config --cflags --libs swattn` from an installed prefix, then run it.
# A static install is linked with `pkg-config --static` (its dependencies are
# in Requires.private / Libs.private, as pkg-config expects).
#   cmake -D PKG_CONFIG=<exe> -D CC=<cc> -D PREFIX=<dir> -D SHARED=<bool>
#         -D SOURCE=<consumer.c> -D WORK_DIR=<dir> -P pkg_config.cmake
foreach(var PKG_CONFIG CC PREFIX SOURCE WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "pkg_config.cmake: ${var} is not set")
  endif()
endforeach()

file(GLOB_RECURSE pc_files "${PREFIX}/*/swattn.pc")
if(NOT pc_files)
  message(FATAL_ERROR "no swattn.pc under ${PREFIX}")
endif()
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir "${pc_file}" DIRECTORY)
file(READ "${pc_file}" pc_text)
message(STATUS "${pc_file}:\n${pc_text}")

# Only this prefix, plus the system's directories for libhwy.pc and tbb.pc.
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
set(static_arg)
if(NOT SHARED)
  set(static_arg --static)
endif()
execute_process(
  COMMAND "${PKG_CONFIG}" --cflags --libs ${static_arg} swattn
  OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs ${static_arg} swattn failed")
endif()
message(STATUS "pkg-config --cflags --libs ${static_arg} swattn: ${flags}")
if(NOT flags MATCHES "-lswattn")
  message(FATAL_ERROR "pkg-config does not link -lswattn")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(exe "${WORK_DIR}/consumer")
# Strict C99: the public header must be plain C. The libraries come after
# the source, as a static link needs.
set(cmd "${CC}" -std=c99 -pedantic -Wall -Wextra -Werror
        -o "${exe}" "${SOURCE}" ${flags} -lm)
string(REPLACE ";" " " cmd_text "${cmd}")
message(STATUS "${cmd_text}")
execute_process(COMMAND ${cmd} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "compiling the pkg-config consumer failed")
endif()

# A shared install in a non-standard prefix is found through the library path.
if(SHARED)
  file(GLOB_RECURSE libs "${PREFIX}/*/libswattn.so")
  list(GET libs 0 lib)
  get_filename_component(libdir "${lib}" DIRECTORY)
  set(ENV{LD_LIBRARY_PATH} "${libdir}:$ENV{LD_LIBRARY_PATH}")
endif()
execute_process(COMMAND "${exe}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the pkg-config consumer failed (${rc})")
endif()
