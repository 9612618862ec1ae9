// The desktop client's window and loop: GLFW + OpenGL 3.3 core + Dear ImGui 1.86. It owns the
// window, the ImGui context and the font atlas, and per frame: poll the controller, draw the
// views, render, apply the intents, advance the script (when one runs). Idle, it blocks in
// glfwWaitEvents (with a one-second timeout only while a sync server's status is shown); the sync
// worker and the unlock task wake it with glfwPostEmptyEvent.
#pragma once
#include "app/ui/model/options.h"

namespace xs::ui {

// Runs the client until its window is closed or its script ends; returns the exit code
// (0; 1 a script action failed; 2 usage or a bad script; 3 no display or no OpenGL 3.3).
int runClient(const Options& options);

}  // namespace xs::ui
