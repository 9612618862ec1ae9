// The desktop client's state and its intents: what the views draw from, and the one place where
// what a person does (a click, a key, a line of a test script) changes anything.
//
// Views read this state during a frame and post() intents; applyIntents() runs them after the
// frame (imgui_demo's Documents example queues closes the same way), so no draw() ever calls
// the session, and the script mode (app/ui/model/script.h) drives exactly the path a click takes.
//
// The session (app/session.h) is the only way to the store. Unlocking runs the passphrase KDF
// off the UI thread (busy() while it does); everything else the session answers at once.
//
// Thread-safety: UI thread only. The wake callback (set by the window) may be called from the
// sync worker's thread: it must be thread-safe itself (glfwPostEmptyEvent is).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "app/session.h"
#include "app/ui/model/glyphs.h"
#include "app/ui/model/strings.h"

namespace xs::ui {

enum class ViewId { Unlock, Findings };
enum class Field { Store, Passphrase, Filter };
enum class Button { Unlock, Lock };

const char* viewName(ViewId v);  // "unlock" | "findings": script words and string keys (view.<name>)
std::optional<ViewId> parseView(std::string_view name);
std::optional<Field> parseField(std::string_view name);  // store | passphrase | filter
std::optional<Button> parseButton(std::string_view name);  // unlock | lock
// The view a field or button is on (scripts may use only what the current view shows).
ViewId viewOf(Field f);

// String-table keys of the domain's enums: category.<spelling>, severity.<…>, finding_status.<…>.
std::string labelKey(app::FindingCategory c);
std::string labelKey(app::Severity s);
std::string labelKey(app::FindingStatus s);

// The intents: what a person (or a script line) asked for.
struct EditField {
    Field field = Field::Store;
    std::string text;
};
struct Press {
    Button button = Button::Unlock;
};
struct ShowView {
    ViewId view = ViewId::Unlock;
};
struct SetLanguage {
    Lang lang = Lang::Zh;
};

// One row of the Findings table, ready to draw; `haystack` is what the filter searches.
struct FindingRow {
    std::string id, title;
    app::FindingCategory category = app::FindingCategory::Other;
    app::Severity severity = app::Severity::Medium;
    app::FindingStatus status = app::FindingStatus::Draft;
    bool immediateFix = false;
    std::string haystack;  // title, description, people, and the labels in both languages, ASCII lower-cased
};

// The Findings view's model: every finding of the store, and the indices the filter lets through.
// The filter is a list of words separated by spaces; a row passes when it contains all of them
// (ASCII letters case-insensitively), in its text or in its labels in either language.
class FindingsModel {
public:
    void setFindings(const std::vector<app::FindingView>& list, const Strings& strings);
    void setFilter(std::string text);
    void clear();
    const std::vector<FindingRow>& rows() const { return m_rows; }
    const std::vector<std::size_t>& visible() const { return m_visible; }
    const std::string& filter() const { return m_filter; }
    static bool matches(const FindingRow& row, const std::string& filter);

private:
    void refilter();
    std::vector<FindingRow> m_rows;
    std::vector<std::size_t> m_visible;
    std::string m_filter;
};

// What the unlock view shows.
struct UnlockState {
    std::string store;       // the directory field
    std::string passphrase;  // the passphrase field; wiped once used
    bool busy = false;       // the KDF is running
    std::string refusalKey;  // string-table key of the last refusal; empty: none
    std::string refusalDetail;  // the session's own words for it (domain text, not translated)
};

// What the status line shows.
struct StatusModel {
    bool unlocked = false;
    bool haveServer = false;  // false: no server known (the store works offline only)
    app::SyncStatusView sync;
    std::string problem;  // the status could not be read: why
};

class Controller {
public:
    Controller(Strings& strings, std::filesystem::path store);
    ~Controller();
    Controller(const Controller&) = delete;
    Controller& operator=(const Controller&) = delete;

    // Called (from any thread) when something arrived that should be drawn: the window's wake.
    void setWake(std::function<void()> wake) { m_wake = std::move(wake); }

    // During a frame: views and scripts queue what the person did.
    void post(EditField i) { m_queue.push_back({Queued::Kind::Edit, std::move(i), {}, {}, {}}); }
    void post(Press i) { m_queue.push_back({Queued::Kind::Press, {}, i, {}, {}}); }
    void post(ShowView i) { m_queue.push_back({Queued::Kind::Show, {}, {}, i, {}}); }
    void post(SetLanguage i) { m_queue.push_back({Queued::Kind::Language, {}, {}, {}, i}); }
    // After the frame: runs the queued intents in order. Returns, for scripts, each intent that
    // made no sense where the client stands (a button of another view, a view that needs an
    // unlocked store); a refusal by the domain is not one of them, it is shown in the view.
    std::vector<std::string> applyIntents();
    // Before a frame: takes a finished unlock, re-reads the views when the store changed, the
    // sync status once a second. Returns whether anything shown may have changed.
    bool poll(std::int64_t nowMs);

    // Auto-lock (issue 12: default 10 minutes): poll() locks once nowMs is autoLockMs past the last
    // activity, dropping every key with the session, and the unlock view says why. The window
    // calls noteActivity() on input; every applied intent counts too. 0: never.
    static constexpr std::int64_t kDefaultAutoLockMs = 10 * 60 * 1000;
    void setAutoLock(std::int64_t ms) { m_autoLockMs = ms; }
    std::int64_t autoLockMs() const { return m_autoLockMs; }
    void noteActivity(std::int64_t nowMs) { m_lastActivityMs = nowMs; }
    // When poll() would lock (for the window's wait); nullopt when locked or never.
    std::optional<std::int64_t> lockDueMs() const;

    bool busy() const { return m_unlock.busy; }
    bool unlocked() const { return m_session != nullptr; }
    ViewId view() const { return m_view; }
    Lang lang() const { return m_strings.lang(); }
    const Strings& strings() const { return m_strings; }
    const UnlockState& unlockState() const { return m_unlock; }
    const FindingsModel& findings() const { return m_findings; }
    const StatusModel& status() const { return m_status; }
    // Every character the views may draw (string table, store text shown, text typed).
    const GlyphSet& glyphs() const { return m_glyphs; }

    // The client's state in a few words, for scripts' `expect` and the tests: view, lang,
    // unlocked, busy, refusal, filter, rows, shown, titles (the shown rows').
    nlohmann::json state() const;

private:
    // One posted intent (a plain struct rather than a std::variant: GCC 12 -Wmaybe-uninitialized
    // misfires on variants holding strings).
    struct Queued {
        enum class Kind { Edit, Press, Show, Language } kind;
        EditField edit;
        Press press;
        ShowView show;
        SetLanguage language;
    };
    std::optional<std::string> apply(const EditField& e);
    std::optional<std::string> apply(const Press& p);
    std::optional<std::string> apply(const ShowView& v);
    std::optional<std::string> apply(const SetLanguage& l);
    void startUnlock();
    void finishUnlock();
    void lock();
    void reload();
    void refreshStatus(std::int64_t nowMs);

    Strings& m_strings;
    GlyphSet m_glyphs;
    std::function<void()> m_wake;
    std::vector<Queued> m_queue;
    ViewId m_view = ViewId::Unlock;
    UnlockState m_unlock;
    std::future<app::AResult<std::unique_ptr<app::Session>>> m_opening;  // valid while unlocking
    std::unique_ptr<app::Session> m_session;                              // null: locked
    std::uint64_t m_seenChanges = 0;
    std::int64_t m_statusAtMs = 0;
    std::int64_t m_autoLockMs = kDefaultAutoLockMs;
    std::int64_t m_lastActivityMs = 0;
    std::int64_t m_lastPollMs = 0;
    FindingsModel m_findings;
    StatusModel m_status;
};

}  // namespace xs::ui
