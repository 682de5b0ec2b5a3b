# ntbox SDK: build Windows kernel drivers on Linux.
#   include(<ntbox>/sdk/cmake/NtboxSdk.cmake)   (with the mingw-w64 toolchain file)
#   ntbox_add_driver(MyDriver SOURCES driver.c other.cpp)   -> MyDriver.sys, test-signed
include_guard(GLOBAL)

set(NTBOX_SDK_DIR "${CMAKE_CURRENT_LIST_DIR}/.." CACHE INTERNAL "")
set(NTBOX_DDK_INCLUDE_DIR "/usr/share/mingw-w64/include/ddk" CACHE PATH "mingw-w64 DDK headers")
find_program(NTBOX_DLLTOOL ${NTBOX_MINGW_PREFIX}-dlltool REQUIRED)

# Import library for ntoskrnl exports newer than mingw-w64's own list (ExAllocatePool2 ...).
set(_ntbox_ext_lib "${CMAKE_BINARY_DIR}/ntbox-sdk/libntoskrnl_ext.a" CACHE INTERNAL "")
add_custom_command(OUTPUT "${_ntbox_ext_lib}"
  COMMAND ${CMAKE_COMMAND} -E make_directory "${CMAKE_BINARY_DIR}/ntbox-sdk"
  COMMAND ${NTBOX_DLLTOOL} -d "${NTBOX_SDK_DIR}/lib/ntoskrnl_ext.def" -l "${_ntbox_ext_lib}"
  DEPENDS "${NTBOX_SDK_DIR}/lib/ntoskrnl_ext.def" VERBATIM)
add_custom_target(ntbox_ntoskrnl_ext DEPENDS "${_ntbox_ext_lib}")

# Test signing, as Visual Studio does for a driver project: one self-signed code-signing
# certificate per build tree (openssl), applied after each link (osslsigncode). A machine with
# `bcdedit /set testsigning on` loads such drivers; unsigned ones fail there with 577.
find_program(NTBOX_OPENSSL openssl)
find_program(NTBOX_OSSLSIGNCODE osslsigncode)
set(_ntbox_cert_dir "${CMAKE_BINARY_DIR}/ntbox-sdk/testcert")
function(_ntbox_ensure_test_certificate)
  if(EXISTS "${_ntbox_cert_dir}/testcert.crt" AND EXISTS "${_ntbox_cert_dir}/testcert.key")
    return()
  endif()
  if(NOT NTBOX_OPENSSL OR NOT NTBOX_OSSLSIGNCODE)
    message(FATAL_ERROR "ntbox SDK: test signing needs openssl and osslsigncode (apt-get install openssl "
                        "osslsigncode), or pass UNSIGNED to ntbox_add_driver")
  endif()
  file(MAKE_DIRECTORY "${_ntbox_cert_dir}")
  execute_process(
    COMMAND ${NTBOX_OPENSSL} req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650
            -subj "/CN=ntbox SDK Test Certificate"
            -addext "extendedKeyUsage=codeSigning" -addext "keyUsage=digitalSignature"
            -keyout "${_ntbox_cert_dir}/testcert.key" -out "${_ntbox_cert_dir}/testcert.crt"
    RESULT_VARIABLE result OUTPUT_QUIET ERROR_QUIET)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "ntbox SDK: openssl could not create the test certificate")
  endif()
endfunction()

option(NTBOX_DRIVER_DBG "Build drivers with DBG=1 (KdPrint and ASSERT active, as a Debug build)" ON)

# The instrumentation manifest compiler (ntbox-mc, built with ntbox) and windres, for MANIFEST.
find_program(NTBOX_MC ntbox-mc HINTS "${NTBOX_SDK_DIR}/../build/bin" "${NTBOX_SDK_DIR}/../../../bin")
# The CLI the driver tests run (ntbox_add_driver_test): the build tree's or the installed one.
find_program(NTBOX_EXECUTABLE ntbox HINTS "${NTBOX_SDK_DIR}/../build/bin" "${NTBOX_SDK_DIR}/../../../bin")
find_program(NTBOX_WINDRES ${NTBOX_MINGW_PREFIX}-windres)

# A driver's ETW manifest: ntbox-mc compiles it into <stem>.h (the provider's GUID, its events'
# descriptors and EventWrite routines, included as "<stem>.h") and the WEVT_TEMPLATE and message
# table resources, which windres makes an object linked into the image.
function(_ntbox_add_manifest name manifest)
  if(NOT NTBOX_MC OR NOT NTBOX_WINDRES)
    message(FATAL_ERROR "ntbox_add_driver(${name} MANIFEST): needs ntbox-mc (build ntbox, or pass -DNTBOX_MC=) "
                        "and ${NTBOX_MINGW_PREFIX}-windres (apt-get install binutils-mingw-w64-x86-64)")
  endif()
  get_filename_component(abs "${manifest}" ABSOLUTE)
  get_filename_component(stem "${manifest}" NAME_WE)
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/${name}.mc")
  add_custom_command(OUTPUT "${dir}/${stem}.res.o" "${dir}/${stem}.h"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${dir}"
    COMMAND ${NTBOX_MC} "${abs}" -o "${dir}"
    COMMAND ${NTBOX_WINDRES} -i "${dir}/${stem}.rc" -o "${dir}/${stem}.res.o"
    DEPENDS "${abs}" ${NTBOX_MC}
    COMMENT "Compiling the ETW manifest ${stem}.man" VERBATIM)
  target_sources(${name} PRIVATE "${dir}/${stem}.res.o" "${dir}/${stem}.h")
  target_include_directories(${name} PRIVATE "${dir}")
endfunction()

# ntbox_add_driver(<name> SOURCES <src>... [DBG|NO_DBG] [UNSIGNED] [CLANG] [LIBRARIES <lib>...]
#                  [COMPILE_OPTIONS <option>...] [MANIFEST <file.man>])
# MANIFEST compiles the driver's ETW instrumentation manifest into it (see _ntbox_add_manifest).
# LIBRARIES wdmsec links the WDK's wdmsec (IoCreateDeviceSecure and the SDDL_DEVOBJ_* strings).
# CLANG builds with clang (--target=x86_64-w64-mingw32 -fms-extensions) and lld instead of gcc:
# the way to __try/__except and __finally in a driver, which gcc does not compile. Its debug
# information is CodeView in <name>.pdb beside the .sys, as a WDK build's.
function(ntbox_add_driver name)
  cmake_parse_arguments(ARG "DBG;NO_DBG;UNSIGNED;CLANG" "MANIFEST" "SOURCES;LIBRARIES;COMPILE_OPTIONS" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "ntbox_add_driver(${name}): SOURCES is required")
  endif()
  if(ARG_CLANG AND ARG_MANIFEST)
    message(FATAL_ERROR "ntbox_add_driver(${name}): MANIFEST is for gcc-built drivers for now")
  endif()
  if(ARG_CLANG)
    _ntbox_add_clang_driver(${name} "${ARG_SOURCES}" "${ARG_LIBRARIES}" "${ARG_COMPILE_OPTIONS}" ${ARG_DBG}
                            ${ARG_NO_DBG} ${ARG_UNSIGNED})
    return()
  endif()
  if(NOT CMAKE_SYSTEM_NAME STREQUAL "Windows")
    message(FATAL_ERROR "ntbox_add_driver(${name}): configure with the mingw-w64 toolchain file "
                        "(${NTBOX_SDK_DIR}/cmake/mingw-w64-x86_64.cmake)")
  endif()
  # LIBRARIES wdmsec: the WDK's IoCreateDeviceSecure library (sdk/src/wdmsec.c), built once.
  if("wdmsec" IN_LIST ARG_LIBRARIES AND NOT TARGET wdmsec)
    add_library(wdmsec STATIC "${NTBOX_SDK_DIR}/src/wdmsec.c")
    target_include_directories(wdmsec SYSTEM PRIVATE "${NTBOX_DDK_INCLUDE_DIR}")
    target_compile_definitions(wdmsec PRIVATE __USE_MINGW_ANSI_STDIO=0 DBG=0 _AMD64_ _WIN64 _KERNEL_MODE=1
                                              NTDDI_VERSION=0x0A000000 _WIN32_WINNT=0x0A00)
    target_compile_options(wdmsec PRIVATE -fno-stack-protector -Wno-multichar)
  endif()
  # The intrinsics' out-of-line copies: an archive, linked where a driver takes their address.
  if(NOT TARGET ntbox_intrinsics)
    add_library(ntbox_intrinsics STATIC "${NTBOX_SDK_DIR}/src/intrinsics.c")
    target_compile_options(ntbox_intrinsics PRIVATE -fno-stack-protector)
  endif()
  add_library(${name} SHARED ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES PREFIX "" SUFFIX ".sys")
  if(ARG_MANIFEST)
    _ntbox_add_manifest(${name} "${ARG_MANIFEST}")
  endif()
  # The SDK's header layer first (sdk/include: WDK spellings mingw-w64 lacks), then mingw's DDK.
  target_include_directories(${name} SYSTEM PRIVATE "${NTBOX_SDK_DIR}/include" "${NTBOX_DDK_INCLUDE_DIR}")
  set(dbg 1)
  if(ARG_NO_DBG OR (NOT ARG_DBG AND NOT NTBOX_DRIVER_DBG))
    set(dbg 0)
  endif()
  target_compile_definitions(${name} PRIVATE
    # stdio.h's printf family must bind to ntoskrnl's exports, not mingw's own implementation.
    __USE_MINGW_ANSI_STDIO=0
    DBG=${dbg} _AMD64_ _WIN64 _KERNEL_MODE=1 NTDDI_VERSION=0x0A000000 _WIN32_WINNT=0x0A00
    # g++ 12 rejects the DDK as C++: intrin-impl.h and wdm.h both define these two inline.
    # The guard macros are mingw's own switch to skip the intrin copy; wdm.h's one stays.
    __INTRINSIC_DEFINED_InterlockedBitTestAndSet
    __INTRINSIC_DEFINED_InterlockedBitTestAndReset)
  target_compile_options(${name} PRIVATE
    -g -fno-stack-protector -Wno-multichar -Wno-unknown-pragmas "SHELL:-include ${NTBOX_SDK_DIR}/include/ntbox/prelude.h"
    $<$<COMPILE_LANGUAGE:CXX>:-fno-exceptions -fno-rtti -fno-threadsafe-statics>
    ${ARG_COMPILE_OPTIONS})
  target_link_options(${name} PRIVATE
    -nostdlib -nostartfiles
    -Wl,--subsystem,native -Wl,--entry,DriverEntry
    -Wl,--image-base,0x140000000 -Wl,--dynamicbase -Wl,--nxcompat
    -Wl,--file-alignment,0x200 -Wl,--section-alignment,0x1000
    -Wl,--exclude-all-symbols)
  add_dependencies(${name} ntbox_ntoskrnl_ext)
  target_link_libraries(${name} PRIVATE ${ARG_LIBRARIES} ntbox_intrinsics ntoskrnl "${_ntbox_ext_lib}" hal gcc)
  if(NOT ARG_UNSIGNED)
    _ntbox_sign_command(${name} "$<TARGET_FILE:${name}>" sign)
    add_custom_command(TARGET ${name} POST_BUILD ${sign} COMMENT "Test-signing ${name}.sys" VERBATIM)
  endif()
endfunction()

# The COMMAND lines that test-sign file in place, into out_var.
function(_ntbox_sign_command name file out_var)
  _ntbox_ensure_test_certificate()
  set(${out_var}
    COMMAND ${NTBOX_OSSLSIGNCODE} sign -certs "${_ntbox_cert_dir}/testcert.crt"
            -key "${_ntbox_cert_dir}/testcert.key" -h sha256 -n ${name} -in "${file}" -out "${file}.signed"
    COMMAND ${CMAKE_COMMAND} -E rename "${file}.signed" "${file}" PARENT_SCOPE)
endfunction()

find_program(NTBOX_CLANG NAMES clang clang-14)
function(_ntbox_add_clang_driver name sources libraries options)
  if(NOT NTBOX_CLANG)
    message(FATAL_ERROR "ntbox_add_driver(${name} CLANG): clang is missing (apt-get install clang lld)")
  endif()
  set(dbg 1)
  if("NO_DBG" IN_LIST ARGN OR (NOT "DBG" IN_LIST ARGN AND NOT NTBOX_DRIVER_DBG))
    set(dbg 0)
  endif()
  set(flags --target=x86_64-w64-mingw32 -fms-extensions -O1 -g -gcodeview -fno-stack-protector -Wno-pragma-pack
      -Wno-microsoft-anon-tag -Wno-ignored-pragma-intrinsic -Wno-unknown-pragmas
      -isystem ${NTBOX_SDK_DIR}/include -isystem ${NTBOX_DDK_INCLUDE_DIR}
      -D__USE_MINGW_ANSI_STDIO=0 -DDBG=${dbg} -D_AMD64_ -D_WIN64 -D_KERNEL_MODE=1
      -DNTDDI_VERSION=0x0A000000 -D_WIN32_WINNT=0x0A00
      # As for gcc: mingw's intrin-impl.h and wdm.h both define these two inline (an error in C++).
      -D__INTRINSIC_DEFINED_InterlockedBitTestAndSet -D__INTRINSIC_DEFINED_InterlockedBitTestAndReset ${options})
  set(objects)
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/${name}.clang")
  foreach(src IN LISTS sources)
    get_filename_component(abs "${src}" ABSOLUTE)
    get_filename_component(stem "${src}" NAME_WE)
    set(obj "${dir}/${stem}.obj")
    add_custom_command(OUTPUT "${obj}"
      COMMAND ${CMAKE_COMMAND} -E make_directory "${dir}"
      COMMAND ${NTBOX_CLANG} ${flags} -include "${NTBOX_SDK_DIR}/include/ntbox/prelude.h" -c "${abs}" -o "${obj}"
      DEPENDS "${abs}" IMPLICIT_DEPENDS C "${abs}" VERBATIM)
    list(APPEND objects "${obj}")
  endforeach()
  # The SDK's libraries, as archives built by clang: the intrinsics' out-of-line copies (linked
  # where the driver takes their address) and, asked for, wdmsec.
  set(archives)
  foreach(lib IN ITEMS intrinsics wdmsec)
    if(lib STREQUAL "wdmsec")
      if(NOT "wdmsec" IN_LIST libraries)
        continue()
      endif()
      list(REMOVE_ITEM libraries wdmsec)
    endif()
    set(archive "${dir}/libntbox_${lib}.a")
    add_custom_command(OUTPUT "${archive}"
      COMMAND ${CMAKE_COMMAND} -E make_directory "${dir}"
      COMMAND ${NTBOX_CLANG} ${flags} -c "${NTBOX_SDK_DIR}/src/${lib}.c" -o "${dir}/${lib}.obj"
      COMMAND ${CMAKE_AR} rcs "${archive}" "${dir}/${lib}.obj"
      DEPENDS "${NTBOX_SDK_DIR}/src/${lib}.c" VERBATIM)
    list(APPEND archives "${archive}")
  endforeach()
  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}")
  if(CMAKE_RUNTIME_OUTPUT_DIRECTORY)
    set(out_dir "${CMAKE_RUNTIME_OUTPUT_DIRECTORY}")
  endif()
  set(output "${out_dir}/${name}.sys")
  set(sign)
  if(NOT "UNSIGNED" IN_LIST ARGN)
    _ntbox_sign_command(${name} "${output}" sign)
  endif()
  add_custom_command(OUTPUT "${output}"
    COMMAND ${NTBOX_CLANG} --target=x86_64-w64-mingw32 -fuse-ld=lld -nostdlib -shared
            -Wl,--subsystem,native -Wl,--entry,DriverEntry -Wl,--dynamicbase -Wl,--image-base,0x140000000
            "-Wl,--pdb=${out_dir}/${name}.pdb" -o "${output}" ${objects} ${libraries} ${archives} -L${CMAKE_FIND_ROOT_PATH}/lib -lntoskrnl "${_ntbox_ext_lib}" -lhal
    ${sign}
    BYPRODUCTS "${out_dir}/${name}.pdb"
    DEPENDS ${objects} ${archives} ntbox_ntoskrnl_ext COMMENT "Building ${name}.sys with clang" VERBATIM)
  add_custom_target(${name} ALL DEPENDS "${output}")
  # A custom target has no TARGET_FILE: where its image is, for ntbox_add_driver_test.
  set_target_properties(${name} PROPERTIES NTBOX_IMAGE "${output}")
endfunction()

# ntbox_add_app(<name> SOURCES <src>... [LIBRARIES <lib>...])  -> <name>.exe, a Win32 console
# program for `ntbox run` (kernel32 and msvcrt, as mingw-w64 links by default).
function(ntbox_add_app name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "ntbox_add_app(${name}): SOURCES is required")
  endif()
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES SUFFIX ".exe")
  # ntbox's msvcrt does Microsoft's printf itself; mingw's own copy would only add imports.
  target_compile_definitions(${name} PRIVATE __USE_MINGW_ANSI_STDIO=0 _WIN32_WINNT=0x0A00)
  target_link_options(${name} PRIVATE -Wl,--subsystem,console -Wl,--dynamicbase -Wl,--nxcompat)
  target_link_libraries(${name} PRIVATE ${ARG_LIBRARIES})
endfunction()

# The path of a driver or app target's image: a gcc-built target's file, a clang-built driver's
# output (its custom target's NTBOX_IMAGE).
function(_ntbox_image_of target out_var)
  get_target_property(image ${target} NTBOX_IMAGE)
  if(NOT image)
    set(image "$<TARGET_FILE:${target}>")
  endif()
  set(${out_var} "${image}" PARENT_SCOPE)
endfunction()

# ntbox_add_driver_test(NAME <test> SOURCES <src>... [DRIVERS <target>...] [APPS <target>...])
#   A GoogleTest program on ntbox::testing (<ntbox/testing.h>): a fresh machine per test, the named
#   drivers and apps found by their target names (NTBOX_TEST_FILES). The program is built for the
#   host by a sub-build of its own (this project's compilers make Windows code); ctest runs each of
#   its TESTs as NAME.Suite.Test.
# ntbox_add_driver_test(NAME <test> DRIVER <driver target> [SERVICE <name>] [APP <app target> [ARGS <arg>...]]
#                       [EXPECT_OUTPUT <regex>...] [EXPECT_STOP <code>])
#   A test with no code of its own, on a fresh machine (a directory under the build tree, shut down
#   and removed after): without APP, `ntbox load` of the driver (DriverEntry, then DriverUnload,
#   under the verifier's standard checks; SERVICE names its service key, for drivers that act on
#   it); with APP, a machine with test signing on where the driver runs as the service SERVICE
#   (default: the driver's name) and the app runs with ARGS. It passes when everything exits
#   cleanly and the output matches each EXPECT_OUTPUT; any bugcheck fails it, with its report,
#   unless EXPECT_STOP names its code (0x0000000A), which must then happen.
function(ntbox_add_driver_test)
  cmake_parse_arguments(ARG "" "NAME;DRIVER;SERVICE;APP;EXPECT_STOP" "ARGS;EXPECT_OUTPUT;SOURCES;DRIVERS;APPS" ${ARGN})
  if(NOT ARG_NAME)
    message(FATAL_ERROR "ntbox_add_driver_test: NAME is required")
  endif()
  if(ARG_SOURCES)
    _ntbox_add_gtest(${ARG_NAME} "${ARG_SOURCES}" "${ARG_DRIVERS};${ARG_APPS}")
    return()
  endif()
  if(NOT ARG_DRIVER)
    message(FATAL_ERROR "ntbox_add_driver_test(${ARG_NAME}): DRIVER (or SOURCES, for a GoogleTest program) is required")
  endif()
  if(NOT NTBOX_EXECUTABLE)
    message(FATAL_ERROR "ntbox_add_driver_test(${ARG_NAME}): the ntbox CLI was not found (find_package(ntbox), or "
                        "-DNTBOX_EXECUTABLE=)")
  endif()
  set(app "")
  if(ARG_APP)
    set(app "$<TARGET_FILE:${ARG_APP}>")
  endif()
  _ntbox_image_of(${ARG_DRIVER} driver)
  # Lists cross the command line joined by a separator no argument or pattern uses.
  string(JOIN "@@" expect ${ARG_EXPECT_OUTPUT})
  string(JOIN "@@" args ${ARG_ARGS})
  add_test(NAME ${ARG_NAME}
    COMMAND ${CMAKE_COMMAND} -DNTBOX=${NTBOX_EXECUTABLE} -DDRIVER=${driver} -DSERVICE=${ARG_SERVICE} -DAPP=${app}
            "-DARGS=${args}" "-DEXPECT_OUTPUT=${expect}" -DEXPECT_STOP=${ARG_EXPECT_STOP}
            -DMACHINE=${CMAKE_CURRENT_BINARY_DIR}/ntbox-tests/${ARG_NAME}
            -P ${NTBOX_SDK_DIR}/cmake/NtboxDriverTest.cmake)
endfunction()

# The host sub-build of the project's GoogleTest programs: one CMake project, written as the
# configure goes (a program per ntbox_add_driver_test), built by an ExternalProject with the
# host's compilers against the same ntbox.
set(NTBOX_HOST_CXX "c++" CACHE STRING "the host C++ compiler for ntbox_add_driver_test's GoogleTest programs")
function(_ntbox_add_gtest name sources files)
  set(src_dir "${CMAKE_BINARY_DIR}/ntbox-host-tests-src")
  set(bin_dir "${CMAKE_BINARY_DIR}/ntbox-host-tests")
  get_property(started GLOBAL PROPERTY _NTBOX_HOST_TESTS)
  if(NOT started)
    set_property(GLOBAL PROPERTY _NTBOX_HOST_TESTS ON)
    get_filename_component(prefix "${NTBOX_SDK_DIR}/../../.." ABSOLUTE)
    file(WRITE "${src_dir}/CMakeLists.txt.new"
      "# Generated by ntbox_add_driver_test: the project's GoogleTest programs, built for the host.\n"
      "cmake_minimum_required(VERSION 3.25)\nproject(ntbox_host_tests CXX)\nset(CMAKE_CXX_STANDARD 20)\n"
      "find_package(ntbox REQUIRED)\nfind_package(GTest REQUIRED)\ninclude(GoogleTest)\nenable_testing()\n")
    # ctest here runs the sub-build's tests too, one per TEST (gtest_discover_tests there); before
    # the first build there are none, and a test that fails says so.
    file(WRITE "${CMAKE_BINARY_DIR}/ntbox-host-tests.cmake"
      "if(EXISTS [[${bin_dir}/CTestTestfile.cmake]])\n  include([[${bin_dir}/CTestTestfile.cmake]])\n"
      "else()\n  add_test([[ntbox_host_tests_not_built]] [[${CMAKE_COMMAND}]] -E false)\nendif()\n")
    set_property(DIRECTORY "${CMAKE_SOURCE_DIR}" APPEND PROPERTY TEST_INCLUDE_FILES
                 "${CMAKE_BINARY_DIR}/ntbox-host-tests.cmake")
    include(ExternalProject)
    string(JOIN "|" prefixes "${prefix}" ${CMAKE_PREFIX_PATH})
    ExternalProject_Add(ntbox_host_tests
      SOURCE_DIR "${src_dir}"
      BINARY_DIR "${bin_dir}"
      CMAKE_GENERATOR "${CMAKE_GENERATOR}"
      LIST_SEPARATOR |
      CMAKE_ARGS -DCMAKE_CXX_COMPILER=${NTBOX_HOST_CXX} -DCMAKE_PREFIX_PATH=${prefixes} -DCMAKE_BUILD_TYPE=Debug
      BUILD_ALWAYS ON
      INSTALL_COMMAND ""
      USES_TERMINAL_BUILD ON)
    # Written whole at the end of the configure, so an unchanged list does not rebuild the sub-build
    # (the paths go into the deferred call now: its own arguments are read when it runs).
    cmake_language(EVAL CODE "cmake_language(DEFER DIRECTORY [[${CMAKE_SOURCE_DIR}]] CALL execute_process COMMAND
      [[${CMAKE_COMMAND}]] -E copy_if_different [[${src_dir}/CMakeLists.txt.new]] [[${src_dir}/CMakeLists.txt]])")
  endif()
  set(abs "")
  foreach(s IN LISTS sources)
    get_filename_component(a "${s}" ABSOLUTE)
    list(APPEND abs "${a}")
  endforeach()
  string(JOIN " " abs_text ${abs})
  # Targets by name, for Machine::StartDriver("hello") and Run("hello_app"): their paths, known
  # once this project generates, in a file the sub-build reads when it configures.
  set(entries "")
  foreach(target IN LISTS files)
    if(target)
      _ntbox_image_of(${target} image)
      list(APPEND entries "${target}=${image}")
    endif()
  endforeach()
  string(JOIN ":" entries ${entries})
  file(GENERATE OUTPUT "${src_dir}/${name}.files" CONTENT "${entries}")
  file(APPEND "${src_dir}/CMakeLists.txt.new"
    "add_executable(${name} ${abs_text})\n"
    "target_include_directories(${name} PRIVATE \"${CMAKE_CURRENT_SOURCE_DIR}\")\n"
    "target_link_libraries(${name} PRIVATE ntbox::testing GTest::gtest_main)\n"
    "set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS \"${src_dir}/${name}.files\")\n"
    "file(READ \"${src_dir}/${name}.files\" files)\n"
    "gtest_discover_tests(${name} TEST_PREFIX ${name}. DISCOVERY_MODE PRE_TEST\n"
    "                     PROPERTIES ENVIRONMENT \"NTBOX_TEST_FILES=\${files}\")\n")
endfunction()
