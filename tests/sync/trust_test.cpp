// Every replica is a judge: the verifier and authorizer on plain inputs (no store, no keys but
// signing keys: what a server runs), revocation by chain position, clocks that must increase
// along a chain, exact key wrapping at each epoch, and convergence of verdicts whatever the order.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "sync/changeset_codec.h"
#include "sync/trust.h"
#include "sync/uuid.h"
#include "tests/sync/forge.h"
#include "tests/sync/replica.h"
#include "tests/sync/sync_test_util.h"

namespace xs::sync {
namespace {

using test::errorOf;
using test::Forge;
using test::TempDir;

// ---------------------------------------------------------------- a store-less judge

// The LogStore a server could keep: maps in memory.
class MemoryLogStore final : public LogStore {
public:
    SResult<std::optional<crypto::Bytes>> hashOf(const std::string& id) override {
        auto it = m_byId.find(id);
        if (it == m_byId.end()) return std::optional<crypto::Bytes>();
        return std::optional<crypto::Bytes>(it->second.hash);
    }
    SResult<std::optional<StoredLink>> linkAt(const std::string& device, std::int64_t seq) override {
        auto it = m_chain.find({device, seq});
        if (it == m_chain.end()) return std::optional<StoredLink>();
        const ChangeSet& cs = m_byId.at(it->second);
        return std::optional<StoredLink>(StoredLink{cs.id, cs.seq, cs.hash, cs.hlc});
    }
    SResult<std::int64_t> lastSeq(const std::string& device) override {
        std::int64_t last = 0;
        for (const auto& [key, id] : m_chain)
            if (key.first == device) last = std::max(last, key.second);
        return last;
    }
    SResult<bool> hasOp(const std::string& opId) override {
        for (const auto& [id, cs] : m_byId)
            for (const auto& op : cs.ops)
                if (op.id == opId) return true;
        return false;
    }
    SResult<VersionVector> versionVectorOf(const std::string& id) override { return m_vv.at(id); }
    SStatus append(const ChangeSet& cs, const VersionVector& vv, const std::string& verdict, bool) override {
        m_byId[cs.id] = cs;
        m_chain[{cs.device, cs.seq}] = cs.id;
        m_vv[cs.id] = vv;
        verdicts[cs.id] = verdict;
        return {};
    }
    SStatus setVerdict(const std::string& id, const std::string& verdict) override {
        verdicts[id] = verdict;
        return {};
    }
    SStatus hold(const ChangeSet& cs, const std::string&) override {
        m_held[cs.id] = cs;
        return {};
    }
    SResult<std::vector<ChangeSet>> held() override {
        std::vector<ChangeSet> out;
        for (auto& [id, cs] : m_held) out.push_back(cs);
        return out;
    }
    SStatus unhold(const std::string& id) override {
        m_held.erase(id);
        return {};
    }
    SStatus recordFork(const ChangeSet& cs, const std::string&) override {
        forks.insert(cs.id);
        return {};
    }
    std::map<std::string, std::string> verdicts;
    std::set<std::string> forks;

private:
    std::map<std::string, ChangeSet> m_byId;
    std::map<std::pair<std::string, std::int64_t>, std::string> m_chain;
    std::map<std::string, VersionVector> m_vv;
    std::map<std::string, ChangeSet> m_held;
};

// A membership view given as plain records.
class MapView final : public StateView {
public:
    std::map<std::pair<std::string, std::string>, Json> records;
    SResult<std::optional<Json>> record(const std::string& kind, const std::string& id) override {
        auto it = records.find({kind, id});
        if (it == records.end()) return std::optional<Json>();
        return std::optional<Json>(it->second);
    }
    SResult<std::vector<std::string>> find(const std::string& kind, const std::string& field, const Json& value) override {
        std::vector<std::string> out;
        for (const auto& [key, rec] : records)
            if (key.first == kind && rec.contains(field) && rec[field] == value) out.push_back(key.second);
        return out;
    }
    // The record's channel: as put() saw it, else the sys channel for the sys kinds.
    std::map<std::pair<std::string, std::string>, std::string> homes;
    SResult<std::optional<std::string>> channelOf(const std::string& kind, const std::string& id) override {
        if (auto it = homes.find({kind, id}); it != homes.end()) return std::optional<std::string>(it->second);
        if (!records.count({kind, id})) return std::optional<std::string>();
        if (kind == kDeviceKind || kind == kChannelKind || kind == kMemberKind || kind == kEpochKind)
            return std::optional<std::string>(std::string(kSysChannel));
        return std::optional<std::string>();
    }
    // What a projection would do after an op: its fields on top of the record.
    void put(const Op& op) {
        homes[{op.kind, op.recordId}] = op.channel;
        Json& rec = records[{op.kind, op.recordId}];
        if (rec.is_null()) rec = Json::object();
        for (const auto& c : op.changes) rec[c.field] = c.value;
    }
};

struct Device {
    std::string id;
    std::shared_ptr<crypto::Ed25519KeyPair> keys;  // shared: a copy of a Device is the same device (a copied store)
    std::int64_t seq = 0;
    crypto::Bytes last;  // hash of the last change set
    std::uint64_t hlc = 1000;

    static Device make() {
        auto id = newUuidV7();
        auto k = crypto::ed25519Generate();
        REQUIRE(id.ok());
        REQUIRE(k.ok());
        return Device{*id, std::make_shared<crypto::Ed25519KeyPair>(std::move(*k)), 0, {}, 1000};
    }
    // The next change set of this device's chain with these ops and deps.
    ChangeSet next(std::vector<Op> ops, std::vector<Dep> deps = {}, std::optional<std::uint64_t> claimedHlc = {}) {
        ChangeSet cs;
        cs.id = *newOwnedId(id);
        cs.device = id;
        cs.seq = ++seq;
        hlc = claimedHlc ? *claimedHlc : hlc + 100;
        cs.hlc = hlc;
        cs.prevHash = last;
        cs.deps = std::move(deps);
        for (auto& op : ops) {
            op.id = *newOwnedId(id);
            op.device = id;
            op.hlc = cs.hlc;
            std::string text = encodeChanges(op.changes);
            op.body.assign(text.begin(), text.end());
        }
        cs.ops = std::move(ops);
        cs.hash = changeSetHash(cs);
        auto sig = crypto::ed25519Sign(keys->privateKey, signingInput(cs));
        REQUIRE(sig.ok());
        cs.signature = *sig;
        last = cs.hash;
        return cs;
    }
};

// A copy of `d` positioned right after `cs` in its chain (to write a rival or a later link).
Device after(const Device& d, const ChangeSet& cs) {
    Device x = d;
    x.seq = cs.seq;
    x.last = cs.hash;
    x.hlc = cs.hlc;
    return x;
}

Op op(const std::string& channel, const std::string& kind, const std::string& id, const Json& fields) {
    return Forge::plain(channel, kind, id, fields);
}

}  // namespace

TEST_CASE("trust: chain admission runs on a plain log store - no client store - and decides every case") {
    MemoryLogStore log;
    Device d = Device::make();
    Device other = Device::make();
    using K = trust::Admission::Kind;
    ChangeSet c1 = d.next({op("org", "item", "r1", {{"title", "one"}})});
    ChangeSet c2 = d.next({op("org", "item", "r1", {{"title", "two"}})});
    ChangeSet c3 = d.next({op("org", "item", "r1", {{"title", "three"}})});

    // Unknown key: held; bad signature: Corrupt; gap: held; then in order.
    auto a = trust::admit(log, c1, std::nullopt, nullptr);
    REQUIRE(a.ok());
    CHECK(a->kind == K::Hold);
    CHECK(errorOf(trust::admit(log, c1, other.keys->publicKey, nullptr)) == SyncError::Corrupt);
    a = trust::admit(log, c2, d.keys->publicKey, nullptr);
    REQUIRE(a.ok());
    CHECK(a->kind == K::Hold);
    CHECK(a->detail.find("change set 1") != std::string::npos);
    a = trust::admit(log, c1, d.keys->publicKey, nullptr);
    REQUIRE(a.ok());
    REQUIRE(a->kind == K::Accept);
    CHECK(a->vv == VersionVector{{d.id, 0}});
    REQUIRE(log.append(c1, a->vv, "", false).ok());
    a = trust::admit(log, c1, d.keys->publicKey, nullptr);
    REQUIRE(a.ok());
    CHECK(a->kind == K::Known);
    a = trust::admit(log, c2, d.keys->publicKey, nullptr);
    REQUIRE(a.ok());
    REQUIRE(a->kind == K::Accept);
    REQUIRE(log.append(c2, a->vv, "", false).ok());

    // A second change set for a sequence number already held: a fork.
    ChangeSet rival = after(d, c1).next({op("org", "item", "r1", {{"title", "the copy's"}})});
    a = trust::admit(log, rival, d.keys->publicKey, nullptr);
    REQUIRE(a.ok());
    CHECK(a->kind == K::Fork);

    // A clock that goes back along the chain is refused, whatever the signature.
    ChangeSet backwards = after(d, c2).next({op("org", "item", "r1", {{"title", "back-dated"}})}, {}, c2.hlc - 50);
    auto back = trust::admit(log, backwards, d.keys->publicKey, nullptr);
    CHECK(errorOf(back) == SyncError::Invalid);

    // A dep that is not here holds; one that names other content is refused; a dep timestamped
    // after the change set that claims to have seen it is refused.
    other.hlc = 5000;
    ChangeSet o1 = other.next({op("org", "item", "o1", {{"n", 1}})});
    ChangeSet needsO1 = after(d, c2).next({op("org", "item", "r1", {{"title", "after o1"}})}, {{other.id, 1, o1.hash}}, o1.hlc + 1);
    a = trust::admit(log, needsO1, d.keys->publicKey, nullptr);
    REQUIRE(a.ok());
    CHECK(a->kind == K::Hold);
    CHECK(a->detail.find("waits for change set 1 of device " + other.id) != std::string::npos);
    auto o1Admit = trust::admit(log, o1, other.keys->publicKey, nullptr);
    REQUIRE(o1Admit.ok());
    REQUIRE(log.append(o1, o1Admit->vv, "", false).ok());
    a = trust::admit(log, needsO1, d.keys->publicKey, nullptr);
    REQUIRE(a.ok());
    CHECK(a->kind == K::Accept);
    CHECK(a->vv == VersionVector{{d.id, 2}, {other.id, 1}});
    crypto::Bytes wrong(32, 9);
    ChangeSet badDep = after(d, c2).next({op("org", "item", "r1", {{"title", "x"}})}, {{other.id, 1, wrong}}, o1.hlc + 1);
    CHECK(errorOf(trust::admit(log, badDep, d.keys->publicKey, nullptr)) == SyncError::Invalid);
    ChangeSet tooEarly = after(d, c2).next({op("org", "item", "r1", {{"title", "y"}})}, {{other.id, 1, o1.hash}}, o1.hlc - 1);
    if (tooEarly.hlc > c2.hlc) CHECK(errorOf(trust::admit(log, tooEarly, d.keys->publicKey, nullptr)) == SyncError::Invalid);
    (void)c3;

    // Revocation by position: a link after the pin is refused whatever time it claims.
    DeviceRecord revoked{d.id, d.keys->publicKey, {}, {}, "p", std::int64_t{2}, c2.hash};
    ChangeSet afterPin = after(d, c2).next({op("org", "item", "r1", {{"title", "after the pin"}})}, {}, c2.hlc + 1);
    a = trust::admit(log, afterPin, d.keys->publicKey, &revoked);
    REQUIRE(a.ok());
    CHECK(a->kind == K::Revoked);
    CHECK(a->detail.find("revoked after its change set 2") != std::string::npos);
    // The pinned link itself and those before it stay accepted.
    DeviceRecord pinnedAt1{d.id, d.keys->publicKey, {}, {}, "p", std::int64_t{1}, c1.hash};
    CHECK(trust::admit(log, c2, d.keys->publicKey, &pinnedAt1)->kind == K::Known);
}

TEST_CASE("trust: the authorizer judges channel writes and sys records from a plain membership view") {
    Device root = Device::make();
    Device admin = Device::make();
    Device member = Device::make();
    Device outsider = Device::make();
    TrustRoot anchor{root.id, root.keys->publicKey};
    MapView view;
    auto reg = [&](const Device& dev) {
        view.records[{kDeviceKind, dev.id}] = {{"sign_pk", crypto::toHex(dev.keys->publicKey)}, {"kx_pk", std::string(64, 'a')},
                                               {"subkeys", Json::array({std::string(64, 'b'), std::string(64, 'c')})},
                                               {"principal", "p-" + dev.id.substr(0, 4)}};
    };
    reg(admin);
    reg(member);
    reg(outsider);
    view.records[{kChannelKind, "i1.team"}] = {{"admin", admin.id}, {"epoch", 2}};
    view.records[{kMemberKind, memberRecordId("i1.team", member.id)}] = {
        {"channel", "i1.team"}, {"device", member.id}, {"kinds", Json::array({"finding"})}, {"subkey", 0}, {"removed", false}};

    auto judge = [&](const ChangeSet& cs) -> std::string {
        trust::ChangeSetAuthorizer auth(cs, anchor, view);
        for (std::size_t i = 0; i < cs.ops.size(); ++i) {
            auto v = auth.op(i);
            REQUIRE(v.ok());
            if (!v->ok()) return v->refusal;
        }
        auto f = auth.finish();
        REQUIRE(f.ok());
        return f->refusal;
    };
    auto sealedOp = [&](const std::string& kind, std::uint32_t epoch) {
        Op o = op("i1.team", kind, "x1", {});
        o.epoch = epoch;
        o.body.assign(40, 1);
        return o;
    };
    auto raw = [&](Device& dev, std::vector<Op> ops) {
        // Ops of encrypted channels keep their given body; Device::next would re-encode it.
        ChangeSet cs = dev.next({op("org", "item", "placeholder", {{"x", 1}})});
        for (auto& o : ops) {
            o.device = dev.id;
            o.hlc = cs.hlc;
            o.id = *newOwnedId(dev.id);
        }
        cs.ops = ops;
        return cs;
    };
    CHECK(judge(raw(member, {sealedOp("finding", 2)})).empty());
    CHECK(judge(raw(member, {sealedOp("finding", 1)})).find("epoch") != std::string::npos);
    CHECK(judge(raw(member, {sealedOp("notice", 2)})).find("does not cover") != std::string::npos);
    CHECK(judge(raw(outsider, {sealedOp("finding", 2)})).find("not a member") != std::string::npos);
    view.records[{kMemberKind, memberRecordId("i1.team", member.id)}]["removed"] = true;
    CHECK(judge(raw(member, {sealedOp("finding", 2)})).find("removed") != std::string::npos);

    // Only the registrar registers and revokes devices; only the admin touches its channel.
    Op registration = op(kSysChannel, kDeviceKind, *newUuidV7(),
                         {{"sign_pk", std::string(64, 'd')}, {"kx_pk", std::string(64, 'e')},
                          {"subkeys", Json::array({std::string(64, 'f')})}, {"principal", "p-new"}});
    CHECK(judge(admin.next({registration})).find("registrar") != std::string::npos);
    CHECK(judge(root.next({registration})).empty());
    Op revoke = op(kSysChannel, kDeviceKind, member.id, {{"revoked_seq", 0}, {"revoked_hash", ""}});
    CHECK(judge(admin.next({revoke})).find("registrar") != std::string::npos);
    CHECK(judge(root.next({revoke})).empty());
    // Keys of a revoked device never come back, under any id.
    view.records[{kDeviceKind, outsider.id}]["revoked_seq"] = 3;
    view.records[{kDeviceKind, outsider.id}]["revoked_hash"] = std::string(64, '0');
    Op reuse = op(kSysChannel, kDeviceKind, *newUuidV7(),
                  {{"sign_pk", crypto::toHex(outsider.keys->publicKey)}, {"kx_pk", std::string(64, '1')},
                   {"subkeys", Json::array({std::string(64, '2')})}, {"principal", "p-again"}});
    CHECK(judge(root.next({reuse})).find("revoked device " + outsider.id) != std::string::npos);
    Op unrevoke = op(kSysChannel, kDeviceKind, outsider.id, {{"revoked_seq", 9}, {"revoked_hash", std::string(64, '3')}});
    CHECK(judge(root.next({unrevoke})).find("revoked already") != std::string::npos);
    Op takeOver = op(kSysChannel, kChannelKind, "i1.team", {{"epoch", 3}});
    CHECK(judge(member.next({takeOver})).find("admin") != std::string::npos);
}

namespace {

// A registrar, an admin with a channel of three members, and a member about to be revoked.
struct RevocationScene {
    TempDir tmp;
    Replica office{tmp / "office", 1'700'000'000'000};
    Replica admin{tmp / "admin", 1'700'000'000'000, &office};
    Replica good{tmp / "good", 1'700'000'000'000, &office};
    Replica bad{tmp / "bad", 1'700'000'000'000, &office};
    std::string team = *newOwnedId(admin.log->deviceId()) + ".team";  // named after an id of its admin's
    RevocationScene() {
        admin.catchUp();
        Draft d;
        d.createChannel(team, {{good.log->deviceId(), {"*"}}, {bad.log->deviceId(), {"*"}}});
        admin.commit(d);
        for (Replica* r : {&good, &bad, &office}) r->applyAll(admin.changeSets());
    }
    // The office revokes `bad` at the last change set of it the office holds.
    void revoke() {
        auto vv = office.log->versionVector();
        REQUIRE(vv.ok());
        std::int64_t last = vv->count(bad.log->deviceId()) ? vv->at(bad.log->deviceId()) : 0;
        crypto::Bytes hash = last > 0 ? Forge(office).hashAt(bad.log->deviceId(), last) : crypto::Bytes();
        Draft d;
        d.revokeDevice(bad.log->deviceId(), last, hash);
        office.commit(d);
    }
};

}  // namespace

TEST_CASE("trust: a revoked device back-dating its clock is refused on every replica") {
    RevocationScene s;
    // A replica that will receive the revoked device's late link before the revocation itself.
    Replica early(s.tmp / "early", 1'700'000'000'000, &s.office);
    early.applyAll(s.admin.changeSets());
    ChangeSet before = s.bad.set("r1", "title", "written before the revocation");
    s.office.apply(before);
    s.office.clock.advance(86'400'000);  // the office revokes a day later
    s.revoke();
    // The revoked device writes on, claiming a time just after its last accepted link — long
    // before the revocation — and a causal past without it.
    Forge forge(s.bad);
    ChangeSet backdated = forge.make({Forge::plain("org", "item", "r2", {{"title", "back-dated after the revocation"}})}, before.hlc + 1);
    CHECK(backdated.hlc < s.office.own().back().hlc);
    for (Replica* r : {&s.admin, &s.good, &s.office}) {
        CAPTURE(r->log->deviceId());
        r->catchUp();
        r->apply(before);
        CHECK(r->apply(backdated) == ApplyOutcome::Refused);
        CHECK(r->refused().back().reason.find("revoked after its change set 1") != std::string::npos);
        CHECK(r->record("item", "r1")["title"] == "written before the revocation");
        CHECK(errorOf(r->log->record("item", "r2")) == SyncError::NotFound);
    }
    // `early` accepts the late link while it does not know of the revocation, and takes it back
    // when the revocation arrives: the verdict is the same as everywhere else.
    REQUIRE(early.tryApply(before, false).ok());
    auto accepted = early.tryApply(backdated, false);
    REQUIRE(accepted.ok());
    CHECK(*accepted == ApplyOutcome::Applied);
    CHECK(early.record("item", "r2")["title"] == "back-dated after the revocation");
    REQUIRE(early.tryApply(s.office.own().back(), false).ok());
    CHECK(errorOf(early.log->record("item", "r2")) == SyncError::NotFound);
    CHECK(early.record("item", "r1")["title"] == "written before the revocation");
    REQUIRE(!early.refused().empty());
    CHECK(early.refused().back().id == backdated.id);
    CHECK(early.check().empty());
}

TEST_CASE("trust: a device's clock must increase along its own chain") {
    RevocationScene s;
    ChangeSet first = s.good.set("r1", "title", "one");
    Forge forge(s.good);
    s.good.apply(first);
    ChangeSet back = forge.make({Forge::plain("org", "item", "r1", {{"title", "earlier than its predecessor"}})}, first.hlc - 1);
    s.admin.apply(first);
    auto r = s.admin.tryApply(back);
    CHECK(errorOf(r) == SyncError::Invalid);
    CHECK(r.message().find("clock must increase") != std::string::npos);
    CHECK(s.admin.record("item", "r1")["title"] == "one");
}

TEST_CASE("trust: each epoch is wrapped to exactly the remaining members and the office - checked by every replica") {
    RevocationScene s;
    Forge forge(s.admin);
    const std::string ch = s.team;
    auto memberSubkey = [&](Replica& who) {
        auto m = s.admin.log->record(kMemberKind, memberRecordId(ch, who.log->deviceId()));
        REQUIRE(m.ok());
        return (*m)["subkey"].get<int>();
    };
    // A rotation that removes `bad` but still wraps the new key to it.
    auto envelopeTo = [&](const std::string& device, int subkey) {
        KeyEnvelope e{device, subkey, crypto::Bytes(32, 1), crypto::Bytes(48, 2)};
        return envelopeToJson(e);
    };
    Json keysWithBad = Json::array({envelopeTo(s.admin.log->deviceId(), memberSubkey(s.admin)),
                                    envelopeTo(s.good.log->deviceId(), memberSubkey(s.good)),
                                    envelopeTo(s.bad.log->deviceId(), memberSubkey(s.bad)), envelopeTo("", -1)});
    Json keysWithoutOffice = Json::array({envelopeTo(s.admin.log->deviceId(), memberSubkey(s.admin)),
                                          envelopeTo(s.good.log->deviceId(), memberSubkey(s.good))});
    auto rotation = [&](const Json& keys) {
        return forge.make({Forge::plain(kSysChannel, kChannelKind, ch, {{"epoch", 2}}),
                           Forge::plain(kSysChannel, kMemberKind, memberRecordId(ch, s.bad.log->deviceId()),
                                        {{"removed", true}}),
                           Forge::plain(kSysChannel, kEpochKind, epochRecordId(ch, 2),
                                        {{"channel", ch}, {"epoch", 2}, {"key_id", std::string(32, '0')}, {"keys", keys}})});
    };
    // Each forged change set is the admin's next link: each goes to a replica of its own.
    int n = 0;
    auto judgeOf = [&](const ChangeSet& forged) {
        Replica j(s.tmp / ("judge" + std::to_string(n++)), 1'700'000'000'000, &s.office);
        j.applyAll(s.admin.changeSets());
        CHECK(j.apply(forged) == ApplyOutcome::Refused);
        CHECK(*j.log->currentEpoch(ch) == 1);
        return j.refused().back().reason;
    };
    for (const Json& keys : {keysWithBad, keysWithoutOffice}) {
        CAPTURE(keys.dump());
        CHECK(judgeOf(rotation(keys)).find("exactly its members and the audit office") != std::string::npos);
    }
    // Removing a member without a new epoch is refused too.
    ChangeSet quiet = forge.make({Forge::plain(kSysChannel, kMemberKind, memberRecordId(ch, s.bad.log->deviceId()), {{"removed", true}})});
    CHECK(judgeOf(quiet).find("must begin a new epoch") != std::string::npos);
    // The honest rotation passes everywhere.
    Draft d;
    d.removeMember(ch, s.bad.log->deviceId());
    ChangeSet honest = s.admin.commit(d);
    s.office.applyAll(s.admin.changeSets());
    CHECK(s.office.refused().empty());
    CHECK(*s.office.log->currentEpoch(ch) == 2);
    CHECK(s.office.check().empty());
    (void)honest;
}

TEST_CASE("trust: hostile and concurrent change sets give the same projection and refused set in any order") {
    RevocationScene s;
    const std::string ch = s.team;
    // Honest concurrent work.
    Draft a1;
    a1.set(ch, "finding", "f1", "text", "by the admin");
    s.admin.commit(a1);
    Draft g1;
    g1.set(ch, "finding", "f1", "text", "by good, concurrently");
    g1.set(ch, "finding", "f2", "text", "good's own");
    s.good.commit(g1);
    ChangeSet b1 = s.bad.set("shared", "note", "bad, before the revocation");
    s.office.apply(b1);
    s.revoke();
    // Hostile: a forged key record, and a revoked device's late links (one back-dated).
    Forge gf(s.good);
    ChangeSet forged = gf.make({Forge::plain(kSysChannel, kEpochKind, epochRecordId(ch, 2),
                                             {{"channel", ch}, {"epoch", 2}, {"key_id", std::string(32, '0')}, {"keys", Json::array()}})});
    s.bad.clock.set(1'500'000'000'000);
    s.bad.set("shared", "note", "bad, after the revocation, back-dated");
    Draft b3;
    b3.set(ch, "finding", "f9", "text", "bad's planted finding");
    s.bad.commit(b3);
    // And the admin's removal of the revoked device, made after it learned of it.
    s.admin.catchUp();
    Draft rot;
    rot.removeMember(ch, s.bad.log->deviceId());
    s.admin.commit(rot);
    std::vector<ChangeSet> all = {forged};
    for (Replica* r : {&s.office, &s.admin, &s.good, &s.bad})
        for (const auto& cs : r->changeSets())
            if (std::none_of(all.begin(), all.end(), [&](const ChangeSet& x) { return x.id == cs.id; })) all.push_back(cs);

    std::string digest;
    std::set<std::string> refusedIds;
    for (unsigned seed = 0; seed < 8; ++seed) {
        CAPTURE(seed);
        std::vector<ChangeSet> order = all;
        std::mt19937 rng(seed);
        if (seed > 0) std::shuffle(order.begin(), order.end(), rng);
        // Registered but holding nothing: every change set, the registrar's included, arrives in this order.
        Replica r(s.tmp / ("order" + std::to_string(seed)), 1'700'000'000'000, &s.office, false);
        r.holdOfficeKey();  // it reads every channel, as the office does
        for (const auto& cs : order) {
            auto applied = r.tryApply(cs, false);
            REQUIRE_MESSAGE(applied.ok(), test::describe(applied));
        }
        CHECK(r.log->chainIssues()->empty());
        std::set<std::string> refused;
        for (const auto& x : r.refused()) refused.insert(x.id);
        // The registration of this very replica differs between runs: compare what matters.
        Json f1 = r.record("finding", "f1");
        if (seed == 0) {
            refusedIds = refused;
            digest = f1.dump() + "|" + r.record("item", "shared").dump();
        }
        CHECK(refused == refusedIds);
        CHECK(f1.dump() + "|" + r.record("item", "shared").dump() == digest);
        CHECK(errorOf(r.log->record("finding", "f9")) == SyncError::NotFound);
        CHECK(r.check().empty());
    }
    CHECK(refusedIds.size() == 3);  // the forged key record and both of bad's late links
}

}  // namespace xs::sync
