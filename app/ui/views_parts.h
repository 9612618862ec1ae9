// What the view files share (app/ui/views*.cpp): bound fields, messages beside what they
// concern, colours. Internal to app/ui.
#pragma once
#include <imgui.h>
#include <string>
#include "app/ui/views.h"

namespace xs::ui::vparts {

inline const ImVec4 kRefusalColour{0.70f, 0.10f, 0.10f, 1.0f};
inline const ImVec4 kOkColour{0.10f, 0.45f, 0.20f, 1.0f};

// A text field bound to a model value: an edit comes back as an intent, applied after the frame;
// leaving it after an edit posts LeaveField (the editor saves the draft then). When the value
// changed elsewhere (a script line, another intent) while the field is being edited, ImGui's own
// copy is dropped so that the field shows the model's text. Returns whether Enter was pressed.
bool field(Controller& c, ViewMemory& memory, const char* label, Field which, const std::string& value,
           ImGuiInputTextFlags flags = 0, const char* hint = nullptr);
// The same, several lines high.
void multiline(Controller& c, ViewMemory& memory, const char* label, Field which, const std::string& value, float lines);
// The message, on the line after the widget it concerns, when it concerns that widget.
void messageAt(const Controller& c, const Message& m, Field f);
void messageAt(const Controller& c, const Message& m, Button b);
void drawMessage(const Controller& c, const Message& m);
// A button that posts Press; disabled when `enabled` is false.
void button(Controller& c, Button b, const char* label, bool enabled = true, float widthEm = 0);
// "浏览…" on the same line as a path field: opens the file dialog for it (Browse).
void browseButton(Controller& c, Field which);
// The focus goes to the next widget once when a view is first drawn.
void focusFirst(ViewMemory& memory);

}  // namespace xs::ui::vparts
