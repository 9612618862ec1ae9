#include "sync/oplog.h"

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "sync/changeset_codec.h"
#include "sync/record_fields.h"
#include "sync/uuid.h"

namespace xs::sync {
namespace {

std::string bodyText(const crypto::Bytes& body) { return std::string(body.begin(), body.end()); }

crypto::Bytes textBytes(const std::string& s) { return crypto::Bytes(s.begin(), s.end()); }

}  // namespace

// ------------------------------------------------------------------------- storage

// The LogStore of a client: the changesets, ops, held_changesets and forks tables.
// A change set's ops rows. The body as signed: in an encrypted channel only the sealed bytes,
// never the clear text.
static SStatus storeOps(Db& db, const ChangeSet& cs) {
    auto o = db.prepare("INSERT INTO ops (id, changeset, idx, channel, kind, record_id, hlc, device, epoch, body)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!o) return o.error();
    std::int64_t idx = 0;
    for (const Op& op : cs.ops) {
        o->bind(1, op.id).bind(2, cs.id).bind(3, idx++).bind(4, op.channel).bind(5, op.kind).bind(6, op.recordId)
            .bind(7, static_cast<std::int64_t>(op.hlc)).bind(8, op.device).bind(9, static_cast<std::int64_t>(op.epoch))
            .bindBlob(10, op.body);
        XS_TRY(o->run());
    }
    return {};
}

// The op hashes of a withheld change set, in its withheld_ops row.
static SStatus storeWithheld(Db& db, const ChangeSet& cs) {
    crypto::Bytes all;
    for (const auto& h : cs.withheld) all.insert(all.end(), h.begin(), h.end());
    auto w = db.prepare("INSERT INTO withheld_ops (changeset, hashes) VALUES (?, ?)");
    if (!w) return w.error();
    return w->bind(1, cs.id).bindBlob(2, all).run();
}

class OpLog::SqliteLogStore final : public LogStore {
public:
    explicit SqliteLogStore(Db& db) : m_db(db) {}

    SResult<std::optional<crypto::Bytes>> hashOf(const std::string& id) override {
        auto s = m_db.prepare("SELECT hash FROM changesets WHERE id = ?");
        if (!s) return s.error();
        s->bind(1, id);
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) return std::optional<crypto::Bytes>();
        return std::optional<crypto::Bytes>(s->blob(0));
    }
    SResult<std::optional<StoredLink>> linkAt(const std::string& device, std::int64_t seq) override {
        auto s = m_db.prepare("SELECT id, hash, hlc FROM changesets WHERE device = ? AND seq = ?");
        if (!s) return s.error();
        s->bind(1, device).bind(2, seq);
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) return std::optional<StoredLink>();
        return std::optional<StoredLink>(StoredLink{s->text(0), seq, s->blob(1), static_cast<std::uint64_t>(s->int64(2))});
    }
    SResult<std::int64_t> lastSeq(const std::string& device) override {
        auto s = m_db.prepare("SELECT COALESCE(MAX(seq), 0) FROM changesets WHERE device = ?");
        if (!s) return s.error();
        s->bind(1, device);
        if (auto row = s->step(); !row) return row.error();
        return s->int64(0);
    }
    SResult<bool> hasOp(const std::string& opId) override {
        auto s = m_db.prepare("SELECT 1 FROM ops WHERE id = ?");
        if (!s) return s.error();
        s->bind(1, opId);
        return s->step();
    }
    SResult<VersionVector> versionVectorOf(const std::string& id) override {
        auto s = m_db.prepare("SELECT vv FROM changesets WHERE id = ?");
        if (!s) return s.error();
        s->bind(1, id);
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) return fail(SyncError::NotFound, "no change set " + id);
        return versionVectorFromJson(Json::parse(s->text(0), nullptr, false));
    }
    SStatus append(const ChangeSet& cs, const VersionVector& vv, const std::string& verdict, bool local) override {
        Json deps = Json::array();
        for (const Dep& d : cs.deps) deps.push_back({{"device", d.device}, {"seq", d.seq}, {"hash", crypto::toHex(d.hash)}});
        auto c = m_db.prepare("INSERT INTO changesets (id, device, seq, hlc, prev_hash, hash, signature, deps, vv, op_count,"
                              " local, verdict) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        if (!c) return c.error();
        c->bind(1, cs.id).bind(2, cs.device).bind(3, cs.seq).bind(4, static_cast<std::int64_t>(cs.hlc))
            .bindBlob(5, cs.prevHash).bindBlob(6, cs.hash).bindBlob(7, cs.signature).bind(8, deps.dump())
            .bind(9, versionVectorToJson(vv).dump())
            .bind(10, static_cast<std::int64_t>(cs.isWithheld() ? cs.withheld.size() : cs.ops.size()))
            .bind(11, std::int64_t{local ? 1 : 0}).bind(12, verdict);
        XS_TRY(c->run());
        if (cs.isWithheld()) return storeWithheld(m_db, cs);
        return storeOps(m_db, cs);
    }
    SStatus setVerdict(const std::string& id, const std::string& verdict) override {
        auto s = m_db.prepare("UPDATE changesets SET verdict = ? WHERE id = ? AND verdict != ?");
        if (!s) return s.error();
        s->bind(1, verdict).bind(2, id).bind(3, verdict);
        return s->run();
    }
    SStatus hold(const ChangeSet& cs, const std::string& reason) override {
        auto s = m_db.prepare("INSERT OR REPLACE INTO held_changesets (id, device, seq, reason, body) VALUES (?, ?, ?, ?, ?)");
        if (!s) return s.error();
        s->bind(1, cs.id).bind(2, cs.device).bind(3, cs.seq).bind(4, reason).bind(5, changeSetToJson(cs).dump());
        return s->run();
    }
    SResult<std::vector<ChangeSet>> held() override {
        auto s = m_db.prepare("SELECT body FROM held_changesets ORDER BY device, seq, id");
        if (!s) return s.error();
        std::vector<ChangeSet> out;
        for (;;) {
            auto row = s->step();
            if (!row) return row.error();
            if (!*row) break;
            auto j = parseBoundedJson(s->text(0), std::size_t{64} << 20, "a held change set");
            if (!j) return j.error();
            auto cs = changeSetFromJson(*j);
            if (!cs) return cs.error();
            out.push_back(std::move(*cs));
        }
        return out;
    }
    SStatus unhold(const std::string& id) override {
        auto s = m_db.prepare("DELETE FROM held_changesets WHERE id = ?");
        if (!s) return s.error();
        s->bind(1, id);
        return s->run();
    }
    SStatus recordFork(const ChangeSet& cs, const std::string& detail) override {
        auto s = m_db.prepare("INSERT OR IGNORE INTO forks (device, seq, changeset, detail) VALUES (?, ?, ?, ?)");
        if (!s) return s.error();
        s->bind(1, cs.device).bind(2, cs.seq).bind(3, cs.id).bind(4, detail);
        return s->run();
    }

private:
    Db& m_db;
};

// ------------------------------------------------------------------------- the state at a position

// The accepted versions of a change set's causal past (its device's own chain up to and including
// the change set's ops projected so far, and every other device up to the version vector), or,
// without a version vector, every accepted version (a local commit sees all this replica holds).
class OpLog::CutView final : public StateView {
public:
    CutView(OpLog& log, std::string device, std::int64_t seq, const VersionVector* vv)
        : m_log(log), m_device(std::move(device)), m_seq(seq), m_vv(vv) {}

    SResult<std::optional<Json>> record(const std::string& kind, const std::string& id) override {
        Db& db = m_log.m_store.db();
        Json out = Json::object();
        if (!m_vv) {
            auto s = db.prepare("SELECT field, value FROM field_versions WHERE kind = ? AND record_id = ? AND winner = 1");
            if (!s) return s.error();
            s->bind(1, kind).bind(2, id);
            for (;;) {
                auto row = s->step();
                if (!row) return row.error();
                if (!*row) break;
                out[s->text(0)] = Json::parse(s->text(1), nullptr, false);
            }
        } else {
            auto s = db.prepare("SELECT field, op_id, hlc, device, seq, value FROM field_versions WHERE kind = ? AND record_id = ?");
            if (!s) return s.error();
            s->bind(1, kind).bind(2, id);
            struct Best { std::int64_t hlc; std::string device, op, value; };
            std::map<std::string, Best> best;
            for (;;) {
                auto row = s->step();
                if (!row) return row.error();
                if (!*row) break;
                std::string device = s->text(3);
                if (!inCut(device, s->int64(4))) continue;
                Best b{s->int64(2), device, s->text(1), s->text(5)};
                auto it = best.find(s->text(0));
                if (it == best.end() || std::tie(b.hlc, b.device, b.op) > std::tie(it->second.hlc, it->second.device, it->second.op))
                    best[s->text(0)] = std::move(b);
            }
            for (auto& [field, b] : best) out[field] = Json::parse(b.value, nullptr, false);
        }
        if (out.empty()) return std::optional<Json>();
        return std::optional<Json>(std::move(out));
    }

    SResult<std::vector<std::string>> find(const std::string& kind, const std::string& field, const Json& value) override {
        auto s = m_log.m_store.db().prepare("SELECT DISTINCT record_id FROM field_versions WHERE kind = ? AND field = ? AND value = ?"
                                            " ORDER BY record_id");
        if (!s) return s.error();
        s->bind(1, kind).bind(2, field).bind(3, value.dump());
        std::vector<std::string> candidates;
        XS_TRY(s->collectTexts(candidates));
        std::vector<std::string> out;
        for (const auto& id : candidates) {
            auto rec = record(kind, id);
            if (!rec) return rec.error();
            if (*rec && (*rec)->contains(field) && (**rec)[field] == value) out.push_back(id);
        }
        return out;
    }

    SResult<std::optional<std::string>> channelOf(const std::string& kind, const std::string& id) override {
        // From the ops' plaintext headers, not from what this replica could open: the answer must
        // not depend on the keys it holds. Of concurrent first ops in different channels, the
        // earliest in (clock, device, seq) order, the same on every replica.
        auto s = m_log.m_store.db().prepare(
            "SELECT o.channel, c.device, c.seq FROM ops o JOIN changesets c ON c.id = o.changeset"
            " WHERE o.record_id = ? AND o.kind = ? AND c.verdict = '' ORDER BY c.hlc, c.device, c.seq, o.idx");
        if (!s) return s.error();
        s->bind(1, id).bind(2, kind);
        for (;;) {
            auto row = s->step();
            if (!row) return row.error();
            if (!*row) return std::optional<std::string>();
            if (!m_vv || inCut(s->text(1), s->int64(2))) return std::optional<std::string>(s->text(0));
        }
    }

private:
    bool inCut(const std::string& device, std::int64_t seq) const {
        if (device == m_device) return seq <= m_seq;
        auto it = m_vv->find(device);
        return it != m_vv->end() && seq <= it->second;
    }
    OpLog& m_log;
    std::string m_device;
    std::int64_t m_seq;
    const VersionVector* m_vv;
};

// ------------------------------------------------------------------------- drafts

void Draft::set(const std::string& channel, const std::string& kind, const std::string& recordId,
                const std::string& field, Json value) {
    auto [it, added] = m_index.emplace(std::make_tuple(channel, kind, recordId), m_ops.size());
    if (added) m_ops.push_back(Pending{channel, kind, recordId, {}});
    m_ops[it->second].fields[field] = std::move(value);
}

void Draft::registerDevice(const DeviceRecord& d) {
    Json subkeys = Json::array();
    for (const auto& k : d.subkeys) subkeys.push_back(crypto::toHex(k));
    set(kSysChannel, kDeviceKind, d.id, "sign_pk", crypto::toHex(d.signKey));
    set(kSysChannel, kDeviceKind, d.id, "kx_pk", crypto::toHex(d.exchangeKey));
    set(kSysChannel, kDeviceKind, d.id, "subkeys", subkeys);
    set(kSysChannel, kDeviceKind, d.id, "principal", d.principal);
}

void Draft::revokeDevice(const std::string& device, std::int64_t lastSeq, const crypto::Bytes& lastHash) {
    set(kSysChannel, kDeviceKind, device, "revoked_seq", lastSeq);
    set(kSysChannel, kDeviceKind, device, "revoked_hash", lastSeq == 0 ? std::string() : crypto::toHex(lastHash));
}

// ------------------------------------------------------------------------- open, trust

OpLog::OpLog(Store& store, ProjectionSink& sink, const Clock& clock)
    : m_store(store), m_sink(sink), m_clock(clock), m_hlc(clock), m_logStore(std::make_unique<SqliteLogStore>(store.db())) {}

OpLog::~OpLog() = default;

SStatus OpLog::open() {
    auto device = m_store.meta("device_id");
    if (!device) {
        if (device.code() != SyncError::NotFound) return device.error();
        auto id = newUuidV7();
        if (!id) return id.error();
        XS_TRY(m_store.setMeta("device_id", *id));
        m_device = *id;
    } else {
        m_device = *device;
    }
    auto identity = DeviceIdentity::loadOrCreate(m_store, m_device);
    if (!identity) return identity.error();
    m_identity = std::move(*identity);
    // The clock resumes after the greatest timestamp in the log (no op is later than its change set).
    auto last = m_store.db().prepare("SELECT COALESCE(MAX(hlc), 0) FROM changesets");
    if (!last) return last.error();
    if (auto row = last->step(); !row) return row.error();
    m_hlc = HlcClock(m_clock, static_cast<std::uint64_t>(last->int64(0)));
    auto seq = m_logStore->lastSeq(m_device);
    if (!seq) return seq.error();
    m_seq = *seq;
    return {};
}

SResult<std::optional<TrustRoot>> OpLog::trustRoot() {
    auto device = m_store.meta("trust_root_device");
    if (!device) {
        if (device.code() == SyncError::NotFound) return std::optional<TrustRoot>();
        return device.error();
    }
    auto key = m_store.meta("trust_root_sign_pk");
    if (!key) return key.error();
    auto bytes = crypto::fromHex(*key);
    if (!bytes || bytes->size() != 32) return fail(SyncError::Corrupt, "the pinned registrar key is damaged");
    return std::optional<TrustRoot>(TrustRoot{*device, std::move(*bytes)});
}

SStatus OpLog::pinTrustRoot(const TrustRoot& root) {
    if (!isUuid(root.device) || root.signKey.size() != 32) return fail(SyncError::Invalid, "malformed registrar key");
    auto current = trustRoot();
    if (!current) return current.error();
    if (*current) {
        if ((*current)->device == root.device && (*current)->signKey == root.signKey) return {};
        return fail(SyncError::Forbidden, "this store trusts another audit office (fingerprints differ)");
    }
    XS_TRY(m_store.setMeta("trust_root_device", root.device));
    return m_store.setMeta("trust_root_sign_pk", crypto::toHex(root.signKey));
}

SResult<std::optional<crypto::Bytes>> OpLog::signKeyOf(const std::string& device) {
    auto root = trustRoot();
    if (!root) return root.error();
    if (*root && (*root)->device == device) return std::optional<crypto::Bytes>((*root)->signKey);
    if (device == m_device) return std::optional<crypto::Bytes>(m_identity.publicInfo().signKey);
    auto d = this->device(device);
    if (!d) return d.error();
    if (!*d) return std::optional<crypto::Bytes>();
    return std::optional<crypto::Bytes>((*d)->signKey);
}

SResult<std::optional<DeviceRecord>> OpLog::device(const std::string& id) {
    auto rec = record(kDeviceKind, id);
    if (!rec) {
        if (rec.code() == SyncError::NotFound) return std::optional<DeviceRecord>();
        return rec.error();
    }
    auto d = deviceFromRecord(id, *rec);
    if (!d) return d.error();
    return std::optional<DeviceRecord>(std::move(*d));
}

SResult<std::vector<DeviceRecord>> OpLog::devices() {
    auto s = m_store.db().prepare("SELECT DISTINCT record_id FROM field_versions WHERE kind = ? ORDER BY record_id");
    if (!s) return s.error();
    s->bind(1, std::string(kDeviceKind));
    std::vector<std::string> ids;
    XS_TRY(s->collectTexts(ids));
    std::vector<DeviceRecord> out;
    for (const auto& id : ids) {
        auto d = device(id);
        if (!d) return d.error();
        if (*d) out.push_back(std::move(**d));
    }
    return out;
}

SResult<std::optional<std::string>> OpLog::principalAt(StateView& view, const std::string& device) {
    auto rec = view.record(kDeviceKind, device);
    if (!rec) return rec.error();
    if (!*rec) return std::optional<std::string>();
    return std::optional<std::string>(stringOf(**rec, "principal"));
}

// ------------------------------------------------------------------------- projection

SResult<std::vector<std::string>> OpLog::heads(const std::string& kind, const std::string& recordId,
                                               const std::string& field) {
    auto s = m_store.db().prepare(
        "SELECT v.op_id FROM field_versions v WHERE v.kind = ?1 AND v.record_id = ?2 AND v.field = ?3 AND NOT EXISTS ("
        " SELECT 1 FROM field_bases b WHERE b.kind = ?1 AND b.record_id = ?2 AND b.field = ?3 AND b.base_op = v.op_id)"
        " ORDER BY v.op_id");
    if (!s) return s.error();
    s->bind(1, kind).bind(2, recordId).bind(3, field);
    std::vector<std::string> out;
    XS_TRY(s->collectTexts(out));
    return out;
}

SStatus OpLog::projectField(const std::string& kind, const std::string& recordId, const std::string& field) {
    Db& db = m_store.db();
    struct Version {
        std::string op, value;
        std::int64_t hlc;
        std::string device;
    };
    std::vector<Version> versions;
    auto v = db.prepare("SELECT op_id, value, hlc, device FROM field_versions WHERE kind = ? AND record_id = ? AND field = ?");
    if (!v) return v.error();
    v->bind(1, kind).bind(2, recordId).bind(3, field);
    for (;;) {
        auto row = v->step();
        if (!row) return row.error();
        if (!*row) break;
        versions.push_back({v->text(0), v->text(1), v->int64(2), v->text(3)});
    }
    v.value().reset();
    if (versions.empty()) return {};
    // Winner: greatest (hlc, device, op id) — the same whatever order the ops arrived in.
    const Version* winner = &versions[0];
    for (const auto& x : versions)
        if (std::tie(x.hlc, x.device, x.op) > std::tie(winner->hlc, winner->device, winner->op)) winner = &x;
    auto up = db.prepare("UPDATE field_versions SET winner = (op_id = ?4) WHERE kind = ?1 AND record_id = ?2 AND field = ?3"
                         " AND winner != (op_id = ?4)");
    if (!up) return up.error();
    up->bind(1, kind).bind(2, recordId).bind(3, field).bind(4, winner->op);
    XS_TRY(up->run());
    if (versions.size() == 1) return {};  // a single version can be in no conflict

    auto b = db.prepare("SELECT base_op FROM field_bases WHERE kind = ? AND record_id = ? AND field = ?");
    if (!b) return b.error();
    b->bind(1, kind).bind(2, recordId).bind(3, field);
    std::set<std::string> superseded;
    for (;;) {
        auto row = b->step();
        if (!row) return row.error();
        if (!*row) break;
        superseded.insert(b->text(0));
    }
    b.value().reset();
    auto del = db.prepare("DELETE FROM conflicts WHERE kind = ? AND record_id = ? AND field = ?");
    if (!del) return del.error();
    del->bind(1, kind).bind(2, recordId).bind(3, field);
    XS_TRY(del->run());
    // Heads are versions nothing supersedes. Only concurrent text edits with different values need a
    // person; other types merge by last-writer-wins.
    std::vector<const Version*> headVersions;
    std::set<std::string> values;
    for (const auto& x : versions) {
        if (superseded.count(x.op)) continue;
        if (x.value.empty() || x.value[0] != '"') return {};
        headVersions.push_back(&x);
        values.insert(x.value);
    }
    if (headVersions.size() < 2 || values.size() < 2) return {};
    auto ins = db.prepare("INSERT INTO conflicts (kind, record_id, field, op_id, value, hlc, device) VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!ins) return ins.error();
    for (const Version* x : headVersions) {
        ins->bind(1, kind).bind(2, recordId).bind(3, field).bind(4, x->op).bind(5, x->value).bind(6, x->hlc).bind(7, x->device);
        XS_TRY(ins->run());
    }
    return {};
}

SStatus OpLog::project(const Op& op, std::int64_t seq, bool newRecord) {
    Db& db = m_store.db();
    // A version of a record nobody has seen before is its field's only version, hence the winner.
    auto v = db.prepare("INSERT OR IGNORE INTO field_versions (kind, record_id, field, op_id, hlc, device, seq, value, winner)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    auto b = db.prepare("INSERT OR IGNORE INTO field_bases (kind, record_id, field, op_id, base_op) VALUES (?, ?, ?, ?, ?)");
    if (!v) return v.error();
    if (!b) return b.error();
    for (const auto& c : op.changes) {
        v->bind(1, op.kind).bind(2, op.recordId).bind(3, c.field).bind(4, op.id).bind(5, static_cast<std::int64_t>(op.hlc))
            .bind(6, op.device).bind(7, seq).bind(8, c.value.dump()).bind(9, std::int64_t{newRecord ? 1 : 0});
        XS_TRY(v->run());
        for (const auto& base : c.base) {
            b->bind(1, op.kind).bind(2, op.recordId).bind(3, c.field).bind(4, op.id).bind(5, base);
            XS_TRY(b->run());
        }
        if (!newRecord) XS_TRY(projectField(op.kind, op.recordId, c.field));
    }
    if (newRecord) {
        Json fields = Json::object();
        for (const auto& c : op.changes) fields[c.field] = c.value;
        return m_sink.project(db, op.kind, op.recordId, fields);
    }
    auto rec = record(op.kind, op.recordId);
    if (!rec) return rec.error();
    return m_sink.project(db, op.kind, op.recordId, *rec);
}

SResult<bool> OpLog::hasVersions(const std::string& kind, const std::string& recordId) {
    auto exists = m_store.db().prepare("SELECT 1 FROM field_versions WHERE kind = ? AND record_id = ? LIMIT 1");
    if (!exists) return exists.error();
    exists->bind(1, kind).bind(2, recordId);
    auto known = exists->step();
    if (!known) return known.error();
    return *known;
}

SStatus OpLog::clearProjections() {
    XS_TRY(m_store.db().exec("DELETE FROM field_versions; DELETE FROM field_bases; DELETE FROM conflicts;"));
    return m_sink.reset(m_store.db());
}

// ------------------------------------------------------------------------- judging

SResult<Verdict> OpLog::judge(const ChangeSet& cs, const VersionVector& vv, bool local, Effects& fx) {
    auto root = trustRoot();
    if (!root) return root.error();
    TrustRoot anchor = *root ? **root : TrustRoot{};
    CutView view(*this, cs.device, cs.seq, local ? nullptr : &vv);
    trust::ChangeSetAuthorizer auth(cs, anchor, view);
    const bool isRoot = !anchor.device.empty() && cs.device == anchor.device;
    // Whom the author and the registrar act for at this position: read again only after a
    // device record of this very change set (the registrar registering itself, say).
    std::optional<std::string> principal, rootPrincipal;
    bool knowPrincipals = false;
    for (std::size_t i = 0; i < cs.ops.size(); ++i) {
        const Op& op = cs.ops[i];
        if (!knowPrincipals) {
            auto p = principalAt(view, cs.device);
            if (!p) return p.error();
            principal = std::move(*p);
            rootPrincipal.reset();
            if (!anchor.device.empty()) {
                auto rp = principalAt(view, anchor.device);
                if (!rp) return rp.error();
                rootPrincipal = std::move(*rp);
            }
            knowPrincipals = true;
        }
        if (!principal && !isRoot)
            return Verdict::refuse("device " + cs.device + " wrote before it was registered (enrolled) by the audit office");
        auto v = auth.op(i);
        if (!v) return v.error();
        if (!v->ok()) return v;
        const Op* readable = &op;
        Op opened;
        if (isEncryptedChannel(op.channel)) {
            auto changes = readChanges(op);
            if (!changes) {
                if (changes.code() == SyncError::Corrupt || changes.code() == SyncError::Invalid)
                    return Verdict::refuse(changes.message());
                return changes.error();
            }
            if (!*changes) continue;  // no key for this epoch here: kept sealed, neither judged by the app nor projected
            opened = op;
            opened.changes = std::move(**changes);
            readable = &opened;
            if (auto shape = trust::checkChanges(opened); !shape) return Verdict::refuse(shape.message());
        }
        if (m_validator) {
            OpValidator::Context ctx{cs, *readable, principal.value_or(std::string()), isRoot, rootPrincipal.value_or(std::string()),
                                     local};
            auto app = m_validator->check(ctx, view);
            if (!app) return app.error();
            if (!app->ok()) return app;
        }
        auto known = hasVersions(op.kind, op.recordId);
        if (!known) return known.error();
        XS_TRY(project(*readable, cs.seq, !*known));
        if (op.channel == kSysChannel && op.kind == kDeviceKind) knowPrincipals = false;
        if (op.channel == kSysChannel) {
            if (op.kind == kEpochKind || op.kind == kMemberKind) XS_TRY(openEnvelopes(cs, *readable, fx));
            if (op.kind == kDeviceKind && std::any_of(op.changes.begin(), op.changes.end(),
                                                      [](const FieldChange& c) { return c.field == "revoked_seq"; })) {
                // A revocation refuses every later link of that device, wherever this replica had accepted it.
                auto revoked = device(op.recordId);
                if (!revoked) return revoked.error();
                if (*revoked && (*revoked)->revokedSeq) {
                    auto later = m_store.db().prepare("SELECT 1 FROM changesets WHERE device = ? AND seq > ? AND verdict = '' LIMIT 1");
                    if (!later) return later.error();
                    later->bind(1, op.recordId).bind(2, *(*revoked)->revokedSeq);
                    auto row = later->step();
                    if (!row) return row.error();
                    if (*row) fx.needRejudge = true;
                }
            }
        }
    }
    return auth.finish();
}

SStatus OpLog::storeChangeSet(const ChangeSet& cs, const VersionVector& vv, const std::string& verdict, bool local) {
    return m_logStore->append(cs, vv, verdict, local);
}

SResult<ApplyOutcome> OpLog::applyReceived(const ChangeSet& given, Effects& fx, std::string& refusal, std::string& holdReason) {
    // What is judged and projected is what was signed: the changes of a plaintext op are read
    // from its body bytes, whatever the caller parsed.
    ChangeSet cs = given;
    for (Op& op : cs.ops) {
        if (isEncryptedChannel(op.channel)) {
            op.changes.clear();
            continue;
        }
        auto changes = decodeChanges(bodyText(op.body));
        if (!changes) return fail(SyncError::Invalid, "change set " + cs.id + ", op " + op.id + ": " + changes.message());
        op.changes = std::move(*changes);
    }
    cs.hash = changeSetHash(cs);
    auto key = signKeyOf(cs.device);
    if (!key) return key.error();
    auto author = device(cs.device);
    if (!author) return author.error();
    auto admission = trust::admit(*m_logStore, cs, *key, *author ? &**author : nullptr);
    if (!admission) return admission.error();
    using K = trust::Admission::Kind;
    const std::int64_t aheadMs = hlcMillis(cs.hlc) - m_clock.nowMs();
    if ((admission->kind == K::Accept || admission->kind == K::Revoked) && aheadMs > kMaxClockAheadMs) {
        admission->kind = K::Hold;
        admission->detail = "change set " + std::to_string(cs.seq) + " of device " + cs.device + " is dated " +
                            std::to_string(aheadMs / 3'600'000) + " h ahead of this machine's clock (check both clocks): " +
                            "it waits until then";
    }
    switch (admission->kind) {
        case K::Known: {
            // Held withheld here, now whole (from a member, a bundle): its ops join the log and
            // everything is judged again at commit, as when a late key arrives.
            bool upgraded = false;
            XS_TRY(upgradeWithheld(cs, upgraded));
            if (!upgraded) return ApplyOutcome::AlreadyKnown;
            fx.needRejudge = true;
            return ApplyOutcome::Applied;
        }
        case K::Fork:
            XS_TRY(m_logStore->recordFork(cs, admission->detail));
            return fail(SyncError::Corrupt, "fork: " + admission->detail);
        case K::Hold:
            XS_TRY(m_logStore->hold(cs, admission->detail));
            holdReason = admission->detail;
            return ApplyOutcome::Held;
        case K::Revoked:
            XS_TRY(storeChangeSet(cs, admission->vv, admission->detail, false));
            XS_TRY(m_logStore->unhold(cs.id));
            m_hlc.observe(cs.hlc);
            refusal = admission->detail;
            return ApplyOutcome::Refused;
        case K::Accept: break;
    }
    XS_TRY(storeChangeSet(cs, admission->vv, "", false));
    XS_TRY(m_logStore->unhold(cs.id));
    auto sp = Savepoint::begin(m_store.db());
    if (!sp) return sp.error();
    Effects mine;
    auto verdict = judge(cs, admission->vv, false, mine);
    if (!verdict) return verdict.error();
    m_hlc.observe(cs.hlc);
    if (!verdict->ok()) {
        XS_TRY(sp->rollback());
        XS_TRY(m_logStore->setVerdict(cs.id, verdict->refusal));
        refusal = verdict->refusal;
        return ApplyOutcome::Refused;
    }
    XS_TRY(sp->release());
    fx.needRejudge = fx.needRejudge || mine.needRejudge;
    fx.keysGained += mine.keysGained;
    fx.warnings.insert(fx.warnings.end(), mine.warnings.begin(), mine.warnings.end());
    return ApplyOutcome::Applied;
}

SStatus OpLog::rejudgeAll(Effects& fx) {
    Db& db = m_store.db();
    // Causal order: a change set's clock is later than every one it had seen (admission checks
    // it), so (hlc, device, seq) puts every change set after its causal past.
    std::vector<std::string> ids;
    {
        auto s = db.prepare("SELECT id FROM changesets ORDER BY hlc, device, seq");
        if (!s) return s.error();
        XS_TRY(s->collectTexts(ids));
    }
    auto countKeys = [&]() -> SResult<std::int64_t> {
        auto s = db.prepare("SELECT count(*) FROM channel_keys");
        if (!s) return s.error();
        if (auto row = s->step(); !row) return row.error();
        return s->int64(0);
    };
    auto pins = [&]() -> SResult<std::map<std::string, std::pair<std::int64_t, crypto::Bytes>>> {
        std::map<std::string, std::pair<std::int64_t, crypto::Bytes>> out;
        auto all = devices();
        if (!all) return all.error();
        for (const auto& d : *all)
            if (d.revokedSeq) out[d.id] = {*d.revokedSeq, d.revokedHash};
        return out;
    };
    // Keys opened and pins set by one pass can change verdicts before them: pass again until
    // nothing changes. Each further pass gains a key or a pin, and there are no more of those
    // than change sets.
    for (std::size_t pass = 0; pass < ids.size() + 2; ++pass) {
        auto keysBefore = countKeys();
        if (!keysBefore) return keysBefore.error();
        auto pinsBefore = pins();
        if (!pinsBefore) return pinsBefore.error();
        XS_TRY(clearProjections());
        for (const auto& id : ids) {
            auto cs = loadChangeSet(id);
            if (!cs) return cs.error();
            std::string verdict;
            auto pin = pinsBefore->find(cs->device);
            if (pin != pinsBefore->end() && (cs->seq > pin->second.first || (cs->seq == pin->second.first && cs->hash != pin->second.second))) {
                verdict = "device " + cs->device + " was revoked after its change set " + std::to_string(pin->second.first);
            } else {
                auto vv = storedVersionVector(id);
                if (!vv) return vv.error();
                auto sp = Savepoint::begin(db);
                if (!sp) return sp.error();
                Effects ignored;
                auto v = judge(*cs, *vv, false, ignored);
                if (!v) return v.error();
                if (v->ok()) {
                    XS_TRY(sp->release());
                    fx.keysGained += ignored.keysGained;
                } else {
                    XS_TRY(sp->rollback());
                    verdict = v->refusal;
                }
            }
            XS_TRY(m_logStore->setVerdict(id, verdict));
        }
        auto keysAfter = countKeys();
        if (!keysAfter) return keysAfter.error();
        auto pinsAfter = pins();
        if (!pinsAfter) return pinsAfter.error();
        if (*keysAfter == *keysBefore && *pinsAfter == *pinsBefore) return {};
    }
    return fail(SyncError::Corrupt, "the op log's verdicts do not settle (revocations that contradict each other?)");
}

SStatus OpLog::rebuild() {
    auto tx = Transaction::begin(m_store.db());
    if (!tx) return tx.error();
    Effects fx;
    XS_TRY(rejudgeAll(fx));
    return tx->commit();
}

// ------------------------------------------------------------------------- commit

SResult<ChangeSet> OpLog::commit(const Draft& draft, const std::function<SStatus()>& inTransaction) {
    if (draft.empty()) return fail(SyncError::Invalid, "nothing to commit");
    auto tx = Transaction::beginUnlessOpen(m_store.db());
    if (!tx) return tx.error();
    if (auto me = self(); !me) {
        return me.error();
    } else if (*me && (*me)->revokedSeq && m_seq >= *(*me)->revokedSeq) {
        return fail(SyncError::Forbidden, "this device was revoked by the audit office: nothing it writes is accepted any more");
    }
    // The chain as stored, not as this object last saw it: another writer, or this device's own
    // change sets arriving from elsewhere, may have extended it.
    auto stored = m_logStore->lastSeq(m_device);
    if (!stored) return stored.error();
    m_seq = *stored;
    std::optional<StoredLink> prev;
    if (m_seq > 0) {
        auto link = m_logStore->linkAt(m_device, m_seq);
        if (!link) return link.error();
        if (!*link) return fail(SyncError::Corrupt, "this device's previous change set is missing");
        prev = std::move(**link);
        m_hlc.observe(prev->hlc);  // the chain's clock increases, whichever process wrote last
    }
    // Ids are unique within this process; another process on this store (the CLI beside the
    // GUI) could make the same one in the same millisecond, so each is checked against the log.
    auto freshId = [&](bool forOp) -> SResult<std::string> {
        for (;;) {
            auto id = newOwnedId(m_device);
            if (!id) return id.error();
            if (forOp) {
                auto taken = m_logStore->hasOp(*id);
                if (!taken) return taken.error();
                if (!*taken) return id;
            } else {
                auto taken = m_logStore->hashOf(*id);
                if (!taken) return taken.error();
                if (!*taken) return id;
            }
        }
    };
    ChangeSet cs;
    auto id = freshId(false);
    if (!id) return id.error();
    cs.id = *id;
    cs.device = m_device;
    cs.seq = m_seq + 1;
    cs.hlc = m_hlc.tick();
    auto channels = prepareChannels(draft);
    if (!channels) return channels.error();
    std::vector<Draft::Pending> pending = channels->sysOps;  // membership first: later ops are checked against it
    pending.insert(pending.end(), draft.m_ops.begin(), draft.m_ops.end());
    for (const auto& p : pending) {
        auto known = hasVersions(p.kind, p.recordId);
        if (!known) return known.error();
        Op op;
        auto opId = freshId(true);
        if (!opId) return opId.error();
        op.id = *opId;
        op.channel = p.channel;
        op.kind = p.kind;
        op.recordId = p.recordId;
        op.hlc = cs.hlc;
        op.device = m_device;
        for (const auto& [field, value] : p.fields) {
            std::vector<std::string> base;
            if (*known) {  // a new record supersedes nothing
                auto h = heads(p.kind, p.recordId, field);
                if (!h) return h.error();
                base = std::move(*h);
            }
            op.changes.push_back({field, value, std::move(base)});
        }
        if (isEncryptedChannel(op.channel)) {
            // The newest epoch: one this draft creates, else the channel's current one.
            auto made = channels->keys.find(op.channel);
            if (made != channels->keys.end()) {
                op.epoch = made->second.first;
                XS_TRY(seal(op, made->second.second.view()));
            } else {
                auto epoch = currentEpoch(op.channel);
                if (!epoch) {
                    if (epoch.code() == SyncError::NotFound)
                        return fail(SyncError::Forbidden, "channel " + op.channel + " does not exist on this device");
                    return epoch.error();
                }
                auto key = channelKey(op.channel, *epoch);
                if (!key) return key.error();
                if (!*key)
                    return fail(SyncError::Forbidden, "this device holds no key for channel " + op.channel + " (epoch " +
                                                          std::to_string(*epoch) + "): it is not a member");
                op.epoch = *epoch;
                XS_TRY(seal(op, (*key)->view()));
            }
        } else {
            op.body = textBytes(encodeChanges(op.changes));
        }
        cs.ops.push_back(std::move(op));
    }
    if (prev) cs.prevHash = prev->hash;
    // Causal context: what this replica holds beyond what its previous change set had seen.
    auto current = versionVector();
    if (!current) return current.error();
    VersionVector prevVv;
    if (prev) {
        auto v = m_logStore->versionVectorOf(prev->id);
        if (!v) return v.error();
        prevVv = std::move(*v);
    }
    VersionVector vv;
    for (const auto& [device, seq] : *current) {
        if (device == m_device) continue;
        vv[device] = seq;
        auto was = prevVv.find(device);
        if (was != prevVv.end() && was->second >= seq) continue;
        auto link = m_logStore->linkAt(device, seq);
        if (!link) return link.error();
        if (!*link) return fail(SyncError::Corrupt, "the chain of device " + device + " is damaged here");
        cs.deps.push_back({device, seq, (*link)->hash});
    }
    vv[m_device] = cs.seq - 1;
    crypto::Bytes input = signingInput(cs);
    crypto::Digest digest = crypto::sha256(input);
    cs.hash.assign(digest.begin(), digest.end());
    auto signature = m_identity.sign(input);
    if (!signature) return signature.error();
    cs.signature = std::move(*signature);
    XS_TRY(trust::checkStructure(cs));  // what every other replica will check first
    XS_TRY(storeChangeSet(cs, vv, "", true));
    for (const auto& [channel, key] : channels->keys) XS_TRY(storeKey(channel, key.first, key.second.view()));
    Effects fx;
    auto verdict = judge(cs, vv, true, fx);
    if (!verdict) return verdict.error();
    if (!verdict->ok()) return fail(SyncError::Forbidden, verdict->refusal);
    if (fx.needRejudge) XS_TRY(rejudgeAll(fx));
    if (inTransaction) XS_TRY(inTransaction());
    if (*tx) XS_TRY((*tx)->commit());
    m_seq = cs.seq;
    return cs;
}

// ------------------------------------------------------------------------- reading the log

SStatus OpLog::forEachOpRow(Stmt& s, const std::function<SStatus(Op&)>& fn) {
    for (;;) {
        auto row = s.step();
        if (!row) return row.error();
        if (!*row) return {};
        auto op = opFromRow(s);
        if (!op) return op.error();
        XS_TRY(fn(*op));
    }
}

SResult<Op> OpLog::opFromRow(Stmt& s) {
    Op op{s.text(0), s.text(1), s.text(2), s.text(3), static_cast<std::uint64_t>(s.int64(4)), s.text(5),
          static_cast<std::uint32_t>(s.int64(6)), s.blob(7), {}};
    if (isEncryptedChannel(op.channel)) return op;
    auto changes = decodeChanges(bodyText(op.body));
    if (!changes) return fail(SyncError::Corrupt, "op " + op.id + " has an unreadable body: " + changes.message());
    op.changes = std::move(*changes);
    return op;
}

SResult<std::vector<std::string>> OpLog::changeSetIdsAfter(const std::string& device, std::int64_t seq) {
    auto s = m_store.db().prepare("SELECT id FROM changesets WHERE device = ? AND seq > ? ORDER BY seq");
    if (!s) return s.error();
    s->bind(1, device).bind(2, seq);
    std::vector<std::string> ids;
    XS_TRY(s->collectTexts(ids));
    return ids;
}

SResult<std::optional<std::string>> OpLog::changeSetIdAt(const std::string& device, std::int64_t seq) {
    auto s = m_store.db().prepare("SELECT id FROM changesets WHERE device = ? AND seq = ?");
    if (!s) return s.error();
    s->bind(1, device).bind(2, seq);
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return std::optional<std::string>();
    return std::optional<std::string>(s->text(0));
}

SResult<ChangeSet> OpLog::loadChangeSet(const std::string& id) {
    Db& db = m_store.db();
    auto c = db.prepare("SELECT id, device, seq, hlc, prev_hash, hash, signature, deps FROM changesets WHERE id = ?");
    if (!c) return c.error();
    c->bind(1, id);
    auto row = c->step();
    if (!row) return row.error();
    if (!*row) return fail(SyncError::NotFound, "no change set " + id);
    ChangeSet cs{c->text(0), c->text(1), c->int64(2), static_cast<std::uint64_t>(c->int64(3)), {}, c->blob(4), {},
                 c->blob(5), c->blob(6), {}};
    Json deps = Json::parse(c->text(7), nullptr, false);
    if (!deps.is_array()) return fail(SyncError::Corrupt, "change set " + id + " has damaged deps");
    for (const auto& d : deps) {
        auto h = crypto::fromHex(stringOf(d, "hash"));
        if (!h || !d.contains("seq") || !d["seq"].is_number_integer())
            return fail(SyncError::Corrupt, "change set " + id + " has damaged deps");
        cs.deps.push_back({stringOf(d, "device"), d["seq"].get<std::int64_t>(), std::move(*h)});
    }
    c.value().reset();
    auto o = db.prepare("SELECT " XS_OP_COLUMNS " FROM ops WHERE changeset = ? ORDER BY idx");
    if (!o) return o.error();
    o->bind(1, id);
    XS_TRY(forEachOpRow(*o, [&](Op& op) -> SStatus {
        cs.ops.push_back(std::move(op));
        return {};
    }));
    if (cs.ops.empty()) {
        auto w = db.prepare("SELECT hashes FROM withheld_ops WHERE changeset = ?");
        if (!w) return w.error();
        w->bind(1, id);
        auto wrow = w->step();
        if (!wrow) return wrow.error();
        if (*wrow) {
            crypto::Bytes all = w->blob(0);
            if (all.empty() || all.size() % 32 != 0) return fail(SyncError::Corrupt, "change set " + id + " has damaged withheld op hashes");
            for (std::size_t i = 0; i < all.size(); i += 32) cs.withheld.emplace_back(all.begin() + i, all.begin() + i + 32);
        }
    }
    return cs;
}

SStatus OpLog::upgradeWithheld(const ChangeSet& cs, bool& upgraded) {
    upgraded = false;
    if (cs.isWithheld()) return {};
    Db& db = m_store.db();
    auto w = db.prepare("SELECT 1 FROM withheld_ops WHERE changeset = ?");
    if (!w) return w.error();
    w->bind(1, cs.id);
    auto row = w->step();
    if (!row) return row.error();
    if (!*row) return {};
    w.value().reset();
    auto del = db.prepare("DELETE FROM withheld_ops WHERE changeset = ?");
    if (!del) return del.error();
    XS_TRY(del->bind(1, cs.id).run());
    XS_TRY(storeOps(db, cs));
    upgraded = true;
    return {};
}

SResult<VersionVector> OpLog::storedVersionVector(const std::string& id) { return m_logStore->versionVectorOf(id); }

SResult<VersionVector> OpLog::versionVector() {
    auto s = m_store.db().prepare("SELECT device, MAX(seq) FROM changesets GROUP BY device");
    if (!s) return s.error();
    VersionVector vv;
    for (;;) {
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) break;
        vv[s->text(0)] = s->int64(1);
    }
    return vv;
}

SStatus OpLog::forEachChangeSet(const std::function<SStatus(const ChangeSet&)>& fn) {
    // Causal order: a replica applying in this order never meets a change set before its causal past.
    std::vector<std::string> ids;
    {
        auto c = m_store.db().prepare("SELECT id FROM changesets ORDER BY hlc, device, seq");
        if (!c) return c.error();
        XS_TRY(c->collectTexts(ids));
    }
    for (const auto& id : ids) {
        auto cs = loadChangeSet(id);
        if (!cs) return cs.error();
        XS_TRY(fn(*cs));
    }
    return {};
}

SResult<std::vector<ChangeSet>> OpLog::changeSets() {
    std::vector<ChangeSet> out;
    XS_TRY(forEachChangeSet([&](const ChangeSet& cs) -> SStatus {
        out.push_back(cs);
        return {};
    }));
    return out;
}

SResult<std::int64_t> OpLog::opCount() {
    auto s = m_store.db().prepare("SELECT count(*) FROM ops");
    if (!s) return s.error();
    if (auto row = s->step(); !row) return row.error();
    return s->int64(0);
}

SResult<std::vector<RefusedChangeSet>> OpLog::refused() {
    auto s = m_store.db().prepare("SELECT id, device, seq, verdict FROM changesets WHERE verdict != '' ORDER BY hlc, device, seq");
    if (!s) return s.error();
    std::vector<RefusedChangeSet> out;
    for (;;) {
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) break;
        out.push_back({s->text(0), s->text(1), s->int64(2), s->text(3)});
    }
    return out;
}

SResult<std::vector<ChainIssue>> OpLog::chainIssues() {
    std::vector<ChainIssue> out;
    Db& db = m_store.db();
    auto f = db.prepare("SELECT device, detail FROM forks ORDER BY device, seq");
    if (!f) return f.error();
    for (;;) {
        auto r = f->step();
        if (!r) return r.error();
        if (!*r) break;
        out.push_back({f->text(0), "fork", f->text(1)});
    }
    auto h = db.prepare("SELECT device, seq, reason FROM held_changesets ORDER BY device, seq");
    if (!h) return h.error();
    for (;;) {
        auto r = h->step();
        if (!r) return r.error();
        if (!*r) break;
        out.push_back({h->text(0), "gap", "change set " + std::to_string(h->int64(1)) + " held: " + h->text(2)});
    }
    return out;
}

SResult<std::string> OpLog::projectionDigest() {
    std::vector<std::string> tables = {"field_versions", "field_bases", "conflicts"};
    for (const auto& t : m_sink.tables()) tables.push_back(t);
    crypto::Sha256 h;
    auto digestRows = [&](const std::string& name, const std::string& sql) -> SStatus {
        auto s = m_store.db().prepare(sql.c_str());
        if (!s) return s.error();
        std::vector<std::string> rows;
        for (;;) {
            auto row = s->step();
            if (!row) return row.error();
            if (!*row) break;
            std::string line;
            for (int i = 0; i < s->columnCount(); ++i) {
                std::string cell = std::to_string(s->columnType(i)) + ":" + s->text(i);
                line += std::to_string(cell.size()) + "|" + cell;
            }
            rows.push_back(std::move(line));
        }
        std::sort(rows.begin(), rows.end());
        h.update(crypto::asBytes("table:" + name + ":" + std::to_string(rows.size()) + "\n"));
        for (const auto& r : rows) {
            h.update(crypto::asBytes(r));
            h.update(crypto::asBytes("\n"));
        }
        return {};
    };
    // Table names come from code, never from input. Rows are sorted as text so the digest does
    // not depend on storage order.
    for (const auto& t : tables) XS_TRY(digestRows(t, "SELECT * FROM " + t));
    XS_TRY(digestRows("verdicts", "SELECT id, verdict FROM changesets"));
    return crypto::toHex(h.finish());
}

SResult<std::vector<std::string>> OpLog::check() {
    std::vector<std::string> problems;
    Db& db = m_store.db();
    {
        // The stored log is read on one snapshot, without holding writers up.
        std::optional<ReadSnapshot> snapshot;
        if (!db.inTransaction()) {
            auto s = ReadSnapshot::begin(db);
            if (!s) return s.error();
            snapshot.emplace(std::move(*s));
        }
        XS_TRY(checkStored(problems));
    }
    if (!problems.empty()) return problems;
    // The replay writes: it runs on an in-memory copy of one snapshot, thrown away after, so no
    // writer waits for it (under the write lock it held writers up for as long as it ran, past
    // the busy timeout on a large store).
    auto copy = m_store.memoryCopy();
    if (!copy) return copy.error();
    OpLog replay(**copy, m_sink, m_clock);
    XS_TRY(replay.open());
    replay.setValidator(m_validator);
    auto tx = Transaction::begin((*copy)->db());  // the copy's own, never committed
    if (!tx) return tx.error();
    auto now = replay.projectionDigest();
    if (!now) return now.error();
    Effects fx;
    XS_TRY(replay.rejudgeAll(fx));
    auto after = replay.projectionDigest();
    if (!after) return after.error();
    if (*after != *now) problems.push_back("projections differ from a replay of the op log (run rebuild)");
    return problems;
}

SStatus OpLog::checkStored(std::vector<std::string>& problems) {
    Db& db = m_store.db();
    auto counts = db.prepare("SELECT c.id, c.op_count, (SELECT count(*) FROM ops o WHERE o.changeset = c.id) FROM changesets c"
                             " WHERE c.op_count != (SELECT count(*) FROM ops o WHERE o.changeset = c.id)"
                             " + COALESCE((SELECT length(w.hashes) / 32 FROM withheld_ops w WHERE w.changeset = c.id), 0)");
    if (!counts) return counts.error();
    for (;;) {
        auto row = counts->step();
        if (!row) return row.error();
        if (!*row) break;
        problems.push_back("change set " + counts->text(0) + " should have " + std::to_string(counts->int64(1)) +
                           " ops but has " + std::to_string(counts->int64(2)));
    }
    counts.value().reset();
    auto seqs = db.prepare("SELECT device, count(*), max(seq) FROM changesets GROUP BY device");
    if (!seqs) return seqs.error();
    for (;;) {
        auto row = seqs->step();
        if (!row) return row.error();
        if (!*row) break;
        if (seqs->int64(1) != seqs->int64(2))
            problems.push_back("device " + seqs->text(0) + " has gaps in its change-set sequence");
    }
    seqs.value().reset();
    if (!problems.empty()) return {};
    // Every stored change set still hashes to what was signed, its signature verifies with its
    // device's key, each device's chain is unbroken, and every sealed op of an accepted change set
    // this replica holds the key for opens (a refused one is kept as it came).
    std::vector<std::pair<std::string, bool>> ids;  // id, accepted
    {
        auto c = db.prepare("SELECT id, verdict = '' FROM changesets ORDER BY hlc, device, seq");
        if (!c) return c.error();
        for (;;) {
            auto row = c->step();
            if (!row) return row.error();
            if (!*row) break;
            ids.emplace_back(c->text(0), c->int64(1) != 0);
        }
    }
    for (const auto& [id, accepted] : ids) {
        auto loaded = loadChangeSet(id);
        if (!loaded) {
            if (loaded.code() != SyncError::Corrupt) return loaded.error();
            problems.push_back("change set " + id + " cannot be read: " + loaded.message());
            continue;
        }
        const ChangeSet& cs = *loaded;
        auto stored = m_logStore->hashOf(cs.id);
        if (!stored) return stored.error();
        if (changeSetHash(cs) != **stored) problems.push_back("change set " + cs.id + " no longer matches its hash");
        auto key = signKeyOf(cs.device);
        if (!key) return key.error();
        if (!*key || !trust::checkSignature(cs, **key))
            problems.push_back("change set " + cs.id + " has no valid signature of its device");
        if (cs.seq > 1) {
            auto prev = m_logStore->linkAt(cs.device, cs.seq - 1);
            if (!prev) return prev.error();
            if (!*prev || (*prev)->hash != cs.prevHash) problems.push_back("change set " + cs.id + " breaks the chain of device " + cs.device);
        }
        for (const Op& op : cs.ops) {
            if (!accepted || !isEncryptedChannel(op.channel)) continue;
            auto changes = readChanges(op);
            if (!changes && (changes.code() == SyncError::Corrupt || changes.code() == SyncError::Invalid))
                problems.push_back("op " + op.id + " does not open with its channel key: " + changes.message());
            else if (!changes)
                return changes.error();
        }
    }
    return {};
}

SResult<Json> OpLog::record(const std::string& kind, const std::string& recordId) {
    auto s = m_store.db().prepare("SELECT field, value FROM field_versions WHERE kind = ? AND record_id = ? AND winner = 1");
    if (!s) return s.error();
    s->bind(1, kind).bind(2, recordId);
    Json out = Json::object();
    for (;;) {
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) break;
        out[s->text(0)] = Json::parse(s->text(1), nullptr, false);
    }
    if (out.empty()) return fail(SyncError::NotFound, "no " + kind + " " + recordId);
    return out;
}

SResult<std::vector<FieldVersion>> OpLog::history(const std::string& recordId) {
    // Accepted ops only: a refused change set's ops are evidence of an attempt, not history.
    auto s = m_store.db().prepare("SELECT o.id, o.channel, o.kind, o.record_id, o.hlc, o.device, o.epoch, o.body, o.changeset"
                                  " FROM ops o JOIN changesets c ON c.id = o.changeset"
                                  " WHERE o.record_id = ? AND c.verdict = '' ORDER BY o.hlc, o.id");
    if (!s) return s.error();
    s->bind(1, recordId);
    std::vector<FieldVersion> out;
    XS_TRY(forEachOpRow(*s, [&](Op& op) -> SStatus {
        auto changes = readChanges(op);
        if (!changes) return changes.error();
        if (!*changes) return {};  // sealed to this replica
        for (auto& c : **changes) out.push_back({op.id, s->text(8), op.hlc, op.device, c.field, c.value});
        return {};
    }));
    return out;
}

SResult<std::vector<Conflict>> OpLog::conflicts() {
    auto s = m_store.db().prepare("SELECT kind, record_id, field, op_id, value, hlc, device FROM conflicts"
                                  " ORDER BY kind, record_id, field, hlc DESC, device DESC, op_id DESC");
    if (!s) return s.error();
    std::vector<Conflict> out;
    for (;;) {
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) break;
        if (out.empty() || out.back().kind != s->text(0) || out.back().recordId != s->text(1) || out.back().field != s->text(2))
            out.push_back({s->text(0), s->text(1), s->text(2), {}});
        out.back().versions.push_back({s->text(3), "", static_cast<std::uint64_t>(s->int64(5)), s->text(6), s->text(2),
                                       Json::parse(s->text(4), nullptr, false)});
    }
    return out;
}

}  // namespace xs::sync
