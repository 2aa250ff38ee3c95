# Cross-builds plain static C programs for the guests of every arch.
# Output: ${FOLIOLAB_GUEST_OUT}/<arch>/<subdir>/<name>  (the layout of the guest's root).
# The settings are global (CACHE INTERNAL): this file is included from images/, and the function
# is also called from workloads/, where plain variables of images/ would not be visible.
set(FOLIOLAB_GUEST_ARCHES x86_64 arm64 riscv64 CACHE INTERNAL "")
set(FOLIOLAB_GUEST_CC_x86_64 x86_64-linux-gnu-gcc CACHE INTERNAL "")
set(FOLIOLAB_GUEST_CC_arm64 aarch64-linux-gnu-gcc CACHE INTERNAL "")
set(FOLIOLAB_GUEST_CC_riscv64 riscv64-linux-gnu-gcc CACHE INTERNAL "")
set(FOLIOLAB_GUEST_OUT ${PROJECT_BINARY_DIR}/guest CACHE INTERNAL "")
set(guest_cflags -std=gnu11 -static -O2 -g0 -Wall -Wextra -Wno-unused-parameter -pthread)
if(FOLIOLAB_WERROR)
  list(APPEND guest_cflags -Werror)
endif()
set(FOLIOLAB_GUEST_CFLAGS ${guest_cflags} CACHE INTERNAL "")
add_custom_target(guest ALL)

# foliolab_guest_program(NAME SUBDIR SOURCES files... [INCLUDES dirs...] [DEPENDS files...]
#                        [LINKDIR dir LINKS names...])
#   Builds <SUBDIR>/<NAME> in the guest root ("." for /init) from SOURCES in one compiler run.
#   DEPENDS: further inputs (headers, #included sources). LINKS: for each name, a relative
#   symbolic link <LINKDIR>/<name> to the program (a multi-call program picks what to be from
#   argv[0]).
function(foliolab_guest_program name subdir)
  cmake_parse_arguments(ARG "" "LINKDIR" "SOURCES;INCLUDES;DEPENDS;LINKS" ${ARGN})
  set(includes)
  foreach(inc ${ARG_INCLUDES})
    list(APPEND includes -I${inc})
  endforeach()
  foreach(arch ${FOLIOLAB_GUEST_ARCHES})
    set(cc ${FOLIOLAB_GUEST_CC_${arch}})
    set(root ${FOLIOLAB_GUEST_OUT}/${arch})
    set(out ${root}/${subdir}/${name})
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${root}/${subdir}
      COMMAND ${cc} ${FOLIOLAB_GUEST_CFLAGS} ${includes} -o ${out} ${ARG_SOURCES}
      DEPENDS ${ARG_SOURCES} ${ARG_DEPENDS}
      IMPLICIT_DEPENDS C ${ARG_SOURCES}
      COMMENT "guest ${arch}: ${subdir}/${name}"
      VERBATIM)
    set(links)
    if(ARG_LINKS)
      file(RELATIVE_PATH target ${root}/${ARG_LINKDIR} ${out})
    endif()
    foreach(link ${ARG_LINKS})
      set(path ${root}/${ARG_LINKDIR}/${link})
      add_custom_command(OUTPUT ${path}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${root}/${ARG_LINKDIR}
        COMMAND ${CMAKE_COMMAND} -E rm -f ${path}
        COMMAND ${CMAKE_COMMAND} -E create_symlink ${target} ${path}
        DEPENDS ${out}
        VERBATIM)
      list(APPEND links ${path})
    endforeach()
    add_custom_target(guest_${arch}_${name} DEPENDS ${out} ${links})
    add_dependencies(guest guest_${arch}_${name})
  endforeach()
endfunction()
