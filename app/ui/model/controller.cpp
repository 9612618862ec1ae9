#include "app/ui/model/controller.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

#include "app/ui/model/controller_parts.h"

namespace xs::ui {

namespace {

constexpr std::array<const char*, kViewCount> kViewNames = {"unlock", "today",    "findings", "editor", "review",
                                                            "inbox",  "handover", "settings", "enrol",  "agreement"};
constexpr std::array<const char*, kFieldCount> kFieldNames = {
    "store",  "passphrase", "filter",  "title",          "description",    "category",     "severity",  "audit_category",
    "responsible", "immediate_fix", "tags", "evidence_path", "merge", "review_note", "notice_problem", "notice_action",
    "notice_deadline", "reply", "reply_file", "handover_path", "receipt_path", "auto_lock_minutes", "new_passphrase", "new_passphrase_again",
    "name", "role", "passphrase_again", "identity_path", "enrolment_file", "server_url", "server_pin", "code"};
constexpr std::array<const char*, kButtonCount> kButtonNames = {
    "unlock",  "lock",         "new_finding", "save",    "submit",  "attach",         "use_merge",     "confirm",
    "return",  "issue_notice", "acknowledge", "reply",   "export",  "cancel",         "confirm_receipt", "save_settings",
    "change_passphrase", "create", "export_identity", "accept_enrolment", "join", "sign_agreement", "pick_folder", "close_picker", "verify"};

template <std::size_t N>
std::optional<std::size_t> indexOf(const std::array<const char*, N>& names, std::string_view name) {
    for (std::size_t i = 0; i < N; ++i)
        if (name == names[i]) return i;
    return std::nullopt;
}

}  // namespace

const char* viewName(ViewId v) { return kViewNames[static_cast<std::size_t>(v)]; }
std::optional<ViewId> parseView(std::string_view name) {
    auto i = indexOf(kViewNames, name);
    return i ? std::optional<ViewId>(static_cast<ViewId>(*i)) : std::nullopt;
}
const char* fieldName(Field f) { return kFieldNames[static_cast<std::size_t>(f)]; }
std::optional<Field> parseField(std::string_view name) {
    auto i = indexOf(kFieldNames, name);
    return i ? std::optional<Field>(static_cast<Field>(*i)) : std::nullopt;
}
const char* buttonName(Button b) { return kButtonNames[static_cast<std::size_t>(b)]; }
std::optional<Button> parseButton(std::string_view name) {
    auto i = indexOf(kButtonNames, name);
    return i ? std::optional<Button>(static_cast<Button>(*i)) : std::nullopt;
}
std::optional<ListId> parseList(std::string_view name) {
    if (name == "finding") return ListId::Finding;
    if (name == "review") return ListId::Review;
    if (name == "notice") return ListId::Notice;
    if (name == "inspection") return ListId::Inspection;
    if (name == "file") return ListId::File;
    if (name == "place") return ListId::Place;
    return std::nullopt;
}

ViewId viewOf(Field f) {
    switch (f) {
        case Field::Store:
        case Field::Passphrase:
        case Field::Name:
        case Field::Role:
        case Field::PassphraseAgain: return ViewId::Unlock;
        case Field::IdentityPath:
        case Field::EnrolmentFile:
        case Field::ServerUrl:
        case Field::ServerPin:
        case Field::Code: return ViewId::Enrol;
        case Field::Filter: return ViewId::Findings;
        case Field::ReviewNote:
        case Field::NoticeProblem:
        case Field::NoticeAction:
        case Field::NoticeDeadline: return ViewId::Review;
        case Field::Reply:
        case Field::ReplyFile: return ViewId::Inbox;
        case Field::HandoverPath:
        case Field::ReceiptPath: return ViewId::Handover;
        case Field::AutoLockMinutes:
        case Field::NewPassphrase:
        case Field::NewPassphraseAgain: return ViewId::Settings;
        default: return ViewId::Editor;
    }
}

ViewId viewOf(Button b) {
    switch (b) {
        case Button::Unlock:
        case Button::Create: return ViewId::Unlock;
        case Button::Lock: return ViewId::Unlock;  // any view
        case Button::ExportIdentity:
        case Button::AcceptEnrolment:
        case Button::Join: return ViewId::Enrol;
        case Button::SignAgreement: return ViewId::Agreement;
        case Button::NewFinding: return ViewId::Findings;
        case Button::Confirm:
        case Button::Return:
        case Button::IssueNotice: return ViewId::Review;
        case Button::Acknowledge:
        case Button::SendReply: return ViewId::Inbox;
        case Button::Export:
        case Button::CancelTask:
        case Button::ConfirmReceipt: return ViewId::Handover;
        case Button::SaveSettings:
        case Button::ChangePassphrase:
        case Button::Verify: return ViewId::Settings;
        default: return ViewId::Editor;
    }
}

std::string labelKey(app::FindingCategory c) { return "category." + app::toString(c); }
std::string labelKey(app::Severity s) { return "severity." + app::toString(s); }
std::string labelKey(app::FindingStatus s) { return "finding_status." + app::toString(s); }
std::string labelKey(app::FindingTag t) { return "tag." + app::toString(t); }

std::vector<app::FindingTag> orderedTags(const std::vector<app::FindingTag>& tags) {
    std::vector<app::FindingTag> out;
    for (app::FindingTag t : {app::FindingTag::Common, app::FindingTag::Trending, app::FindingTag::Emerging})
        if (std::find(tags.begin(), tags.end(), t) != tags.end()) out.push_back(t);
    return out;
}

std::string joinTags(const std::vector<app::FindingTag>& tags) {
    std::string out;
    for (app::FindingTag t : orderedTags(tags)) out += (out.empty() ? "" : ",") + app::toString(t);
    return out;
}

std::optional<std::vector<app::FindingTag>> parseTags(std::string_view text) {
    std::vector<app::FindingTag> seen;
    std::size_t at = 0;
    while (at <= text.size()) {
        std::size_t comma = text.find(',', at);
        if (comma == std::string_view::npos) comma = text.size();
        std::string word(text.substr(at, comma - at));
        word.erase(0, word.find_first_not_of(' '));
        word.erase(word.find_last_not_of(' ') + 1);
        if (!word.empty()) {
            auto t = app::parseEnum<app::FindingTag>(word);
            if (!t) return std::nullopt;
            seen.push_back(*t);
        }
        at = comma + 1;
    }
    return orderedTags(seen);
}

std::vector<ViewId> viewsFor(app::Role role) {
    using R = app::Role;
    using V = ViewId;
    switch (role) {
        case R::UnitHead: return {V::Inbox, V::Settings};
        case R::WorkingGroupLead: return {V::Today, V::Findings, V::Review, V::Handover, V::Settings};
        case R::WorkingGroupMember:
        case R::ThirdPartyAuditor: return {V::Today, V::Findings, V::Handover, V::Settings};
        case R::AuditOffice: return {V::Findings, V::Review, V::Settings};
        default: return {V::Findings, V::Settings};  // the leading group and others read
    }
}

int passphraseStrength(const std::string& p) {
    if (p.empty()) return 0;
    bool lower = false, upper = false, digit = false, other = false, cjk = false;
    std::size_t chars = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(p[i]);
        if ((c & 0xC0) == 0x80) continue;  // a continuation byte
        ++chars;
        if (c >= 0xE0) cjk = true;
        else if (c >= 'a' && c <= 'z') lower = true;
        else if (c >= 'A' && c <= 'Z') upper = true;
        else if (c >= '0' && c <= '9') digit = true;
        else other = true;
    }
    const int classes = lower + upper + digit + other + cjk;
    if (p.size() < app::kMinPassphraseBytes) return 1;
    int score = chars >= 20 ? 3 : chars >= 12 ? 2 : 1;
    if (classes >= 3) ++score;
    return std::min(score, 4);
}

// ---- FindingsModel

void FindingsModel::setFindings(const std::vector<app::FindingView>& list, const Strings& strings) {
    m_rows.clear();
    m_rows.reserve(list.size());
    Strings both = strings;  // labels in both languages go into the haystack
    for (const auto& f : list) {
        FindingRow r;
        r.id = f.id;
        r.title = f.title;
        r.inspectionId = f.inspectionId;
        r.category = f.category;
        r.severity = f.severity;
        r.status = f.status;
        r.immediateFix = f.immediateFix;
        r.tags = f.tags;
        r.createdAtMs = f.createdAtMs;
        std::string hay = f.title + "\n" + f.description + "\n" + f.responsiblePerson + "\n" + f.auditCategory;
        for (Lang l : {Lang::Zh, Lang::En}) {
            both.setLang(l);
            for (const std::string& key : {labelKey(f.category), labelKey(f.severity), labelKey(f.status)})
                hay += std::string("\n") + both.text(key);
            if (f.immediateFix) hay += std::string("\n") + both.text("findings.immediate_fix");
            for (app::FindingTag t : f.tags) hay += std::string("\n") + both.text(labelKey(t));
        }
        r.haystack = parts::lowerAscii(std::move(hay));
        m_rows.push_back(std::move(r));
    }
    refilter();
}

void FindingsModel::setFilter(std::string text) {
    // Typing on: a filter that extends the last one can only hide rows, so only the rows shown
    // are searched again (bench_ui: most of a typing frame is this search over every row).
    const bool narrows = !m_filter.empty() && text.size() > m_filter.size() && text.compare(0, m_filter.size(), m_filter) == 0 &&
                         m_filter.back() != ' ';
    m_filter = std::move(text);
    if (!narrows) {
        refilter();
        return;
    }
    const std::vector<std::string> words = splitFilter(m_filter);
    std::size_t kept = 0;
    for (std::size_t i : m_visible)
        if (matchesWords(m_rows[i], words)) m_visible[kept++] = i;
    m_visible.resize(kept);
}
void FindingsModel::setStatus(std::optional<app::FindingStatus> s) {
    m_status = s;
    refilter();
}
void FindingsModel::setCategory(std::optional<app::FindingCategory> c) {
    m_category = c;
    refilter();
}
void FindingsModel::setSeverity(std::optional<app::Severity> s) {
    m_severity = s;
    refilter();
}
void FindingsModel::setTag(std::optional<app::FindingTag> t) {
    m_tag = t;
    refilter();
}
void FindingsModel::setSort(SortKey key, bool descending) {
    if (key == m_sort && descending == m_descending) return;
    m_sort = key;
    m_descending = descending;
    refilter();
}

void FindingsModel::clear() { *this = FindingsModel{}; }

std::vector<std::string> FindingsModel::splitFilter(const std::string& filter) {
    const std::string f = parts::lowerAscii(filter);
    std::vector<std::string> words;
    std::size_t at = 0;
    while (at < f.size()) {
        std::size_t end = f.find(' ', at);
        if (end == std::string::npos) end = f.size();
        if (end > at) words.push_back(f.substr(at, end - at));
        at = end + 1;
    }
    return words;
}

bool FindingsModel::matchesWords(const FindingRow& row, const std::vector<std::string>& words) {
    for (const auto& w : words)
        if (row.haystack.find(w) == std::string::npos) return false;
    return true;
}

bool FindingsModel::matches(const FindingRow& row, const std::string& filter) { return matchesWords(row, splitFilter(filter)); }

const FindingRow* FindingsModel::byId(const std::string& id) const {
    for (const auto& r : m_rows)
        if (r.id == id) return &r;
    return nullptr;
}

const FindingRow* FindingsModel::byTitle(const std::string& title) const {
    for (const auto& r : m_rows)
        if (r.title == title) return &r;
    return nullptr;
}

void FindingsModel::refilter() {
    m_visible.clear();
    const std::vector<std::string> words = splitFilter(m_filter);
    for (std::size_t i = 0; i < m_rows.size(); ++i) {
        const FindingRow& r = m_rows[i];
        if (m_status && r.status != *m_status) continue;
        if (m_category && r.category != *m_category) continue;
        if (m_severity && r.severity != *m_severity) continue;
        if (m_tag && std::find(r.tags.begin(), r.tags.end(), *m_tag) == r.tags.end()) continue;
        if (matchesWords(r, words)) m_visible.push_back(i);
    }
    if (m_sort == SortKey::Created && !m_descending) return;  // the store's order
    // Compared in place (no key copies): stable, so equal keys keep the store's order.
    auto less = [this](std::size_t ia, std::size_t ib) {
        const FindingRow& a = m_rows[ia];
        const FindingRow& b = m_rows[ib];
        switch (m_sort) {
            case SortKey::Title: return a.title < b.title;
            case SortKey::Category: return a.category < b.category;
            case SortKey::Severity: return a.severity < b.severity;
            case SortKey::Status: return a.status < b.status;
            default: return a.createdAtMs < b.createdAtMs;
        }
    };
    if (m_descending)
        std::stable_sort(m_visible.begin(), m_visible.end(), [&](std::size_t x, std::size_t y) { return less(y, x); });
    else
        std::stable_sort(m_visible.begin(), m_visible.end(), less);
}

// ---- Controller

Controller::Controller(Strings& strings, std::filesystem::path store, const sync::Clock& clock)
    : m_strings(strings), m_clock(&clock) {
    m_unlock.store = store.string();
    for (const auto& t : m_strings.allTexts()) m_glyphs.add(t);
    m_glyphs.add(m_unlock.store);
    m_settings.autoLockMinutes = std::to_string(m_autoLockMs / 60000);
}

Controller::~Controller() {
    if (m_opening.valid()) m_opening.wait();
    if (m_exclusive.valid()) m_exclusive.wait();
    m_handover.task.reset();  // cancels and waits
    m_thumbs.clear();
    m_session.reset();
    parts::wipe(m_unlock.passphrase);
    parts::wipe(m_unlock.passphraseAgain);
    parts::wipe(m_settings.newPassphrase);
    parts::wipe(m_settings.newPassphraseAgain);
}

void Controller::post(EditField i) {
    Queued q;
    q.kind = Queued::Kind::Edit;
    q.edit = std::move(i);
    m_queue.push_back(std::move(q));
}
void Controller::post(LeaveField i) {
    Queued q;
    q.kind = Queued::Kind::Leave;
    q.edit.field = i.field;
    m_queue.push_back(std::move(q));
}
void Controller::post(Press i) {
    Queued q;
    q.kind = Queued::Kind::Press;
    q.press = i;
    m_queue.push_back(std::move(q));
}
void Controller::post(ShowView i) {
    Queued q;
    q.kind = Queued::Kind::Show;
    q.show = i;
    m_queue.push_back(std::move(q));
}
void Controller::post(SetLanguage i) {
    Queued q;
    q.kind = Queued::Kind::Language;
    q.language = i;
    m_queue.push_back(std::move(q));
}
void Controller::post(Browse i) {
    Queued q;
    q.kind = Queued::Kind::Browse;
    q.browse = i;
    m_queue.push_back(std::move(q));
}
void Controller::post(Select i) {
    Queued q;
    q.kind = Queued::Kind::Select;
    q.select = std::move(i);
    m_queue.push_back(std::move(q));
}
void Controller::post(DropFiles i) {
    Queued q;
    q.kind = Queued::Kind::Drop;
    q.drop = std::move(i);
    m_queue.push_back(std::move(q));
}
void Controller::post(Resolve i) {
    Queued q;
    q.kind = Queued::Kind::Resolve;
    q.resolve = std::move(i);
    m_queue.push_back(std::move(q));
}

std::vector<std::string> Controller::applyIntents() {
    if (m_exclusive.valid()) return {};  // the session is a rekey's or join's until it ends: intents wait
    if (!m_queue.empty() && m_lastPollMs > m_lastActivityMs) m_lastActivityMs = m_lastPollMs;
    std::vector<std::string> problems;
    std::vector<Queued> queue;
    queue.swap(m_queue);
    if (queue.empty()) return problems;
    app::Session* before = m_session.get();
    const std::uint64_t changesBefore = before ? before->changeCount() : 0;
    for (const auto& q : queue) {
        std::optional<std::string> problem;
        switch (q.kind) {
            case Queued::Kind::Edit: problem = apply(q.edit); break;
            case Queued::Kind::Leave: problem = leave(q.edit.field); break;
            case Queued::Kind::Press: problem = apply(q.press); break;
            case Queued::Kind::Show: problem = apply(q.show); break;
            case Queued::Kind::Language: m_strings.setLang(q.language.lang); break;
            case Queued::Kind::Select: problem = apply(q.select); break;
            case Queued::Kind::Drop: problem = apply(q.drop); break;
            case Queued::Kind::Resolve: problem = apply(q.resolve); break;
            case Queued::Kind::Browse: problem = apply(q.browse); break;
        }
        if (problem) problems.push_back(*problem);
    }
    // What this person just committed goes to the server now, not at the next long-poll's end
    // (only then: a poke cuts the worker's long-poll short).
    if (m_session && m_session.get() == before && m_session->changeCount() != changesBefore) m_session->syncNow();
    return problems;
}

std::optional<std::string> Controller::apply(const EditField& e) {
    if (viewOf(e.field) != m_view) return std::string("the field is not on the ") + viewName(m_view) + " view";
    if (e.field != Field::Passphrase && e.field != Field::NewPassphrase && e.field != Field::NewPassphraseAgain &&
        e.field != Field::PassphraseAgain)
        m_glyphs.add(e.text);
    EditorModel& ed = m_editor;
    switch (e.field) {
        case Field::Store: m_unlock.store = e.text; break;
        case Field::Passphrase:
            parts::wipe(m_unlock.passphrase);
            m_unlock.passphrase = e.text;
            m_unlock.strength = passphraseStrength(e.text);
            break;
        case Field::PassphraseAgain:
            parts::wipe(m_unlock.passphraseAgain);
            m_unlock.passphraseAgain = e.text;
            break;
        case Field::Name: m_unlock.name = e.text; break;
        case Field::Role:
            if (!app::parseEnum<app::Role>(e.text)) return "role must be one of " + app::allSpellings<app::Role>();
            m_unlock.role = e.text;
            break;
        case Field::IdentityPath: m_enrol.identityPath = e.text; break;
        case Field::EnrolmentFile: m_enrol.enrolmentFile = e.text; break;
        case Field::ServerUrl: m_enrol.url = e.text; break;
        case Field::ServerPin: m_enrol.pin = e.text; break;
        case Field::Code: m_enrol.code = e.text; break;
        case Field::Filter: m_findings.setFilter(e.text); break;
        case Field::Title: ed.title = e.text; break;
        case Field::Description: ed.description = e.text; break;
        case Field::Category:
            if (!app::parseEnum<app::FindingCategory>(e.text)) return "category must be one of " + app::allSpellings<app::FindingCategory>();
            ed.category = e.text;
            break;
        case Field::Severity:
            if (!app::parseEnum<app::Severity>(e.text)) return "severity must be one of " + app::allSpellings<app::Severity>();
            ed.severity = e.text;
            break;
        case Field::AuditCategory: ed.auditCategory = e.text; break;
        case Field::Responsible: ed.responsible = e.text; break;
        case Field::ImmediateFix:
            if (e.text != "yes" && e.text != "no") return std::string("immediate_fix is yes or no");
            ed.immediateFix = e.text == "yes";
            break;
        case Field::Tags: {
            // A comma-separated list of tag spellings ("common,emerging"), empty for none.
            auto tags = parseTags(e.text);
            if (!tags) return "tags are a comma-separated list of " + app::allSpellings<app::FindingTag>();
            ed.tags = *tags;
            break;
        }
        case Field::EvidencePath: ed.evidencePath = e.text; break;
        case Field::Merge: ed.merge = e.text; break;
        case Field::ReviewNote: m_review.note = e.text; break;
        case Field::NoticeProblem: m_review.problem = e.text; break;
        case Field::NoticeAction: m_review.action = e.text; break;
        case Field::NoticeDeadline: m_review.deadline = e.text; break;
        case Field::Reply: m_inbox.reply = e.text; break;
        case Field::ReplyFile: m_inbox.replyFile = e.text; break;
        case Field::HandoverPath: m_handover.path = e.text; break;
        case Field::ReceiptPath: m_handover.receiptPath = e.text; break;
        case Field::AutoLockMinutes: m_settings.autoLockMinutes = e.text; break;
        case Field::NewPassphrase:
            parts::wipe(m_settings.newPassphrase);
            m_settings.newPassphrase = e.text;
            m_settings.strength = passphraseStrength(e.text);
            break;
        case Field::NewPassphraseAgain:
            parts::wipe(m_settings.newPassphraseAgain);
            m_settings.newPassphraseAgain = e.text;
            break;
    }
    return std::nullopt;
}

std::optional<std::string> Controller::leave(Field f) {
    if (m_view != ViewId::Editor || viewOf(f) != ViewId::Editor) return std::nullopt;  // only the editor saves on leaving
    if (f == Field::EvidencePath || f == Field::Merge) return std::nullopt;
    if (m_editor.dirty()) saveEditor(f);
    return std::nullopt;
}

std::optional<std::string> Controller::apply(const Press& p) {
    const ViewId on = viewOf(p.button);
    if (p.button == Button::PickFolder) return pickFolder();
    if (p.button == Button::ClosePicker) {
        if (!m_picker.isOpen()) return std::string("no file dialog is open");
        m_picker.close();
        return std::nullopt;
    }
    if (p.button == Button::Lock) {
        if (!m_session) return std::string("the store is locked already");
        lock();
        return std::nullopt;
    }
    const bool newFindingHere = p.button == Button::NewFinding && (m_view == ViewId::Today || m_view == ViewId::Editor);
    if (on != m_view && !newFindingHere)
        return std::string("there is no ") + buttonName(p.button) + " button on the " + viewName(m_view) + " view";
    switch (p.button) {
        case Button::Unlock:
            if (m_unlock.busy) return std::string("the store is being unlocked already");
            startUnlock();
            break;
        case Button::NewFinding: newFinding(); break;
        case Button::Save:
            saveEditor(std::nullopt);
            if (m_editor.message.key.empty() || !m_editor.message.error)
                m_editor.message = Message{"editor.saved", {}, std::nullopt, Button::Save, false};
            break;
        case Button::Submit: submitFinding(); break;
        case Button::Attach: attachFile(m_editor.evidencePath, Field::EvidencePath); break;
        case Button::UseMerge: useMerge(); break;
        case Button::Confirm: decide(true); break;
        case Button::Return: decide(false); break;
        case Button::IssueNotice: issueNotice(); break;
        case Button::Acknowledge: acknowledge(); break;
        case Button::SendReply: sendReply(); break;
        case Button::Export: startExport(); break;
        case Button::CancelTask:
            if (!m_handover.running()) return std::string("no export is running");
            m_handover.task->cancel();
            break;
        case Button::ConfirmReceipt: confirmReceipt(); break;
        case Button::SaveSettings: saveSettings(); break;
        case Button::ChangePassphrase: startRekey(); break;
        case Button::Verify: startVerify(); break;
        case Button::Create:
            if (m_unlock.busy) return std::string("the store is being created already");
            startCreate();
            break;
        case Button::ExportIdentity: exportIdentity(); break;
        case Button::AcceptEnrolment: acceptEnrolment(); break;
        case Button::Join: startJoin(); break;
        case Button::SignAgreement: signAgreement(); break;
        case Button::Lock:
        case Button::PickFolder:
        case Button::ClosePicker: break;
    }
    return std::nullopt;
}

std::optional<std::string> Controller::apply(const ShowView& v) {
    if (v.view != ViewId::Unlock && !m_session) return std::string("the ") + viewName(v.view) + " view needs an unlocked store";
    if (v.view == ViewId::Unlock && m_session) return std::string("the store is unlocked: lock it to see the unlock view");
    if (v.view == ViewId::Editor && !m_editor.open) return std::string("no finding is open: select one or press new_finding");
    if (v.view == ViewId::Agreement && !m_today.have) return std::string("there is no inspection of this person's to sign for");
    if (v.view != ViewId::Unlock && v.view != ViewId::Editor && v.view != ViewId::Agreement &&
        std::find(m_views.begin(), m_views.end(), v.view) == m_views.end())
        return std::string("the ") + viewName(v.view) + " view is not one of a " + app::toString(m_self.role) + "'s";
    show(v.view);
    return std::nullopt;
}

void Controller::show(ViewId v) {
    m_view = v;
    m_picker.close();  // its field is on the view left
    if (v == ViewId::Inbox)
        for (const auto& n : m_inbox.notices) m_inbox.seen.insert(n.id);
    if (v == ViewId::Handover) reloadHandover();
    if (v == ViewId::Agreement) loadAgreement();
}

std::optional<std::string> Controller::apply(const Select& s) {
    if (s.list == ListId::File || s.list == ListId::Place) return pick(s);
    if (!m_session) return std::string("select needs an unlocked store");
    switch (s.list) {
        case ListId::Finding:
            if (m_view != ViewId::Findings && m_view != ViewId::Today) return std::string("findings are listed on the findings view");
            if (!m_findings.byId(s.id)) return "no finding " + s.id + " in the list";
            openFinding(s.id);
            return std::nullopt;
        case ListId::Review:
            if (m_view != ViewId::Review) return std::string("the review list is on the review view");
            selectReview(s.id);
            return std::nullopt;
        case ListId::Notice:
            if (m_view != ViewId::Inbox) return std::string("notices are listed on the inbox view");
            m_inbox.selected = s.id;
            m_inbox.message = {};
            return std::nullopt;
        case ListId::Inspection:
            if (m_view != ViewId::Handover) return std::string("inspections are chosen on the handover view");
            m_handover.inspection = s.id;
            return std::nullopt;
        case ListId::File:
        case ListId::Place: break;  // pick() above
    }
    return std::nullopt;
}

std::optional<std::string> Controller::apply(const DropFiles& d) {
    if (!m_session) return std::nullopt;  // dropped on the unlock view: nothing to attach to
    if (m_view != ViewId::Editor) {
        m_status.problem = m_strings.text("editor.drop_elsewhere");
        return std::nullopt;
    }
    for (const auto& p : d.paths) attachFile(p, std::nullopt);
    return std::nullopt;
}

std::string Controller::findInList(ListId list, const std::string& text) const {
    switch (list) {
        case ListId::Finding:
            if (auto r = m_findings.byTitle(text)) return r->id;
            break;
        case ListId::Review:
            for (const auto* l : {&m_review.submitted, &m_review.toNotify})
                for (const auto& f : *l)
                    if (f.title == text) return f.id;
            break;
        case ListId::Notice:
            for (const auto& n : m_inbox.notices)
                if (n.problem == text) return n.id;
            break;
        case ListId::Inspection:
            for (const auto& i : m_handover.inspections)
                if (i.title == text) return i.id;
            break;
        case ListId::File:
            if (text == "..") return text;
            for (const auto& e : m_picker.entries())
                if (e.name == text) return e.name;
            break;
        case ListId::Place:
            for (const auto& p : m_picker.places())
                if (p.path.string() == text || p.path.filename().string() == text) return p.path.string();
            break;
    }
    return {};
}

void Controller::startUnlock() {
    m_unlock.refusalKey.clear();
    m_unlock.refusalDetail.clear();
    const std::filesystem::path dir = m_unlock.store;
    if (m_unlock.store.empty() || !app::Session::exists(dir)) {
        m_unlock.refusalKey = "unlock.no_store";
        m_unlock.refusalDetail = m_unlock.store;
        return;
    }
    if (m_unlock.passphrase.empty()) {
        m_unlock.refusalKey = "unlock.empty_passphrase";
        return;
    }
    m_unlock.busy = true;
    std::string pass = std::move(m_unlock.passphrase);
    parts::wipe(m_unlock.passphrase);
    auto wake = m_wake;
    const sync::Clock* clock = m_clock;
    m_opening = std::async(std::launch::async, [dir, pass = std::move(pass), wake, clock]() mutable {
        auto s = app::Session::open(dir, pass, *clock);
        parts::wipe(pass);
        if (wake) wake();
        return s;
    });
}

void Controller::finishUnlock() {
    auto opened = m_opening.get();
    m_unlock.busy = false;
    m_creating = false;
    if (!opened) {
        m_unlock.refusalKey = parts::errorKey(opened.code());
        m_unlock.refusalDetail = opened.message();
        m_glyphs.add(m_unlock.refusalDetail);
        return;
    }
    m_session = std::move(*opened);
    auto wake = m_wake;
    m_thumbs.setWake(wake);
    // No server known is normal (a store that works offline only): the status line says so.
    auto started = m_session->startSyncWorker([wake](const std::vector<app::ArrivalView>&) { if (wake) wake(); }, wake);
    m_status = {};
    m_status.unlocked = true;
    m_status.haveServer = started.ok();
    if (!started && started.code() != app::AppError::NotFound) m_status.problem = started.message();
    auto self = m_session->self();
    m_self = self ? *self : app::SelfView{};
    m_glyphs.add(m_self.name);
    m_views = m_self.enrolled ? viewsFor(m_self.role) : std::vector<ViewId>{ViewId::Enrol, ViewId::Settings};
    if (!m_self.enrolled) reloadEnrol();
    m_seenChanges = m_session->changeCount();
    reload();
    for (const auto& n : m_inbox.notices) m_inbox.seen.insert(n.id);  // what was there before this unlock is not new
    auto server = m_session->server();
    if (server) m_settings.server = *server;
    show(m_views.front());
}

void Controller::lock() {
    if (m_handover.task) m_handover.task->cancel();
    m_handover = {};
    m_thumbs.clear();
    m_picker.close();
    // The running attach is waited for by the session (its task commits or is cancelled); the
    // files still queued are not attached: the unlock view says so.
    const bool attachesDropped = m_attachQueue.size() > (m_attachTask ? 1u : 0u);
    m_attachTask.reset();
    m_attachQueue.clear();
    m_session.reset();  // drops every key (app/session.h "Locked")
    m_findings.clear();
    m_status = {};
    m_today = {};
    m_editor = {};
    m_review = {};
    m_inbox = {};
    m_self = {};
    m_views.clear();
    parts::wipe(m_settings.newPassphrase);
    parts::wipe(m_settings.newPassphraseAgain);
    m_settings.message = {};
    m_settings.server.reset();
    if (m_settings.verifyTask) m_settings.verifyTask->cancel();
    m_settings.verifyTask.reset();
    m_settings.verified.reset();
    m_enrol = {};
    m_agreement = {};
    m_view = ViewId::Unlock;
    if (attachesDropped) {
        m_unlock.refusalKey = "unlock.attach_dropped";
        m_unlock.refusalDetail.clear();
    }
}

void Controller::addGlyphs(const app::FindingView& f) {
    m_glyphs.add(f.title);
    m_glyphs.add(f.description);
    m_glyphs.add(f.responsiblePerson);
    m_glyphs.add(f.reviewNote);
    for (const auto& a : f.attachments) m_glyphs.add(a.name);
}

void Controller::reload() {
    auto list = m_session->findings();
    if (!list) {
        m_status.problem = list.message();
        return;
    }
    for (const auto& f : *list) addGlyphs(f);
    m_findings.setFindings(*list, m_strings);
    reloadToday(*list);
    reloadReview(*list);
    reloadInbox();
    if (m_editor.open && !m_editor.id.empty()) reloadEditor();
    if (m_view == ViewId::Handover) reloadHandover();
}

void Controller::refreshStatus(std::int64_t nowMs) {
    m_statusAtMs = nowMs;
    if (!m_session || !m_status.haveServer) return;
    auto s = m_session->syncStatus();
    if (!s) {
        m_status.problem = s.message();
        return;
    }
    m_status.sync = *s;
    m_status.problem.clear();
    m_glyphs.add(s->server);
    m_glyphs.add(s->lastError);
}

std::optional<std::int64_t> Controller::lockDueMs() const {
    if (!m_session || m_autoLockMs <= 0 || working()) return std::nullopt;
    return m_lastActivityMs + m_autoLockMs;
}

bool Controller::poll(std::int64_t nowMs) {
    bool changed = false;
    m_lastPollMs = nowMs;
    if (m_opening.valid() && m_opening.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
        finishUnlock();
        m_lastActivityMs = nowMs;  // the inactivity clock starts at the unlock
        refreshStatus(nowMs);
        changed = true;
    }
    if (m_exclusive.valid()) {
        if (m_exclusive.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return false;
        auto result = m_exclusive.get();
        auto done = std::move(m_exclusiveDone);
        m_exclusiveDone = {};
        if (done) done(result);
        m_lastActivityMs = nowMs;
        changed = true;
    }
    if (working()) m_lastActivityMs = nowMs;  // waiting for an export is not inactivity
    if (auto due = lockDueMs(); due && nowMs >= *due) {
        lock();
        m_unlock.refusalKey = "unlock.auto_locked";
        m_unlock.refusalDetail.clear();
        return true;
    }
    if (m_thumbs.poll()) changed = true;
    if (m_session) {
        if (m_handover.task) {
            pollExport();
            changed = true;
        }
        if (m_settings.verifyTask) {
            pollVerify();
            changed = true;
        }
        if (m_attachTask) {
            pollAttach();
            changed = true;
        }
        if (m_inbox.replyTask) {
            pollReply();
            changed = true;
        }
        auto c = m_session->changeCount();
        if (c != m_seenChanges) {
            m_seenChanges = c;
            reload();
            refreshStatus(nowMs);
            changed = true;
        } else if (nowMs - m_statusAtMs >= 1000) {
            refreshStatus(nowMs);
            changed = true;
        }
    }
    return changed;
}

nlohmann::json Controller::state() const {
    nlohmann::json titles = nlohmann::json::array();
    for (std::size_t i : m_findings.visible()) titles.push_back(m_findings.rows()[i].title);
    auto messageOf = [](const Message& m) { return m.key.empty() ? std::string("none") : m.key; };
    nlohmann::json s = {
        {"view", viewName(m_view)},
        {"lang", langCode(m_strings.lang())},
        {"unlocked", m_session ? "yes" : "no"},
        {"busy", m_unlock.busy ? "yes" : "no"},
        {"refusal", m_unlock.refusalKey.empty() ? "none" : m_unlock.refusalKey},
        {"filter", m_findings.filter()},
        {"rows", std::to_string(m_findings.rows().size())},
        {"shown", std::to_string(m_findings.visible().size())},
        {"titles", titles},
        {"role", m_session ? app::toString(m_self.role) : std::string("none")},
        {"online", m_status.sync.online ? "yes" : "no"},
        {"waiting", std::to_string(m_status.sync.waitingChangeSets + m_status.sync.waitingEvidence)},
        {"today_day", std::to_string(m_today.day)},
        {"today_inspection", m_today.have ? m_today.inspection.title : std::string()},
        {"agreement_required", m_today.have && m_today.inspection.agreementRequired ? "yes" : "no"},
        {"agreement_signed", m_today.have && m_today.inspection.agreementSigned ? "yes" : "no"},
        {"agreement_message", messageOf(m_agreement.message)},
        {"editor_id", m_editor.id},
        {"editor_title", m_editor.title},
        {"editor_status", m_editor.open ? app::toString(m_editor.status) : std::string("none")},
        {"editor_immediate_fix", m_editor.immediateFix ? "yes" : "no"},
        {"editor_tags", joinTags(m_editor.tags)},
        {"editor_attachments", std::to_string(m_editor.attachments.size())},
        {"editor_pending", std::to_string(m_editor.pending.size())},
        {"editor_attaching", std::to_string(m_editor.attaching.size())},
        {"editor_conflicts", std::to_string(m_editor.conflicts.size())},
        {"editor_message", messageOf(m_editor.message)},
        {"editor_detail", m_editor.message.detail},
        {"review_submitted", std::to_string(m_review.submitted.size())},
        {"review_to_notify", std::to_string(m_review.toNotify.size())},
        {"review_message", messageOf(m_review.message)},
        {"review_issued", std::to_string(m_review.issued.size())},
        {"review_acknowledged", std::to_string(std::count_if(m_review.issued.begin(), m_review.issued.end(),
                                                             [](const app::NoticeView& n) { return n.acknowledged; }))},
        {"review_detail", m_review.message.detail},
        {"review_agreements_open", std::to_string(std::count_if(m_review.agreements.begin(), m_review.agreements.end(),
                                                                [](const ReviewModel::AgreementRow& a) { return a.signedAtMs == 0; }))},
        {"review_agreements_signed", std::to_string(std::count_if(m_review.agreements.begin(), m_review.agreements.end(),
                                                                  [](const ReviewModel::AgreementRow& a) { return a.signedAtMs != 0; }))},
        {"notices", std::to_string(m_inbox.notices.size())},
        {"notices_unacknowledged", std::to_string(m_inbox.unacknowledged())},
        {"inbox_badge", std::to_string(m_inbox.unseen())},
        {"inbox_message", messageOf(m_inbox.message)},
        {"inbox_sending", m_inbox.sending() ? "yes" : "no"},
        {"review_reply_files", std::to_string([&] {
             int n = 0;
             for (const auto& notice : m_review.issued)
                 for (const auto& r : notice.replies) n += r.fileState == "held";
             return n;
         }())},
        {"handover_state", m_handover.running()     ? "running"
                           : m_handover.confirmed   ? "wiped"
                           : m_handover.exported    ? "exported"
                                                    : "none"},
        {"handover_message", messageOf(m_handover.message)},
        {"handover_ack", m_handover.ackDelivery(m_status)},
        {"handover_path", m_handover.path},
        {"handover_detail", m_handover.message.detail},
        {"settings_message", messageOf(m_settings.message)},
        {"verify_state", m_settings.verifying()                    ? "running"
                         : !m_settings.verified                   ? "none"
                         : m_settings.verified->ok                ? "ok"
                                                                  : "problems"},
        {"auto_lock_ms", std::to_string(m_autoLockMs)},
        {"first_run", firstRun() ? "yes" : "no"},
        {"enrolled", m_session && m_self.enrolled ? "yes" : "no"},
        {"enrol_message", messageOf(m_enrol.message)},
        {"enrol_detail", m_enrol.message.detail},
        {"fingerprint", m_enrol.identity.fingerprint},
        {"picker_open", m_picker.isOpen() ? "yes" : "no"},
        {"picker_folder", m_picker.folder().string()},
        {"picker_entries", std::to_string(m_picker.entries().size())},
        {"picker_problem", m_picker.problem().empty() ? "none" : m_picker.problem()},
    };
    return s;
}

}  // namespace xs::ui
