// The operation log and its projection. Every change is an Op (one record's field changes);
// the ops of one user action form a ChangeSet committed atomically with its projection.
// Merge is per field: the value with the greatest (hlc, device, op id) wins, whatever order ops
// arrive in. Each field change names the versions it superseded (`base`); versions that nothing
// supersedes are "heads", and two or more heads holding different strings are a conflict kept
// visible (table `conflicts`) until an edit supersedes them all.
//
// sync/ knows nothing of the domain: record kinds and fields are opaque strings; the app turns
// winners into its tables through a ProjectionSink. Not thread-safe.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "crypto/bytes.h"
#include "sync/channels.h"
#include "sync/hlc.h"
#include "sync/identity.h"
#include "sync/store.h"

namespace xs::sync {

using Json = nlohmann::json;

// The ops columns OpLog::opFromRow reads, in order (a macro so it concatenates into SQL literals).
#define XS_OP_COLUMNS "id, channel, kind, record_id, hlc, device, body, epoch, sealed"

struct FieldChange {
    std::string field;
    Json value;
    std::vector<std::string> base;  // op ids of the versions this change supersedes
};

struct Op {
    std::string id;  // UUIDv7
    std::string channel;
    std::string kind;
    std::string recordId;
    std::uint64_t hlc = 0;
    std::string device;
    std::uint32_t epoch = 0;  // the channel key's epoch; 0 in the plaintext channels (org, sys)
    // The field changes in clear. In an encrypted channel they travel only as `sealed`, and a
    // replica without the epoch's key keeps them sealed (changes empty).
    std::vector<FieldChange> changes;
    crypto::Bytes sealed;  // encrypted channels: nonce(12) || AES-256-GCM(changes JSON) || tag(16)
};

// Signed by the author device over signingInput() (sync/changeset_codec.h); `prevHash` chains
// each device's change sets so a withheld one (gap) or a copied store (fork) shows.
struct ChangeSet {
    std::string id;  // UUIDv7
    std::string device;
    std::int64_t seq = 0;  // 1, 2, ... per device
    std::uint64_t hlc = 0;
    std::vector<Op> ops;
    crypto::Bytes prevHash;   // hash of this device's change set seq-1; empty for seq 1
    crypto::Bytes hash;       // SHA-256(signingInput)
    crypto::Bytes signature;  // Ed25519 by the author device, 64 bytes
};

enum class ApplyOutcome {
    Applied,       // verified and merged (and any held successors with it)
    AlreadyKnown,  // the same change set was applied before: nothing changed
    Held,          // verified, but an earlier change set of its device is missing (a gap): kept aside
};

// Per-device chain trouble, for verify and the UI.
struct ChainIssue {
    std::string device;
    std::string kind;  // "gap" (held change sets waiting for a missing one) or "fork"
    std::string detail;
};

struct FieldVersion {
    std::string opId;
    std::string changeSet;
    std::uint64_t hlc = 0;
    std::string device;
    std::string field;
    Json value;
};

struct Conflict {
    std::string kind;
    std::string recordId;
    std::string field;
    std::vector<FieldVersion> versions;  // the competing heads, winner first
};

// The app's tables. Called inside the transaction that changes the op log.
class ProjectionSink {
public:
    virtual ~ProjectionSink() = default;
    // Empty the domain tables (rebuild).
    virtual SStatus reset(Db& db) = 0;
    // A record's winning field values changed; `fields` holds all of them.
    virtual SStatus project(Db& db, const std::string& kind, const std::string& recordId, const Json& fields) = 0;
    // The domain tables, for verify/rebuild comparisons.
    virtual std::vector<std::string> tables() const = 0;
};

// Builds one change set. Changes to the same record become one op; a later set() of the same
// field replaces an earlier one.
class Draft {
public:
    void set(const std::string& channel, const std::string& kind, const std::string& recordId,
             const std::string& field, Json value);
    // Channel membership, committed in the same change set (sync/channels.h). createChannel makes
    // this device the channel's admin and a member; the key of epoch 1 is wrapped to every member
    // and to the audit office key if the store knows one. addMember wraps the current key to the
    // device; removeMember starts a new epoch wrapped to everyone else. Admin only.
    void createChannel(const std::string& channel, std::vector<ChannelMember> members);
    void addMember(const std::string& channel, ChannelMember member);
    void removeMember(const std::string& channel, const std::string& device);
    bool empty() const { return m_ops.empty() && m_channelActions.empty(); }
private:
    friend class OpLog;
    struct Pending {
        std::string channel, kind, recordId;
        std::map<std::string, Json> fields;
    };
    struct ChannelAction {
        enum Type { Create, Add, Remove } type;
        std::string channel;
        std::vector<ChannelMember> members;  // Create, Add
        std::string device;                  // Remove
    };
    std::vector<Pending> m_ops;
    std::vector<ChannelAction> m_channelActions;
};

class OpLog {
public:
    OpLog(Store& store, ProjectionSink& sink, const Clock& clock = SystemClock::instance());

    // Loads (or on first use creates) this replica's device id, sequence and clock.
    SStatus open();
    const std::string& deviceId() const { return m_device; }
    const DeviceIdentity& identity() const { return m_identity; }

    // Commits the draft as one change set, durably, with its projection. `inTransaction` runs
    // before COMMIT (extra writes that must be atomic with the change set).
    SResult<ChangeSet> commit(const Draft& draft, const std::function<SStatus()>& inTransaction = {});

    // Applies a change set from another replica after checking it: the author device must be
    // known (addDevice), the signature must verify, and it must extend the device's chain. A
    // change set whose predecessor has not arrived is held (ApplyOutcome::Held) and applied when
    // the predecessor comes; one that contradicts the chain (a second change set for a sequence
    // number, or a different predecessor) is a fork: recorded and refused (Corrupt). Idempotent.
    SResult<ApplyOutcome> applyChangeSet(const ChangeSet& changeSet);
    SStatus apply(const ChangeSet& changeSet);  // applyChangeSet, outcome dropped
    // Verifies every change set, then applies them all in one transaction, or none of them.
    // ownTransaction=false: the caller holds a transaction and commits or rolls back.
    SResult<std::vector<ApplyOutcome>> applyAllOrNothing(const std::vector<ChangeSet>& sets, bool ownTransaction = true);

    // Trusts another device's public keys (from an enrolment file or a test).
    SStatus addDevice(const DevicePublic& device);
    SResult<std::vector<ChainIssue>> chainIssues();

    // Drops all projections and replays the op log.
    SStatus rebuild();

    // A digest of every projection table (sync's and the sink's), for equivalence checks.
    SResult<std::string> projectionDigest();
    // Checks the op log's own consistency and that replaying it reproduces the projections
    // (inside a transaction that is rolled back). Returns problems found, empty if none.
    SResult<std::vector<std::string>> check();

    SResult<Json> record(const std::string& kind, const std::string& recordId);  // winners; NotFound
    SResult<std::vector<FieldVersion>> history(const std::string& recordId);
    SResult<std::vector<Conflict>> conflicts();
    SResult<std::vector<ChangeSet>> changeSets();  // all, in causal (hlc, device, seq) order
    // The same, one change set in memory at a time (bundles of any size). fn must not write.
    SStatus forEachChangeSet(const std::function<SStatus(const ChangeSet&)>& fn);
    SResult<std::int64_t> opCount();

    static Json encodeChanges(const std::vector<FieldChange>& changes);
    static SResult<std::vector<FieldChange>> decodeChanges(const std::string& body);

    // ---- channels (sync/channels.h; implemented in channels.cpp)
    // Verifies and stores key envelopes (issuer signature, issuer is the channel's admin); the
    // ones addressed to this device, or to the office when this store holds the office key, are
    // opened and the ops they make readable are projected. Inside the caller's transaction if
    // there is one. Returns how many keys this replica gained.
    SResult<int> acceptEnvelopes(const std::vector<KeyEnvelope>& envelopes);
    // Wraps every key of every channel this device administers to the audit office key, where
    // that envelope does not exist yet (the office key became known after the channel was made).
    // Returns how many envelopes were made.
    SResult<int> wrapKeysToOffice();
    // Stored envelopes of these channels (all channels when empty).
    SResult<std::vector<KeyEnvelope>> envelopes(const std::vector<std::string>& channels = {});
    SResult<std::uint32_t> currentEpoch(const std::string& channel);  // NotFound: no such channel
    SResult<bool> hasKey(const std::string& channel, std::uint32_t epoch);
    // Devices that are members now (not removed), with the kinds they may write.
    SResult<std::vector<ChannelMember>> members(const std::string& channel);
    // Crypto-shredding: destroys this replica's keys and envelopes of these channels and drops
    // what they made readable from the projections (the sealed ops stay, unreadable here).
    // Inside the caller's transaction if there is one.
    SStatus shredChannels(const std::vector<std::string>& channels, const std::string& reason);
    SResult<std::vector<ShreddedChannel>> shredded();

private:
    SStatus insertChangeSet(const ChangeSet& cs, bool local);
    SResult<ChangeSet> verifyChangeSet(const ChangeSet& cs);  // structure + signature; sets hash
    SResult<ApplyOutcome> applyVerified(const ChangeSet& cs);
    SStatus recordFork(const ChangeSet& cs, const std::string& detail);
    // newRecord: the op creates its record (local commit that found no versions): its values win.
    SStatus project(const Op& op, bool newRecord);
    // A received or replayed op: as a new record's when the replica holds no version of its
    // record yet (nothing to merge with: the same result, without reading back every field), else
    // merged field by field.
    SStatus projectArrived(const Op& op);
    SResult<bool> hasVersions(const std::string& kind, const std::string& recordId);
    SStatus projectField(const std::string& kind, const std::string& recordId, const std::string& field);
    SResult<std::vector<std::string>> heads(const std::string& kind, const std::string& recordId,
                                            const std::string& field);
    SStatus replayAll();
    // An op from a row of `SELECT " XS_OP_COLUMNS " FROM ops`: sealed ops keep only `sealed`.
    static SResult<Op> opFromRow(Stmt& s);
    // Steps `s` to its end, handing each row's op to fn; stops at the first error (its own or fn's).
    static SStatus forEachOpRow(Stmt& s, const std::function<SStatus(Op&)>& fn);
    // channels.cpp
    SStatus authorize(const Op& op);  // Forbidden if its author may not write it
    SResult<std::optional<crypto::SecretBytes>> channelKey(const std::string& channel, std::uint32_t epoch);
    SStatus seal(Op& op, crypto::ByteView key);
    // The op's field changes: in clear, or opened with its channel key; nullopt without the key.
    SResult<std::optional<std::vector<FieldChange>>> readChanges(const Op& op);
    struct PreparedChannels {  // what a draft's channel actions produce
        std::vector<Draft::Pending> sysOps;
        std::map<std::string, std::pair<std::uint32_t, crypto::SecretBytes>> keys;  // channel -> new epoch, key
        std::vector<KeyEnvelope> envelopes;
    };
    SResult<PreparedChannels> prepareChannels(const Draft& draft, std::uint64_t hlc);
    SStatus storeKey(const std::string& channel, std::uint32_t epoch, crypto::ByteView key);
    SStatus projectChannelEpoch(const std::string& channel, std::uint32_t epoch);
    SResult<KeyEnvelope> makeEnvelope(const std::string& channel, std::uint32_t epoch, crypto::ByteView key,
                                      const std::string& recipient, crypto::ByteView recipientKey);
    SStatus insertEnvelope(const KeyEnvelope& e);

    Store& m_store;
    ProjectionSink& m_sink;
    const Clock& m_clock;
    HlcClock m_hlc;
    std::string m_device;
    DeviceIdentity m_identity;
    std::int64_t m_seq = 0;
};

}  // namespace xs::sync
