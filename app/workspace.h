// A person's open workspace: their encrypted store, its op log and the domain rules of the
// procedure. Front ends never see it: they call the session (app/session.h), which holds one and
// gives typed views; the workspace, app/enrolment.h, app/handover.h and the tests use store() and
// log() directly. Its parts, by concern: opening and maintenance (workspace.cpp), organisation
// (workspace_org.cpp), inspections and extensions (workspace_inspections.cpp), findings and
// evidence (workspace_findings.cpp), notices (workspace_notices.cpp), clues (workspace_clues.cpp),
// confidentiality agreements and their gate (workspace_agreements.cpp), channel membership
// (workspace_membership.cpp); the rules they apply are pure functions in app/rules.h.
//
// The confidentiality gate (article 7(4), app/agreement.h): for an inspection whose agreement
// the owner must sign (rules::agreementRequired) and has not, no call returns or changes that
// inspection's team or unit data: lists leave it out (findings, notices, exports, conflicts,
// an inspection's extensions) and every call on one of its records — reading a finding, its
// history, capture, edit, transition, attach, evidence export, notice, extension, handover —
// answers Refused with agreementRefusal's words. Each of them goes through requireAgreement
// (one record) or gatedInspections (lists). The plan itself (org channel) stays readable, with
// whether the agreement is required and signed.
//
// Every mutating call commits one change set (durably) or refuses with AppError::Refused and a
// message naming the rule; the rules are applied by the op log to every change set, local or
// received. Who the owner is and their role come from the audit office's records (the device's
// registration names its person): a store that is not enrolled yet acts under the name and role
// given at init and can do nothing but enrol (an audit-office store is its own registrar from
// init). Read calls return JSON records with snake_case keys (the session types them). Not
// thread-safe.
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>
#include "app/commands.h"
#include "app/error.h"
#include "app/model.h"
#include "app/rules.h"
#include "app/schema.h"
#include "app/views.h"
#include "sync/oplog.h"
#include "sync/store.h"

namespace xs::sync::net {
class Connection;
}

namespace xs::app {

using Json = nlohmann::json;

struct Self {
    std::string personId;  // empty until the office's records name this device's person
    std::string name;
    Role role = Role::WorkingGroupMember;
    bool enrolled = false;  // registered by the audit office (always true on the office's store)
    bool revoked = false;   // the office revoked this device
};

// An organisation file (`org import`, schema in README), checked entry by entry: units, people and
// rounds in file order.
struct OrgFile {
    struct Unit {
        std::string code, name;
        std::string kind;  // "public_institution" when the file gives none
    };
    struct Person {
        std::string code, name, role, title;
        std::string unit;  // a unit code (of the file or the store), or empty
    };
    struct Round {
        std::string name;
        int startYear = 0;
        int endYear = 0;  // startYear + 2: a 3-year cycle (article 4)
    };
    std::optional<std::string> name;      // the organisation record's fields, when the file gives them
    std::optional<std::string> timeZone;  // a zone zoneOffsetMinutes knows
    std::vector<Unit> units;
    std::vector<Person> people;
    std::vector<Round> rounds;
};

// Strict and store-free: refused, naming the first bad entry, unless `doc` is an organisation file
// with something in it. A person's unit must be in the file or be a code `unitExists` knows (on
// import: a unit of the store); a round starts in rules::kFirstRoundYear..kLastRoundYear.
AResult<OrgFile> parseOrgFile(const Json& doc, const std::function<bool(const std::string& code)>& unitExists);


class Workspace {
public:
    static AResult<std::unique_ptr<Workspace>> init(const std::filesystem::path& dir, std::string_view passphrase,
                                                    const std::string& name, Role role,
                                                    const crypto::Argon2Params& kdf,
                                                    const sync::Clock& clock = sync::SystemClock::instance());
    static AResult<std::unique_ptr<Workspace>> open(const std::filesystem::path& dir, std::string_view passphrase,
                                                    const sync::Clock& clock = sync::SystemClock::instance());

    // Another workspace on the same open store (its own connection, no passphrase): for a task
    // on another thread.
    AResult<std::unique_ptr<Workspace>> openAnother() const;
    // SQLite's data_version of this connection: changes when another connection commits.
    AResult<std::int64_t> dataVersion();

    const Self& self() const { return m_self; }
    // Re-reads who the owner is from the office's records (after enrolment).
    AStatus reloadSelf();
    sync::Store& store() { return *m_store; }
    sync::OpLog& log() { return *m_log; }

    // Organisation: units, people, rounds (schema in README). All or nothing; re-import updates.
    // Linear in the size of the file; records go in change sets of kOrgRecordsPerChangeSet.
    static constexpr std::size_t kOrgRecordsPerChangeSet = 5000;
    AResult<Json> importOrg(const Json& doc);

    AResult<std::string> createInspection(const InspectionInput& in);
    AResult<std::string> requestExtension(const std::string& inspectionId, int days, const std::string& reason);
    AStatus decideExtension(const std::string& extensionId, bool approve);

    AResult<std::string> addFinding(const FindingInput& in);
    // `finding import`: one finding per JSON line (FindingInput keys). Every line is parsed and
    // checked — rules, inspection, capture window, evidence files — before any is committed; a bad
    // line imports nothing. Evidence paths resolve relative to the file's folder and must lie
    // inside it. `committed` is called with each new id once its commit is durable. Returns how
    // many findings were imported.
    static constexpr std::size_t kMaxImportBytes = std::size_t{256} << 20;
    // `cancelled` is asked between lines: a cancel before the first commit imports nothing, after
    // it keeps the findings already committed (each was reported) and returns Cancelled.
    AResult<std::size_t> importFindings(const std::filesystem::path& file,
                                        const std::function<void(const std::string&)>& committed,
                                        const std::function<bool()>& cancelled = {});
    // fields: snake_case field -> new value (strings for enums). `status` goes through transition rules.
    AStatus editFinding(const std::string& id, const Json& fields);
    AStatus transitionFinding(const std::string& id, FindingStatus to, const std::string& note = {});
    AResult<std::string> attachEvidence(const std::string& findingId, const std::filesystem::path& file,
                                        EvidencePurpose purpose);

    // Immediate-fix notices (workspace_notices.cpp): the lead issues one for a confirmed
    // immediate-fix finding; a head of the inspected unit acknowledges it and replies.
    AResult<std::string> issueNotice(const std::string& findingId, const std::string& problem, const std::string& action,
                                     const std::string& deadline);
    AStatus acknowledgeNotice(const std::string& noticeId);
    // `file` (optional): rectification material sent with the reply, in the unit channel.
    AResult<std::string> replyToNotice(const std::string& noticeId, const std::string& text,
                                       const std::filesystem::path& file = {});
    AResult<Json> notices();  // each with "ack" (null until acknowledged) and "replies"
    AResult<Json> notice(const std::string& id);  // NotFound; Refused by the agreement gate

    // Clues for the discipline commission (workspace_clues.cpp, 线索移交): the audit office drafts
    // one in the inspection's clue channel (`inspection` an id or title; `findingId` empty or a
    // finding of it held here) and transfers it; the commission marks it received. Refused where
    // the clue channel's admin (the planning device, which holds its key) is not the audit
    // office's.
    AResult<std::string> addClue(const std::string& inspection, const std::string& findingId, const std::string& summary,
                                 const std::string& transferredTo);
    AStatus transferClue(const std::string& clueId);
    AStatus receiveClue(const std::string& clueId);
    AResult<Json> clues();  // the clues this store can read, oldest first

    // Confidentiality agreements (workspace_agreements.cpp, 保密协议): the owner signs the current
    // text (app/agreement.h) of an inspection they are required to sign; signing again is ok and
    // writes nothing (the first signature stands). Refused for someone not required to sign.
    AStatus signAgreement(const std::string& inspection);
    // Signatures this store holds (all inspections when empty), oldest first, each with the
    // signer's name: those of inspections gated for the owner are left out, except the owner's own.
    AResult<Json> agreements(const std::string& inspection = {});
    struct AgreementState {
        bool required = false;
        bool signedByMe = false;
        std::string version, sha256;  // of the owner's signature, when signed
        std::int64_t signedAtMs = 0;
    };
    AResult<AgreementState> agreementState(const std::string& inspectionId);
    // The gate: Refused (agreementRefusal) when the owner must sign the inspection's agreement and
    // has not. An inspection whose plan is not here gates nothing (nobody is on its team).
    AStatus requireAgreement(const std::string& inspectionId);
    // The inspections whose data is withheld from the owner until they sign. An inspection wiped
    // here after a handover (app/handover.h confirm) is not among them: its data and keys are gone.
    AResult<std::set<std::string>> gatedInspections();

    AResult<Json> units();
    AResult<Json> people();
    AResult<Json> inspections();
    AResult<Json> inspection(const std::string& id);
    AResult<Json> findings(const std::string& inspectionId = {});
    // The same findings one at a time, each JSON freed once `each` has it: a client reading
    // 10,000 never holds them all as JSON (~55 MB) beside what it makes of them.
    AStatus eachFinding(const std::string& inspectionId, const std::function<void(Json&&)>& each);
    AResult<Json> finding(const std::string& id);
    AResult<Json> history(const std::string& recordId);
    AResult<Json> conflicts();

    AStatus exportEvidence(const std::string& hash, const std::filesystem::path& out);
    AResult<std::vector<std::uint8_t>> previewEvidence(const std::string& hash, std::size_t maxBytes);
    AResult<std::vector<std::string>> evidenceScopes(const std::string& hash);  // inspections it belongs to
    // Taking data out of the encrypted store is itself a signed record in the inspection's team
    // channel (article 7(4)): what (evidence | handover), which (a hash or the inspection), the
    // file's name and size, by whom, when. Committed before the data is written out, so no
    // export goes unrecorded; it reaches the office with the next sync or handover.
    AResult<std::string> recordExport(const std::string& inspectionId, const std::string& what, const std::string& subject,
                                      const std::string& fileName, std::uint64_t bytes);
    AResult<Json> exports(const std::string& inspectionId = {});  // newest last

    // Evidence online (workspace_evidence.cpp): sends this device's queued files to the server,
    // then fetches the files of readable attachments this store lacks; both resume where they
    // stopped. A connection failure ends it (Offline); a file the server refuses is reported in
    // `problems` and the rest go on. `progress(done, total)` per chunk; false stops (Cancelled).
    struct EvidenceTransfer {
        std::int64_t uploaded = 0, downloaded = 0;
        std::int64_t waitingUploads = 0;  // queued here and not on the server yet
        std::uint64_t bytesUp = 0, bytesDown = 0;
        std::vector<std::string> problems;
    };
    AResult<EvidenceTransfer> transferEvidence(sync::net::Connection& conn,
                                               const std::function<bool(std::uint64_t, std::uint64_t)>& progress = {});
    AStatus rebuild();
    AResult<VerifyReport> verify();
    AStatus rekey(std::string_view newPassphrase, const crypto::Argon2Params& kdf);

    // Channel membership follows the organisation: for every inspection whose channels this device
    // administers, devices of people who should read them get the current key, and devices that
    // should no longer (revoked, or their person left the team) are removed: a new epoch.
    // Returns how many memberships changed.
    AResult<int> updateChannelMembers();
    // A lost or compromised device (the office's store only): its registration is revoked at the
    // last of its change sets this store holds, so every later one is refused everywhere; it is
    // removed from every channel this store administers, each starting a new epoch it never
    // receives. Returns the memberships removed.
    AResult<int> revokeDevice(const std::string& deviceId);
    // The devices (ids) registered for a person and not revoked.
    AResult<std::vector<std::string>> devicesOf(const std::string& personId);
    // Devices' acknowledgements that they shredded an inspection (the office lists them).
    AResult<Json> shredAcknowledgements();

    // The organisation's time zone (its record, else Asia/Shanghai): the day of every capture.
    std::string timeZone() const;
    // First/last day of an inspection's capture window, approved extensions included.
    AResult<std::pair<int, int>> captureWindow(const std::string& inspectionId);
    int today() const;

private:
    Workspace() = default;
    AStatus openLog(const sync::Clock& clock);
    AStatus requireEnrolled() const;  // Refused on a store the office has not enrolled (or revoked)
    // Every check of a new finding that needs no commit; fills the finding's fields and gives the
    // inspection id.
    AResult<std::string> prepareFinding(const FindingInput& in, Json& fields);
    AResult<std::string> resolve(const char* table, const std::string& key, const char* what);
    AResult<Json> findingJson(const std::string& id);
    // The inspections whose team or unit channel holds ops of the record (its history's channels).
    AResult<std::set<std::string>> inspectionsOfRecord(const std::string& recordId);
    AResult<Json> noticesWhere(const std::string& id);  // one notice (id) or all (empty), gate applied
    AStatus checkTransition(const std::string& id, const Json& record, FindingStatus to);
    AStatus checkCaptureAllowed(const std::string& inspectionId);
    AStatus moveClue(const std::string& clueId, ClueStatus to);
    AResult<std::pair<int, int>> captureWindow(const std::string& inspectionId, const Json& inspection);
    // Who should be in each of an inspection's channels, from its team and the organisation.
    AResult<std::map<std::string, std::vector<sync::ChannelMember>>> wantedMembers(const std::string& inspectionId,
                                                                                  const Json& inspection);
    struct StoredEvidence {
        std::string scope, hash;
        std::uint64_t size = 0;
        bool added = false;  // new on disk (not deduplicated)
        crypto::SecretBytes key;  // the scope's key, stored with the commit if it is new
        std::string blob;         // the encrypted file's id on the sync server (queued for upload)
        std::uint64_t blobSize = 0;
        std::string channel;      // whose readers may fetch the blob; empty: the scope's team channel
        std::string blobKey;      // hex, the file key that opens the blob (it travels in the record)
    };
    // The file into this store's evidence (the inspection's scope), checked against the server's
    // limit, queued in `stored` for the commit; no record is written.
    AResult<StoredEvidence*> storeEvidenceFile(const std::filesystem::path& file, const std::string& inspectionId,
                                               std::vector<StoredEvidence>& stored);
    AResult<std::string> storeEvidence(const std::filesystem::path& file, sync::Draft& draft, const std::string& findingId,
                                       const std::string& inspectionId, EvidencePurpose purpose,
                                       std::vector<StoredEvidence>& stored);
    AResult<std::string> commitWithEvidence(const sync::Draft& draft, std::vector<StoredEvidence>& stored);

    std::unique_ptr<sync::Store> m_store;
    DomainProjection m_projection;
    rules::ProcedureValidator m_validator;
    std::unique_ptr<sync::OpLog> m_log;
    const sync::Clock* m_clock = nullptr;
    Self m_self;
};

// A wipe record (meta "wiped:<inspection>", written by confirm), its types checked.
WipeRecordView wipeRecordFrom(const Json& record);
// The strings (textsOf) or small non-negative integers (intsOf) of a list field of a record;
// entries of other types are left out.
std::vector<std::string> textsOf(const Json& record, const char* key);
std::vector<int> intsOf(const Json& record, const char* key);

// A string field of a record or document, "" when absent or of another type (records come from
// the op log, which other replicas write: never trust their types).
std::string textOf(const Json& record, const char* key);

// Channel names: organisation data, and each inspection's encrypted channels (DESIGN.md
// "Channels"): team (findings, evidence, extensions), unit (what the unit head may read), clue.
inline std::string orgChannel() { return "org"; }
// The organisation's own record (name, time zone): one per organisation, in the org channel.
inline constexpr const char* kOrganisationKind = "organisation";
inline constexpr const char* kOrganisationRecord = "organisation";
inline std::string teamChannel(const std::string& inspectionId) { return inspectionId + ".team"; }
inline std::string unitChannel(const std::string& inspectionId) { return inspectionId + ".unit"; }
inline std::string clueChannel(const std::string& inspectionId) { return inspectionId + ".clue"; }
inline std::vector<std::string> inspectionChannels(const std::string& inspectionId) {
    return {teamChannel(inspectionId), unitChannel(inspectionId), clueChannel(inspectionId)};
}

}  // namespace xs::app
