// The client's views: each reads the controller's state (app/ui/model/controller.h) and posts
// intents; none calls the session, parses a file or touches the store.
//
// Thread-safety: the UI thread, inside an ImGui frame.
#pragma once
#include <array>
#include <cstddef>
#include "app/ui/model/controller.h"

namespace xs::ui {

// What only the drawing remembers between frames (never the application's data).
struct ViewMemory {
    bool showMetrics = false;   // the Debug menu's ImGui metrics / ID-conflict window
    bool focusPending = true;   // put the keyboard focus in the view's first field
    ViewId drawnView = ViewId::Unlock;
    std::array<std::size_t, 3> fieldSeen{};  // per Field: hash of the text each field last showed
};

// The whole window: menu bar, the current view, the status line.
void drawFrame(Controller& c, ViewMemory& memory);

}  // namespace xs::ui
