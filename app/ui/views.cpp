#include "app/ui/views.h"

#include <imgui.h>
#include <imgui_internal.h>  // ClearActiveID: a field changed by a script while focused
#include <imgui_stdlib.h>
#include <functional>
#include "app/model.h"

namespace xs::ui {

namespace {

const ImVec4 kRefusalColour{0.70f, 0.10f, 0.10f, 1.0f};

// A text field bound to a model value: an edit comes back as an intent, applied after the frame.
// When the value changed elsewhere (a script line, another intent) while the field is being
// edited, ImGui's own copy is dropped so that the field shows the model's text. Returns whether
// Enter was pressed in it.
bool field(Controller& c, ViewMemory& memory, const char* label, Field which, const std::string& value,
           ImGuiInputTextFlags flags = 0, const char* hint = nullptr) {
    std::size_t& seen = memory.fieldSeen[static_cast<std::size_t>(which)];
    if (std::hash<std::string>{}(value) != seen && ImGui::GetActiveID() == ImGui::GetID(label)) ImGui::ClearActiveID();
    std::string buffer = value;
    const bool edited = hint ? ImGui::InputTextWithHint(label, hint, &buffer, flags) : ImGui::InputText(label, &buffer, flags);
    if (edited && buffer != value) c.post(EditField{which, buffer});
    seen = std::hash<std::string>{}(buffer);
    return ImGui::IsItemDeactivated() && (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Enter)) ||
                                          ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_KeyPadEnter)));
}

void drawMenu(Controller& c, ViewMemory& memory) {
    const Strings& s = c.strings();
    if (!ImGui::BeginMenuBar()) return;
    if (ImGui::BeginMenu(s.label("menu.view"))) {
        if (ImGui::MenuItem(s.label("view.findings"), nullptr, c.view() == ViewId::Findings, c.unlocked()))
            c.post(ShowView{ViewId::Findings});
        ImGui::Separator();
        if (ImGui::MenuItem(s.label("menu.lock"), nullptr, false, c.unlocked())) c.post(Press{Button::Lock});
        ImGui::EndMenu();
    }
    if (ImGui::BeginMenu(s.label("menu.language"))) {
        if (ImGui::MenuItem(s.label("lang.zh"), nullptr, c.lang() == Lang::Zh)) c.post(SetLanguage{Lang::Zh});
        if (ImGui::MenuItem(s.label("lang.en"), nullptr, c.lang() == Lang::En)) c.post(SetLanguage{Lang::En});
        ImGui::EndMenu();
    }
    if (ImGui::BeginMenu(s.label("menu.debug"))) {
        ImGui::MenuItem(s.label("menu.metrics"), nullptr, &memory.showMetrics);
        ImGui::EndMenu();
    }
    ImGui::EndMenuBar();
}

void drawUnlock(Controller& c, ViewMemory& memory) {
    const Strings& s = c.strings();
    const UnlockState& u = c.unlockState();
    const float em = ImGui::GetFontSize();
    ImGui::Dummy(ImVec2(0, em));
    ImGui::TextUnformatted(s.text("unlock.heading"));
    ImGui::TextDisabled("%s", s.text("unlock.explain"));
    ImGui::Dummy(ImVec2(0, 0.5f * em));

    ImGui::PushItemWidth(30 * em);
    ImGui::BeginDisabled(u.busy);
    bool enter = field(c, memory, s.label("unlock.store"), Field::Store, u.store);
    if (memory.focusPending) {
        ImGui::SetKeyboardFocusHere();
        memory.focusPending = false;
    }
    enter |= field(c, memory, s.label("unlock.passphrase"), Field::Passphrase, u.passphrase, ImGuiInputTextFlags_Password);
    ImGui::PopItemWidth();
    const bool pressed = ImGui::Button(s.label("unlock.button"), ImVec2(8 * em, 0));
    ImGui::EndDisabled();
    if ((pressed || enter) && !u.busy) c.post(Press{Button::Unlock});

    // The refusal stands next to the button it answers.
    ImGui::SameLine();
    if (u.busy) {
        ImGui::TextDisabled("%s", s.text("unlock.busy"));
    } else if (!u.refusalKey.empty()) {
        ImGui::BeginGroup();
        ImGui::PushStyleColor(ImGuiCol_Text, kRefusalColour);
        ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + 36 * em);
        ImGui::TextUnformatted(s.text(u.refusalKey));
        ImGui::PopStyleColor();
        if (!u.refusalDetail.empty()) ImGui::TextDisabled("%s", u.refusalDetail.c_str());
        ImGui::PopTextWrapPos();
        ImGui::EndGroup();
    }
}

void drawFindings(Controller& c, ViewMemory& memory) {
    const Strings& s = c.strings();
    const FindingsModel& m = c.findings();
    const float em = ImGui::GetFontSize();

    ImGui::PushItemWidth(30 * em);
    if (memory.focusPending) {
        ImGui::SetKeyboardFocusHere();
        memory.focusPending = false;
    }
    field(c, memory, s.label("findings.filter"), Field::Filter, m.filter(), 0, s.text("findings.filter_hint"));
    ImGui::PopItemWidth();
    ImGui::SameLine();
    ImGui::TextDisabled("%s", s.format("findings.count", {{"shown", std::to_string(m.visible().size())},
                                                          {"total", std::to_string(m.rows().size())}})
                                  .c_str());

    const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersOuter | ImGuiTableFlags_BordersV |
                                  ImGuiTableFlags_ScrollY | ImGuiTableFlags_Resizable;
    if (!ImGui::BeginTable("###findings.table", 4, flags, ImVec2(0, -ImGui::GetFrameHeightWithSpacing()))) return;
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn(s.label("findings.col.title"), ImGuiTableColumnFlags_WidthStretch, 3.0f);
    ImGui::TableSetupColumn(s.label("findings.col.category"), ImGuiTableColumnFlags_WidthStretch, 2.0f);
    ImGui::TableSetupColumn(s.label("findings.col.severity"), ImGuiTableColumnFlags_WidthFixed, 6 * em);
    ImGui::TableSetupColumn(s.label("findings.col.status"), ImGuiTableColumnFlags_WidthFixed, 6 * em);
    ImGui::TableHeadersRow();

    ImGuiListClipper clipper;
    clipper.Begin(static_cast<int>(m.visible().size()));
    while (clipper.Step()) {
        for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
            const FindingRow& r = m.rows()[m.visible()[static_cast<std::size_t>(i)]];
            ImGui::PushID(r.id.c_str());
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(r.title.c_str());
            if (r.immediateFix) {
                ImGui::SameLine();
                ImGui::TextColored(kRefusalColour, "[%s]", s.text("findings.immediate_fix"));
            }
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(s.text(labelKey(r.category)));
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(s.text(labelKey(r.severity)));
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(s.text(labelKey(r.status)));
            ImGui::PopID();
        }
    }
    ImGui::EndTable();
    if (m.visible().empty()) ImGui::TextDisabled("%s", s.text("findings.none"));
}

void drawStatusLine(Controller& c) {
    const Strings& s = c.strings();
    const StatusModel& st = c.status();
    ImGui::Separator();
    if (!st.unlocked) {
        ImGui::TextDisabled("%s", s.text("status.locked"));
        return;
    }
    if (!st.haveServer) {
        ImGui::TextUnformatted(s.text("status.no_server"));
    } else {
        const auto& y = st.sync;
        ImGui::TextUnformatted(s.text(y.online ? "status.online" : y.rounds == 0 ? "status.connecting" : "status.offline"));
        ImGui::SameLine();
        ImGui::TextDisabled("%s", y.server.c_str());
        ImGui::SameLine();
        ImGui::TextUnformatted(s.format("status.waiting", {{"sets", std::to_string(y.waitingChangeSets)},
                                                           {"bytes", std::to_string(y.waitingBytes)}})
                                   .c_str());
        ImGui::SameLine();
        ImGui::TextUnformatted(y.lastSuccessMs ? s.format("status.last_sync", {{"time", app::formatTimestampMs(y.lastSuccessMs)}}).c_str()
                                               : s.text("status.never_synced"));
        if (y.conflicts) {
            ImGui::SameLine();
            ImGui::TextUnformatted(s.format("status.conflicts", {{"n", std::to_string(y.conflicts)}}).c_str());
        }
        if (!y.lastError.empty()) {
            ImGui::SameLine();
            ImGui::TextColored(kRefusalColour, "%s", s.format("status.last_error", {{"error", y.lastError}}).c_str());
        }
    }
    if (!st.problem.empty()) {
        ImGui::SameLine();
        ImGui::TextColored(kRefusalColour, "%s", st.problem.c_str());
    }
}

}  // namespace

void drawFrame(Controller& c, ViewMemory& memory) {
    if (memory.drawnView != c.view()) {
        memory.drawnView = c.view();
        memory.focusPending = true;
    }
    const ImGuiViewport* vp = ImGui::GetMainViewport();
    ImGui::SetNextWindowPos(vp->WorkPos);
    ImGui::SetNextWindowSize(vp->WorkSize);
    const ImGuiWindowFlags flags = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                                   ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_MenuBar |
                                   ImGuiWindowFlags_NoBringToFrontOnFocus;
    ImGui::Begin("###main", nullptr, flags);
    drawMenu(c, memory);
    ImGui::TextUnformatted(c.strings().text(c.view() == ViewId::Unlock ? "view.unlock" : "view.findings"));
    ImGui::Separator();
    const float statusHeight = ImGui::GetFrameHeightWithSpacing() + ImGui::GetStyle().ItemSpacing.y;
    ImGui::BeginChild("###view", ImVec2(0, -statusHeight), false);
    if (c.view() == ViewId::Unlock)
        drawUnlock(c, memory);
    else
        drawFindings(c, memory);
    ImGui::EndChild();
    drawStatusLine(c);
    ImGui::End();
    if (memory.showMetrics) ImGui::ShowMetricsWindow(&memory.showMetrics);
}

}  // namespace xs::ui
