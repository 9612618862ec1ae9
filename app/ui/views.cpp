#include "app/ui/views.h"

#include <imgui.h>
#include <imgui_internal.h>  // ClearActiveID: a field changed by a script while focused
#include <imgui_stdlib.h>
#include <algorithm>
#include <cstdio>
#include <functional>
#include "app/model.h"
#include "app/ui/textures.h"
#include "app/ui/views_parts.h"

namespace xs::ui {

// Views of the other roles (views_work.cpp).
void drawReview(Controller& c, ViewMemory& memory);
void drawInbox(Controller& c, ViewMemory& memory);
void drawHandover(Controller& c, ViewMemory& memory);
void drawSettings(Controller& c, ViewMemory& memory);

namespace vparts {

namespace {
bool consumeChange(ViewMemory& memory, const char* label, Field which, const std::string& value) {
    std::size_t& seen = memory.fieldSeen[static_cast<std::size_t>(which)];
    if (std::hash<std::string>{}(value) != seen && ImGui::GetActiveID() == ImGui::GetID(label)) ImGui::ClearActiveID();
    return true;
}
}  // namespace

bool field(Controller& c, ViewMemory& memory, const char* label, Field which, const std::string& value,
           ImGuiInputTextFlags flags, const char* hint) {
    consumeChange(memory, label, which, value);
    std::string buffer = value;
    const bool edited = hint ? ImGui::InputTextWithHint(label, hint, &buffer, flags) : ImGui::InputText(label, &buffer, flags);
    if (edited && buffer != value) c.post(EditField{which, buffer});
    if (ImGui::IsItemDeactivatedAfterEdit()) c.post(LeaveField{which});
    memory.fieldSeen[static_cast<std::size_t>(which)] = std::hash<std::string>{}(buffer);
    return ImGui::IsItemDeactivated() && (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Enter)) ||
                                          ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_KeyPadEnter)));
}

void multiline(Controller& c, ViewMemory& memory, const char* label, Field which, const std::string& value, float lines) {
    consumeChange(memory, label, which, value);
    std::string buffer = value;
    const float em = ImGui::GetFontSize();
    if (ImGui::InputTextMultiline(label, &buffer, ImVec2(ImGui::CalcItemWidth(), lines * em * 1.4f)) && buffer != value)
        c.post(EditField{which, buffer});
    if (ImGui::IsItemDeactivatedAfterEdit()) c.post(LeaveField{which});
    memory.fieldSeen[static_cast<std::size_t>(which)] = std::hash<std::string>{}(buffer);
}

void drawMessage(const Controller& c, const Message& m) {
    if (m.key.empty()) return;
    const float em = ImGui::GetFontSize();
    ImGui::PushStyleColor(ImGuiCol_Text, m.error ? kRefusalColour : kOkColour);
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + 40 * em);
    ImGui::TextUnformatted(c.strings().text(m.key));
    ImGui::PopStyleColor();
    if (!m.detail.empty()) ImGui::TextDisabled("%s", m.detail.c_str());
    ImGui::PopTextWrapPos();
}

void messageAt(const Controller& c, const Message& m, Field f) {
    if (m.at(f)) drawMessage(c, m);
}
void messageAt(const Controller& c, const Message& m, Button b) {
    if (m.at(b)) drawMessage(c, m);
}

void button(Controller& c, Button b, const char* label, bool enabled, float widthEm) {
    ImGui::BeginDisabled(!enabled);
    if (ImGui::Button(label, ImVec2(widthEm * ImGui::GetFontSize(), 0))) c.post(Press{b});
    ImGui::EndDisabled();
}

void browseButton(Controller& c, Field which) {
    ImGui::SameLine();
    ImGui::PushID(static_cast<int>(which));
    if (ImGui::Button(c.strings().label("picker.browse"))) c.post(Browse{which});
    ImGui::PopID();
}

void focusFirst(ViewMemory& memory) {
    if (!memory.focusPending) return;
    ImGui::SetKeyboardFocusHere();
    memory.focusPending = false;
}

}  // namespace vparts

namespace {

using namespace vparts;

std::string withBadge(const Strings& s, const char* key, int n) {
    if (n <= 0) return s.label(key);
    return std::string(s.text(key)) + " (" + std::to_string(n) + ")###" + key;
}

std::string viewKey(ViewId v) { return std::string("view.") + viewName(v); }

void drawMenu(Controller& c, ViewMemory& memory) {
    const Strings& s = c.strings();
    if (!ImGui::BeginMenuBar()) return;
    if (ImGui::BeginMenu(s.label("menu.view"))) {
        for (ViewId v : c.views()) {
            const std::string key = viewKey(v);
            const std::string label = v == ViewId::Inbox ? withBadge(s, key.c_str(), c.inbox().unseen()) : s.label(key);
            if (ImGui::MenuItem(label.c_str(), nullptr, c.view() == v)) c.post(ShowView{v});
        }
        ImGui::Separator();
        if (ImGui::MenuItem(s.label("menu.lock"), nullptr, false, c.unlocked())) c.post(Press{Button::Lock});
        ImGui::EndMenu();
    }
    if (ImGui::BeginMenu(s.label("menu.language"))) {
        if (ImGui::MenuItem(s.label("lang.zh"), nullptr, c.lang() == Lang::Zh)) c.post(SetLanguage{Lang::Zh});
        if (ImGui::MenuItem(s.label("lang.en"), nullptr, c.lang() == Lang::En)) c.post(SetLanguage{Lang::En});
        ImGui::EndMenu();
    }
    if (ImGui::BeginMenu(s.label("menu.theme"))) {
        if (ImGui::MenuItem(s.label("theme.light"), nullptr, !memory.dark)) memory.dark = false;
        if (ImGui::MenuItem(s.label("theme.dark"), nullptr, memory.dark)) memory.dark = true;
        ImGui::EndMenu();
    }
    if (ImGui::BeginMenu(s.label("menu.debug"))) {
        ImGui::MenuItem(s.label("menu.metrics"), nullptr, &memory.showMetrics);
        ImGui::EndMenu();
    }
    ImGui::EndMenuBar();
}

// The views of this person as a row of buttons under the menu: what there is, at a glance.
void drawNavigation(Controller& c) {
    const Strings& s = c.strings();
    if (!c.unlocked()) {
        ImGui::TextUnformatted(s.text("view.unlock"));
        return;
    }
    for (ViewId v : c.views()) {
        const std::string key = viewKey(v);
        const std::string label = v == ViewId::Inbox ? withBadge(s, key.c_str(), c.inbox().unseen()) : s.label(key);
        const bool current = c.view() == v || (v == ViewId::Findings && c.view() == ViewId::Editor);
        if (current) ImGui::PushStyleColor(ImGuiCol_Button, ImGui::GetStyleColorVec4(ImGuiCol_ButtonActive));
        if (ImGui::Button(label.c_str())) c.post(ShowView{v});
        if (current) ImGui::PopStyleColor();
        ImGui::SameLine();
    }
    ImGui::TextDisabled("%s", s.format("nav.signed_in", {{"name", c.self().name}, {"role", s.text("role." + app::toString(c.self().role))}}).c_str());
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
    browseButton(c, Field::Store);
    focusFirst(memory);
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

void drawAgreement(Controller& c, ViewMemory&) {
    const Strings& s = c.strings();
    const AgreementModel& a = c.agreement();
    const float em = ImGui::GetFontSize();
    if (!a.have) {
        drawMessage(c, a.message);
        return;
    }
    ImGui::TextUnformatted(s.format("agreement.heading", {{"title", a.text.inspectionTitle}}).c_str());
    ImGui::TextDisabled("%s", s.format("agreement.version", {{"version", a.text.version}, {"sha", a.text.sha256.substr(0, 16)}}).c_str());
    ImGui::BeginChild("###agreement.text", ImVec2(0, -6 * em), true);
    ImGui::PushTextWrapPos(0);
    ImGui::TextUnformatted(a.text.textZh.c_str());
    if (c.lang() == Lang::En && !a.text.textEn.empty()) {
        ImGui::Separator();
        ImGui::TextDisabled("%s", s.text("agreement.translation"));
        ImGui::TextUnformatted(a.text.textEn.c_str());
    }
    ImGui::PopTextWrapPos();
    ImGui::EndChild();
    if (a.text.signedByMe) {
        ImGui::TextColored(kOkColour, "%s", s.format("agreement.signed_at", {{"time", app::formatTimestampMs(a.text.signedAtMs)}}).c_str());
        if (ImGui::Button(s.label("agreement.continue"))) c.post(ShowView{ViewId::Today});
    } else {
        ImGui::TextUnformatted(s.text("agreement.explain"));
        button(c, Button::SignAgreement, s.label("agreement.sign"));
    }
    messageAt(c, a.message, Button::SignAgreement);
}

// First run: the directory holds no store yet; make one here.
void drawFirstRun(Controller& c, ViewMemory& memory) {
    const Strings& s = c.strings();
    const UnlockState& u = c.unlockState();
    const float em = ImGui::GetFontSize();
    ImGui::Dummy(ImVec2(0, em));
    ImGui::TextUnformatted(s.text("first_run.heading"));
    ImGui::TextDisabled("%s", s.text("first_run.explain"));
    ImGui::PushItemWidth(30 * em);
    ImGui::BeginDisabled(u.busy);
    field(c, memory, s.label("unlock.store"), Field::Store, u.store);
    browseButton(c, Field::Store);
    focusFirst(memory);
    field(c, memory, s.label("first_run.name"), Field::Name, u.name);
    const auto role = app::parseEnum<app::Role>(u.role);
    if (ImGui::BeginCombo(s.label("first_run.role"), role ? s.text("role." + u.role) : u.role.c_str())) {
        for (app::Role r : {app::Role::WorkingGroupMember, app::Role::WorkingGroupLead, app::Role::ThirdPartyAuditor,
                            app::Role::UnitHead, app::Role::AuditOffice, app::Role::DisciplineCommission})
            if (ImGui::Selectable(s.text("role." + app::toString(r)), role == r)) c.post(EditField{Field::Role, app::toString(r)});
        ImGui::EndCombo();
    }
    field(c, memory, s.label("unlock.passphrase"), Field::Passphrase, u.passphrase, ImGuiInputTextFlags_Password);
    ImGui::SameLine();
    ImGui::TextUnformatted(s.text(("strength." + std::to_string(u.strength)).c_str()));
    field(c, memory, s.label("first_run.passphrase_again"), Field::PassphraseAgain, u.passphraseAgain, ImGuiInputTextFlags_Password);
    ImGui::PopItemWidth();
    button(c, Button::Create, s.label("first_run.create"), !u.busy, 8);
    ImGui::EndDisabled();
    ImGui::SameLine();
    if (u.busy) {
        ImGui::TextDisabled("%s", s.text("first_run.busy"));
    } else if (!u.refusalKey.empty()) {
        ImGui::BeginGroup();
        ImGui::TextColored(kRefusalColour, "%s", s.text(u.refusalKey));
        if (!u.refusalDetail.empty()) ImGui::TextDisabled("%s", u.refusalDetail.c_str());
        ImGui::EndGroup();
    }
}

void drawEnrol(Controller& c, ViewMemory& memory) {
    const Strings& s = c.strings();
    const EnrolModel& e = c.enrol();
    const float em = ImGui::GetFontSize();
    ImGui::TextUnformatted(s.text("enrol.heading"));
    ImGui::TextDisabled("%s", s.text("enrol.explain"));
    ImGui::TextUnformatted(s.format("enrol.fingerprint", {{"fp", e.identity.fingerprint}}).c_str());
    ImGui::BeginDisabled(e.joining);
    ImGui::PushItemWidth(30 * em);
    ImGui::Separator();
    ImGui::TextUnformatted(s.text("enrol.by_code"));
    focusFirst(memory);
    field(c, memory, s.label("enrol.url"), Field::ServerUrl, e.url, 0, "https://sync.bureau.lan:8443");
    field(c, memory, s.label("enrol.pin"), Field::ServerPin, e.pin);
    field(c, memory, s.label("enrol.code"), Field::Code, e.code);
    messageAt(c, e.message, Field::Code);
    button(c, Button::Join, s.label("enrol.join"));
    if (e.joining) {
        ImGui::SameLine();
        ImGui::TextDisabled("%s", s.text("enrol.joining"));
    }
    messageAt(c, e.message, Button::Join);
    ImGui::Separator();
    ImGui::TextUnformatted(s.text("enrol.by_file"));
    field(c, memory, s.label("enrol.identity_path"), Field::IdentityPath, e.identityPath, 0, "/media/usb/me.device.json");
    browseButton(c, Field::IdentityPath);
    messageAt(c, e.message, Field::IdentityPath);
    button(c, Button::ExportIdentity, s.label("enrol.export_identity"));
    messageAt(c, e.message, Button::ExportIdentity);
    field(c, memory, s.label("enrol.file"), Field::EnrolmentFile, e.enrolmentFile, 0, "/media/usb/enrolment.json");
    browseButton(c, Field::EnrolmentFile);
    messageAt(c, e.message, Field::EnrolmentFile);
    button(c, Button::AcceptEnrolment, s.label("enrol.accept"));
    messageAt(c, e.message, Button::AcceptEnrolment);
    ImGui::PopItemWidth();
    ImGui::EndDisabled();
}

void drawToday(Controller& c, ViewMemory&) {
    const Strings& s = c.strings();
    const TodayModel& t = c.today();
    const float em = ImGui::GetFontSize();
    if (!t.have) {
        ImGui::TextUnformatted(s.text("today.none"));
        return;
    }
    ImGui::TextUnformatted(t.inspection.title.c_str());
    if (t.inspection.agreementRequired && !t.inspection.agreementSigned) {
        // Article 7(4): nothing of the inspection is shown before the agreement is signed.
        ImGui::TextColored(kRefusalColour, "%s", s.text("today.agreement_needed"));
        if (ImGui::Button(s.label("today.read_agreement"))) c.post(ShowView{ViewId::Agreement});
        return;
    }
    ImGui::TextUnformatted(s.format("today.window", {{"start", t.inspection.onsiteStart}, {"end", t.inspection.windowEnd}}).c_str());
    if (t.day == 0)
        ImGui::TextUnformatted(s.text("today.not_started"));
    else if (t.day > t.days)
        ImGui::TextUnformatted(s.format("today.over", {{"days", std::to_string(t.days)}}).c_str());
    else
        ImGui::TextUnformatted(s.format("today.day", {{"n", std::to_string(t.day)}, {"days", std::to_string(t.days)}}).c_str());
    if (t.approvedExtensions || t.pendingExtensions)
        ImGui::TextDisabled("%s", s.format("today.extensions", {{"approved", std::to_string(t.approvedExtensions)},
                                                                {"pending", std::to_string(t.pendingExtensions)}})
                                      .c_str());
    ImGui::Dummy(ImVec2(0, 0.5f * em));
    if (t.immediateAwaitingReview > 0)
        ImGui::TextColored(kRefusalColour, "%s",
                           s.format("today.immediate_waiting", {{"n", std::to_string(t.immediateAwaitingReview)}}).c_str());

    const ImGuiTableFlags flags = ImGuiTableFlags_BordersOuter | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit;
    ImGui::BeginGroup();
    ImGui::TextUnformatted(s.format("today.by_status", {{"n", std::to_string(t.total)}}).c_str());
    if (ImGui::BeginTable("###today.status", 2, flags, ImVec2(14 * em, 0))) {
        for (const auto& [status, n] : t.byStatus) {
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(s.text(labelKey(status)));
            ImGui::TableNextColumn();
            ImGui::Text("%d", n);
        }
        ImGui::EndTable();
    }
    ImGui::EndGroup();
    ImGui::SameLine(0, 2 * em);
    ImGui::BeginGroup();
    ImGui::TextUnformatted(s.text("today.by_category"));
    if (ImGui::BeginTable("###today.category", 2, flags, ImVec2(18 * em, 0))) {
        for (const auto& [category, n] : t.byCategory) {
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(s.text(labelKey(category)));
            ImGui::TableNextColumn();
            ImGui::Text("%d", n);
        }
        ImGui::EndTable();
    }
    ImGui::EndGroup();
    ImGui::Dummy(ImVec2(0, 0.5f * em));
    button(c, Button::NewFinding, s.label("findings.new"));
    ImGui::SameLine();
    ImGui::TextDisabled("Ctrl+N");
}

template <typename E>
void enumFilter(const Strings& s, const char* id, const char* anyKey, std::optional<E> now, const std::vector<E>& all,
                float width, const std::function<void(std::optional<E>)>& set) {
    ImGui::SetNextItemWidth(width);
    // Nothing chosen: the preview says which filter it is ("状态：全部").
    const char* preview = now ? s.text(labelKey(*now)) : s.text(anyKey);
    if (ImGui::BeginCombo(id, preview)) {
        if (ImGui::Selectable(s.text("findings.any"), !now)) set(std::nullopt);
        for (E e : all)
            if (ImGui::Selectable(s.text(labelKey(e)), now == e)) set(e);
        ImGui::EndCombo();
    }
}

void drawFindings(Controller& c, ViewMemory& memory) {
    const Strings& s = c.strings();
    FindingsModel& choices = c.findingsChoices();
    const FindingsModel& m = c.findings();
    const float em = ImGui::GetFontSize();
    using FS = app::FindingStatus;
    using FC = app::FindingCategory;
    using SV = app::Severity;

    ImGui::PushItemWidth(20 * em);
    if (memory.focusFilter) {
        ImGui::SetKeyboardFocusHere();
        memory.focusFilter = false;
        memory.focusPending = false;
    }
    focusFirst(memory);
    field(c, memory, s.label("findings.filter"), Field::Filter, m.filter(), 0, s.text("findings.filter_hint"));
    ImGui::PopItemWidth();
    ImGui::SameLine();
    enumFilter<FS>(s, "###findings.status", "findings.any_status", m.status(),
                   {FS::Draft, FS::Submitted, FS::Confirmed, FS::Returned, FS::FedBack, FS::Rectifying, FS::Rectified, FS::Closed},
                   8 * em, [&](std::optional<FS> v) { choices.setStatus(v); });
    ImGui::SameLine();
    enumFilter<FC>(s, "###findings.category", "findings.any_category", m.category(),
                   {FC::MainResponsibility, FC::EightPointRules, FC::FinancialDiscipline, FC::Other}, 10 * em,
                   [&](std::optional<FC> v) { choices.setCategory(v); });
    ImGui::SameLine();
    enumFilter<SV>(s, "###findings.severity", "findings.any_severity", m.severity(), {SV::Low, SV::Medium, SV::High}, 9 * em,
                   [&](std::optional<SV> v) { choices.setSeverity(v); });
    ImGui::SameLine();
    enumFilter<app::FindingTag>(s, "###findings.tag", "findings.any_tag", m.tag(),
                                {app::FindingTag::Common, app::FindingTag::Trending, app::FindingTag::Emerging}, 8 * em,
                                [&](std::optional<app::FindingTag> v) { choices.setTag(v); });
    ImGui::SameLine();
    ImGui::TextDisabled("%s", s.format("findings.count", {{"shown", std::to_string(m.visible().size())},
                                                          {"total", std::to_string(m.rows().size())}})
                                  .c_str());
    if (std::find(c.views().begin(), c.views().end(), ViewId::Today) != c.views().end()) {
        ImGui::SameLine();
        button(c, Button::NewFinding, s.label("findings.new"));
    }

    const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersOuter | ImGuiTableFlags_BordersV |
                                  ImGuiTableFlags_ScrollY | ImGuiTableFlags_Resizable | ImGuiTableFlags_Sortable |
                                  ImGuiTableFlags_SortTristate;  // unsorted (the store's order) until a header is clicked
    if (!ImGui::BeginTable("###findings.table", 4, flags, ImVec2(0, -ImGui::GetFrameHeightWithSpacing()))) return;
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn(s.label("findings.col.title"), ImGuiTableColumnFlags_WidthStretch, 3.0f,
                            static_cast<ImGuiID>(SortKey::Title));
    ImGui::TableSetupColumn(s.label("findings.col.category"), ImGuiTableColumnFlags_WidthStretch, 2.0f,
                            static_cast<ImGuiID>(SortKey::Category));
    ImGui::TableSetupColumn(s.label("findings.col.severity"), ImGuiTableColumnFlags_WidthFixed, 6 * em,
                            static_cast<ImGuiID>(SortKey::Severity));
    ImGui::TableSetupColumn(s.label("findings.col.status"), ImGuiTableColumnFlags_WidthFixed, 6 * em,
                            static_cast<ImGuiID>(SortKey::Status));
    ImGui::TableHeadersRow();
    if (ImGuiTableSortSpecs* sort = ImGui::TableGetSortSpecs(); sort && sort->SpecsDirty) {
        if (sort->SpecsCount > 0)
            choices.setSort(static_cast<SortKey>(sort->Specs[0].ColumnUserID),
                            sort->Specs[0].SortDirection == ImGuiSortDirection_Descending);
        else
            choices.setSort(SortKey::Created, false);
        sort->SpecsDirty = false;
    }

    ImGuiListClipper clipper;
    clipper.Begin(static_cast<int>(m.visible().size()));
    while (clipper.Step()) {
        for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
            const FindingRow& r = m.rows()[m.visible()[static_cast<std::size_t>(i)]];
            ImGui::PushID(r.id.c_str());
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            if (ImGui::Selectable(r.title.c_str(), false, ImGuiSelectableFlags_SpanAllColumns | ImGuiSelectableFlags_AllowItemOverlap))
                c.post(Select{ListId::Finding, r.id});
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

// A choice among an enum's spellings, posted as the field's text (and left at once).
template <typename E>
void enumField(Controller& c, const char* label, Field which, const std::string& now, const std::vector<E>& all) {
    const Strings& s = c.strings();
    auto current = app::parseEnum<E>(now);
    if (ImGui::BeginCombo(label, current ? s.text(labelKey(*current)) : now.c_str())) {
        for (E e : all)
            if (ImGui::Selectable(s.text(labelKey(e)), current == e)) {
                c.post(EditField{which, app::toString(e)});
                c.post(LeaveField{which});
            }
        ImGui::EndCombo();
    }
}

std::string sizeText(const Strings& s, std::uint64_t bytes) {
    if (bytes >= (1u << 20)) {
        char n[32];
        std::snprintf(n, sizeof n, "%.1f", static_cast<double>(bytes) / (1u << 20));
        return s.format("size.mib", {{"n", n}});
    }
    if (bytes >= 1024) return s.format("size.kib", {{"n", std::to_string(bytes >> 10)}});
    return s.format("size.bytes", {{"n", std::to_string(bytes)}});
}

void drawThumbnail(Controller& c, ViewMemory& memory, const std::string& key) {
    const float em = ImGui::GetFontSize();
    const Thumbnail* t = c.thumbnails().get(key);
    if (!t || !memory.textures) {
        ImGui::Dummy(ImVec2(4 * em, 4 * em));
        return;
    }
    void* tex = memory.textures->of(*t);
    if (!tex) {
        ImGui::Dummy(ImVec2(4 * em, 4 * em));
        return;
    }
    const float side = 6 * em;
    const float scale = side / static_cast<float>(std::max(t->width, t->height));
    ImGui::Image(tex, ImVec2(t->width * scale, t->height * scale));
}

void drawEvidence(Controller& c, ViewMemory& memory) {
    const Strings& s = c.strings();
    const EditorModel& ed = c.editor();
    const float em = ImGui::GetFontSize();
    ImGui::TextUnformatted(s.text("editor.evidence"));
    ImGui::TextDisabled("%s", s.text("editor.drop_hint"));
    ImGui::SetNextItemWidth(30 * em);
    if (field(c, memory, s.label("editor.evidence_path"), Field::EvidencePath, ed.evidencePath)) c.post(Press{Button::Attach});
    ImGui::SameLine();
    button(c, Button::Attach, s.label("editor.attach"), ed.open);
    browseButton(c, Field::EvidencePath);
    messageAt(c, ed.message, Field::EvidencePath);
    messageAt(c, ed.message, Button::Attach);
    auto tile = [&](const std::string& thumbKey, const std::string& name, std::uint64_t size, const char* stateKey) {
        ImGui::BeginGroup();
        if (Thumbnails::isImage(name)) drawThumbnail(c, memory, thumbKey);
        ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + 8 * em);
        ImGui::TextUnformatted(name.c_str());
        ImGui::TextDisabled("%s · %s", sizeText(s, size).c_str(), s.text(stateKey));
        ImGui::PopTextWrapPos();
        ImGui::EndGroup();
        ImGui::SameLine(0, em);
        if (ImGui::GetCursorPosX() > ImGui::GetContentRegionAvail().x - 8 * em) ImGui::NewLine();
    };
    for (const auto& a : ed.attachments)
        tile(a.hash, a.name, static_cast<std::uint64_t>(a.size), ("evidence_state." + a.state).c_str());
    for (const auto& p : ed.pending) tile(p.path, p.name, p.size, "evidence_state.unsaved");
    for (const auto& p : ed.attaching) tile(p.path, p.name, p.size, "evidence_state.storing");
    if (!ed.attachments.empty() || !ed.pending.empty() || !ed.attaching.empty()) ImGui::NewLine();
}

void drawConflicts(Controller& c, ViewMemory& memory) {
    const Strings& s = c.strings();
    const EditorModel& ed = c.editor();
    const float em = ImGui::GetFontSize();
    if (ed.conflicts.empty()) return;
    ImGui::TextColored(kRefusalColour, "%s", s.format("editor.conflicts", {{"n", std::to_string(ed.conflicts.size())}}).c_str());
    for (const auto& x : ed.conflicts) {
        ImGui::PushID(x.field.c_str());
        ImGui::TextUnformatted(s.format("editor.conflict_on", {{"field", x.field}}).c_str());
        if (ImGui::BeginTable("###conflict", static_cast<int>(std::min<std::size_t>(x.versions.size(), 4)), ImGuiTableFlags_Borders)) {
            ImGui::TableNextRow();
            for (std::size_t i = 0; i < x.versions.size() && i < 4; ++i) {
                ImGui::TableNextColumn();
                ImGui::PushID(static_cast<int>(i));
                ImGui::PushTextWrapPos(0);
                ImGui::TextUnformatted(x.versions[i].valueJson.c_str());
                ImGui::PopTextWrapPos();
                ImGui::TextDisabled("%s · %s", x.versions[i].time.c_str(), x.versions[i].device.substr(0, 8).c_str());
                if (ImGui::Button(s.label("editor.take_this"))) c.post(Resolve{x.field, i});
                ImGui::PopID();
            }
            ImGui::EndTable();
        }
        ImGui::PopID();
    }
    ImGui::SetNextItemWidth(40 * em);
    multiline(c, memory, s.label("editor.merge"), Field::Merge, ed.merge, 3);
    button(c, Button::UseMerge, s.label("editor.use_merge"));
    messageAt(c, ed.message, Field::Merge);
    messageAt(c, ed.message, Button::UseMerge);
}

void drawEditor(Controller& c, ViewMemory& memory) {
    const Strings& s = c.strings();
    const EditorModel& ed = c.editor();
    const float em = ImGui::GetFontSize();
    using FC = app::FindingCategory;
    using SV = app::Severity;
    if (!ed.open) return;
    if (ImGui::Button(s.label("editor.back"))) c.post(ShowView{ViewId::Findings});
    ImGui::SameLine();
    ImGui::TextUnformatted(ed.id.empty() ? s.text("editor.new") : s.text(labelKey(ed.status)));
    ImGui::SameLine();
    ImGui::TextDisabled("%s", ed.inspectionTitle.c_str());

    const bool editable = ed.id.empty() || ed.status == app::FindingStatus::Draft || ed.status == app::FindingStatus::Returned;
    if (!ed.reviewNote.empty())
        ImGui::TextColored(kRefusalColour, "%s", s.format("editor.review_note", {{"note", ed.reviewNote}}).c_str());
    ImGui::PushItemWidth(40 * em);
    ImGui::BeginDisabled(!editable);
    focusFirst(memory);
    field(c, memory, s.label("editor.title"), Field::Title, ed.title);
    messageAt(c, ed.message, Field::Title);
    multiline(c, memory, s.label("editor.description"), Field::Description, ed.description, 6);
    messageAt(c, ed.message, Field::Description);
    enumField<FC>(c, s.label("editor.category"), Field::Category, ed.category,
                  {FC::MainResponsibility, FC::EightPointRules, FC::FinancialDiscipline, FC::Other});
    enumField<SV>(c, s.label("editor.severity"), Field::Severity, ed.severity, {SV::Low, SV::Medium, SV::High});
    if (ImGui::BeginCombo(s.label("editor.audit_category"), ed.auditCategory.empty() ? s.text("editor.none")
                                                                                      : s.text("audit_category." + ed.auditCategory))) {
        if (ImGui::Selectable(s.text("editor.none"), ed.auditCategory.empty())) {
            c.post(EditField{Field::AuditCategory, ""});
            c.post(LeaveField{Field::AuditCategory});
        }
        for (const auto& a : app::auditCategories())
            if (ImGui::Selectable(s.text("audit_category." + a), ed.auditCategory == a)) {
                c.post(EditField{Field::AuditCategory, a});
                c.post(LeaveField{Field::AuditCategory});
            }
        ImGui::EndCombo();
    }
    field(c, memory, s.label("editor.responsible"), Field::Responsible, ed.responsible);
    bool fix = ed.immediateFix;
    if (ImGui::Checkbox(s.label("editor.immediate_fix"), &fix)) {
        c.post(EditField{Field::ImmediateFix, fix ? "yes" : "no"});
        c.post(LeaveField{Field::ImmediateFix});
    }
    ImGui::SameLine();
    ImGui::TextDisabled("%s", s.text("editor.immediate_fix_hint"));
    // The problem's nature (article 7(3)): any of the three, as checkboxes on one row.
    ImGui::TextUnformatted(s.text("editor.tags"));
    for (app::FindingTag t : {app::FindingTag::Common, app::FindingTag::Trending, app::FindingTag::Emerging}) {
        ImGui::SameLine();
        bool on = std::find(ed.tags.begin(), ed.tags.end(), t) != ed.tags.end();
        if (ImGui::Checkbox(s.label(labelKey(t)), &on)) {
            std::vector<app::FindingTag> next = ed.tags;
            if (on) next.push_back(t);
            else next.erase(std::remove(next.begin(), next.end(), t), next.end());
            c.post(EditField{Field::Tags, joinTags(next)});
            c.post(LeaveField{Field::Tags});
        }
    }
    messageAt(c, ed.message, Field::Tags);
    ImGui::EndDisabled();
    ImGui::PopItemWidth();

    button(c, Button::Save, s.label("editor.save"), editable);
    ImGui::SameLine();
    ImGui::TextDisabled("Ctrl+S");
    ImGui::SameLine();
    button(c, Button::Submit, s.label("editor.submit"), editable && !ed.title.empty());
    messageAt(c, ed.message, Button::Save);
    messageAt(c, ed.message, Button::Submit);
    ImGui::Separator();
    drawEvidence(c, memory);
    drawConflicts(c, memory);
    if (!ed.history.empty() && ImGui::CollapsingHeader(s.label("editor.history"))) {
        if (ImGui::BeginTable("###history", 3, ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersOuter)) {
            ImGui::TableSetupColumn(s.label("history.time"), ImGuiTableColumnFlags_WidthFixed, 10 * em);
            ImGui::TableSetupColumn(s.label("history.field"), ImGuiTableColumnFlags_WidthFixed, 8 * em);
            ImGui::TableSetupColumn(s.label("history.value"), ImGuiTableColumnFlags_WidthStretch);
            ImGui::TableHeadersRow();
            for (const auto& v : ed.history) {
                ImGui::TableNextRow();
                ImGui::TableNextColumn();
                ImGui::TextUnformatted(v.time.c_str());
                ImGui::TableNextColumn();
                ImGui::TextUnformatted(v.field.c_str());
                ImGui::TableNextColumn();
                ImGui::TextUnformatted(v.valueJson.c_str());
            }
            ImGui::EndTable();
        }
    }
}

// The file dialog, over whichever view opened it: the places (home, USB sticks), the folder
// shown with its sub-folders first, a file of it chosen with a click (a folder target: the
// folder itself, with 选择此文件夹).
void drawFilePicker(Controller& c) {
    const FilePicker& p = c.picker();
    constexpr const char* kId = "###picker";
    if (!p.isOpen()) return;
    if (!ImGui::IsPopupOpen(kId)) ImGui::OpenPopup(kId);
    const Strings& s = c.strings();
    const float em = ImGui::GetFontSize();
    const ImGuiViewport* vp = ImGui::GetMainViewport();
    ImGui::SetNextWindowSize(ImVec2(std::min(48 * em, vp->WorkSize.x - 2 * em), std::min(30 * em, vp->WorkSize.y - 2 * em)));
    ImGui::SetNextWindowPos(ImVec2(vp->WorkPos.x + vp->WorkSize.x / 2, vp->WorkPos.y + vp->WorkSize.y / 2), ImGuiCond_Always,
                            ImVec2(0.5f, 0.5f));
    const std::string title = std::string(s.text(p.folderTarget() ? "picker.title_folder" : "picker.title_file")) + kId;
    if (!ImGui::BeginPopupModal(title.c_str(), nullptr, ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoSavedSettings)) return;
    for (std::size_t i = 0; i < p.places().size(); ++i) {
        const auto& place = p.places()[i];
        if (i) ImGui::SameLine();
        ImGui::PushID(static_cast<int>(i));
        const std::string label = place.labelKey == "picker.home" ? std::string(s.text("picker.home"))
                                                                  : s.format("picker.usb", {{"name", place.path.filename().string()}});
        if (ImGui::Button(label.c_str())) c.post(Select{ListId::Place, place.path.string()});
        ImGui::PopID();
    }
    ImGui::TextUnformatted(p.folder().string().c_str());
    if (!p.problem().empty()) ImGui::TextColored(kRefusalColour, "%s", p.problem().c_str());
    const float footer = ImGui::GetFrameHeightWithSpacing() + ImGui::GetStyle().ItemSpacing.y;
    ImGui::BeginChild("###picker.list", ImVec2(0, -footer), true);
    if (ImGui::Selectable(s.text("picker.up"))) c.post(Select{ListId::File, ".."});
    ImGuiListClipper clipper;
    clipper.Begin(static_cast<int>(p.entries().size()));
    while (clipper.Step())
        for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) {
            const auto& e = p.entries()[static_cast<std::size_t>(i)];
            ImGui::PushID(i);
            if (e.folder) {
                if (ImGui::Selectable((e.name + "/").c_str())) c.post(Select{ListId::File, e.name});
            } else if (p.folderTarget()) {
                ImGui::TextDisabled("%s  %s", e.name.c_str(), sizeText(s, e.size).c_str());
            } else {
                if (ImGui::Selectable(e.name.c_str())) c.post(Select{ListId::File, e.name});
                ImGui::SameLine(ImGui::GetContentRegionAvail().x - 6 * em);
                ImGui::TextDisabled("%s", sizeText(s, e.size).c_str());
            }
            ImGui::PopID();
        }
    if (p.truncated()) ImGui::TextDisabled("%s", s.format("picker.truncated", {{"n", std::to_string(FilePicker::kMaxEntries)}}).c_str());
    ImGui::EndChild();
    if (p.folderTarget()) {
        button(c, Button::PickFolder, s.label("picker.pick_folder"));
        ImGui::SameLine();
    }
    button(c, Button::ClosePicker, s.label("picker.cancel"));
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) c.post(Press{Button::ClosePicker});
    ImGui::EndPopup();
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

void shortcuts(Controller& c, ViewMemory& memory) {
    const ImGuiIO& io = ImGui::GetIO();
    if (!io.KeyCtrl || !c.unlocked()) return;
    const bool captures = std::find(c.views().begin(), c.views().end(), ViewId::Today) != c.views().end();
    if (ImGui::IsKeyPressed('N', false) && captures) {
        if (c.view() != ViewId::Findings) c.post(ShowView{ViewId::Findings});
        c.post(Press{Button::NewFinding});
    }
    if (ImGui::IsKeyPressed('S', false) && c.view() == ViewId::Editor) c.post(Press{Button::Save});
    if (ImGui::IsKeyPressed('F', false)) {
        if (c.view() != ViewId::Findings) c.post(ShowView{ViewId::Findings});
        memory.focusFilter = true;
    }
}

}  // namespace

void drawFrame(Controller& c, ViewMemory& memory) {
    if (memory.dark != memory.darkApplied) {
        applyTheme(memory.dark);
        memory.darkApplied = memory.dark;
    }
    if (memory.drawnView != c.view()) {
        memory.drawnView = c.view();
        memory.focusPending = true;
    }
    shortcuts(c, memory);
    const ImGuiViewport* vp = ImGui::GetMainViewport();
    ImGui::SetNextWindowPos(vp->WorkPos);
    ImGui::SetNextWindowSize(vp->WorkSize);
    const ImGuiWindowFlags flags = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                                   ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_MenuBar |
                                   ImGuiWindowFlags_NoBringToFrontOnFocus;
    ImGui::Begin("###main", nullptr, flags);
    drawMenu(c, memory);
    drawNavigation(c);
    ImGui::Separator();
    const float statusHeight = ImGui::GetFrameHeightWithSpacing() + ImGui::GetStyle().ItemSpacing.y;
    ImGui::BeginChild("###view", ImVec2(0, -statusHeight), false);
    switch (c.view()) {
        case ViewId::Unlock:
            if (c.firstRun())
                drawFirstRun(c, memory);
            else
                drawUnlock(c, memory);
            break;
        case ViewId::Enrol: drawEnrol(c, memory); break;
        case ViewId::Agreement: drawAgreement(c, memory); break;
        case ViewId::Today: drawToday(c, memory); break;
        case ViewId::Findings: drawFindings(c, memory); break;
        case ViewId::Editor: drawEditor(c, memory); break;
        case ViewId::Review: drawReview(c, memory); break;
        case ViewId::Inbox: drawInbox(c, memory); break;
        case ViewId::Handover: drawHandover(c, memory); break;
        case ViewId::Settings: drawSettings(c, memory); break;
    }
    ImGui::EndChild();
    drawStatusLine(c);
    drawFilePicker(c);
    ImGui::End();
    if (memory.showMetrics) ImGui::ShowMetricsWindow(&memory.showMetrics);
    if (memory.textures) memory.textures->endFrame();
}

void applyTheme(bool dark) {
    ImGuiStyle& style = ImGui::GetStyle();
    if (dark) {
        ImGui::StyleColorsDark(&style);
    } else {
        ImGui::StyleColorsLight(&style);
        // Calmer than ImGui's own light: warm grey ground, muted blue accents.
        style.Colors[ImGuiCol_WindowBg] = ImVec4(0.96f, 0.96f, 0.95f, 1.0f);
        style.Colors[ImGuiCol_ChildBg] = ImVec4(0.96f, 0.96f, 0.95f, 1.0f);
        style.Colors[ImGuiCol_PopupBg] = ImVec4(1.0f, 1.0f, 1.0f, 1.0f);  // the view under a dialog does not show through
        style.Colors[ImGuiCol_Button] = ImVec4(0.78f, 0.84f, 0.90f, 1.0f);
        style.Colors[ImGuiCol_ButtonHovered] = ImVec4(0.66f, 0.76f, 0.87f, 1.0f);
        style.Colors[ImGuiCol_ButtonActive] = ImVec4(0.52f, 0.65f, 0.80f, 1.0f);
    }
    style.FrameRounding = 3.0f;
    style.GrabRounding = 3.0f;
}

}  // namespace xs::ui
