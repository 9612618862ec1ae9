// The desktop client's state and its intents: what the views draw from, and the one place where
// what a person does (a click, a key, a line of a test script) changes anything.
//
// Views read this state during a frame and post() intents; applyIntents() runs them after the
// frame (imgui_demo's Documents example queues closes the same way), so no draw() ever calls
// the session, and the script mode (app/ui/model/script.h) drives exactly the path a click takes.
//
// The session (app/session.h) is the only way to the store. Unlocking runs the passphrase KDF
// off the UI thread (busy() while it does), and so does a passphrase change; handover export is
// a Task (progress, cancel); everything else the session answers at once.
//
// Which views a person sees follows their role (viewsFor): inspectors start on Today, the unit
// head on the Inbox, the audit office on the Findings.
//
// Drafts are durable: an edited field of the finding editor is committed to the encrypted store
// when the person leaves it (LeaveField) or presses save — a new finding becomes a draft in the
// store as soon as it has a title; nothing waits in memory only but the field being typed.
//
// Thread-safety: UI thread only. The wake callback (set by the window) may be called from the
// sync worker's and tasks' threads: it must be thread-safe itself (glfwPostEmptyEvent is).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "app/session.h"
#include "app/ui/model/file_picker.h"
#include "app/ui/model/glyphs.h"
#include "app/ui/model/strings.h"
#include "app/ui/model/thumbnails.h"

namespace xs::ui {

enum class ViewId { Unlock, Today, Findings, Editor, Review, Inbox, Handover, Settings, Enrol, Agreement };
inline constexpr std::size_t kViewCount = 10;
enum class Field {
    Store, Passphrase, Filter,
    // the finding editor
    Title, Description, Category, Severity, AuditCategory, Responsible, ImmediateFix, Tags, EvidencePath, Merge,
    // the review queue
    ReviewNote, NoticeProblem, NoticeAction, NoticeDeadline,
    // the inbox
    Reply, ReplyFile,
    // handover
    HandoverPath, ReceiptPath,
    // settings
    AutoLockMinutes, NewPassphrase, NewPassphraseAgain,
    // first run (on the unlock view) and enrolment
    Name, Role, PassphraseAgain, IdentityPath, EnrolmentFile, ServerUrl, ServerPin, Code,
};
inline constexpr std::size_t kFieldCount = 32;
enum class Button {
    Unlock, Lock,
    NewFinding, Save, Submit, Attach, UseMerge,
    Confirm, Return, IssueNotice,
    Acknowledge, SendReply,
    Export, CancelTask, ConfirmReceipt,
    SaveSettings, ChangePassphrase,
    Create, ExportIdentity, AcceptEnrolment, Join,
    SignAgreement,
    PickFolder, ClosePicker,  // the file dialog (over any view)
    Verify,                   // settings: check the store (a task)
};
inline constexpr std::size_t kButtonCount = 25;
// Lists a person picks a row of.
enum class ListId { Finding, Review, Notice, Inspection, File, Place };  // File, Place: the file dialog's

const char* viewName(ViewId v);  // script words and string keys (view.<name>)
std::optional<ViewId> parseView(std::string_view name);
const char* fieldName(Field f);
std::optional<Field> parseField(std::string_view name);
const char* buttonName(Button b);
std::optional<Button> parseButton(std::string_view name);
std::optional<ListId> parseList(std::string_view name);  // finding | review | notice | inspection
// The view a field or button is on (scripts may use only what the current view shows).
ViewId viewOf(Field f);
ViewId viewOf(Button b);  // Lock: any view (ViewId::Unlock stands for "any")

// String-table keys of the domain's enums: category.<spelling>, severity.<…>, finding_status.<…>.
std::string labelKey(app::FindingCategory c);
std::string labelKey(app::Severity s);
std::string labelKey(app::FindingStatus s);
std::string labelKey(app::FindingTag t);
// The finding editor's tags field: the tags' spellings joined by commas ("common,emerging"), in
// the enum's order, each once; parseTags takes any order and repeats, nullopt for a word that is
// not a tag; "" is no tags.
std::string joinTags(const std::vector<app::FindingTag>& tags);
std::optional<std::vector<app::FindingTag>> parseTags(std::string_view text);
std::vector<app::FindingTag> orderedTags(const std::vector<app::FindingTag>& tags);  // the enum's order, each once

// The views a role sees, home first.
std::vector<ViewId> viewsFor(app::Role role);

// The intents: what a person (or a script line) asked for.
struct EditField {
    Field field = Field::Store;
    std::string text;
};
struct LeaveField {  // the person left a field: an editor field is saved
    Field field = Field::Title;
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
struct Select {
    ListId list = ListId::Finding;
    std::string id;
};
struct DropFiles {  // files dropped on the window (or picked): evidence for the finding being edited
    std::vector<std::string> paths;
};
struct Browse {  // open the file dialog for a path field (evidence, handover, receipt, enrolment, identity, store)
    Field field = Field::EvidencePath;
};
struct Resolve {  // take one side of a conflict on a field of the finding being edited
    std::string field;  // the record's field name (title, description, …)
    std::size_t version = 0;
};

// A refusal or confirmation shown next to the field or button it concerns.
struct Message {
    std::string key;     // string-table key; empty: none
    std::string detail;  // the domain's own words (not translated)
    std::optional<Field> field;
    std::optional<Button> button;
    bool error = true;
    bool at(Field f) const { return !key.empty() && field == f; }
    bool at(Button b) const { return !key.empty() && button == b; }
};

// One row of the Findings table, ready to draw; `haystack` is what the filter searches.
struct FindingRow {
    std::string id, title, inspectionId;
    app::FindingCategory category = app::FindingCategory::Other;
    app::Severity severity = app::Severity::Medium;
    app::FindingStatus status = app::FindingStatus::Draft;
    bool immediateFix = false;
    std::vector<app::FindingTag> tags;
    std::int64_t createdAtMs = 0;
    std::string haystack;  // title, description, people, and the labels in both languages, ASCII lower-cased
};

enum class SortKey { Created, Title, Category, Severity, Status };

// The Findings view's model: every finding of the store, and the indices the filter lets through.
// The filter is a list of words separated by spaces; a row passes when it contains all of them
// (ASCII letters case-insensitively), in its text or in its labels in either language; the
// status / category / severity choices narrow it further.
class FindingsModel {
public:
    void setFindings(const std::vector<app::FindingView>& list, const Strings& strings);
    void setFilter(std::string text);
    void setStatus(std::optional<app::FindingStatus> s);
    void setCategory(std::optional<app::FindingCategory> c);
    void setSeverity(std::optional<app::Severity> s);
    void setTag(std::optional<app::FindingTag> t);  // rows carrying this tag
    void setSort(SortKey key, bool descending);
    void clear();
    const std::vector<FindingRow>& rows() const { return m_rows; }
    const std::vector<std::size_t>& visible() const { return m_visible; }
    const std::string& filter() const { return m_filter; }
    std::optional<app::FindingStatus> status() const { return m_status; }
    std::optional<app::FindingCategory> category() const { return m_category; }
    std::optional<app::Severity> severity() const { return m_severity; }
    std::optional<app::FindingTag> tag() const { return m_tag; }
    SortKey sortKey() const { return m_sort; }
    bool descending() const { return m_descending; }
    static bool matches(const FindingRow& row, const std::string& filter);
    static std::vector<std::string> splitFilter(const std::string& filter);  // ASCII lower-cased words
    static bool matchesWords(const FindingRow& row, const std::vector<std::string>& words);
    const FindingRow* byId(const std::string& id) const;
    const FindingRow* byTitle(const std::string& title) const;

private:
    void refilter();
    std::vector<FindingRow> m_rows;
    std::vector<std::size_t> m_visible;
    std::string m_filter;
    std::optional<app::FindingStatus> m_status;
    std::optional<app::FindingCategory> m_category;
    std::optional<app::Severity> m_severity;
    std::optional<app::FindingTag> m_tag;
    SortKey m_sort = SortKey::Created;
    bool m_descending = false;
};

// What the unlock view shows. Where the directory holds no store yet, it offers to create one
// (first run): a name, the role, the passphrase twice with a strength hint.
struct UnlockState {
    std::string store;       // the directory field
    std::string passphrase;  // the passphrase field; wiped once used
    std::string passphraseAgain, name, role = "working_group_member";  // first run
    int strength = 0;        // of passphrase, for the hint (first run)
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

// The inspector's home: the current inspection and where the week stands.
struct TodayModel {
    bool have = false;  // an inspection of this person's
    app::InspectionView inspection;
    int day = 0;        // on-site day N (1-based; 0: not started, > days: over)
    int days = 0;       // the on-site days, approved extensions included
    int pendingExtensions = 0, approvedExtensions = 0;
    std::map<app::FindingStatus, int> byStatus;
    std::map<app::FindingCategory, int> byCategory;
    int immediateAwaitingReview = 0;  // immediate-fix findings submitted, not yet confirmed
    int total = 0;
};

// A file dropped on the editor before it was attached (the finding is not in the store yet).
struct PendingFile {
    std::string path, name;
    std::uint64_t size = 0;
};

// The finding editor: a copy of the finding being edited, what was loaded (to save only what
// changed), its evidence, history and conflicts.
struct EditorModel {
    bool open = false;
    std::string id;  // empty: a new finding, not in the store yet
    std::string inspectionId, inspectionTitle;
    std::string title, description, category, severity, auditCategory, responsible;
    bool immediateFix = false;
    std::vector<app::FindingTag> tags;  // in the enum's order, each once (普遍性 倾向性 苗头性, article 7(3))
    app::FindingStatus status = app::FindingStatus::Draft;
    std::string author, reviewNote;
    std::vector<app::AttachmentView> attachments;
    std::vector<PendingFile> pending;
    // This finding's files being stored (read, hashed, encrypted off the UI thread; the
    // controller's queue, which outlives the editor switching to another finding).
    std::vector<PendingFile> attaching;
    std::string evidencePath;  // the path field of "attach a file"
    std::vector<app::FieldVersionView> history;
    std::vector<app::ConflictView> conflicts;  // of this finding
    std::string merge;                        // the merge field of the first text conflict
    app::FindingView loaded;                  // as last read from the store
    Message message;
    bool dirty() const;                       // a field differs from what was loaded
};

// The working-group lead's review queue.
struct ReviewModel {
    std::vector<app::FindingView> submitted;        // awaiting confirm or return
    std::vector<app::FindingView> toNotify;         // confirmed immediate-fix findings without a notice
    std::vector<app::NoticeView> issued;            // notices of these inspections, newest first: acknowledged?
    // The confidentiality agreement (article 7(4)) of these inspections: everyone who must sign
    // it, those who have not yet first, then the signatures oldest first.
    struct AgreementRow {
        std::string inspection, person;  // titles and names as shown
        std::int64_t signedAtMs = 0;     // 0: not signed yet
    };
    std::vector<AgreementRow> agreements;
    std::string selected;                           // a finding id of either list
    std::string note;                               // why it is returned (required) or confirmed
    std::string problem, action, deadline;          // the notice to the unit head
    Message message;
    const app::FindingView* selectedFinding() const;
};

// The unit head's inbox.
struct InboxModel {
    std::vector<app::NoticeView> notices;  // newest first
    std::set<std::string> seen;            // ids shown in the inbox already
    std::string selected;
    std::string reply;
    std::string replyFile;  // rectification material sent with the reply (整改材料); empty: none
    std::shared_ptr<app::Task<std::string>> replyTask;  // a reply with a file: stored off the UI thread
    bool sending() const { return replyTask && !replyTask->finished(); }
    Message message;
    int unacknowledged() const;
    int unseen() const;  // the badge
    const app::NoticeView* selectedNotice() const;
};

// Export, receipt, wipe.
struct HandoverModel {
    std::vector<app::InspectionView> inspections;
    std::string inspection;  // id chosen
    std::string path;        // where the bundle goes (a USB stick)
    std::string receiptPath;
    std::shared_ptr<app::Task<app::HandoverExportView>> task;  // null: none started
    app::ProgressSnapshot progress;
    std::optional<app::HandoverExportView> exported;
    std::optional<app::HandoverConfirmView> confirmed;
    std::string ackPath;  // where the signed shred acknowledgement was written for the office
    std::vector<app::WipeRecordView> wiped;  // what verify knows was wiped here before
    Message message;
    bool running() const { return task && !task->finished(); }
    // Where the signed shred acknowledgement stands for the office, after the wipe: "none" (no
    // wipe), "by_hand" (no server: the file beside the receipt is how it gets there), "waiting"
    // (not on the server yet), "on_server" (this device's chain, the acknowledgement in it, is on
    // the server since a round after the wipe: the office's next sync brings it).
    std::string ackDelivery(const StatusModel& status) const;
};

// A store not enrolled yet: its identity for the office, or the office's enrolment file, or the
// one-time code (online).
struct EnrolModel {
    app::IdentityView identity;
    std::string identityPath, enrolmentFile, url, pin, code;
    bool joining = false;  // waiting for the office's answer (off the UI thread)
    Message message;
};

// The confidentiality agreement (article 7(4)) of the current inspection: read, then signed.
// Until it is, the session shows none of the inspection's data (Today says so and leads here).
struct AgreementModel {
    bool have = false;
    app::AgreementTextView text;
    Message message;
};

struct SettingsModel {
    std::string autoLockMinutes;
    std::string newPassphrase, newPassphraseAgain;  // wiped once used
    int strength = 0;  // 0 (none) … 4 (strong), of newPassphrase
    bool rekeying = false;
    std::optional<app::ServerView> server;
    // Verify the store (database, op log, every evidence file) as a task with its progress.
    std::shared_ptr<app::Task<app::VerifyReport>> verifyTask;  // null: none started
    app::ProgressSnapshot verifyProgress;
    std::optional<app::VerifyReport> verified;  // the last report
    bool verifying() const { return verifyTask && !verifyTask->finished(); }
    Message message;
};

// A rough strength of a passphrase, 0 … 4, for the hint beside the field (length and variety of
// character classes; CJK characters count as a class of their own). Policy is the session's.
int passphraseStrength(const std::string& passphrase);

class Controller {
public:
    // `clock`: the session's (tests inject one; it must outlive the controller).
    Controller(Strings& strings, std::filesystem::path store, const sync::Clock& clock = sync::SystemClock::instance());
    ~Controller();
    Controller(const Controller&) = delete;
    Controller& operator=(const Controller&) = delete;

    // Called (from any thread) when something arrived that should be drawn: the window's wake.
    void setWake(std::function<void()> wake) { m_wake = std::move(wake); }

    // During a frame: views and scripts queue what the person did.
    void post(EditField i);
    void post(LeaveField i);
    void post(Press i);
    void post(ShowView i);
    void post(SetLanguage i);
    void post(Select i);
    void post(DropFiles i);
    void post(Resolve i);
    void post(Browse i);
    // After the frame: runs the queued intents in order. Returns, for scripts, each intent that
    // made no sense where the client stands (a button of another view, a view that needs an
    // unlocked store); a refusal by the domain is not one of them, it is shown in the view.
    std::vector<std::string> applyIntents();
    // Before a frame: takes a finished unlock or task, re-reads the views when the store changed,
    // the sync status once a second. Returns whether anything shown may have changed.
    bool poll(std::int64_t nowMs);

    // Auto-lock (issue 12: default 10 minutes): poll() locks once nowMs is autoLockMs past the last
    // activity, dropping every key with the session, and the unlock view says why. The window
    // calls noteActivity() on input; every applied intent counts too. 0: never. A running
    // handover export puts it off (the person is waiting for it).
    static constexpr std::int64_t kDefaultAutoLockMs = 10 * 60 * 1000;
    void setAutoLock(std::int64_t ms) { m_autoLockMs = ms; }
    std::int64_t autoLockMs() const { return m_autoLockMs; }
    void noteActivity(std::int64_t nowMs) { m_lastActivityMs = nowMs; }
    // When poll() would lock (for the window's wait); nullopt when locked or never.
    std::optional<std::int64_t> lockDueMs() const;
    // Whether work is running that the loop should draw the progress of (a task, a rekey).
    bool working() const {
        return m_handover.running() || m_settings.verifying() || m_exclusive.valid() || m_attachTask != nullptr ||
               m_inbox.replyTask != nullptr;
    }

    bool busy() const { return m_unlock.busy; }
    bool unlocked() const { return m_session != nullptr; }
    ViewId view() const { return m_view; }
    const std::vector<ViewId>& views() const { return m_views; }  // this person's, home first
    Lang lang() const { return m_strings.lang(); }
    const Strings& strings() const { return m_strings; }
    const UnlockState& unlockState() const { return m_unlock; }
    const FindingsModel& findings() const { return m_findings; }
    // The Findings view's own choices (status / category / severity / sort): UI state, no intent.
    FindingsModel& findingsChoices() { return m_findings; }
    const StatusModel& status() const { return m_status; }
    const app::SelfView& self() const { return m_self; }
    const TodayModel& today() const { return m_today; }
    const EditorModel& editor() const { return m_editor; }
    const ReviewModel& review() const { return m_review; }
    const InboxModel& inbox() const { return m_inbox; }
    const HandoverModel& handover() const { return m_handover; }
    const SettingsModel& settings() const { return m_settings; }
    const EnrolModel& enrol() const { return m_enrol; }
    const AgreementModel& agreement() const { return m_agreement; }
    const FilePicker& picker() const { return m_picker; }
    Field pickerTarget() const { return m_pickerTarget; }
    // Whether the unlock view offers to create a store (the directory holds none).
    bool firstRun() const;
    Thumbnails& thumbnails() { return m_thumbs; }
    // Every character the views may draw (string table, store text shown, text typed).
    const GlyphSet& glyphs() const { return m_glyphs; }
    // The id of a row of `list` by its shown text (a finding's title, a notice's problem), for
    // scripts' `select LIST TEXT`; empty when none.
    std::string findInList(ListId list, const std::string& text) const;

    // The client's state in a few words, for scripts' `expect` and the tests.
    nlohmann::json state() const;

private:
    // One posted intent (a plain struct rather than a std::variant: GCC 12 -Wmaybe-uninitialized
    // misfires on variants holding strings).
    struct Queued {
        enum class Kind { Edit, Leave, Press, Show, Language, Select, Drop, Resolve, Browse } kind = Kind::Edit;
        EditField edit;
        Press press;
        ShowView show;
        SetLanguage language;
        Select select;
        DropFiles drop;
        Resolve resolve;
        Browse browse;
    };
    std::optional<std::string> apply(const EditField& e);
    std::optional<std::string> leave(Field f);
    std::optional<std::string> apply(const Press& p);
    std::optional<std::string> apply(const ShowView& v);
    std::optional<std::string> apply(const Select& s);
    std::optional<std::string> apply(const DropFiles& d);
    std::optional<std::string> apply(const Resolve& r);
    // the file dialog (controller_picker.cpp)
    std::optional<std::string> apply(const Browse& b);
    std::optional<std::string> pick(const Select& s);
    std::optional<std::string> pickFolder();
    std::optional<std::string> choosePath(const std::filesystem::path& p);
    void pickerGlyphs();  // the names the dialog shows go into the font
    void startUnlock();
    void finishUnlock();
    void lock();
    void reload();
    void refreshStatus(std::int64_t nowMs);
    void addGlyphs(const app::FindingView& f);
    void show(ViewId v);

    // editor (controller_capture.cpp)
    void newFinding();
    void openFinding(const std::string& id);
    void reloadEditor();
    void saveEditor(std::optional<Field> at);
    void attachFile(const std::string& path, std::optional<Field> at);
    void startNextAttach();
    void pollAttach();
    void showAttaching();  // the editor's `attaching`, from the queue
    void submitFinding();
    void useMerge();
    void reloadToday(const std::vector<app::FindingView>& all);
    // review, inbox, handover, settings (controller_work.cpp)
    void reloadReview(const std::vector<app::FindingView>& all);
    void selectReview(const std::string& id);
    void decide(bool confirm);
    void issueNotice();
    void reloadInbox();
    void acknowledge();
    void sendReply();
    void pollReply();
    void reloadHandover();
    void startExport();
    void pollExport();
    void startVerify();
    void pollVerify();
    void confirmReceipt();
    void saveSettings();
    void startRekey();
    void startCreate();
    void reloadEnrol();
    void exportIdentity();
    void acceptEnrolment();
    void startJoin();
    void afterEnrolled();
    void loadAgreement();
    void reloadAgreements(const std::vector<app::InspectionView>& reviewed);
    void signAgreement();
    // Work that owns the session until it ends (a rekey, a join): run off the UI thread, no
    // intent is applied meanwhile; `done` runs on the UI thread with its result.
    void startExclusive(std::function<app::AStatus(app::Session&)> work, std::function<void(const app::AStatus&)> done);
    Message refusal(const xs::Error<app::AppError>& e, std::optional<Field> f, std::optional<Button> b);

    Strings& m_strings;
    const sync::Clock* m_clock;
    GlyphSet m_glyphs;
    Thumbnails m_thumbs;
    std::function<void()> m_wake;
    std::vector<Queued> m_queue;
    ViewId m_view = ViewId::Unlock;
    std::vector<ViewId> m_views;
    UnlockState m_unlock;
    std::future<app::AResult<std::unique_ptr<app::Session>>> m_opening;  // valid while unlocking
    std::future<app::AStatus> m_exclusive;                                // valid while a rekey or join runs
    std::function<void(const app::AStatus&)> m_exclusiveDone;
    bool m_creating = false;                                              // m_opening is a create
    std::unique_ptr<app::Session> m_session;                              // null: locked
    app::SelfView m_self;
    std::uint64_t m_seenChanges = 0;
    std::int64_t m_statusAtMs = 0;
    std::int64_t m_autoLockMs = kDefaultAutoLockMs;
    std::int64_t m_lastActivityMs = 0;
    std::int64_t m_lastPollMs = 0;
    FindingsModel m_findings;
    StatusModel m_status;
    TodayModel m_today;
    EditorModel m_editor;
    ReviewModel m_review;
    InboxModel m_inbox;
    HandoverModel m_handover;
    SettingsModel m_settings;
    EnrolModel m_enrol;
    AgreementModel m_agreement;
    FilePicker m_picker;
    Field m_pickerTarget = Field::EvidencePath;
    // Evidence files queued to be attached, each a task, one at a time (the first is running).
    struct AttachJob {
        std::string findingId;
        PendingFile file;
    };
    std::vector<AttachJob> m_attachQueue;
    std::shared_ptr<app::Task<std::string>> m_attachTask;
};

}  // namespace xs::ui
