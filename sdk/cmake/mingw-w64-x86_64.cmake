# CMake toolchain file: build x64 Windows kernel drivers (and later test apps) with mingw-w64.
#   cmake -G Ninja -DCMAKE_TOOLCHAIN_FILE=<ntbox>/sdk/cmake/mingw-w64-x86_64.cmake ...
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
set(NTBOX_MINGW_PREFIX x86_64-w64-mingw32 CACHE STRING "mingw-w64 target triple")
find_program(CMAKE_C_COMPILER ${NTBOX_MINGW_PREFIX}-gcc REQUIRED)
find_program(CMAKE_CXX_COMPILER ${NTBOX_MINGW_PREFIX}-g++ REQUIRED)
find_program(CMAKE_RC_COMPILER ${NTBOX_MINGW_PREFIX}-windres)
set(CMAKE_FIND_ROOT_PATH /usr/${NTBOX_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
