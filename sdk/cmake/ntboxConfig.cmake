# find_package(ntbox): the installed ntbox and its SDK.
# In a driver project (configured with the mingw-w64 toolchain file):
#   NTBOX_EXECUTABLE       the CLI (bin/ntbox)
#   NTBOX_TOOLCHAIN_FILE   the mingw-w64 toolchain file a driver project is configured with
#   ntbox_add_driver(), ntbox_add_app(), ntbox_add_driver_test()   (NtboxSdk.cmake)
# In a host project (Linux compilers; ntbox_add_driver_test makes one for its GoogleTest programs):
#   ntbox::testing         the test kit, <ntbox/testing.h> (links GoogleTest)
get_filename_component(_ntbox_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(NTBOX_EXECUTABLE "${_ntbox_prefix}/bin/ntbox" CACHE FILEPATH "the ntbox CLI")
set(NTBOX_TOOLCHAIN_FILE "${_ntbox_prefix}/share/ntbox/sdk/cmake/mingw-w64-x86_64.cmake")
set(NTBOX_MC "${_ntbox_prefix}/bin/ntbox-mc" CACHE FILEPATH "the instrumentation manifest compiler")
if(CMAKE_CROSSCOMPILING)
  include("${_ntbox_prefix}/share/ntbox/sdk/cmake/NtboxSdk.cmake")
else()
  include(CMakeFindDependencyMacro)
  find_dependency(GTest)
  include("${CMAKE_CURRENT_LIST_DIR}/ntboxTargets.cmake")
endif()
set(ntbox_FOUND TRUE)
