// The client with no window, for bench/ui_bench.cpp: a real ImGui context with the client's font
// set-up and no GL backend (bench/ must not include ImGui: tests/layers.cmake). Each frame is
// what app/ui/window.cpp does minus GL: poll → fonts → NewFrame → drawFrame → Render →
// applyIntents, with the input given to ImGui as the GLFW backend would.
//
// Thread-safety: one thread; one HeadlessClient at a time (it owns the ImGui context).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include "app/ui/model/controller.h"

namespace xs::ui {

struct HeadlessInput {
    std::string characters;  // UTF-8, into ImGui's input queue
    bool backspaceDown = false;
    float wheel = 0;  // notches, negative: down
};

// Milliseconds per part of one frame.
struct FrameParts {
    double poll = 0, fonts = 0, newFrame = 0, draw = 0, render = 0, apply = 0;
    double total() const { return poll + fonts + newFrame + draw + render + apply; }
};

class HeadlessClient {
public:
    // The mouse rests at the middle of the `width`x`height` display.
    HeadlessClient(Strings& strings, const std::filesystem::path& store, int width, int height);
    ~HeadlessClient();
    HeadlessClient(const HeadlessClient&) = delete;
    HeadlessClient& operator=(const HeadlessClient&) = delete;
    Controller& controller() { return m_c; }
    // One frame; an intent refused or the font unreadable: the message in `problem`.
    FrameParts frame(const HeadlessInput& input, std::string& problem);
    int atlasWidth() const;
    int atlasHeight() const;
    int atlasGlyphs() const;
    float hoveredScrollY() const;  // the scroll of the window under the mouse (the table's)

private:
    struct Imgui;
    std::unique_ptr<Imgui> m_imgui;  // made before m_c and destroyed after it
    Controller m_c;
};

}  // namespace xs::ui
