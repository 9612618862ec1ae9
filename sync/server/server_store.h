// What xunshen-server keeps, behind the narrowest interface its protocol layer (server.h) needs,
// so that a PostgreSQL backend (several stateless servers on one database) can replace the
// embedded one without touching the protocol: no SQL, no SQLite type and no single-writer
// assumption above this line. Each call is one transaction of its own. The signed bytes are kept
// as they were signed (each op's body); the server holds no channel key and never opens a body.
//
// The embedded backend (openSqliteServerStore) is a SQLCipher store whose data key lives in a key
// file readable by the service user only, so the service starts unattended; a stolen disk without
// that file leaks nothing, and with it only ciphertext and routing metadata.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>
#include "sync/changeset.h"
#include "sync/error.h"
#include "sync/net/protocol.h"
#include "sync/trust.h"

namespace xs::sync::server {

// Whom a request claims to come from, as the registrar's records say.
struct DeviceAuth {
    crypto::Bytes signKey;
    bool revoked = false;
    bool registrar = false;  // the audit office's device (the trust root)
};

struct PushOutcome {
    std::vector<std::string> stored;  // newly stored, in feed order (refused-by-rule ones too: they are chain links)
    std::vector<std::string> known;   // already here
    std::vector<std::pair<std::string, std::string>> held;     // device, what it waits for
    std::vector<std::pair<std::string, std::string>> refused;  // id, the rule (stored, ops not projected)
    std::int64_t cursor = 0;          // the feed position after this push
};

struct FeedEntry {
    std::int64_t seq = 0;  // position in the server's feed
    ChangeSet changeSet;
};

// An evidence upload (a blob: an encrypted evidence file, addressed by its SHA-256).
struct BlobState {
    std::string channel;       // the channel whose members may download it
    std::uint64_t size = 0;    // announced by its first chunk
    std::uint64_t offset = 0;  // bytes held (durable)
    bool complete = false;     // all of them, and they hash to the id
};

struct BlobAppend {
    BlobState state;
    bool offsetMismatch = false;  // nothing appended: `state.offset` is where to continue
};

// An invitation to enrol online (docs/PROTOCOL.md "Online enrolment"): what the server holds of
// a one-time code is its id, its server key (to admit the new device's requests) and expiry; the
// presentation and the office's answer as they were sent.
struct InviteState {
    crypto::Bytes serverKey;
    std::int64_t expiresMs = 0;
    std::string presentation;  // empty: nobody presented the code yet
    std::string answer;        // empty: the office has not answered
};

// A change set refused because it forks its device's chain (a copied or compromised device),
// kept whole for the audit office: its signature proves which device wrote both branches.
struct ForkReport {
    std::int64_t seq = 0;       // position among the reports
    std::string device;
    std::string changeSetJson;  // the refused change set, as pushed
    std::string detail;
    std::int64_t timeMs = 0;
};

// One entry of the server's access log: who fetched what, when (never content); its format
// and chain are in sync/net/protocol.h.
using AccessEntry = net::AccessLogEntry;

class ServerStore {
public:
    virtual ~ServerStore() = default;
    // nullopt: not registered here (yet).
    virtual SResult<std::optional<DeviceAuth>> deviceAuth(const std::string& device) = 0;
    // Records a request nonce; false if this device used it before (a replay). Forgets nonces
    // older than forgetBeforeMs (requests that old are refused by their timestamp anyway).
    virtual SResult<bool> claimNonce(const std::string& device, const std::string& nonce, std::int64_t timestampMs,
                                     std::int64_t forgetBeforeMs) = 0;
    // Admits, verifies (signature, chain, the author's right to write each op's kind in its
    // channel) and stores a batch, all in one transaction: on an error nothing of it is stored
    // (Invalid: malformed; Corrupt: a bad signature or a fork, which is recorded).
    virtual SResult<PushOutcome> push(const std::vector<ChangeSet>& batch) = 0;
    // Feed entries after `after`, at most maxCount, in feed order (causal: a change set's past
    // comes before it). Entries of skipDevice (the caller's own, which a pull skips) carry only
    // their change set's id and device.
    virtual SResult<std::vector<FeedEntry>> feedAfter(std::int64_t after, std::size_t maxCount,
                                                      const std::string& skipDevice = {}) = 0;
    virtual SResult<std::int64_t> cursor() = 0;
    // The encrypted channels `device` is a member of now (the sys records' channel membership).
    virtual SResult<std::set<std::string>> channelsOf(const std::string& device) = 0;
    // device -> highest seq stored of its chain.
    virtual SResult<VersionVector> versionVector() = 0;
    // The id of `device`'s change set at `seq` here, if any (a client checks that the server's
    // chain of its own device is the chain it holds: a copied device finds out).
    virtual SResult<std::optional<std::string>> changeSetIdAt(const std::string& device, std::int64_t seq) = 0;

    // ---- evidence blobs (content-addressed ciphertext; the server cannot open them)
    // nullopt: no upload of `id` began.
    virtual SResult<std::optional<BlobState>> blobState(const std::string& id) = 0;
    // Appends `bytes` at `offset` to the upload of `id`, begun by the first call with the channel
    // and total size (later calls must name the same ones: Invalid otherwise). Durable on return.
    // When the last byte arrives the whole must hash to `id`: if not, the upload is dropped and
    // the answer is Corrupt. An offset other than the held one appends nothing (offsetMismatch).
    virtual SResult<BlobAppend> blobAppend(const std::string& id, const std::string& channel, std::uint64_t size,
                                           std::uint64_t offset, crypto::ByteView bytes) = 0;
    // Up to maxBytes of a complete blob from `offset` (NotFound unless complete).
    virtual SResult<crypto::Bytes> blobRead(const std::string& id, std::uint64_t offset, std::size_t maxBytes) = 0;

    // ---- access log (hash-chained: each entry names the hash of the one before)
    // Appends an entry of these fields; the store gives it its seq, time and link. Returns it.
    virtual SResult<AccessEntry> logAccess(const std::string& device, const std::string& action,
                                           const std::vector<std::string>& channels, const std::string& range) = 0;
    virtual SResult<std::vector<AccessEntry>> accessAfter(std::int64_t after, std::size_t maxCount) = 0;

    // ---- fork reports (push records them; the audit office's device fetches them)
    virtual SResult<std::vector<ForkReport>> forksAfter(std::int64_t after, std::size_t maxCount) = 0;
    virtual SResult<std::int64_t> lastForkSeq() = 0;

    // ---- invitations (online enrolment)
    // Files a new invitation (Invalid if the id is taken); forgets those expired a week ago.
    virtual SStatus inviteCreate(const std::string& id, crypto::ByteView serverKey, std::int64_t expiresMs) = 0;
    virtual SResult<std::optional<InviteState>> invite(const std::string& id) = 0;
    // Records the first presentation of `id`; the same one again is no change. False when another
    // presentation came first (the code is used). NotFound when there is no such invitation.
    virtual SResult<bool> invitePresent(const std::string& id, const std::string& presentation) = 0;
    // Presented, unanswered and unexpired at nowMs, oldest first, at most maxCount.
    virtual SResult<std::vector<std::pair<std::string, std::string>>> invitesWaiting(std::int64_t nowMs, std::size_t maxCount) = 0;
    // The office's answer to a presented invitation (NotFound if not presented).
    virtual SStatus inviteAnswer(const std::string& id, const std::string& answer) = 0;
};

// The embedded backend in `dir` (created by createSqliteServerStore), opened with `secret` (the
// contents of the service's key file).
SResult<std::unique_ptr<ServerStore>> openSqliteServerStore(const std::filesystem::path& dir, const std::string& secret);
// A new store trusting `root` (the audit office's device). AlreadyExists if one is there.
SStatus createSqliteServerStore(const std::filesystem::path& dir, const std::string& secret, const TrustRoot& root);

}  // namespace xs::sync::server
