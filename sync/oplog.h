// The operation log and its projection. Every change is an Op (one record's field changes); the
// ops of one user action form a ChangeSet, signed by its device, committed atomically with its
// projection. Merge is per field: the value with the greatest (hlc, device, op id) wins, whatever
// order ops arrive in. Each field change names the versions it superseded (`base`); versions
// nothing supersedes are "heads", and two or more heads holding different strings are a conflict
// kept visible (table `conflicts`) until an edit supersedes them all.
//
// One judgement for every change set, local or received (DESIGN.md "Every replica is a judge"):
// the trust checks (sync/trust.h) and the app's OpValidator, op by op, against the state at the
// change set's causal position (what its author had seen: the accepted ops of its causal past,
// never the replica's arrival order, never the author's clock). A local change set that fails is
// not committed; a received one is stored with its verdict and none of its ops are projected (a
// "whiteout"): it stays signed evidence of the attempt and a link of its device's chain. Received
// change sets enter through ApplySession (sync/apply.h).
//
// sync/ knows nothing of the domain: record kinds and fields are opaque strings; the app turns
// winners into its tables through a ProjectionSink and judges them through an OpValidator.
// Not thread-safe.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>
#include <nlohmann/json.hpp>
#include "crypto/bytes.h"
#include "sync/changeset.h"
#include "sync/channels.h"
#include "sync/hlc.h"
#include "sync/identity.h"
#include "sync/log_store.h"
#include "sync/store.h"
#include "sync/trust.h"

namespace xs::sync {

// The ops columns OpLog::opFromRow reads, in order (a macro so it concatenates into SQL literals).
#define XS_OP_COLUMNS "id, channel, kind, record_id, hlc, device, epoch, body"

enum class ApplyOutcome {
    Applied,       // admitted, judged and merged (and any held successors with it)
    Refused,       // admitted and stored, but its ops failed a rule: none of them is projected
    AlreadyKnown,  // the same change set was applied before: nothing changed
    Held,          // an earlier change set of its device, a dep or its registration is missing: kept aside
};

// Per-device chain trouble, for verify and the UI.
struct ChainIssue {
    std::string device;
    std::string kind;  // "gap" (held change sets waiting for something) or "fork"
    std::string detail;
};

// A stored change set whose ops were refused.
struct RefusedChangeSet {
    std::string id;
    std::string device;
    std::int64_t seq = 0;
    std::string reason;
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

// The app's rules, applied to every op this replica can read, local or received, after sync's
// own checks. Must be a deterministic function of the context and the view.
class OpValidator {
public:
    struct Context {
        const ChangeSet& changeSet;
        const Op& op;            // its changes in clear
        std::string principal;   // whom the author device acts for, as registered ("" if not registered)
        bool authorIsRoot = false;  // the registrar (the audit office's device)
        std::string rootPrincipal;  // whom the registrar acts for ("" if not known at this position)
        bool local = false;         // being committed on this replica
    };
    virtual ~OpValidator() = default;
    virtual SResult<Verdict> check(const Context& ctx, StateView& view) = 0;
};

// Builds one change set. Changes to the same record become one op; a later set() of the same
// field replaces an earlier one.
class Draft {
public:
    void set(const std::string& channel, const std::string& kind, const std::string& recordId,
             const std::string& field, Json value);
    // Channel membership, committed in the same change set (sync/channels.h). createChannel makes
    // this device the channel's admin and a member; the key of epoch 1 is wrapped to a fresh subkey
    // of every member and to the audit office key (which the store must know). addMember wraps the
    // current key to the device; removeMember starts a new epoch wrapped to everyone else. Admin only.
    void createChannel(const std::string& channel, std::vector<ChannelMember> members);
    void addMember(const std::string& channel, ChannelMember member);
    void removeMember(const std::string& channel, const std::string& device);
    // The registrar's records of devices (sync/channels.h "device").
    void registerDevice(const DeviceRecord& device);
    void revokeDevice(const std::string& device, std::int64_t lastSeq, const crypto::Bytes& lastHash);
    bool empty() const { return m_ops.empty() && m_channelActions.empty(); }
    std::size_t recordCount() const { return m_ops.size(); }  // ops so far: one per record set
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
    std::vector<Pending> m_ops;  // in the order first set
    std::map<std::tuple<std::string, std::string, std::string>, std::size_t> m_index;  // (channel, kind, record) -> m_ops
    std::vector<ChannelAction> m_channelActions;
};

// What shredChannels destroyed.
struct ShredResult {
    std::vector<std::string> channels;
    std::vector<int> subkeys;            // this device's subkeys destroyed with them
    std::vector<std::string> warnings;   // e.g. a subkey that another channel shared
};

class OpLog {
public:
    OpLog(Store& store, ProjectionSink& sink, const Clock& clock = SystemClock::instance());
    ~OpLog();

    // Loads (or on first use creates) this replica's device id, identity, sequence and clock.
    SStatus open();
    const std::string& deviceId() const { return m_device; }
    const DeviceIdentity& identity() const { return m_identity; }
    // The app's rules (not owned; must outlive the log). Without one, sync's checks only.
    void setValidator(OpValidator* validator) { m_validator = validator; }

    // The registrar this store trusts (pinned once; an audit-office store pins itself).
    SResult<std::optional<TrustRoot>> trustRoot();
    // Pins the registrar; Forbidden if another one is pinned. Inside the caller's transaction.
    SStatus pinTrustRoot(const TrustRoot& root);

    // Judges the draft as one change set at this replica's current state and commits it durably
    // with its projection, or refuses it (Forbidden, with the rule's reason) and changes nothing.
    // `inTransaction` runs before COMMIT (extra writes that must be atomic with the change set).
    // Inside a transaction the caller opened (several change sets that stand or fall together),
    // nothing is durable until the caller commits; a refusal leaves the caller to roll back.
    SResult<ChangeSet> commit(const Draft& draft, const std::function<SStatus()>& inTransaction = {});

    // Re-judges every stored change set in causal order and rebuilds all projections.
    SStatus rebuild();

    // A digest of every projection table (sync's and the sink's) and of every verdict.
    SResult<std::string> projectionDigest();
    // Checks the op log's own consistency (on a read snapshot: writers go on meanwhile) and that
    // re-judging it reproduces the projections (holding the write lock, rolled back). Returns
    // problems found, empty if none.
    SResult<std::vector<std::string>> check();

    SResult<Json> record(const std::string& kind, const std::string& recordId);  // winners; NotFound
    SResult<std::vector<FieldVersion>> history(const std::string& recordId);
    SResult<std::vector<Conflict>> conflicts();
    SResult<std::vector<ChangeSet>> changeSets();  // all, in causal (hlc, device, seq) order
    SResult<ChangeSet> changeSet(const std::string& id) { return loadChangeSet(id); }  // NotFound
    // Ids of the stored change sets of `device` after `seq`, in chain order.
    SResult<std::vector<std::string>> changeSetIdsAfter(const std::string& device, std::int64_t seq);
    // The id of `device`'s change set at `seq` here, if any.
    SResult<std::optional<std::string>> changeSetIdAt(const std::string& device, std::int64_t seq);
    // The same, one change set in memory at a time (bundles of any size). fn must not write.
    SStatus forEachChangeSet(const std::function<SStatus(const ChangeSet&)>& fn);
    SResult<std::int64_t> opCount();
    SResult<std::vector<RefusedChangeSet>> refused();
    SResult<std::vector<ChainIssue>> chainIssues();  // forks and held change sets
    // device -> last sequence number held (this replica's version vector).
    SResult<VersionVector> versionVector();

    // ---- devices (the registrar's records, sync/channels.h)
    SResult<std::optional<DeviceRecord>> device(const std::string& id);
    SResult<std::vector<DeviceRecord>> devices();
    // The key a device's change sets must verify with: the pinned registrar's, this device's own,
    // or the registrar's record of it; nullopt for a device not registered here.
    SResult<std::optional<crypto::Bytes>> signKeyOf(const std::string& device);
    // The registrar's records about this device (its principal, whether it is revoked).
    SResult<std::optional<DeviceRecord>> self() { return device(m_device); }

    // ---- channels (implemented in channels.cpp)
    SResult<std::uint32_t> currentEpoch(const std::string& channel);  // NotFound: no such channel
    SResult<bool> hasKey(const std::string& channel, std::uint32_t epoch);
    // Devices that are members now (not removed), with the kinds they may write.
    SResult<std::vector<ChannelMember>> members(const std::string& channel);
    // Crypto-shredding: destroys this replica's keys of these channels (every epoch) and the
    // subkeys their envelopes to this device were sealed to, and drops what they made readable
    // from the projections (the sealed ops stay, unreadable here). Envelopes of these channels
    // that arrive later are never opened. Inside the caller's transaction if there is one.
    SResult<ShredResult> shredChannels(const std::vector<std::string>& channels, const std::string& reason);
    SResult<std::vector<ShreddedChannel>> shredded();

private:
    SStatus checkStored(std::vector<std::string>& problems);  // check()'s read-only part
    friend class ApplySession;
    class CutView;
    class SqliteLogStore;
    struct Effects {  // what judging a change set did beyond its verdict
        bool needRejudge = false;  // a key arrived for ops already stored, or a pin refused accepted links
        int keysGained = 0;
        std::vector<std::string> warnings;
    };

    // Admission + storage + judgement of one received change set (ApplySession's work).
    SResult<ApplyOutcome> applyReceived(const ChangeSet& cs, Effects& fx, std::string& refusal, std::string& holdReason);
    // Judges a stored change set at its causal position and projects it if accepted (the caller
    // holds a savepoint and rolls it back on refusal).
    SResult<Verdict> judge(const ChangeSet& cs, const VersionVector& vv, bool local, Effects& fx);
    SStatus rejudgeAll(Effects& fx);
    SStatus storeChangeSet(const ChangeSet& cs, const VersionVector& vv, const std::string& verdict, bool local);

    // newRecord: the op creates its record (no versions yet): its values win.
    SStatus project(const Op& op, std::int64_t seq, bool newRecord);
    SResult<bool> hasVersions(const std::string& kind, const std::string& recordId);
    SStatus projectField(const std::string& kind, const std::string& recordId, const std::string& field);
    SResult<std::vector<std::string>> heads(const std::string& kind, const std::string& recordId,
                                            const std::string& field);
    SStatus clearProjections();
    // An op from a row of `SELECT " XS_OP_COLUMNS " FROM ops`: plaintext ops get their changes.
    static SResult<Op> opFromRow(Stmt& s);
    // Steps `s` to its end, handing each row's op to fn; stops at the first error (its own or fn's).
    static SStatus forEachOpRow(Stmt& s, const std::function<SStatus(Op&)>& fn);
    SResult<ChangeSet> loadChangeSet(const std::string& id);
    // A change set stored withheld arrived whole: stores its ops (upgraded = true).
    SStatus upgradeWithheld(const ChangeSet& cs, bool& upgraded);
    SResult<VersionVector> storedVersionVector(const std::string& id);
    SResult<std::optional<std::string>> principalAt(StateView& view, const std::string& device);

    // channels.cpp
    SResult<std::optional<crypto::SecretBytes>> channelKey(const std::string& channel, std::uint32_t epoch);
    SStatus seal(Op& op, crypto::ByteView key);
    // The op's field changes: in clear, or opened with its channel key; nullopt without the key;
    // Corrupt if the key is here and the body does not open with it.
    SResult<std::optional<std::vector<FieldChange>>> readChanges(const Op& op);
    struct PreparedChannels {  // what a draft's channel actions produce
        std::vector<Draft::Pending> sysOps;
        std::map<std::string, std::pair<std::uint32_t, crypto::SecretBytes>> keys;  // channel -> new epoch, key
    };
    SResult<PreparedChannels> prepareChannels(const Draft& draft);
    SStatus storeKey(const std::string& channel, std::uint32_t epoch, crypto::ByteView key);
    // After an accepted sys op: opens the envelopes in it addressed to this device or the office.
    SStatus openEnvelopes(const ChangeSet& cs, const Op& op, Effects& fx);
    SResult<std::optional<crypto::SecretBytes>> subkeySecret(int index);
    SResult<bool> isShredded(const std::string& channel);

    Store& m_store;
    ProjectionSink& m_sink;
    const Clock& m_clock;
    HlcClock m_hlc;
    std::string m_device;
    DeviceIdentity m_identity;
    std::int64_t m_seq = 0;
    OpValidator* m_validator = nullptr;
    std::unique_ptr<LogStore> m_logStore;  // a SqliteLogStore over m_store
};

}  // namespace xs::sync
