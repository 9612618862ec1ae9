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
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include "app/commands.h"
#include "app/error.h"
#include "app/model.h"
#include "app/task.h"
#include "app/views.h"
#include "crypto/kdf.h"
#include "sync/hlc.h"

namespace xs::app {

class Workspace;  // app/workspace.h: the session's, never a front end's
class SyncWorker;  // session.cpp

inline constexpr std::size_t kMinPassphraseBytes = 8;
// The largest file of each kind a session reads (anything longer is refused unread).
inline constexpr std::size_t kMaxOrgFileBytes = std::size_t{16} << 20;
inline constexpr std::size_t kMaxDeviceFileBytes = std::size_t{64} << 10;
inline constexpr std::size_t kMaxEnrolmentFileBytes = std::size_t{64} << 20;
inline constexpr std::size_t kMaxReceiptFileBytes = std::size_t{1} << 20;
inline constexpr std::size_t kMaxAckFileBytes = std::size_t{64} << 20;

class Session {
public:
    // A new store for `name` in `role`; the passphrase needs kMinPassphraseBytes, the KDF its bounds.
    static AResult<std::unique_ptr<Session>> create(const std::filesystem::path& dir, std::string_view passphrase,
                                                    const std::string& name, Role role, const crypto::Argon2Params& kdf,
                                                    const sync::Clock& clock = sync::SystemClock::instance());
    static AResult<std::unique_ptr<Session>> open(const std::filesystem::path& dir, std::string_view passphrase,
                                                  const sync::Clock& clock = sync::SystemClock::instance());
    // The policy for a new passphrase and its KDF: kMinPassphraseBytes, sync::validateKdfParams.
    static AStatus checkPassphrasePolicy(std::string_view passphrase, const crypto::Argon2Params& kdf);
    static AStatus checkKdfPolicy(const crypto::Argon2Params& kdf);  // its KDF half, before a passphrase is asked for
    // Whether `dir` holds a store (without opening it).
    static bool exists(const std::filesystem::path& dir);
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
    AResult<IdentityView> identity();
    AResult<OrgView> organisation();
    AResult<std::vector<InspectionView>> inspections();
    AResult<InspectionView> inspection(const std::string& idOrTitle);  // with its extensions
    AResult<std::vector<FindingView>> findings(const FindingFilter& filter = {});
    AResult<FindingView> finding(const std::string& id);
    AResult<std::vector<FieldVersionView>> history(const std::string& recordId);  // NotFound: no such record
    AResult<std::vector<ConflictView>> conflicts();
    AResult<std::vector<RefusedView>> refusedChangeSets();  // kept but refused by a rule
    AResult<std::vector<ShredAckView>> shredAcknowledgements();  // audit office: devices' shred acknowledgements

    // ---- organisation and enrolment (app/enrolment.h says who may do what)
    // An organisation file, strictly parsed (read with the bounds for files from elsewhere).
    AResult<OrgImportView> importOrg(const std::filesystem::path& file);
    AResult<OfficeKeyView> createOfficeKey();
    // A device's identity file (`identity export` on that device); `person` (code or id) when the
    // file's name and role do not name one person of the organisation.
    AResult<DeviceEnrolledView> enrolDevice(const std::filesystem::path& deviceFile, const std::string& person = {});
    AResult<int> revokeDevice(const std::string& deviceId);  // memberships removed
    AStatus exportEnrolment(const std::filesystem::path& out, const std::string& serverUrl, const std::string& tlsPin);
    AResult<EnrolmentAcceptedView> acceptEnrolment(const std::filesystem::path& enrolmentFile);
    // Online enrolment by one-time code: the office invites a person (code or id) for `hours`;
    // the code is shown once. The new device joins with the server's URL, pin and the code, and
    // waits up to waitSeconds for the office's answer (its next sync round).
    AResult<InviteView> createInvite(const std::string& person, int hours);
    AResult<std::vector<InviteView>> invites();
    AResult<JoinView> joinOnline(const std::string& url, const std::string& pin, const std::string& code, int waitSeconds);
    AStatus exportIdentity(const std::filesystem::path& out);          // this device, for the office
    AStatus exportOfficeAgeIdentity(const std::filesystem::path& out);  // audit office: for Debian's age

    // ---- inspections
    AResult<std::string> createInspection(const InspectionInput& in);
    AResult<std::string> requestExtension(const std::string& inspection, int days, const std::string& reason);
    AStatus decideExtension(const std::string& extensionId, bool approve);

    // ---- findings
    AResult<std::string> addFinding(const FindingInput& in);
    // `finding import` as a task: every line checked against the rules and the store first, then
    // one commit per line; `committed` is called (on the task's thread) with each id once durable.
    AResult<std::shared_ptr<Task<std::size_t>>> importFindings(const std::filesystem::path& file,
                                                                std::function<void(const std::string&)> committed);
    AStatus editFinding(const std::string& id, const FindingEdit& edit);
    // `note`: why a reviewer returns it (or what they noted confirming it), kept with the decision.
    AStatus transitionFinding(const std::string& id, FindingStatus to, const std::string& note = {});
    AResult<std::string> attachEvidence(const std::string& findingId, const std::filesystem::path& file,
                                        EvidencePurpose purpose);  // the file's hash
    // The same as a task on a connection of its own: a 200 MB photo is read, hashed and
    // encrypted off the caller's thread (the client's frames go on meanwhile). Its result is the
    // file's hash; the attachment is committed, like any command, before the task ends.
    AResult<std::shared_ptr<Task<std::string>>> attachEvidenceTask(const std::string& findingId, const std::filesystem::path& file,
                                                                   EvidencePurpose purpose);
    AStatus exportEvidence(const std::string& hash, const std::filesystem::path& out);
    // An evidence file's bytes in memory, for a preview on this screen (a thumbnail): nothing is
    // written anywhere, so it is not an export. Refused when the file is larger than maxBytes.
    AResult<std::vector<std::uint8_t>> previewEvidence(const std::string& hash, std::size_t maxBytes);

    // ---- immediate-fix notices (article 7(2)): the lead issues one for a confirmed immediate-fix
    // finding; a head of the inspected unit acknowledges it and replies with what was done.
    AResult<std::string> issueNotice(const std::string& findingId, const std::string& problem, const std::string& action,
                                     const std::string& deadline);
    AResult<std::vector<NoticeView>> notices();
    // Who took what out of an encrypted store, when (all inspections when empty).
    AResult<std::vector<ExportView>> exports(const std::string& inspection = {});
    AResult<NoticeView> notice(const std::string& id);  // NotFound
    AStatus acknowledgeNotice(const std::string& noticeId);
    // `file` (optional): one rectification file (整改材料) sent with the reply, read by the unit
    // channel's readers (the team, the lead, the office) once it has synced.
    AResult<std::string> replyToNotice(const std::string& noticeId, const std::string& text,
                                       const std::filesystem::path& file = {});
    // The same as a task on a connection of its own (a large file is encrypted off the caller's thread).
    AResult<std::shared_ptr<Task<std::string>>> replyToNoticeTask(const std::string& noticeId, const std::string& text,
                                                                  const std::filesystem::path& file);

    // ---- clues for the discipline commission (线索移交): the audit office drafts one in the
    // inspection's clue channel (`inspection` an id or title, `findingId` optional) and transfers
    // it; a discipline-commission person marks it received. Only those two read clues.
    AResult<std::string> addClue(const std::string& inspection, const std::string& findingId, const std::string& summary,
                                 const std::string& transferredTo);
    AStatus transferClue(const std::string& clueId);
    AStatus receiveClue(const std::string& clueId);
    AResult<std::vector<ClueView>> clues();  // those this store can read, oldest first
    AResult<ClueView> clue(const std::string& id);  // NotFound

    // ---- confidentiality agreements (保密协议, article 7(4); app/agreement.h). The people an
    // inspection's plan names on the team or as its lead (not the audit office, not the unit's
    // heads: InspectionView::agreementRequired) sign its agreement before any of its findings,
    // notices, evidence, history or handover is shown to them or changed by them: until then
    // those commands answer Refused saying what to run, and lists leave the inspection out.
    // The text to read (`inspection` an id or title), whoever asks.
    AResult<AgreementTextView> agreementText(const std::string& inspection);
    // Signs the current text as the signed-in person: a signed record in the inspection's team
    // channel that syncs and travels in handovers like any other. Signing again is ok and writes
    // nothing (the first signature stands). Refused for someone who is not asked to sign.
    AStatus signAgreement(const std::string& inspection);
    // Who signed when (every inspection when empty), oldest first: the audit office sees every
    // signature its store holds; a person sees those of the inspections open to them, and their own.
    AResult<std::vector<AgreementView>> agreements(const std::string& inspection = {});

    // ---- sync with the server (sync/net/client.h). Its URL and certificate pin come with the
    // enrolment file; setServer replaces them (the office's own store, a server that moved).
    AStatus setServer(const std::string& url, const std::string& pin);
    AResult<ServerView> server();  // NotFound: no server known here
    // One round: push what the server lacks, pull what is new (Offline when it cannot be
    // reached: nothing is lost, the next round sends it). waitSeconds > 0: when nothing is new,
    // wait that long for something to arrive. onArrival is called on this thread with each
    // batch as soon as it is committed. Then evidence files: this device's go up, the files of
    // attachments it can read come down, each resuming where an earlier round stopped;
    // evidenceProgress(done, total bytes of the current file), false cancels.
    AResult<SyncRoundView> syncOnce(int waitSeconds = 0,
                                    const std::function<void(const std::vector<ArrivalView>&)>& onArrival = {},
                                    const std::function<bool(std::uint64_t, std::uint64_t)>& evidenceProgress = {});

    // Only the change sets that hand this device channel keys (GET /v1/keys): a device far behind
    // gets its new memberships and epochs first. The next syncOnce brings the rest.
    AResult<KeysFetchView> syncKeys();

    // The background sync worker, one per open store (the GUI's; `sync --watch`): rounds on a
    // connection of its own, long-polling; while the server cannot be reached it tries again
    // after 1, 2, 4 … 60 s with jitter; syncNow() (after a local change) cuts a wait or a
    // long-poll short. onArrival is called on the worker's thread with what a round brought
    // (call nothing of the session from there); wake after every round (a GUI posts an empty
    // event). lock() and the destructor stop it. NotFound: no server is known.
    AStatus startSyncWorker(std::function<void(const std::vector<ArrivalView>&)> onArrival = {},
                            std::function<void()> wake = {});
    void stopSyncWorker();
    void syncNow();
    // Online or not, the last success and error, what waits to be sent, conflicts (read here, now).
    AResult<SyncStatusView> syncStatus();

    // The server's access log (the audit office's store only), verified: every entry hashes to
    // itself and names the one before, and it extends the head this store saw last (Tampered
    // otherwise: entries edited, removed, reordered or cut off).
    AResult<AccessLogView> accessLog();

    // ---- handover (app/handover.h): export and import as tasks, progress in bytes, a cancel
    // leaves nothing behind.
    AResult<std::shared_ptr<Task<HandoverExportView>>> exportHandover(const std::string& inspection,
                                                                      const std::filesystem::path& out);
    AResult<std::shared_ptr<Task<HandoverImportView>>> importHandover(const std::filesystem::path& bundle);
    AResult<HandoverConfirmView> confirmHandover(const std::filesystem::path& receiptFile);
    AResult<ShredAckAcceptedView> acceptShredAcknowledgement(const std::filesystem::path& ackFile);

    // ---- maintenance
    AResult<std::shared_ptr<Task<VerifyReport>>> verify();
    AResult<std::shared_ptr<Task<std::string>>> rebuild();  // the projection digest after it
    // A new passphrase (kMinPassphraseBytes at least) for the same data key; `kdf` empty: the
    // current parameters. The store then opens with exactly one of the two passphrases.
    AStatus rekey(std::string_view newPassphrase, const std::optional<crypto::Argon2Params>& kdf);

private:
    Session(std::filesystem::path dir, const sync::Clock& clock);
    AStatus unlocked() const;
    // A command that may commit: runs it unlocked, and moves the change counter when it did.
    template <typename F>
    auto committing(F&& command);
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
    std::unique_ptr<SyncWorker> m_worker;                 // null: not running
};

}  // namespace xs::app
