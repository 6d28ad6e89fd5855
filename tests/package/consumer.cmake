# The consumer program and its test, shared by the find_package and
# add_subdirectory projects once they have checked swattn::swattn.
add_executable(consumer ${CMAKE_CURRENT_LIST_DIR}/consumer.c)
target_link_libraries(consumer PRIVATE swattn::swattn)
set_target_properties(consumer PROPERTIES
  C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
if(NOT WIN32)
  target_link_libraries(consumer PRIVATE m)
endif()

enable_testing()
add_test(NAME consumer COMMAND consumer)
