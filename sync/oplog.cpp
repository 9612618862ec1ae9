#include "sync/oplog.h"

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>

#include "crypto/aead.h"
#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "crypto/hash.h"
#include "sync/changeset_codec.h"
#include "sync/uuid.h"

namespace xs::sync {
namespace {

constexpr int kMaxFieldNameLength = 64;

// Field names and record kinds: lowercase identifiers.
bool validName(const std::string& s) {
    if (s.empty() || s.size() > kMaxFieldNameLength) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

// Channels: "org" or "<inspection id>.team" and the like.
bool validChannel(const std::string& s) {
    if (s.empty() || s.size() > 80) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    });
}

SStatus validateOp(const Op& op) {
    if (!isUuid(op.id)) return fail(SyncError::Invalid, "op id is not a UUID");
    if (!validChannel(op.channel) || !validName(op.kind)) return fail(SyncError::Invalid, "op " + op.id + " has a bad channel or kind");
    if (op.recordId.empty() || op.recordId.size() > 200) return fail(SyncError::Invalid, "op " + op.id + " has a bad record id");
    if (isEncryptedChannel(op.channel)) {
        if (op.epoch < 1 || op.sealed.size() < crypto::kAeadNonceSize + crypto::kAeadTagSize)
            return fail(SyncError::Invalid, "op " + op.id + " of channel " + op.channel + " is not sealed");
    } else if (op.epoch != 0 || !op.sealed.empty()) {
        return fail(SyncError::Invalid, "op " + op.id + " of plaintext channel " + op.channel + " carries a sealed body");
    } else if (op.changes.empty()) {
        return fail(SyncError::Invalid, "op " + op.id + " changes nothing");
    }
    for (const auto& c : op.changes) {
        if (!validName(c.field)) return fail(SyncError::Invalid, "op " + op.id + " has a bad field name");
        for (const auto& b : c.base)
            if (!isUuid(b)) return fail(SyncError::Invalid, "op " + op.id + " has a bad base reference");
    }
    return {};
}

}  // namespace

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
          static_cast<std::uint32_t>(s.int64(7)), {}, {}};
    if (isEncryptedChannel(op.channel)) {
        op.sealed = s.blob(8);
        return op;
    }
    auto changes = decodeChanges(s.text(6));
    if (!changes) return changes.error();
    op.changes = std::move(*changes);
    return op;
}

void Draft::set(const std::string& channel, const std::string& kind, const std::string& recordId,
                const std::string& field, Json value) {
    for (auto& p : m_ops) {
        if (p.channel == channel && p.kind == kind && p.recordId == recordId) {
            p.fields[field] = std::move(value);
            return;
        }
    }
    Pending p{channel, kind, recordId, {}};
    p.fields[field] = std::move(value);
    m_ops.push_back(std::move(p));
}

OpLog::OpLog(Store& store, ProjectionSink& sink, const Clock& clock)
    : m_store(store), m_sink(sink), m_clock(clock), m_hlc(clock) {}

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
    auto lastRow = last->step();
    if (!lastRow) return lastRow.error();
    m_hlc = HlcClock(m_clock, static_cast<std::uint64_t>(last->int64(0)));
    auto seq = m_store.db().prepare("SELECT COALESCE(MAX(seq), 0) FROM changesets WHERE device = ?");
    if (!seq) return seq.error();
    seq->bind(1, m_device);
    auto row = seq->step();
    if (!row) return row.error();
    m_seq = seq->int64(0);
    return {};
}

Json OpLog::encodeChanges(const std::vector<FieldChange>& changes) {
    Json arr = Json::array();
    for (const auto& c : changes) {
        Json item = {{"f", c.field}, {"v", c.value}};
        if (!c.base.empty()) item["b"] = c.base;
        arr.push_back(std::move(item));
    }
    return arr;
}

SResult<std::vector<FieldChange>> OpLog::decodeChanges(const std::string& body) {
    Json arr = Json::parse(body, nullptr, false);
    if (arr.is_discarded() || !arr.is_array()) return fail(SyncError::Invalid, "op body is not a JSON array");
    std::vector<FieldChange> out;
    for (const auto& item : arr) {
        if (!item.is_object() || !item.contains("f") || !item["f"].is_string() || !item.contains("v"))
            return fail(SyncError::Invalid, "op body has a malformed field change");
        FieldChange c{item["f"].get<std::string>(), item["v"], {}};
        if (item.contains("b")) {
            if (!item["b"].is_array()) return fail(SyncError::Invalid, "op body has a malformed base list");
            for (const auto& b : item["b"]) {
                if (!b.is_string()) return fail(SyncError::Invalid, "op body has a malformed base list");
                c.base.push_back(b.get<std::string>());
            }
        }
        out.push_back(std::move(c));
    }
    return out;
}

SResult<std::vector<std::string>> OpLog::heads(const std::string& kind, const std::string& recordId,
                                               const std::string& field) {
    auto s = m_store.db().prepare(
        "SELECT v.op_id FROM field_versions v WHERE v.kind = ?1 AND v.record_id = ?2 AND v.field = ?3 AND NOT EXISTS ("
        " SELECT 1 FROM field_bases b WHERE b.kind = ?1 AND b.record_id = ?2 AND b.field = ?3 AND b.base_op = v.op_id)"
        " ORDER BY v.op_id");
    if (!s) return s.error();
    s->bind(1, kind).bind(2, recordId).bind(3, field);
    std::vector<std::string> out;
    for (;;) {
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) break;
        out.push_back(s->text(0));
    }
    return out;
}

SStatus OpLog::insertChangeSet(const ChangeSet& cs, bool local) {
    Db& db = m_store.db();
    auto c = db.prepare("INSERT INTO changesets (id, device, seq, hlc, op_count, local, prev_hash, hash, signature)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!c) return c.error();
    c->bind(1, cs.id).bind(2, cs.device).bind(3, cs.seq).bind(4, static_cast<std::int64_t>(cs.hlc))
        .bind(5, static_cast<std::int64_t>(cs.ops.size())).bind(6, std::int64_t{local ? 1 : 0})
        .bindBlob(7, cs.prevHash).bindBlob(8, cs.hash).bindBlob(9, cs.signature);
    XS_TRY(c->run());
    auto o = db.prepare("INSERT INTO ops (id, changeset, idx, channel, kind, record_id, hlc, device, body, epoch, sealed)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!o) return o.error();
    std::int64_t idx = 0;
    for (const Op& op : cs.ops) {
        bool sealed = isEncryptedChannel(op.channel);  // the clear text of a sealed op is never stored here
        o->bind(1, op.id).bind(2, cs.id).bind(3, idx++).bind(4, op.channel).bind(5, op.kind).bind(6, op.recordId)
            .bind(7, static_cast<std::int64_t>(op.hlc)).bind(8, op.device)
            .bind(9, sealed ? std::string() : encodeChanges(op.changes).dump())
            .bind(10, static_cast<std::int64_t>(op.epoch));
        if (sealed) o->bindBlob(11, op.sealed);
        else o->bindNull(11);
        XS_TRY(o->run());
    }
    return {};
}

SStatus OpLog::projectField(const std::string& kind, const std::string& recordId, const std::string& field) {
    Db& db = m_store.db();
    struct Version {
        std::string op, value;
        std::int64_t hlc;
        std::string device;
        bool superseded = false;
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
    auto del = db.prepare("DELETE FROM conflicts WHERE kind = ? AND record_id = ? AND field = ?");
    if (!del) return del.error();
    del->bind(1, kind).bind(2, recordId).bind(3, field);
    XS_TRY(del->run());
    // Heads are versions nothing supersedes. Only concurrent text edits with different values need a
    // person; other types merge by last-writer-wins.
    std::vector<const Version*> heads;
    std::set<std::string> values;
    for (const auto& x : versions) {
        if (superseded.count(x.op)) continue;
        if (x.value.empty() || x.value[0] != '"') return {};
        heads.push_back(&x);
        values.insert(x.value);
    }
    if (heads.size() < 2 || values.size() < 2) return {};
    auto ins = db.prepare("INSERT INTO conflicts (kind, record_id, field, op_id, value, hlc, device) VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!ins) return ins.error();
    for (const Version* x : heads) {
        ins->bind(1, kind).bind(2, recordId).bind(3, field).bind(4, x->op).bind(5, x->value).bind(6, x->hlc).bind(7, x->device);
        XS_TRY(ins->run());
    }
    return {};
}

SStatus OpLog::project(const Op& given, bool newRecord) {
    Db& db = m_store.db();
    Op opened;
    const Op* readable = &given;
    if (isEncryptedChannel(given.channel) && given.changes.empty()) {
        auto changes = readChanges(given);
        if (!changes) return changes.error();
        if (!*changes) return {};  // no key for this channel and epoch here: stays sealed, unprojected
        opened = given;
        opened.changes = std::move(**changes);
        readable = &opened;
    }
    const Op& op = *readable;
    // A version of a record nobody has seen before is its field's only version, hence the winner.
    auto v = db.prepare("INSERT OR IGNORE INTO field_versions (kind, record_id, field, op_id, hlc, device, value, winner)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    auto b = db.prepare("INSERT OR IGNORE INTO field_bases (kind, record_id, field, op_id, base_op) VALUES (?, ?, ?, ?, ?)");
    if (!v) return v.error();
    if (!b) return b.error();
    for (const auto& c : op.changes) {
        v->bind(1, op.kind).bind(2, op.recordId).bind(3, c.field).bind(4, op.id)
            .bind(5, static_cast<std::int64_t>(op.hlc)).bind(6, op.device).bind(7, c.value.dump())
            .bind(8, std::int64_t{newRecord ? 1 : 0});
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

SStatus OpLog::projectArrived(const Op& op) {
    auto known = hasVersions(op.kind, op.recordId);
    if (!known) return known.error();
    return project(op, !*known);
}

SResult<ChangeSet> OpLog::commit(const Draft& draft, const std::function<SStatus()>& inTransaction) {
    if (draft.empty()) return fail(SyncError::Invalid, "nothing to commit");
    auto tx = Transaction::begin(m_store.db());
    if (!tx) return tx.error();
    ChangeSet cs;
    auto id = newUuidV7();
    if (!id) return id.error();
    cs.id = *id;
    cs.device = m_device;
    cs.seq = m_seq + 1;
    cs.hlc = m_hlc.tick();
    auto channels = prepareChannels(draft, cs.hlc);
    if (!channels) return channels.error();
    std::vector<Draft::Pending> pending = channels->sysOps;  // membership first: later ops are checked against it
    pending.insert(pending.end(), draft.m_ops.begin(), draft.m_ops.end());
    std::vector<bool> fresh;  // per op: the record has no versions yet
    for (const auto& p : pending) {
        auto known = hasVersions(p.kind, p.recordId);
        if (!known) return known.error();
        Op op;
        auto opId = newUuidV7();
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
        }
        XS_TRY(validateOp(op));
        cs.ops.push_back(std::move(op));
        fresh.push_back(!*known);
    }
    if (cs.seq > 1) {
        auto prev = m_store.db().prepare("SELECT hash FROM changesets WHERE device = ? AND seq = ?");
        if (!prev) return prev.error();
        prev->bind(1, m_device).bind(2, cs.seq - 1);
        auto row = prev->step();
        if (!row) return row.error();
        if (!*row) return fail(SyncError::Corrupt, "this device's previous change set is missing");
        cs.prevHash = prev->blob(0);
    }
    crypto::Bytes input = signingInput(cs);
    crypto::Digest digest = crypto::sha256(input);
    cs.hash.assign(digest.begin(), digest.end());
    auto signature = m_identity.sign(input);
    if (!signature) return signature.error();
    cs.signature = std::move(*signature);
    XS_TRY(insertChangeSet(cs, true));
    for (const auto& [channel, key] : channels->keys) XS_TRY(storeKey(channel, key.first, key.second.view()));
    for (const auto& e : channels->envelopes) XS_TRY(insertEnvelope(e));
    for (std::size_t i = 0; i < cs.ops.size(); ++i) {
        XS_TRY(authorize(cs.ops[i]));
        XS_TRY(project(cs.ops[i], fresh[i]));
    }
    if (inTransaction) XS_TRY(inTransaction());
    XS_TRY(tx->commit());
    m_seq = cs.seq;
    return cs;
}

SStatus OpLog::apply(const ChangeSet& cs) {
    auto r = applyChangeSet(cs);
    if (!r) return r.error();
    return {};
}

SStatus OpLog::addDevice(const DevicePublic& device) {
    if (!isUuid(device.id) || device.signKey.size() != 32 || device.exchangeKey.size() != 32)
        return fail(SyncError::Invalid, "malformed device public keys");
    auto s = m_store.db().prepare("SELECT sign_pk FROM devices WHERE id = ?");
    if (!s) return s.error();
    s->bind(1, device.id);
    auto row = s->step();
    if (!row) return row.error();
    if (*row) {
        if (s->blob(0) != device.signKey) return fail(SyncError::Invalid, "device " + device.id + " is known with other keys");
        return {};
    }
    auto ins = m_store.db().prepare("INSERT INTO devices (id, sign_pk, kx_pk, local) VALUES (?, ?, ?, 0)");
    if (!ins) return ins.error();
    ins->bind(1, device.id).bindBlob(2, device.signKey).bindBlob(3, device.exchangeKey);
    return ins->run();
}

SStatus OpLog::recordFork(const ChangeSet& cs, const std::string& detail) {
    auto s = m_store.db().prepare("INSERT OR IGNORE INTO forks (device, seq, changeset, detail) VALUES (?, ?, ?, ?)");
    if (!s) return s.error();
    s->bind(1, cs.device).bind(2, cs.seq).bind(3, cs.id).bind(4, detail);
    XS_TRY(s->run());
    return fail(SyncError::Corrupt, "fork: " + detail);
}

SResult<ChangeSet> OpLog::verifyChangeSet(const ChangeSet& cs) {
    if (!isUuid(cs.id) || !isUuid(cs.device) || cs.seq < 1)
        return fail(SyncError::Invalid, "change set has a malformed header");
    for (const Op& op : cs.ops) {
        XS_TRY(validateOp(op));
        if (op.device != cs.device) return fail(SyncError::Invalid, "op " + op.id + " claims another device than its change set");
        if (op.hlc > cs.hlc) return fail(SyncError::Invalid, "op " + op.id + " is timestamped after its change set");
    }
    if (cs.ops.empty()) return fail(SyncError::Invalid, "change set " + cs.id + " has no ops");
    if (cs.seq == 1 ? !cs.prevHash.empty() : cs.prevHash.size() != 32)
        return fail(SyncError::Invalid, "change set " + cs.id + " has a malformed previous-hash field");
    // Authenticity first: nothing unsigned or badly signed reaches any table.
    auto key = m_store.db().prepare("SELECT sign_pk FROM devices WHERE id = ?");
    if (!key) return key.error();
    key->bind(1, cs.device);
    auto keyRow = key->step();
    if (!keyRow) return keyRow.error();
    if (!*keyRow) return fail(SyncError::Invalid, "change set " + cs.id + " comes from unknown device " + cs.device);
    crypto::Bytes signKey = key->blob(0);
    crypto::Bytes input = signingInput(cs);
    if (!crypto::ed25519Verify(signKey, input, cs.signature))
        return fail(SyncError::Corrupt, "change set " + cs.id + " is not signed by its device " + cs.device);
    crypto::Digest digest = crypto::sha256(input);
    ChangeSet verified = cs;
    verified.hash.assign(digest.begin(), digest.end());
    return verified;
}

SResult<ApplyOutcome> OpLog::applyChangeSet(const ChangeSet& cs) {
    auto verified = verifyChangeSet(cs);
    if (!verified) return verified.error();
    auto tx = Transaction::begin(m_store.db());
    if (!tx) return tx.error();
    auto outcome = applyVerified(*verified);
    if (!outcome) {
        if (outcome.code() == SyncError::Corrupt) (void)tx->commit();  // keep the fork record
        return outcome;
    }
    XS_TRY(tx->commit());
    return outcome;
}

SResult<std::vector<ApplyOutcome>> OpLog::applyAllOrNothing(const std::vector<ChangeSet>& sets, bool ownTransaction) {
    std::vector<ChangeSet> verified;
    verified.reserve(sets.size());
    for (const auto& cs : sets) {
        auto v = verifyChangeSet(cs);
        if (!v) return v.error();
        verified.push_back(std::move(*v));
    }
    std::optional<Transaction> tx;
    if (ownTransaction) {
        auto t = Transaction::begin(m_store.db());
        if (!t) return t.error();
        tx.emplace(std::move(*t));
    }
    std::vector<ApplyOutcome> outcomes;
    for (const auto& v : verified) {
        auto o = applyVerified(v);
        if (!o) return o.error();  // rolled back: nothing of the batch stays
        outcomes.push_back(*o);
    }
    if (tx) XS_TRY(tx->commit());
    return outcomes;
}

SResult<ApplyOutcome> OpLog::applyVerified(const ChangeSet& first) {
    Db& db = m_store.db();
    auto known = db.prepare("SELECT hash FROM changesets WHERE id = ?");
    auto at = db.prepare("SELECT id, hash FROM changesets WHERE device = ? AND seq = ?");
    auto last = db.prepare("SELECT COALESCE(MAX(seq), 0) FROM changesets WHERE device = ?");
    if (!known) return known.error();
    if (!at) return at.error();
    if (!last) return last.error();

    known->bind(1, first.id);
    auto k = known->step();
    if (!k) return k.error();
    if (*k) {
        if (known->blob(0) != first.hash)
            return recordFork(first, "change set " + first.id + " arrived with different content than before").error();
        return ApplyOutcome::AlreadyKnown;
    }
    known->reset();

    last->bind(1, first.device);
    if (auto r = last->step(); !r) return r.error();
    std::int64_t lastSeq = last->int64(0);
    last->reset();
    if (first.seq <= lastSeq) {
        return recordFork(first, "device " + first.device + " has two change sets with sequence " + std::to_string(first.seq) +
                                     " (a copied store?)").error();
    }
    if (first.seq > lastSeq + 1) {
        auto hold = db.prepare("INSERT OR IGNORE INTO held_changesets (device, seq, id, body) VALUES (?, ?, ?, ?)");
        if (!hold) return hold.error();
        hold->bind(1, first.device).bind(2, first.seq).bind(3, first.id).bind(4, changeSetToJson(first).dump());
        XS_TRY(hold->run());
        return ApplyOutcome::Held;
    }
    // Apply this one, then any held successors it unblocks.
    ChangeSet cs = first;
    for (;;) {
        if (cs.seq > 1) {
            at->bind(1, cs.device).bind(2, cs.seq - 1);
            auto r = at->step();
            if (!r) return r.error();
            crypto::Bytes prevHash = *r ? at->blob(1) : crypto::Bytes();
            at->reset();
            if (prevHash != cs.prevHash)
                return recordFork(cs, "change set " + cs.id + " of device " + cs.device +
                                          " names a different predecessor than the one received").error();
        }
        XS_TRY(insertChangeSet(cs, false));
        for (const Op& op : cs.ops) {
            XS_TRY(authorize(op));  // against membership as of the ops before it
            XS_TRY(projectArrived(op));
        }
        m_hlc.observe(cs.hlc);

        auto next = db.prepare("SELECT id, body FROM held_changesets WHERE device = ? AND seq = ?");
        if (!next) return next.error();
        next->bind(1, cs.device).bind(2, cs.seq + 1);
        auto r = next->step();
        if (!r) return r.error();
        if (!*r) break;
        std::string heldId = next->text(0);
        auto parsed = changeSetFromJson(Json::parse(next->text(1), nullptr, false));
        next.value().reset();
        if (!parsed) return parsed.error();
        auto del = db.prepare("DELETE FROM held_changesets WHERE device = ? AND seq = ? AND id = ?");
        if (!del) return del.error();
        del->bind(1, cs.device).bind(2, cs.seq + 1).bind(3, heldId);
        XS_TRY(del->run());
        crypto::Digest d = crypto::sha256(signingInput(*parsed));
        parsed->hash.assign(d.begin(), d.end());
        cs = std::move(*parsed);
    }
    return ApplyOutcome::Applied;
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
    auto h = db.prepare("SELECT device, MIN(seq), MAX(seq), COUNT(*), (SELECT COALESCE(MAX(seq), 0) FROM changesets c"
                        " WHERE c.device = h.device) FROM held_changesets h GROUP BY device ORDER BY device");
    if (!h) return h.error();
    for (;;) {
        auto r = h->step();
        if (!r) return r.error();
        if (!*r) break;
        out.push_back({h->text(0), "gap",
                       std::to_string(h->int64(3)) + " change set(s) " + std::to_string(h->int64(1)) + ".." +
                           std::to_string(h->int64(2)) + " held: change set " + std::to_string(h->int64(4) + 1) +
                           " of this device has not arrived"});
    }
    return out;
}

SStatus OpLog::replayAll() {
    Db& db = m_store.db();
    XS_TRY(db.exec("DELETE FROM field_versions; DELETE FROM field_bases; DELETE FROM conflicts;"));
    XS_TRY(m_sink.reset(db));
    auto s = db.prepare("SELECT " XS_OP_COLUMNS " FROM ops ORDER BY hlc, id");
    if (!s) return s.error();
    // Ops this replica holds no key for stay unprojected.
    return forEachOpRow(*s, [&](Op& op) { return projectArrived(op); });
}

SStatus OpLog::rebuild() {
    auto tx = Transaction::begin(m_store.db());
    if (!tx) return tx.error();
    XS_TRY(replayAll());
    return tx->commit();
}

SResult<std::string> OpLog::projectionDigest() {
    std::vector<std::string> tables = {"field_versions", "field_bases", "conflicts"};
    for (const auto& t : m_sink.tables()) tables.push_back(t);
    crypto::Sha256 h;
    for (const auto& t : tables) {
        // Table names come from code, never from input. Rows are sorted as text so the digest
        // does not depend on storage order.
        std::string sql = "SELECT * FROM " + t;
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
        h.update(crypto::asBytes("table:" + t + ":" + std::to_string(rows.size()) + "\n"));
        for (const auto& r : rows) {
            h.update(crypto::asBytes(r));
            h.update(crypto::asBytes("\n"));
        }
    }
    return crypto::toHex(h.finish());
}

SResult<std::vector<std::string>> OpLog::check() {
    std::vector<std::string> problems;
    Db& db = m_store.db();
    auto counts = db.prepare("SELECT c.id, c.op_count, (SELECT count(*) FROM ops o WHERE o.changeset = c.id) FROM changesets c"
                             " WHERE c.op_count != (SELECT count(*) FROM ops o WHERE o.changeset = c.id)");
    if (!counts) return counts.error();
    for (;;) {
        auto row = counts->step();
        if (!row) return row.error();
        if (!*row) break;
        problems.push_back("change set " + counts->text(0) + " should have " + std::to_string(counts->int64(1)) +
                           " ops but has " + std::to_string(counts->int64(2)));
    }
    auto bodies = db.prepare("SELECT " XS_OP_COLUMNS " FROM ops");
    if (!bodies) return bodies.error();
    for (;;) {
        auto row = bodies->step();
        if (!row) return row.error();
        if (!*row) break;
        auto op = opFromRow(*bodies);
        if (!op) {
            problems.push_back("op " + bodies->text(0) + " has an unreadable body");
            continue;
        }
        if (isEncryptedChannel(op->channel)) {  // sealed: it must open if this replica holds the key
            auto changes = readChanges(*op);
            if (!changes) problems.push_back("op " + op->id + " does not open with its channel key: " + changes.message());
        }
    }
    auto seqs = db.prepare("SELECT device, count(*), max(seq) FROM changesets WHERE local = 1 GROUP BY device");
    if (!seqs) return seqs.error();
    for (;;) {
        auto row = seqs->step();
        if (!row) return row.error();
        if (!*row) break;
        if (seqs->int64(1) != seqs->int64(2))
            problems.push_back("device " + seqs->text(0) + " has gaps in its change-set sequence");
    }
    if (!problems.empty()) return problems;
    // Every stored change set still hashes to what was signed, the signature verifies with its
    // device's key, and each device's chain is unbroken.
    auto all = changeSets();
    if (!all) return all.error();
    std::sort(all->begin(), all->end(), [](const ChangeSet& x, const ChangeSet& y) {
        return std::tie(x.device, x.seq) < std::tie(y.device, y.seq);
    });
    auto keys = db.prepare("SELECT sign_pk FROM devices WHERE id = ?");
    if (!keys) return keys.error();
    const ChangeSet* previous = nullptr;
    for (const ChangeSet& cs : *all) {
        crypto::Bytes input = signingInput(cs);
        crypto::Digest d = crypto::sha256(input);
        if (crypto::Bytes(d.begin(), d.end()) != cs.hash) problems.push_back("change set " + cs.id + " no longer matches its hash");
        keys->bind(1, cs.device);
        auto row = keys->step();
        if (!row) return row.error();
        if (!*row || !crypto::ed25519Verify(keys->blob(0), input, cs.signature))
            problems.push_back("change set " + cs.id + " has no valid signature of its device");
        keys->reset();
        bool chained = previous && previous->device == cs.device ? (previous->seq + 1 == cs.seq && previous->hash == cs.prevHash)
                                                                  : (cs.seq == 1 && cs.prevHash.empty());
        if (!chained) problems.push_back("change set " + cs.id + " breaks the chain of device " + cs.device);
        previous = &cs;
    }
    if (!problems.empty()) return problems;

    auto before = projectionDigest();
    if (!before) return before.error();
    {
        auto tx = Transaction::begin(db);  // rolled back: check never changes the store
        if (!tx) return tx.error();
        XS_TRY(replayAll());
        auto after = projectionDigest();
        if (!after) return after.error();
        if (*after != *before) problems.push_back("projections differ from a replay of the op log (run rebuild)");
    }
    return problems;
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
    auto s = m_store.db().prepare("SELECT " XS_OP_COLUMNS ", changeset FROM ops WHERE record_id = ? ORDER BY hlc, id");
    if (!s) return s.error();
    s->bind(1, recordId);
    std::vector<FieldVersion> out;
    XS_TRY(forEachOpRow(*s, [&](Op& op) -> SStatus {
        auto changes = readChanges(op);
        if (!changes) return changes.error();
        if (!*changes) return {};  // sealed to this replica
        for (auto& c : **changes) out.push_back({op.id, s->text(9), op.hlc, op.device, c.field, c.value});
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

SStatus OpLog::forEachChangeSet(const std::function<SStatus(const ChangeSet&)>& fn) {
    Db& db = m_store.db();
    // Causal order: a change set's clock is later than every one its device had seen (HLC), and a
    // device's sequence follows its clock, so a replica applying in this order never meets an op
    // before the membership that allows it.
    auto c = db.prepare("SELECT id, device, seq, hlc, prev_hash, hash, signature FROM changesets ORDER BY hlc, device, seq");
    auto o = db.prepare("SELECT " XS_OP_COLUMNS " FROM ops WHERE changeset = ? ORDER BY idx");
    if (!c) return c.error();
    if (!o) return o.error();
    for (;;) {
        auto row = c->step();
        if (!row) return row.error();
        if (!*row) break;
        ChangeSet cs{c->text(0), c->text(1), c->int64(2), static_cast<std::uint64_t>(c->int64(3)), {},
                     c->blob(4), c->blob(5), c->blob(6)};
        o->bind(1, cs.id);
        XS_TRY(forEachOpRow(*o, [&](Op& op) -> SStatus {
            cs.ops.push_back(std::move(op));
            return {};
        }));
        o->reset();
        XS_TRY(fn(cs));
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
    auto row = s->step();
    if (!row) return row.error();
    return s->int64(0);
}

}  // namespace xs::sync
