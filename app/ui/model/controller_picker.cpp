// The file dialog's intents: Browse opens it for a path field, a chosen file or folder becomes
// that field's text (an evidence file is attached at once, as dropping it would).
#include <cstdlib>

#include "app/ui/model/controller.h"

namespace xs::ui {

namespace {

// The file name a folder target keeps when the person picks a folder for it: the one the field
// already names, else a default that says what it is.
std::string fileNameFor(Field f, const std::string& current) {
    const std::filesystem::path p(current);
    std::error_code ec;
    if (!current.empty() && !std::filesystem::is_directory(p, ec) && p.has_filename()) return p.filename().string();
    if (f == Field::HandoverPath) return "xunshen-handover.age";
    if (f == Field::IdentityPath) return "device.json";
    return {};
}

}  // namespace

std::optional<std::string> Controller::apply(const Browse& b) {
    const std::string* current = nullptr;
    bool folderTarget = false;
    switch (b.field) {
        case Field::EvidencePath: current = &m_editor.evidencePath; break;
        case Field::ReceiptPath: current = &m_handover.receiptPath; break;
        case Field::EnrolmentFile: current = &m_enrol.enrolmentFile; break;
        case Field::ReplyFile: current = &m_inbox.replyFile; break;
        case Field::HandoverPath:
            current = &m_handover.path;
            folderTarget = true;
            break;
        case Field::IdentityPath:
            current = &m_enrol.identityPath;
            folderTarget = true;
            break;
        case Field::Store:
            current = &m_unlock.store;
            folderTarget = true;
            break;
        default: return std::string("the ") + fieldName(b.field) + " field takes no file";
    }
    if (viewOf(b.field) != m_view) return std::string("the field is not on the ") + viewName(m_view) + " view";
    if (b.field == Field::EvidencePath && !m_editor.open) return std::string("no finding is open in the editor");
    const char* home = std::getenv("HOME");
    m_pickerTarget = b.field;
    m_picker.open(*current, folderTarget, home && *home ? std::filesystem::path(home) : std::filesystem::path("/"));
    pickerGlyphs();
    return std::nullopt;
}

void Controller::pickerGlyphs() {
    for (const auto& e : m_picker.entries()) m_glyphs.add(e.name);
    m_glyphs.add(m_picker.folder().string());
}

std::optional<std::string> Controller::pick(const Select& s) {
    if (!m_picker.isOpen()) return std::string("no file dialog is open");
    if (s.list == ListId::Place) {
        if (!m_picker.go(s.id) && m_picker.problem().empty()) return "no place " + s.id + " in the file dialog";
    } else if (auto chosen = m_picker.enter(s.id)) {
        return choosePath(*chosen);
    }
    pickerGlyphs();
    return std::nullopt;
}

std::optional<std::string> Controller::pickFolder() {
    if (!m_picker.isOpen()) return std::string("no file dialog is open");
    if (!m_picker.folderTarget()) return std::string("this file dialog chooses a file, not a folder");
    const std::string* current = m_pickerTarget == Field::HandoverPath   ? &m_handover.path
                                 : m_pickerTarget == Field::IdentityPath ? &m_enrol.identityPath
                                                                         : nullptr;
    return choosePath(m_picker.pickFolder(current ? fileNameFor(m_pickerTarget, *current) : std::string()));
}

std::optional<std::string> Controller::choosePath(const std::filesystem::path& p) {
    m_picker.close();
    if (auto problem = apply(EditField{m_pickerTarget, p.string()})) return problem;
    if (m_pickerTarget == Field::EvidencePath) attachFile(p.string(), Field::EvidencePath);
    return std::nullopt;
}

}  // namespace xs::ui
