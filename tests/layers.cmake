# The layering rules (DESIGN.md, ARCHITECTURE.md) as a check over the sources' #includes:
#   crypto includes neither sync nor app; sync never includes app; only app/ui includes ImGui;
#   front ends (app/cli, app/ui) reach the store only through the session (app/session.h): they
#   include no workspace, enrolment or handover header and no sync store, op-log or apply header.
# Run: cmake -DSRC=<source dir> -P tests/layers.cmake (ctest runs it as `layers`).
set(problems "")
function(check_dir dir regex why)
  file(GLOB_RECURSE files "${SRC}/${dir}/*.h" "${SRC}/${dir}/*.cpp")
  foreach(f ${files})
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include")
    foreach(line ${lines})
      if(line MATCHES "${regex}")
        file(RELATIVE_PATH rel "${SRC}" "${f}")
        set(problems "${problems}\n  ${rel}: ${line}  (${why})" PARENT_SCOPE)
      endif()
    endforeach()
  endforeach()
endfunction()

check_dir(crypto "[\"<](sync|app)/" "crypto is the bottom layer")
check_dir(sync "[\"<]app/" "sync may not reach up into app")
foreach(layer crypto sync app/cli)
  check_dir(${layer} "imgui" "only app/ui links ImGui")
endforeach()
foreach(front app/cli app/ui)
  if(EXISTS "${SRC}/${front}")
    check_dir(${front} "[\"<](app/(workspace|enrolment|handover)\\.h|sync/(store|oplog|apply|db|log_store)\\.h)"
              "front ends go through app/session.h")
  endif()
endforeach()

if(problems)
  message(FATAL_ERROR "layering broken:${problems}")
endif()
message(STATUS "layers: ok")
