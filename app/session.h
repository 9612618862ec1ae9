// The session every front end uses (the CLI now, the desktop client next): one signed-in person
// on one store, with typed commands and typed view-models, long work as Tasks (app/task.h), a
// change counter a UI can poll, and a lock that drops every key.
//
// Policy lives here, not in front ends: the passphrase minimum (kMinPassphraseBytes), the KDF
// bounds (sync::validateKdfParams), checking a whole import before committing any of it.
//
// Locked: after lock() (and the client's auto-lock) the session holds no workspace — the store's
// data key, the device's private keys and every channel key held in memory are wiped with it
// (SecretBytes), and SQLCipher's page cache goes with the connection. Every command then answers
// AppError::Locked until unlock() succeeds.
//
// Errors keep their kind (AppError): Locked (wrong passphrase, or locked), NotFound, Refused (a
// rule, with the rule's words), Tampered, Busy (another program holds the store), DiskFull,
// Cancelled.
//
// Thread-safety: the session is used from one thread (the UI's); Tasks it starts run on their
// own threads with their own connection to the store (Workspace::openAnother) and may be polled
// from any thread. lock() and the destructor cancel running tasks and wait for them.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include "app/error.h"
#include "app/model.h"
#include "app/task.h"
#include "app/workspace.h"

namespace xs::app {

inline constexpr std::size_t kMinPassphraseBytes = 8;

// ---------------------------------------------------------------- view-models (plain structs)

struct SelfView {
    std::string personId, name, deviceId;
    Role role = Role::WorkingGroupMember;
    bool enrolled = false, revoked = false;
};

struct FindingFilter {
    std::string inspection;               // id or title; empty: every inspection
    std::optional<FindingStatus> status;  // empty: any
    std::optional<Severity> severity;
    std::optional<FindingCategory> category;
    bool immediateFixOnly = false;
    std::string text;                     // in title or description; empty: any
};

struct AttachmentView {
    std::string hash, name, purpose;
    std::int64_t size = 0;
    std::string state;  // held | pending (attached elsewhere, not arrived) | shredded (after a handover)
};

struct FindingView {
    std::string id, inspectionId, title, description, auditCategory, responsiblePerson, author;
    FindingStatus status = FindingStatus::Draft;
    FindingCategory category = FindingCategory::Other;
    Severity severity = Severity::Medium;
    std::vector<FindingTag> tags;
    bool immediateFix = false;
    std::int64_t createdAtMs = 0;
    std::vector<AttachmentView> attachments;
    std::vector<std::string> conflictedFields;  // fields with concurrent edits to resolve
};

class Session {
public:
    // A new store for `name` in `role`; the passphrase needs kMinPassphraseBytes, the KDF its bounds.
    static AResult<std::unique_ptr<Session>> create(const std::filesystem::path& dir, std::string_view passphrase,
                                                    const std::string& name, Role role, const crypto::Argon2Params& kdf,
                                                    const sync::Clock& clock = sync::SystemClock::instance());
    static AResult<std::unique_ptr<Session>> open(const std::filesystem::path& dir, std::string_view passphrase,
                                                  const sync::Clock& clock = sync::SystemClock::instance());
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // ---- lock
    void lock();
    AStatus unlock(std::string_view passphrase);
    bool locked() const { return m_ws == nullptr; }
    const std::filesystem::path& storeDir() const { return m_dir; }

    // Grows whenever what the views show may have changed: a command of this session committed,
    // or another process (or this session's tasks) committed to the store. Cheap: poll it each
    // frame and re-read views when it moves.
    std::uint64_t changeCount();

    // ---- views
    AResult<SelfView> self();
    AResult<std::vector<FindingView>> findings(const FindingFilter& filter = {});
    AResult<FindingView> finding(const std::string& id);

    // ---- commands
    AResult<std::string> addFinding(const FindingInput& in);
    // `finding import` as a task: every line checked against the rules and the store first, then
    // one commit per line; `committed` is called (on the task's thread) with each id once durable.
    AResult<std::shared_ptr<Task<std::size_t>>> importFindings(const std::filesystem::path& file,
                                                                std::function<void(const std::string&)> committed);
    AResult<std::shared_ptr<Task<VerifyReport>>> verify();
    AResult<std::shared_ptr<Task<std::string>>> rebuild();  // the projection digest after it
    // The handover (app/handover.h) as tasks: progress in bytes, cancel leaves nothing behind.
    AResult<std::shared_ptr<Task<Json>>> exportHandover(const std::string& inspection, const std::filesystem::path& out);
    AResult<std::shared_ptr<Task<Json>>> importHandover(const std::filesystem::path& bundle);
    // A new passphrase (kMinPassphraseBytes at least) for the same data key; `kdf` empty: the
    // current parameters. The store then opens with exactly one of the two passphrases.
    AStatus rekey(std::string_view newPassphrase, const std::optional<crypto::Argon2Params>& kdf);

    // The workspace, for the commands not yet moved into the session (front ends other than the
    // CLI must not use it). Locked when locked.
    AResult<Workspace*> workspace();

private:
    Session(std::filesystem::path dir, const sync::Clock& clock) : m_dir(std::move(dir)), m_clock(&clock) {}
    AStatus unlocked() const;
    // A task on a connection of its own, kept so that lock() can cancel and wait for it.
    template <typename T>
    AResult<std::shared_ptr<Task<T>>> startTask(std::string name, std::function<AResult<T>(Workspace&, Progress&)> work);
    void cancelTasks();

    std::filesystem::path m_dir;
    const sync::Clock* m_clock;
    std::unique_ptr<Workspace> m_ws;  // null: locked
    std::uint64_t m_changes = 0;
    std::int64_t m_dataVersion = -1;  // PRAGMA data_version when last polled
    std::vector<std::shared_ptr<void>> m_tasks;          // running or finished tasks of this unlock
    std::vector<std::function<void()>> m_taskCancel;     // parallel to m_tasks: cancel and wait
};

}  // namespace xs::app
