// The embedded server store: a SQLCipher store (sync/store.h) holding the op log exactly as a
// client's does, judged by the same apply path (sync/apply.h) with no channel key and no app
// rules, plus the server's own tables: the feed (arrival order, the pull cursor) and the nonces.
#include <algorithm>
#include <tuple>

#include "sync/apply.h"
#include "sync/channels.h"
#include "sync/server/server_store.h"

namespace xs::sync::server {
namespace {

// The server's evidence of what a change set was: the same tables a client has, no projection.
class NoProjection final : public ProjectionSink {
public:
    SStatus reset(Db&) override { return {}; }
    SStatus project(Db&, const std::string&, const std::string&, const Json&) override { return {}; }
    std::vector<std::string> tables() const override { return {}; }
};

const Migration kServerMigration{
    "server", 1,
    "CREATE TABLE server_feed (seq INTEGER PRIMARY KEY AUTOINCREMENT, changeset TEXT NOT NULL UNIQUE);"
    "CREATE TABLE server_nonces (device TEXT NOT NULL, nonce TEXT NOT NULL, ts INTEGER NOT NULL,"
    "  PRIMARY KEY (device, nonce)) WITHOUT ROWID;"
    "CREATE INDEX server_nonces_ts ON server_nonces(ts);"};

// The passphrase KDF of the server's key file: the secret is 256 random bits, so the KDF adds
// nothing but start-up time; the smallest parameters the key-file format admits.
const crypto::Argon2Params kServerKdf{1, 8192, 1, 0x13, crypto::Argon2Type::Id};

class SqliteServerStore final : public ServerStore {
public:
    SqliteServerStore(std::unique_ptr<Store> store) : m_store(std::move(store)), m_log(*m_store, m_sink) {}

    SStatus open() {
        XS_TRY(m_store->migrate({kServerMigration}));
        return m_log.open();
    }

    SResult<std::optional<DeviceAuth>> deviceAuth(const std::string& device) override {
        auto root = m_log.trustRoot();
        if (!root) return root.error();
        if (!*root) return fail(SyncError::Corrupt, "the server store has no trust root");
        if (device == (*root)->device) return std::optional<DeviceAuth>(DeviceAuth{(*root)->signKey, false, true});
        if (device == m_log.deviceId()) return std::optional<DeviceAuth>();  // the server's own: never a client
        auto rec = m_log.device(device);
        if (!rec) return rec.error();
        if (!*rec) return std::optional<DeviceAuth>();
        return std::optional<DeviceAuth>(DeviceAuth{(*rec)->signKey, (*rec)->revokedSeq.has_value(), false});
    }

    SResult<bool> claimNonce(const std::string& device, const std::string& nonce, std::int64_t timestampMs,
                             std::int64_t forgetBeforeMs) override {
        Db& db = m_store->db();
        auto tx = Transaction::begin(db);
        if (!tx) return tx.error();
        auto seen = db.prepare("SELECT 1 FROM server_nonces WHERE device = ? AND nonce = ?");
        if (!seen) return seen.error();
        seen->bind(1, device).bind(2, nonce);
        auto row = seen->step();
        if (!row) return row.error();
        if (*row) return false;
        auto forget = db.prepare("DELETE FROM server_nonces WHERE ts < ?");
        if (!forget) return forget.error();
        XS_TRY(forget->bind(1, forgetBeforeMs).run());
        auto put = db.prepare("INSERT INTO server_nonces (device, nonce, ts) VALUES (?, ?, ?)");
        if (!put) return put.error();
        XS_TRY(put->bind(1, device).bind(2, nonce).bind(3, timestampMs).run());
        XS_TRY(tx->commit());
        return true;
    }

    SResult<PushOutcome> push(const std::vector<ChangeSet>& batch) override {
        auto session = ApplySession::begin(m_log);
        if (!session) return session.error();
        PushOutcome out;
        for (const auto& cs : batch) {
            if (cs.isWithheld())
                return fail(SyncError::Invalid, "change set " + cs.id + " is a withheld copy: push whole change sets only");
            auto r = (*session)->add(cs);
            if (!r) return fail(r.error().code, "change set " + cs.id + ": " + r.error().message);
            if (*r == ApplyOutcome::AlreadyKnown) out.known.push_back(cs.id);
        }
        // The feed takes what this push stored, in causal order (hlc, device, seq): along a chain
        // and along every dep the clock grows, so a puller meets a change set's past first.
        std::vector<std::tuple<std::uint64_t, std::string, std::int64_t, std::string>> order;
        auto commit = (*session)->commit([&]() -> SStatus {
            Db& db = (*session)->db();
            for (const auto& id : (*session)->stored()) {
                auto cs = m_log.changeSet(id);
                if (!cs) return cs.error();
                order.emplace_back(cs->hlc, cs->device, cs->seq, id);
            }
            std::sort(order.begin(), order.end());
            auto put = db.prepare("INSERT INTO server_feed (changeset) VALUES (?)");
            if (!put) return put.error();
            for (const auto& o : order) XS_TRY(put->bind(1, std::get<3>(o)).run());
            return {};
        });
        if (!commit) return commit.error();
        for (const auto& o : order) out.stored.push_back(std::get<3>(o));
        for (const auto& h : commit->held) out.held.emplace_back(h.device, h.detail);
        for (const auto& r : commit->refused) out.refused.emplace_back(r.id, r.reason);
        auto c = cursor();
        if (!c) return c.error();
        out.cursor = *c;
        return out;
    }

    SResult<std::vector<FeedEntry>> feedAfter(std::int64_t after, std::size_t maxCount) override {
        Db& db = m_store->db();
        auto snap = ReadSnapshot::begin(db);
        if (!snap) return snap.error();
        auto s = db.prepare("SELECT seq, changeset FROM server_feed WHERE seq > ? ORDER BY seq LIMIT ?");
        if (!s) return s.error();
        s->bind(1, after).bind(2, static_cast<std::int64_t>(maxCount));
        std::vector<std::pair<std::int64_t, std::string>> rows;
        for (;;) {
            auto row = s->step();
            if (!row) return row.error();
            if (!*row) break;
            rows.emplace_back(s->int64(0), s->text(1));
        }
        std::vector<FeedEntry> out;
        out.reserve(rows.size());
        for (auto& [seq, id] : rows) {
            auto cs = m_log.changeSet(id);
            if (!cs) return cs.error();
            out.push_back(FeedEntry{seq, std::move(*cs)});
        }
        return out;
    }

    SResult<std::int64_t> cursor() override {
        auto s = m_store->db().prepare("SELECT COALESCE(MAX(seq), 0) FROM server_feed");
        if (!s) return s.error();
        auto row = s->step();
        if (!row) return row.error();
        return s->int64(0);
    }

    SResult<VersionVector> versionVector() override { return m_log.versionVector(); }

    SResult<std::set<std::string>> channelsOf(const std::string& device) override {
        // Member records are "<channel>|<device>" (sync/channels.h).
        const std::string suffix = "|" + device;
        auto s = m_store->db().prepare("SELECT DISTINCT record_id FROM field_versions WHERE kind = ?"
                                       " AND substr(record_id, -?) = ?");
        if (!s) return s.error();
        s->bind(1, std::string(kMemberKind)).bind(2, static_cast<std::int64_t>(suffix.size())).bind(3, suffix);
        std::vector<std::string> ids;
        XS_TRY(s->collectTexts(ids));
        std::set<std::string> out;
        for (const auto& id : ids) {
            auto rec = m_log.record(kMemberKind, id);
            if (!rec) return rec.error();
            if (auto r = rec->find("removed"); r != rec->end() && r->is_boolean() && r->get<bool>()) continue;
            out.insert(id.substr(0, id.size() - suffix.size()));
        }
        return out;
    }

private:
    std::unique_ptr<Store> m_store;
    NoProjection m_sink;
    OpLog m_log;
};

}  // namespace

SResult<std::unique_ptr<ServerStore>> openSqliteServerStore(const std::filesystem::path& dir, const std::string& secret) {
    auto store = Store::open(dir, secret);
    if (!store) return store.error();
    auto s = std::make_unique<SqliteServerStore>(std::move(*store));
    XS_TRY(s->open());
    return std::unique_ptr<ServerStore>(std::move(s));
}

SStatus createSqliteServerStore(const std::filesystem::path& dir, const std::string& secret, const TrustRoot& root) {
    auto store = Store::create(dir, secret, kServerKdf);
    if (!store) return store.error();
    XS_TRY((*store)->migrate({kServerMigration}));
    NoProjection sink;
    OpLog log(**store, sink);
    XS_TRY(log.open());
    auto tx = Transaction::begin((*store)->db());
    if (!tx) return tx.error();
    XS_TRY(log.pinTrustRoot(root));
    return tx->commit();
}

}  // namespace xs::sync::server
