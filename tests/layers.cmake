# The layering rules (DESIGN.md, ARCHITECTURE.md) as a check over the sources' #includes:
#   crypto includes neither sync nor app; sync never includes app; only app/ui's own files (its
#   views, fonts, window: the xunshen_ui library) include ImGui, GLFW or OpenGL — not app/ui/model,
#   the client's window-free half, nor any library below it;
#   front ends (app/cli, app/ui) reach the store only through the session (app/session.h): they
#   include no workspace, enrolment or handover header, no sync store, op-log, apply or database
#   header, and nothing by a relative path (which would hide what it reaches).
# Run: cmake -DSRC=<source dir> -P tests/layers.cmake (ctest runs it as `layers`).
set(problems "")

# check(GLOB_RECURSE|GLOB DIR REGEX WHY): every #include of DIR's sources matching REGEX is a problem.
function(check how dir regex why)
  set(found "${problems}")
  file(${how} files "${SRC}/${dir}/*.h" "${SRC}/${dir}/*.cpp")
  foreach(f ${files})
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include")
    foreach(line ${lines})
      if(line MATCHES "${regex}")
        file(RELATIVE_PATH rel "${SRC}" "${f}")
        string(APPEND found "\n  ${rel}: ${line}  (${why})")
      endif()
    endforeach()
  endforeach()
  set(problems "${found}" PARENT_SCOPE)
endfunction()

check(GLOB_RECURSE crypto "[\"<](sync|app)/" "crypto is the bottom layer")
check(GLOB_RECURSE sync "[\"<]app/" "sync may not reach up into app")
set(drawing "imgui|[\"<]GLFW/|[\"<]GL/|stb_image")
foreach(dir crypto sync app/cli app/ui/model bench)
  check(GLOB_RECURSE ${dir} "${drawing}" "only app/ui links ImGui, GLFW and OpenGL")
endforeach()
check(GLOB app "${drawing}" "only app/ui links ImGui, GLFW and OpenGL")
foreach(front app/cli app/ui)
  if(EXISTS "${SRC}/${front}")
    check(GLOB_RECURSE ${front}
          "[\"<](app/(workspace[^\"]*|enrolment|handover)\\.h|sync/(store|oplog|apply|db|log_store)\\.h)|[\"<]\\.\\./"
          "front ends go through app/session.h")
  endif()
endforeach()

if(problems)
  message(FATAL_ERROR "layering broken:${problems}")
endif()
message(STATUS "layers: ok")
