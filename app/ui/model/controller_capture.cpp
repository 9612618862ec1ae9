// The inspector's side of the controller: Today, the finding editor (durable drafts, evidence,
// history, conflicts).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>

#include "app/ui/model/controller.h"
#include "app/ui/model/controller_parts.h"

namespace xs::ui {

namespace {

bool onTeam(const app::InspectionView& i, const std::string& person) {
    return i.leadId == person || std::find(i.team.begin(), i.team.end(), person) != i.team.end();
}

// Sets the FindingEdit member of a record field from a JSON value (one side of a conflict).
bool setFromJson(app::FindingEdit& e, const std::string& field, const nlohmann::json& v) {
    auto text = [&]() { return v.is_string() ? v.get<std::string>() : std::string(); };
    if (field == "title" && v.is_string()) e.title = text();
    else if (field == "description") e.description = text();
    else if (field == "audit_category") e.auditCategory = text();
    else if (field == "responsible_person") e.responsiblePerson = text();
    else if (field == "category" && v.is_string()) {
        auto c = app::parseEnum<app::FindingCategory>(text());
        if (!c) return false;
        e.category = c;
    } else if (field == "severity" && v.is_string()) {
        auto s = app::parseEnum<app::Severity>(text());
        if (!s) return false;
        e.severity = s;
    } else if (field == "immediate_fix" && v.is_boolean()) {
        e.immediateFix = v.get<bool>();
    } else if (field == "tags" && v.is_array()) {
        std::vector<app::FindingTag> tags;
        for (const auto& t : v)
            if (t.is_string())
                if (auto tag = app::parseEnum<app::FindingTag>(t.get<std::string>())) tags.push_back(*tag);
        e.tags = tags;
    } else {
        return false;
    }
    return true;
}

}  // namespace

bool EditorModel::dirty() const {
    if (!open) return false;
    if (id.empty()) return !parts::blank(title) || !parts::blank(description) || !pending.empty();
    return title != loaded.title || description != loaded.description || category != app::toString(loaded.category) ||
           severity != app::toString(loaded.severity) || auditCategory != loaded.auditCategory ||
           responsible != loaded.responsiblePerson || immediateFix != loaded.immediateFix || joinTags(tags) != joinTags(loaded.tags);
}

Message Controller::refusal(const xs::Error<app::AppError>& e, std::optional<Field> f, std::optional<Button> b) {
    m_glyphs.add(e.message);
    return Message{parts::errorKey(e.code), e.message, f, b, true};
}

// ---- Today

void Controller::reloadToday(const std::vector<app::FindingView>& all) {
    m_today = {};
    auto list = m_session->inspections();
    if (!list) return;
    const int offset = app::zoneOffsetMinutes(app::kDefaultTimeZone).value_or(480);
    const int today = app::dayAt(m_clock->nowMs(), offset);
    // The current inspection: of this person's, the one whose window holds today, else the latest.
    const app::InspectionView* best = nullptr;
    for (const auto& i : *list) {
        if (!onTeam(i, m_self.personId)) continue;
        const auto start = app::parseDate(i.onsiteStart);
        const auto end = app::parseDate(i.windowEnd);
        if (start && end && *start <= today && today <= *end) {
            best = &i;
            break;
        }
        if (!best || start.value_or(0) > app::parseDate(best->onsiteStart).value_or(0)) best = &i;
    }
    if (!best) return;
    auto full = m_session->inspection(best->id);
    m_today.inspection = full ? *full : *best;
    m_today.have = true;
    m_glyphs.add(m_today.inspection.title);
    const auto start = app::parseDate(m_today.inspection.onsiteStart);
    const auto end = app::parseDate(m_today.inspection.windowEnd);
    m_today.days = start && end ? *end - *start + 1 : m_today.inspection.onsiteDays;
    m_today.day = start ? today - *start + 1 : 0;
    if (m_today.day < 0) m_today.day = 0;
    for (const auto& x : m_today.inspection.extensions) {
        if (x.status == app::ExtensionStatus::Pending) ++m_today.pendingExtensions;
        if (x.status == app::ExtensionStatus::Approved) ++m_today.approvedExtensions;
    }
    for (const auto& f : all) {
        if (f.inspectionId != m_today.inspection.id) continue;
        ++m_today.total;
        ++m_today.byStatus[f.status];
        ++m_today.byCategory[f.category];
        if (f.immediateFix && f.status == app::FindingStatus::Submitted) ++m_today.immediateAwaitingReview;
    }
}

// ---- the confidentiality agreement

void Controller::loadAgreement() {
    m_agreement = {};
    if (!m_today.have) return;
    auto t = m_session->agreementText(m_today.inspection.id);
    if (!t) {
        m_agreement.message = refusal(t.error(), std::nullopt, Button::SignAgreement);
        return;
    }
    m_agreement.have = true;
    m_agreement.text = *t;
    m_glyphs.add(t->textZh);
    m_glyphs.add(t->textEn);
    m_glyphs.add(t->inspectionTitle);
}

void Controller::signAgreement() {
    if (!m_agreement.have) {
        m_agreement.message = Message{"agreement.none", {}, std::nullopt, Button::SignAgreement, true};
        return;
    }
    auto s = m_session->signAgreement(m_agreement.text.inspectionId);
    if (!s) {
        m_agreement.message = refusal(s.error(), std::nullopt, Button::SignAgreement);
        return;
    }
    reload();  // the inspection's data is open to this person now
    loadAgreement();
    m_agreement.message = Message{"agreement.signed", {}, std::nullopt, Button::SignAgreement, false};
}

// ---- the editor

void Controller::newFinding() {
    m_editor = {};
    m_editor.open = true;
    m_editor.category = app::toString(app::FindingCategory::Other);
    m_editor.severity = app::toString(app::Severity::Medium);
    if (m_today.have) {
        m_editor.inspectionId = m_today.inspection.id;
        m_editor.inspectionTitle = m_today.inspection.title;
    }
    if (m_editor.inspectionId.empty())
        m_editor.message = Message{"editor.no_inspection", {}, Field::Title, std::nullopt, true};
    show(ViewId::Editor);
}

void Controller::openFinding(const std::string& id) {
    m_editor = {};
    m_editor.open = true;
    m_editor.id = id;
    reloadEditor();
    showAttaching();
    show(ViewId::Editor);
}

void Controller::reloadEditor() {
    EditorModel& ed = m_editor;
    auto f = m_session->finding(ed.id);
    if (!f) {
        ed.message = refusal(f.error(), std::nullopt, Button::Save);
        return;
    }
    addGlyphs(*f);
    // A field the person changed and has not saved keeps their text; the rest follows the store.
    const app::FindingView& was = ed.loaded;
    const bool first = was.id.empty();
    auto follow = [&](std::string& field, const std::string& before, const std::string& now) {
        if (first || field == before) field = now;
    };
    follow(ed.title, was.title, f->title);
    follow(ed.description, was.description, f->description);
    follow(ed.category, app::toString(was.category), app::toString(f->category));
    follow(ed.severity, app::toString(was.severity), app::toString(f->severity));
    follow(ed.auditCategory, was.auditCategory, f->auditCategory);
    follow(ed.responsible, was.responsiblePerson, f->responsiblePerson);
    if (first || ed.immediateFix == was.immediateFix) ed.immediateFix = f->immediateFix;
    if (first || joinTags(ed.tags) == joinTags(was.tags)) ed.tags = orderedTags(f->tags);
    ed.loaded = *f;
    ed.status = f->status;
    ed.author = f->author;
    ed.reviewNote = f->reviewNote;
    ed.attachments = f->attachments;
    ed.inspectionId = f->inspectionId;
    ed.inspectionTitle.clear();
    if (auto i = m_session->inspection(f->inspectionId)) ed.inspectionTitle = i->title;
    auto h = m_session->history(ed.id);
    ed.history = h ? *h : std::vector<app::FieldVersionView>{};
    ed.conflicts.clear();
    if (auto c = m_session->conflicts())
        for (auto& x : *c)
            if (x.recordId == ed.id) ed.conflicts.push_back(std::move(x));
    for (const auto& x : ed.conflicts)
        for (const auto& v : x.versions) m_glyphs.add(v.valueJson);
    // Thumbnails of the images held here (decoded off this thread; the bytes never touch the disk).
    for (const auto& a : ed.attachments) {
        if (a.state != "held" || !Thumbnails::isImage(a.name) || m_thumbs.requested(a.hash)) continue;
        if (static_cast<std::uint64_t>(a.size) > Thumbnails::kMaxFileBytes) continue;
        auto bytes = m_session->previewEvidence(a.hash, Thumbnails::kMaxFileBytes);
        if (bytes) m_thumbs.requestBytes(a.hash, std::move(*bytes));
    }
}

void Controller::saveEditor(std::optional<Field> at) {
    EditorModel& ed = m_editor;
    if (!ed.open) return;
    const std::optional<Button> button = at ? std::nullopt : std::optional<Button>(Button::Save);
    if (ed.id.empty()) {
        if (ed.inspectionId.empty()) {
            ed.message = Message{"editor.no_inspection", {}, Field::Title, std::nullopt, true};
            return;
        }
        if (parts::blank(ed.title)) {
            // Nothing is in the store until there is a title: say so where it is missing.
            ed.message = Message{"editor.title_needed", {}, Field::Title, std::nullopt, true};
            return;
        }
        app::FindingInput in;
        in.inspection = ed.inspectionId;
        in.title = ed.title;
        in.description = ed.description;
        in.category = app::parseEnum<app::FindingCategory>(ed.category).value_or(app::FindingCategory::Other);
        in.severity = app::parseEnum<app::Severity>(ed.severity).value_or(app::Severity::Medium);
        in.auditCategory = ed.auditCategory;
        in.responsiblePerson = ed.responsible;
        in.immediateFix = ed.immediateFix;
        in.tags = ed.tags;
        auto id = m_session->addFinding(in);
        if (!id) {
            ed.message = refusal(id.error(), at ? at : std::optional<Field>(Field::Title), button);
            return;
        }
        // The finding is durable now; its files follow, each a task of its own (a large photo is
        // encrypted off this thread). Thumbnails were keyed by path while pending: the store's
        // attachments are keyed by hash.
        ed.id = *id;
        for (auto& p : ed.pending) m_attachQueue.push_back({ed.id, std::move(p)});
        ed.pending.clear();
        reloadEditor();
        ed.message = Message{"editor.draft_saved", {}, at, button, false};
        startNextAttach();
        return;
    }
    app::FindingEdit edit;
    const app::FindingView& was = ed.loaded;
    if (ed.title != was.title) edit.title = ed.title;
    if (ed.description != was.description) edit.description = ed.description;
    if (ed.category != app::toString(was.category)) edit.category = app::parseEnum<app::FindingCategory>(ed.category);
    if (ed.severity != app::toString(was.severity)) edit.severity = app::parseEnum<app::Severity>(ed.severity);
    if (ed.auditCategory != was.auditCategory) edit.auditCategory = ed.auditCategory;
    if (ed.responsible != was.responsiblePerson) edit.responsiblePerson = ed.responsible;
    if (ed.immediateFix != was.immediateFix) edit.immediateFix = ed.immediateFix;
    if (joinTags(ed.tags) != joinTags(was.tags)) edit.tags = ed.tags;
    if (edit.empty()) return;
    auto s = m_session->editFinding(ed.id, edit);
    if (!s) {
        ed.message = refusal(s.error(), at, button);
        return;
    }
    ed.message = Message{"editor.draft_saved", {}, at, button, false};
    reloadEditor();
}

void Controller::attachFile(const std::string& path, std::optional<Field> at) {
    EditorModel& ed = m_editor;
    std::error_code ec;
    const std::filesystem::path p = path;
    if (parts::blank(path) || !std::filesystem::is_regular_file(p, ec)) {
        ed.message = Message{"editor.no_such_file", path, Field::EvidencePath, std::nullopt, true};
        m_glyphs.add(path);
        return;
    }
    m_glyphs.add(p.filename().string());
    if (ed.id.empty()) {
        // Held until the finding has a title and is saved with it (in one change set).
        for (const auto& q : ed.pending)
            if (q.path == path) return;
        const auto size = std::filesystem::file_size(p, ec);
        ed.pending.push_back({path, p.filename().string(), ec ? 0 : size});
        if (Thumbnails::isImage(p.filename().string())) m_thumbs.requestFile(path, path);
        ed.evidencePath.clear();
        if (!parts::blank(ed.title)) saveEditor(at);
        else ed.message = Message{"editor.evidence_waits_for_title", {}, Field::Title, std::nullopt, false};
        return;
    }
    for (const auto& q : m_attachQueue)
        if (q.findingId == ed.id && q.file.path == path) return;
    const auto size = std::filesystem::file_size(p, ec);
    m_attachQueue.push_back({ed.id, {path, p.filename().string(), ec ? 0 : size}});
    ed.evidencePath.clear();
    startNextAttach();
}

void Controller::showAttaching() {
    m_editor.attaching.clear();
    for (const auto& j : m_attachQueue)
        if (j.findingId == m_editor.id) m_editor.attaching.push_back(j.file);
}

void Controller::startNextAttach() {
    while (!m_attachTask && !m_attachQueue.empty()) {
        const AttachJob& next = m_attachQueue.front();
        auto task = m_session->attachEvidenceTask(next.findingId, next.file.path, app::EvidencePurpose::Evidence);
        if (task) {  // its tile says 加密保存中 meanwhile; the message stays the last one (e.g. draft saved)
            m_attachTask = *task;
            break;
        }
        if (m_editor.id == next.findingId) m_editor.message = refusal(task.error(), Field::EvidencePath, std::nullopt);
        m_attachQueue.erase(m_attachQueue.begin());
    }
    showAttaching();
}

void Controller::pollAttach() {
    auto finished = parts::takeFinished(m_attachTask);
    if (!finished) return;
    auto& hash = *finished;
    const AttachJob done = m_attachQueue.front();
    m_attachQueue.erase(m_attachQueue.begin());
    if (hash && Thumbnails::isImage(done.file.name)) m_thumbs.requestFile(*hash, done.file.path);
    if (m_editor.open && m_editor.id == done.findingId) {
        m_editor.message = hash ? Message{"editor.attached", done.file.name, Field::EvidencePath, std::nullopt, false}
                                : refusal(hash.error(), Field::EvidencePath, std::nullopt);
        reloadEditor();
    } else if (!hash) {
        m_status.problem = done.file.name + ": " + hash.message();  // said where it is seen from any view
    }
    startNextAttach();
}

void Controller::submitFinding() {
    EditorModel& ed = m_editor;
    saveEditor(std::nullopt);
    if (ed.id.empty() || (ed.message.error && !ed.message.key.empty())) {
        if (ed.message.key.empty()) ed.message = Message{"editor.title_needed", {}, Field::Title, std::nullopt, true};
        return;
    }
    auto s = m_session->transitionFinding(ed.id, app::FindingStatus::Submitted);
    if (!s) {
        ed.message = refusal(s.error(), std::nullopt, Button::Submit);
        return;
    }
    ed.message = Message{"editor.submitted", {}, std::nullopt, Button::Submit, false};
    reloadEditor();
}

std::optional<std::string> Controller::apply(const Resolve& r) {
    if (m_view != ViewId::Editor) return std::string("conflicts are resolved in the editor");
    EditorModel& ed = m_editor;
    for (const auto& c : ed.conflicts) {
        if (c.field != r.field) continue;
        if (r.version >= c.versions.size()) return "the conflict on " + r.field + " has " + std::to_string(c.versions.size()) + " versions";
        app::FindingEdit edit;
        auto value = nlohmann::json::parse(c.versions[r.version].valueJson, nullptr, false);
        if (value.is_discarded() || !setFromJson(edit, r.field, value)) {
            ed.message = Message{"editor.cannot_resolve", r.field, std::nullopt, Button::UseMerge, true};
            return std::nullopt;
        }
        auto s = m_session->editFinding(ed.id, edit);
        if (!s) ed.message = refusal(s.error(), std::nullopt, Button::UseMerge);
        else ed.message = Message{"editor.resolved", r.field, std::nullopt, Button::UseMerge, false};
        ed.loaded = {};  // take the store's values for every field
        reloadEditor();
        return std::nullopt;
    }
    return "no conflict on " + r.field + " in this finding";
}

void Controller::useMerge() {
    EditorModel& ed = m_editor;
    for (const auto& c : ed.conflicts) {
        if (c.field != "title" && c.field != "description" && c.field != "responsible_person" && c.field != "audit_category")
            continue;
        app::FindingEdit edit;
        setFromJson(edit, c.field, nlohmann::json(ed.merge));
        auto s = m_session->editFinding(ed.id, edit);
        if (!s) ed.message = refusal(s.error(), Field::Merge, std::nullopt);
        else ed.message = Message{"editor.resolved", c.field, std::nullopt, Button::UseMerge, false};
        ed.merge.clear();
        ed.loaded = {};
        reloadEditor();
        return;
    }
    ed.message = Message{"editor.nothing_to_merge", {}, Field::Merge, std::nullopt, true};
}

}  // namespace xs::ui
