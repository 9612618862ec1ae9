#include "app/ui/model/controller.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace xs::ui {

namespace {

std::string lowerAscii(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

const char* errorKey(app::AppError e) {
    switch (e) {
        case app::AppError::Locked: return "error.locked";
        case app::AppError::NotFound: return "error.not_found";
        case app::AppError::Refused: return "error.refused";
        case app::AppError::Tampered: return "error.tampered";
        case app::AppError::Busy: return "error.busy";
        case app::AppError::DiskFull: return "error.disk_full";
        case app::AppError::Cancelled: return "error.cancelled";
        case app::AppError::Offline: return "error.offline";
        default: return "error.failed";
    }
}

// Overwrites a secret before its memory is given back.
void wipe(std::string& s) {
    volatile char* p = s.data();
    for (std::size_t i = 0; i < s.size(); ++i) p[i] = 0;
    s.clear();
}

}  // namespace

const char* viewName(ViewId v) { return v == ViewId::Unlock ? "unlock" : "findings"; }

std::optional<ViewId> parseView(std::string_view name) {
    if (name == "unlock") return ViewId::Unlock;
    if (name == "findings") return ViewId::Findings;
    return std::nullopt;
}

std::optional<Field> parseField(std::string_view name) {
    if (name == "store") return Field::Store;
    if (name == "passphrase") return Field::Passphrase;
    if (name == "filter") return Field::Filter;
    return std::nullopt;
}

std::optional<Button> parseButton(std::string_view name) {
    if (name == "unlock") return Button::Unlock;
    if (name == "lock") return Button::Lock;
    return std::nullopt;
}

ViewId viewOf(Field f) { return f == Field::Filter ? ViewId::Findings : ViewId::Unlock; }

std::string labelKey(app::FindingCategory c) { return "category." + app::toString(c); }
std::string labelKey(app::Severity s) { return "severity." + app::toString(s); }
std::string labelKey(app::FindingStatus s) { return "finding_status." + app::toString(s); }

// ---- FindingsModel

void FindingsModel::setFindings(const std::vector<app::FindingView>& list, const Strings& strings) {
    m_rows.clear();
    m_rows.reserve(list.size());
    Strings both = strings;  // labels in both languages go into the haystack
    for (const auto& f : list) {
        FindingRow r;
        r.id = f.id;
        r.title = f.title;
        r.category = f.category;
        r.severity = f.severity;
        r.status = f.status;
        r.immediateFix = f.immediateFix;
        std::string hay = f.title + "\n" + f.description + "\n" + f.responsiblePerson + "\n" + f.auditCategory;
        for (Lang l : {Lang::Zh, Lang::En}) {
            both.setLang(l);
            for (const std::string& key : {labelKey(f.category), labelKey(f.severity), labelKey(f.status)})
                hay += std::string("\n") + both.text(key);
            if (f.immediateFix) hay += std::string("\n") + both.text("findings.immediate_fix");
        }
        r.haystack = lowerAscii(std::move(hay));
        m_rows.push_back(std::move(r));
    }
    refilter();
}

void FindingsModel::setFilter(std::string text) {
    m_filter = std::move(text);
    refilter();
}

void FindingsModel::clear() {
    m_rows.clear();
    m_visible.clear();
    m_filter.clear();
}

bool FindingsModel::matches(const FindingRow& row, const std::string& filter) {
    const std::string f = lowerAscii(filter);
    std::size_t at = 0;
    while (at < f.size()) {
        std::size_t end = f.find(' ', at);
        if (end == std::string::npos) end = f.size();
        if (end > at && row.haystack.find(std::string_view(f).substr(at, end - at)) == std::string::npos) return false;
        at = end + 1;
    }
    return true;
}

void FindingsModel::refilter() {
    m_visible.clear();
    for (std::size_t i = 0; i < m_rows.size(); ++i)
        if (matches(m_rows[i], m_filter)) m_visible.push_back(i);
}

// ---- Controller

Controller::Controller(Strings& strings, std::filesystem::path store) : m_strings(strings) {
    m_unlock.store = store.string();
    for (const auto& t : m_strings.allTexts()) m_glyphs.add(t);
    m_glyphs.add(m_unlock.store);
}

Controller::~Controller() {
    if (m_opening.valid()) m_opening.wait();
    m_session.reset();
    wipe(m_unlock.passphrase);
}

std::vector<std::string> Controller::applyIntents() {
    if (!m_queue.empty() && m_lastPollMs > m_lastActivityMs) m_lastActivityMs = m_lastPollMs;
    std::vector<std::string> problems;
    std::vector<Queued> queue;
    queue.swap(m_queue);
    for (const auto& q : queue) {
        std::optional<std::string> problem;
        switch (q.kind) {
            case Queued::Kind::Edit: problem = apply(q.edit); break;
            case Queued::Kind::Press: problem = apply(q.press); break;
            case Queued::Kind::Show: problem = apply(q.show); break;
            case Queued::Kind::Language: problem = apply(q.language); break;
        }
        if (problem) problems.push_back(*problem);
    }
    return problems;
}

std::optional<std::string> Controller::apply(const EditField& e) {
    if (viewOf(e.field) != m_view)
        return std::string("the field is not on the ") + viewName(m_view) + " view";
    switch (e.field) {
        case Field::Store:
            m_unlock.store = e.text;
            m_glyphs.add(e.text);
            break;
        case Field::Passphrase:
            wipe(m_unlock.passphrase);
            m_unlock.passphrase = e.text;
            break;
        case Field::Filter:
            m_glyphs.add(e.text);
            m_findings.setFilter(e.text);
            break;
    }
    return std::nullopt;
}

std::optional<std::string> Controller::apply(const Press& p) {
    switch (p.button) {
        case Button::Unlock:
            if (m_view != ViewId::Unlock) return std::string("there is no unlock button on the ") + viewName(m_view) + " view";
            if (m_unlock.busy) return std::string("the store is being unlocked already");
            startUnlock();
            return std::nullopt;
        case Button::Lock:
            if (!m_session) return std::string("the store is locked already");
            lock();
            return std::nullopt;
    }
    return std::nullopt;
}

std::optional<std::string> Controller::apply(const ShowView& v) {
    if (v.view != ViewId::Unlock && !m_session) return std::string("the ") + viewName(v.view) + " view needs an unlocked store";
    if (v.view == ViewId::Unlock && m_session) return std::string("the store is unlocked: lock it to see the unlock view");
    m_view = v.view;
    return std::nullopt;
}

std::optional<std::string> Controller::apply(const SetLanguage& l) {
    m_strings.setLang(l.lang);
    return std::nullopt;
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
    wipe(m_unlock.passphrase);
    auto wake = m_wake;
    m_opening = std::async(std::launch::async, [dir, pass = std::move(pass), wake]() mutable {
        auto s = app::Session::open(dir, pass);
        wipe(pass);
        if (wake) wake();
        return s;
    });
}

void Controller::finishUnlock() {
    auto opened = m_opening.get();
    m_unlock.busy = false;
    if (!opened) {
        m_unlock.refusalKey = errorKey(opened.code());
        m_unlock.refusalDetail = opened.message();
        m_glyphs.add(m_unlock.refusalDetail);
        return;
    }
    m_session = std::move(*opened);
    auto wake = m_wake;
    // No server known is normal (a store that works offline only): the status line says so.
    auto started = m_session->startSyncWorker([wake](const std::vector<app::ArrivalView>&) { if (wake) wake(); }, wake);
    m_status = {};
    m_status.unlocked = true;
    m_status.haveServer = started.ok();
    if (!started && started.code() != app::AppError::NotFound) m_status.problem = started.message();
    m_seenChanges = m_session->changeCount();
    reload();
    m_view = ViewId::Findings;
}

void Controller::lock() {
    m_session.reset();  // drops every key (app/session.h "Locked")
    m_findings.clear();
    m_status = {};
    m_view = ViewId::Unlock;
}

void Controller::reload() {
    auto list = m_session->findings();
    if (!list) {
        m_status.problem = list.message();
        return;
    }
    for (const auto& f : *list) {
        m_glyphs.add(f.title);
        m_glyphs.add(f.description);
    }
    std::string filter = m_findings.filter();
    m_findings.setFindings(*list, m_strings);
    m_findings.setFilter(std::move(filter));
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
    if (!m_session || m_autoLockMs <= 0) return std::nullopt;
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
    if (auto due = lockDueMs(); due && nowMs >= *due) {
        lock();
        m_unlock.refusalKey = "unlock.auto_locked";
        m_unlock.refusalDetail.clear();
        return true;
    }
    if (m_session) {
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
    return {
        {"view", viewName(m_view)},
        {"lang", langCode(m_strings.lang())},
        {"unlocked", m_session ? "yes" : "no"},
        {"busy", m_unlock.busy ? "yes" : "no"},
        {"refusal", m_unlock.refusalKey.empty() ? "none" : m_unlock.refusalKey},
        {"filter", m_findings.filter()},
        {"rows", std::to_string(m_findings.rows().size())},
        {"shown", std::to_string(m_findings.visible().size())},
        {"titles", titles},
    };
}

}  // namespace xs::ui
