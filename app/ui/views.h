// The views: each draws from the controller's models (app/ui/model/controller.h) and posts
// intents; none calls the session. Sizes are multiples of the font size.
#pragma once
#include <array>
#include <cstddef>
#include "app/ui/model/controller.h"

namespace xs::ui {

class Textures;

// What the views remember between frames that is theirs alone (not the person's data).
struct ViewMemory {
    bool showMetrics = false;   // the Debug menu's ImGui metrics / ID-conflict window
    bool focusPending = true;   // put the keyboard focus in the view's first field
    bool focusFilter = false;   // Ctrl+F
    bool dark = false;          // the theme
    bool darkApplied = false;
    ViewId drawnView = ViewId::Unlock;
    std::array<std::size_t, kFieldCount> fieldSeen{};  // per Field: hash of the text each field last showed
    Textures* textures = nullptr;  // thumbnails' textures (the window's)
};

void drawFrame(Controller& c, ViewMemory& memory);
// The calm light theme fit for an office, and a dark one; sizes scaled for the monitor.
void applyTheme(bool dark);

}  // namespace xs::ui
