# Makes the man pages from the CLI's own help (help2man): ntbox(1) from `ntbox --help`, and
# ntbox-COMMAND(1) from `ntbox COMMAND --help` for every command `ntbox --help` lists.
#   cmake -DNTBOX=<ntbox> -DHELP2MAN=<help2man> -DVERSION=<v> -DSOURCE=<this folder> -DOUT=<man1 folder>
#         -P Man.cmake
cmake_minimum_required(VERSION 3.25)
file(MAKE_DIRECTORY "${OUT}")
set(wrappers "${OUT}/../wrappers")
file(MAKE_DIRECTORY "${wrappers}")

function(page program description include)
  execute_process(
    COMMAND ${HELP2MAN} --no-info --no-discard-stderr --version-string=${VERSION} --section=1
            --manual=ntbox --source=ntbox "--name=${description}" --include=${include}
            --output=${OUT}/${program}.1 ${wrappers}/${program}
    RESULT_VARIABLE result ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "help2man ${program}: ${err}")
  endif()
endfunction()

# help2man names a page after the program it runs: a wrapper per page, ntbox-sc running `ntbox sc`.
# The Windows-syntax commands' help (a usage block, not CLI11's sections) is laid out by lines,
# which help2man would flow into one paragraph: each line becomes a paragraph of its own.
function(wrapper program command)
  set(filter "")
  if(command)
    execute_process(COMMAND ${NTBOX} ${command} --help OUTPUT_VARIABLE help)
    if(help MATCHES "^usage: ")
      set(filter " | sed G")
    endif()
  endif()
  file(WRITE "${wrappers}/${program}" "#!/bin/sh\n\"${NTBOX}\" ${command} \"$@\"${filter}\n")
  file(CHMOD "${wrappers}/${program}" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)
endfunction()

wrapper(ntbox "")
page(ntbox "run Windows x64 kernel-mode drivers natively on Linux" "${SOURCE}/ntbox.h2m")

execute_process(COMMAND ${NTBOX} --help OUTPUT_VARIABLE help RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "ntbox --help failed")
endif()
string(REGEX REPLACE ".*\nSubcommands:\n" "" commands "${help}")
string(REPLACE "\n" ";" lines "${commands}")
foreach(line IN LISTS lines)
  if(line MATCHES "^  ([a-z]+) +(.+)$")
    set(name "${CMAKE_MATCH_1}")
    set(description "${CMAKE_MATCH_2}")
    wrapper(ntbox-${name} ${name})
    page(ntbox-${name} "${description}" "${SOURCE}/command.h2m")
  endif()
endforeach()
