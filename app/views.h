// The session's view-models (app/session.h): plain structs a front end reads, never JSON. The
// session fills them from the store's projections and from what its commands did; text that
// other devices wrote (titles, names, reasons) is carried as given and must be escaped by
// whoever prints it. An enum spelling this version does not know falls back to the enum's
// default rather than failing a whole list (the records come from other replicas).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include "app/model.h"

namespace xs::app {

struct SelfView {
    std::string personId, name, deviceId;
    Role role = Role::WorkingGroupMember;
    bool enrolled = false, revoked = false;
};

// This device's public keys and the fingerprint a person compares aloud.
struct IdentityView {
    std::string deviceId, personId, name;
    Role role = Role::WorkingGroupMember;
    std::string signPublicKeyHex, exchangePublicKeyHex, fingerprint;
};

struct UnitView {
    std::string id, code, name, kind;
};

struct PersonView {
    std::string id, code, name, title, unitId;
    std::optional<Role> role;  // empty: a role this version does not know
};

struct OrgView {
    std::vector<UnitView> units;
    std::vector<PersonView> people;
};

struct OrgImportView {
    std::size_t units = 0, people = 0, rounds = 0;
    std::vector<std::string> changeSets;  // empty: the store said all the file says already
};

struct ExtensionView {
    std::string id, inspectionId, reason, requestedBy, decidedBy;
    int days = 0;
    ExtensionStatus status = ExtensionStatus::Pending;
};

struct InspectionView {
    std::string id, title, roundId, unitId, leadId, createdBy, status;
    InspectionKind kind = InspectionKind::Full;
    InspectionMode mode = InspectionMode::Synchronous;
    std::vector<std::string> team;   // person ids
    std::string onsiteStart;         // YYYY-MM-DD
    int onsiteDays = 0;
    std::string windowStart, windowEnd;  // the capture window, approved extensions included; empty if unknown
    std::vector<ExtensionView> extensions;  // filled by Session::inspection only (and not before signing)
    // For the signed-in person (article 7(4), app/agreement.h): whether they must sign the
    // inspection's confidentiality agreement before its data is shown to them, and whether they have.
    bool agreementRequired = false, agreementSigned = false;
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
    std::string id, hash, name, purpose, addedBy;
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
    std::string reviewNote;  // the last review's note (why it was returned); empty: none
};

// A change to a finding's fields (`finding edit`): what is set is changed, the rest stays.
// `status` goes through the lifecycle's rules like a transition.
struct FindingEdit {
    std::optional<std::string> title, description, auditCategory, responsiblePerson;
    std::optional<FindingCategory> category;
    std::optional<Severity> severity;
    std::optional<std::vector<FindingTag>> tags;
    std::optional<bool> immediateFix;
    std::optional<FindingStatus> status;
    bool empty() const {
        return !title && !description && !auditCategory && !responsiblePerson && !category && !severity && !tags &&
               !immediateFix && !status;
    }
};

// One value a field of a record had: a row of `history`, or one side of a conflict.
struct FieldVersionView {
    std::string opId, changeSet, device, field;
    std::string time;         // ISO time of its hybrid logical clock
    std::uint64_t hlc = 0;
    std::string valueJson;    // the value as JSON text (fields hold strings, numbers, lists)
};

struct ConflictView {
    std::string kind, recordId, field;
    std::vector<FieldVersionView> versions;  // the competing heads, winner first
};

struct RefusedView {
    std::string id, device, reason;
    std::int64_t seq = 0;
};

// ---- verify

// What a confirmed handover destroyed on this device (docs/FORMATS.md "Wipe record"): kept by
// the store, listed by verify, returned by confirm.
struct WipeRecordView {
    std::string inspection, bundleHeaderSha256, manifestSha256;
    std::int64_t wipedAt = 0;     // Unix seconds
    std::int64_t receivedAt = 0;  // when the office received the bundle (its receipt), Unix seconds
    std::int64_t evidenceFilesRemoved = 0, capturedAfterExport = 0, coveredSeq = 0;
    bool keysDestroyed = false;
    std::vector<std::string> channelsShredded;
    std::vector<int> subkeysDestroyed;  // indexes of this device's subkeys
};
struct ShreddedChannelView {
    std::string channel, reason;
    std::int64_t atMs = 0;
};
struct PendingEvidenceView {
    std::string hash, inspection, finding;
};

struct VerifyReport {
    bool ok = true;
    std::vector<std::string> problems;
    std::int64_t ops = 0;
    std::int64_t findings = 0;
    std::int64_t evidenceFiles = 0;
    std::string projectionDigest;  // SHA-256 over every projection table and verdict, sorted rows
    std::vector<WipeRecordView> wiped;          // inspections wiped after the office's receipt
    std::vector<ShreddedChannelView> shredded;  // channels whose keys were destroyed here
    std::vector<RefusedView> refused;           // change sets kept but refused by a rule
    std::vector<PendingEvidenceView> pending;   // evidence attached elsewhere, not yet here
};

// ---- enrolment

struct OfficeKeyView {
    std::string publicKeyHex, ageRecipient, fingerprint;
};

struct DeviceEnrolledView {
    std::string deviceId, fingerprint, personId;
    bool alreadyEnrolled = false;
    std::int64_t channelMemberships = 0;
};

struct EnrolmentAcceptedView {
    std::string organisationId, officeFingerprint, personId, person;
    Role role = Role::WorkingGroupMember;
    std::int64_t changeSetsNew = 0, changeSetsRefused = 0, channelKeys = 0, channelMemberships = 0;
};

// Online enrolment by one-time code (Session::createInvite, joinOnline).
struct InviteView {
    std::string id;    // 64 hex: the server's name for it
    std::string code;  // only in createInvite's answer: it is shown once and not kept
    std::string personId, personName;
    std::int64_t createdMs = 0, expiresMs = 0;
    // created (waiting to be filed at the server) | sent | enrolled | answered | refused |
    // refused-answered | expired
    std::string state;
    std::string deviceId, fingerprint, problem;  // the device it enrolled (compare aloud); why refused
    std::string serverUrl, pin;                  // what the new device types
};
struct JoinView {
    bool enrolled = false;  // false: the office has not answered yet (run the same command again)
    EnrolmentAcceptedView accepted;
    std::string deviceFingerprint;  // this device's, to compare aloud with what the office sees
};

// ---- immediate-fix notices (article 7(2))

struct NoticeReplyView {
    std::string id, text, repliedBy, repliedByName;
    std::int64_t repliedAt = 0;  // Unix ms
    // The rectification file sent with it (整改材料); fileName empty: none.
    std::string fileName, fileHash;
    std::int64_t fileSize = 0;
    std::string fileState;  // held, pending (not arrived yet), shredded
};

struct NoticeView {
    std::string id, inspectionId, findingId, problem, action, deadline, issuedBy, issuedByName;
    std::int64_t issuedAt = 0;  // Unix ms
    bool acknowledged = false;
    std::string acknowledgedBy, acknowledgedByName;
    std::int64_t acknowledgedAt = 0;
    std::vector<NoticeReplyView> replies;
};

// ---- clues for the discipline commission (线索移交)

struct ClueView {
    std::string id, inspectionId;
    std::string findingId;  // empty: none named
    std::string summary, transferredTo;
    ClueStatus status = ClueStatus::Drafted;
    std::string createdBy, createdByName;
    std::int64_t createdAt = 0;  // Unix ms
    std::string transferredBy, transferredByName;  // empty until transferred
    std::int64_t transferredAt = 0;
    std::string receivedBy, receivedByName;  // empty until received
    std::int64_t receivedAt = 0;
};

// ---- confidentiality agreements (保密协议, article 7(4); app/agreement.h)

// An inspection's agreement as the signed-in person reads it before signing: the text of the
// version they signed, or of the current version when they have not.
struct AgreementTextView {
    std::string inspectionId, inspectionTitle;
    std::string version;         // "v1"
    std::string textZh, textEn;  // the Chinese text is the one signed; the English is a translation
    std::string sha256;          // hex SHA-256 of textZh, as the signature names it
    bool signedByMe = false;
    std::int64_t signedAtMs = 0;  // Unix ms; 0 until signed
};

// Who signed an inspection's agreement, when.
struct AgreementView {
    std::string inspectionId, personId, personName;
    std::string version, sha256;
    std::int64_t signedAtMs = 0;  // Unix ms, the signer's clock
};

// ---- sync with the server

struct ServerView {
    std::string url, pin;  // pin: base64 SHA-256 of the server certificate's public key
};

// One change set that arrived in a sync round, described without its content.
struct ArrivalView {
    std::string changeSet, device, author;  // author: the person's name when known here
    std::vector<std::string> records;       // "kind in channel" for each op; empty when withheld
    bool withheld = false;                  // a link of a channel this device is not a member of
    // Ids of the notices this change set issued, acknowledged or answered (readable here).
    std::vector<std::string> noticesIssued, noticesAcknowledged, noticesAnswered;
};

struct SyncRoundView {
    std::string server;
    std::int64_t pushed = 0, pulled = 0, applied = 0, refused = 0, held = 0, cursor = 0;
    // Evidence files sent and fetched this round; uploads still waiting (offline, or refused:
    // `evidenceProblems` says why).
    std::int64_t evidenceUploaded = 0, evidenceDownloaded = 0, evidenceWaiting = 0;
    std::uint64_t evidenceBytesUp = 0, evidenceBytesDown = 0;
    std::vector<std::string> evidenceProblems;
    // The audit office's store: invitations filed, devices enrolled by code and answered.
    std::int64_t invitesFiled = 0, devicesEnrolled = 0, invitesAnswered = 0;
    std::vector<std::string> inviteProblems;
    // The audit office's store: forks (copied devices) the server reported, confirmed here and
    // recorded (verify lists them), and reports this store could not confirm.
    std::vector<std::string> forks, unconfirmedForks;
};

// What a keys-only fetch brought (Session::syncKeys).
struct KeysFetchView {
    std::string server;
    std::int64_t changeSets = 0;  // whole change sets handing this device keys
    std::int64_t keysGained = 0;  // channel keys this store can open now that it could not before
    std::int64_t cursor = 0;
};

// The background sync worker's state and what waits (Session::syncStatus).
struct SyncStatusView {
    std::string server;
    bool running = false;  // the worker is on
    bool online = false;   // its last round reached the server
    std::int64_t lastSuccessMs = 0, lastAttemptMs = 0, nextAttemptMs = 0, rounds = 0;
    std::string lastError;                // of the last failed round; empty after a success
    std::int64_t waitingChangeSets = 0;   // this device's, not on the server yet
    std::int64_t waitingEvidence = 0;     // evidence files queued here
    std::uint64_t waitingBytes = 0;       // both together
    std::int64_t conflicts = 0;
};

// A record that data left an encrypted store (evidence export, handover export).
struct ExportView {
    std::string id, inspection, what, subject, fileName, exportedBy, person;
    std::int64_t bytes = 0, exportedAt = 0;
};

// The server's access log (article 7(4): who saw what), as the audit office reads it.
struct AccessEntryView {
    std::int64_t seq = 0, timeMs = 0;
    std::string device, person;  // person: the device's person's name when known here
    std::string action;          // pull | evidence
    std::vector<std::string> channels;
    std::string range;           // pull: "after..cursor" of the feed; evidence: "blob@offset+length"
};
struct AccessLogView {
    std::vector<AccessEntryView> entries;
    std::string head;  // hex hash of the last entry (remembered here: a later log must extend it)
};

// ---- handover

struct HandoverExportView {
    std::string bundle, inspection, bundleHeaderSha256, manifestSha256;
    std::int64_t changeSets = 0, evidenceFiles = 0, bytes = 0;
};

struct HandoverImportView {
    std::string inspection, authorDevice;
    std::int64_t changeSets = 0, changeSetsNew = 0, evidenceFiles = 0;
    std::vector<RefusedView> changeSetsRefused;  // kept by the office, never applied
    std::vector<std::string> evidenceDropped;    // hashes no accepted attachment names
    std::vector<std::string> evidencePending;    // hashes the office still lacks
    std::string receipt;  // the office-signed receipt's text, for the device
};

struct HandoverConfirmView {
    WipeRecordView wipe;
    bool alreadyConfirmed = false;      // shredded before with this receipt: the ack written again
    std::vector<std::string> warnings;  // committed, but finished the next time the store opens
    std::string ack;  // the signed shred acknowledgement file's text, for the office
};

struct ShredAckView {
    std::string device, scope, manifest, detail;
    bool keysDestroyed = false;
    std::int64_t evidenceRemoved = 0, evidenceKept = 0, atMs = 0;
    std::vector<std::string> channels;  // what was destroyed (empty: evidence only)
    std::vector<int> subkeys;
};

struct ShredAckAcceptedView {
    std::string device;
    std::int64_t changeSetsNew = 0;
    std::vector<ShredAckView> acknowledgements;  // every one on record for the device
};

}  // namespace xs::app
