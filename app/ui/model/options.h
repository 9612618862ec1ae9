// The client's command line:
//   xunshen [--store DIR] [--lang zh|en] [--size WxH]
//           [--script FILE --screenshot-dir DIR]   (scripted mode: app/ui/model/script.h)
//           [--state-file FILE] [--timings FILE]   (for tests and bench/ui_bench.cpp)
#pragma once
#include <filesystem>
#include <string>
#include <vector>
#include "app/error.h"
#include "app/ui/model/strings.h"

namespace xs::ui {

struct Options {
    std::filesystem::path store;  // prefilled in the unlock view; empty: $XUNSHEN_STORE
    std::filesystem::path script, screenshotDir;
    // state() as JSON, rewritten (whole, by rename) after each frame, with the frames drawn so
    // far, the window's "focused" and "item_active" (ImGui::IsAnyItemActive: a field edited).
    std::filesystem::path stateFile;
    // One JSON line per drawn frame and per milestone (first frame, unlock done, first findings
    // frame), stamped with steady_clock nanoseconds (CLOCK_MONOTONIC, comparable across processes).
    std::filesystem::path timingsFile;
    Lang lang = Lang::Zh;
    int width = 1280, height = 800;  // the window, in screen coordinates before DPI scaling
    bool sizeGiven = false;           // --size: exactly this framebuffer size, no DPI scaling of it
    bool help = false;
};

const char* usage();
// Usage with the reason on anything it does not know.
app::AResult<Options> parseOptions(const std::vector<std::string>& args);

}  // namespace xs::ui
