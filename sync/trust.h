// Every replica is a judge (DESIGN.md): what a replica checks before it believes a change set,
// as functions over plain inputs, so that a server with no passphrase, no evidence and no channel
// keys runs exactly the same checks as a client.
//
//   checkStructure   the change set is well formed and within bounds
//   checkSignature   signed by its device's registered key, over the bytes as sent
//   admit            against a LogStore: duplicate, fork, gap or missing dep (held), revoked
//                    beyond its pin, clock not increasing along the chain; else its causal past
//   ChangeSetAuthorizer  op by op, at the change set's causal position (a StateView): who may
//                    write devices (the registrar), channels and their keys (the channel's admin;
//                    every epoch wrapped to exactly its members and the office), and each
//                    encrypted channel (a member whose kinds cover the op, with the epoch's key)
//
// Validity never depends on arrival order or on the author's clock: only on the change set and
// its causal past (what its author had seen), plus revocation pins, which refuse every later link
// of a device's chain wherever it claims to be. The app adds the procedure's rules on top
// (OpValidator, sync/oplog.h). Pure: no I/O beyond the StateView and LogStore given.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>
#include "sync/changeset.h"
#include "sync/channels.h"
#include "sync/error.h"
#include "sync/log_store.h"

namespace xs::sync {

// The outcome of a rule: accepted, or refused with a reason a person can read.
struct Verdict {
    std::string refusal;
    bool ok() const { return refusal.empty(); }
    static Verdict accept() { return {}; }
    static Verdict refuse(std::string why) { return {std::move(why)}; }
};

// The state a change set is judged against: the winning fields of every accepted op in its
// causal past, plus the change set's own ops before the one being judged.
class StateView {
public:
    virtual ~StateView() = default;
    // The record's winning fields at this position; nullopt if it has none there.
    virtual SResult<std::optional<Json>> record(const std::string& kind, const std::string& id) = 0;
    // Ids of the records of `kind` whose winning `field` equals `value` at this position.
    virtual SResult<std::vector<std::string>> find(const std::string& kind, const std::string& field, const Json& value) = 0;
    // The channel the record lives in (that of its versions), nullopt if it has none here yet.
    virtual SResult<std::optional<std::string>> channelOf(const std::string& kind, const std::string& id) = 0;
};

// Clocks are capped well below 2^63 (they are stored and compared as signed 64-bit integers): a
// change set claiming a later one is malformed. 2^62 HLC units are 2^46 ms, some 2,200 years.
constexpr std::uint64_t kMaxHlc = (std::uint64_t{1} << 62) - 1;
// A change set dated further ahead of this machine's clock is held (not judged) until the clock
// catches up: otherwise one device could push every replica's clock towards the cap, and their
// later change sets past it. Holding is not a verdict, so replicas still agree on every verdict.
constexpr std::int64_t kMaxClockAheadMs = 24LL * 60 * 60 * 1000;

// The trust anchor: the registrar (the audit office's device), pinned at enrolment.
struct TrustRoot {
    std::string device;
    crypto::Bytes signKey;
};

namespace trust {

// Invalid with a message naming the problem.
SStatus checkStructure(const ChangeSet& cs);
// An op's field changes in clear: at least one, each field once, names and base references well
// formed (Invalid otherwise). Part of checkStructure for plaintext ops; for a sealed op, checked
// once it is opened.
SStatus checkChanges(const Op& op);
// Corrupt if the signature does not verify with signKey.
SStatus checkSignature(const ChangeSet& cs, crypto::ByteView signKey);

struct Admission {
    enum class Kind {
        Accept,   // extends its device's chain, its causal past is all here: store and judge it
        Known,    // this very change set is stored already
        Hold,     // waits for a predecessor, a dep or its device's registration (detail says which)
        Fork,     // contradicts its device's chain (detail): record it, refuse it
        Revoked,  // a link after its device's revocation pin: store it refused (detail)
    } kind = Kind::Accept;
    std::string detail;
    VersionVector vv;  // Accept and Revoked: the change set's causal past
};

// Decides what a store does with `cs`. signKey: the author's registered key (the registrar's
// pinned key for the registrar), nullopt while the device is not registered here. pin: the
// author's revocation, if any. Errors: Invalid (malformed, clock going back, a dep that names
// other content than what is stored), Corrupt (bad signature), storage errors.
SResult<Admission> admit(LogStore& log, const ChangeSet& cs, const std::optional<crypto::Bytes>& signKey,
                         const DeviceRecord* author);

// Judges one change set's ops against its causal position, in order: op() before each op is
// projected into the view, finish() after all of them. Org ops are left to the app.
class ChangeSetAuthorizer {
public:
    ChangeSetAuthorizer(const ChangeSet& cs, TrustRoot root, StateView& view)
        : m_cs(cs), m_root(std::move(root)), m_view(view) {}
    SResult<Verdict> op(std::size_t index);
    SResult<Verdict> finish();
    // Channels whose epoch this change set begins (for the replica to open its envelope).
    const std::map<std::string, std::uint32_t>& epochsBegun() const { return m_begun; }

private:
    SResult<Verdict> deviceOp(const Op& op);
    SResult<Verdict> channelOp(const Op& op);
    SResult<Verdict> epochOp(const Op& op);
    SResult<Verdict> memberOp(const Op& op);
    SResult<Verdict> channelWrite(const Op& op);
    SResult<Verdict> requireAdmin(const std::string& channel);
    SStatus rememberChannel(const std::string& channel);
    SStatus rememberMember(const std::string& channel, const std::string& device);
    SResult<Verdict> finishChannel(const std::string& channel);

    const ChangeSet& m_cs;
    TrustRoot m_root;
    StateView& m_view;
    // States before this change set, captured the first time an op touches them.
    std::map<std::string, std::optional<Json>> m_channelsBefore;                          // channel -> record
    std::map<std::pair<std::string, std::string>, std::optional<Json>> m_membersBefore;  // (channel, device)
    std::map<std::string, std::uint32_t> m_begun;  // channel -> epoch whose keys this change set carries
};

}  // namespace trust
}  // namespace xs::sync
