// The embedded server store: a SQLCipher store (sync/store.h) holding the op log exactly as a
// client's does, judged by the same apply path (sync/apply.h) with no channel key and no app
// rules, plus the server's own tables: the feed (arrival order, the pull cursor) and the nonces.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "sync/env.h"
#include "sync/file_io.h"

#include "sync/apply.h"
#include "sync/changeset_codec.h"
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

// Evidence uploads and the access log. Blob bytes live in files (blobs/partial/<id> while
// arriving, then blobs/<id[0..2)>/<id>), their routing metadata in the encrypted database.
const Migration kServerMigration2{
    "server", 2,
    "CREATE TABLE server_blobs (id TEXT PRIMARY KEY, channel TEXT NOT NULL, size INTEGER NOT NULL,"
    "  complete INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE server_access (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL, hash TEXT NOT NULL);"};

// Invitations to enrol online: the code's id and server key, its expiry, the presentation and
// the office's answer (ciphertext-free: public keys and a signed enrolment file).
const Migration kServerMigration3{
    "server", 3,
    "CREATE TABLE server_invites (id TEXT PRIMARY KEY, server_key BLOB NOT NULL, expires_ms INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL, presentation TEXT, presented_ms INTEGER, answer TEXT) WITHOUT ROWID;"};

// Fork reports for the audit office: the refused change set itself (its signature is the
// evidence of a copied device), in the order the server met them.
const Migration kServerMigration4{
    "server", 4,
    "CREATE TABLE server_forks (seq INTEGER PRIMARY KEY AUTOINCREMENT, changeset_id TEXT NOT NULL UNIQUE,"
    "  device TEXT NOT NULL, changeset TEXT NOT NULL, detail TEXT NOT NULL, time_ms INTEGER NOT NULL);"};

constexpr std::int64_t kMaxForkReportsPerDevice = 3;

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

// The passphrase KDF of the server's key file: the secret is 256 random bits, so the KDF adds
// nothing but start-up time; the smallest parameters the key-file format admits.
const crypto::Argon2Params kServerKdf{1, 8192, 1, 0x13, crypto::Argon2Type::Id};

class SqliteServerStore final : public ServerStore {
public:
    SqliteServerStore(std::unique_ptr<Store> store, const std::filesystem::path& dir)
        : m_store(std::move(store)), m_log(*m_store, m_sink), m_blobs(dir / "blobs") {}

    SStatus open() {
        XS_TRY(m_store->migrate({kServerMigration, kServerMigration2, kServerMigration3, kServerMigration4}));
        std::error_code ec;
        std::filesystem::create_directories(m_blobs / "partial", ec);
        if (ec) return fail(SyncError::Io, "cannot create " + (m_blobs / "partial").string() + ": " + ec.message());
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
        const ChangeSet* forked = nullptr;
        auto out = pushBatch(batch, forked);
        // The batch is rolled back by now; its fork outlives it, reported to the audit office.
        // A few reports per device are evidence enough (the office revokes it): a hostile device
        // signing fork after fork does not grow the table or the office's rounds.
        if (forked) {
            auto count = m_store->db().prepare("SELECT count(*) FROM server_forks WHERE device = ?");
            if (!count) return count.error();
            count->bind(1, forked->device);
            if (auto row = count->step(); !row) return row.error();
            if (count->int64(0) >= kMaxForkReportsPerDevice) return out;
            count.value().reset();
        }
        if (forked) {
            auto put = m_store->db().prepare(
                "INSERT OR IGNORE INTO server_forks (changeset_id, device, changeset, detail, time_ms) VALUES (?, ?, ?, ?, ?)");
            if (!put) return put.error();
            const std::string& why = out ? std::string() : out.error().message;
            XS_TRY(put->bind(1, forked->id).bind(2, forked->device).bind(3, changeSetToJson(*forked).dump()).bind(4, why)
                       .bind(5, wallClockMs()).run());
        }
        return out;
    }

    SResult<std::vector<ForkReport>> forksAfter(std::int64_t after, std::size_t maxCount) override {
        auto s = m_store->db().prepare("SELECT seq, device, changeset, detail, time_ms FROM server_forks WHERE seq > ? ORDER BY seq LIMIT ?");
        if (!s) return s.error();
        s->bind(1, after).bind(2, static_cast<std::int64_t>(maxCount));
        std::vector<ForkReport> out;
        for (;;) {
            auto row = s->step();
            if (!row) return row.error();
            if (!*row) break;
            out.push_back({s->int64(0), s->text(1), s->text(2), s->text(3), s->int64(4)});
        }
        return out;
    }

    SResult<std::int64_t> lastForkSeq() override {
        auto s = m_store->db().prepare("SELECT COALESCE(MAX(seq), 0) FROM server_forks");
        if (!s) return s.error();
        auto row = s->step();
        if (!row) return row.error();
        return s->int64(0);
    }

private:
    SResult<PushOutcome> pushBatch(const std::vector<ChangeSet>& batch, const ChangeSet*& forked) {
        auto session = ApplySession::begin(m_log);
        if (!session) return session.error();
        PushOutcome out;
        for (const auto& cs : batch) {
            if (cs.isWithheld())
                return fail(SyncError::Invalid, "change set " + cs.id + " is a withheld copy: push whole change sets only");
            auto r = (*session)->add(cs);
            if (!r && r.code() == SyncError::Corrupt && r.message().rfind("fork: ", 0) == 0) forked = &cs;
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

public:

    SResult<std::vector<FeedEntry>> feedAfter(std::int64_t after, std::size_t maxCount, const std::string& skipDevice) override {
        Db& db = m_store->db();
        auto snap = ReadSnapshot::begin(db);
        if (!snap) return snap.error();
        auto s = db.prepare("SELECT f.seq, f.changeset, c.device FROM server_feed f JOIN changesets c ON c.id = f.changeset"
                            " WHERE f.seq > ? ORDER BY f.seq LIMIT ?");
        if (!s) return s.error();
        s->bind(1, after).bind(2, static_cast<std::int64_t>(maxCount));
        struct Row {
            std::int64_t seq;
            std::string id, device;
        };
        std::vector<Row> rows;
        for (;;) {
            auto row = s->step();
            if (!row) return row.error();
            if (!*row) break;
            rows.push_back({s->int64(0), s->text(1), s->text(2)});
        }
        std::vector<FeedEntry> out;
        out.reserve(rows.size());
        for (auto& r : rows) {
            if (!skipDevice.empty() && r.device == skipDevice) {
                // The caller's own: it is skipped, so it is not loaded (a push round's pull passes
                // over every change set the round just pushed).
                FeedEntry e;
                e.seq = r.seq;
                e.changeSet.id = r.id;
                e.changeSet.device = r.device;
                out.push_back(std::move(e));
                continue;
            }
            auto cs = m_log.changeSet(r.id);
            if (!cs) return cs.error();
            out.push_back(FeedEntry{r.seq, std::move(*cs)});
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
    SResult<std::optional<std::string>> changeSetIdAt(const std::string& device, std::int64_t seq) override {
        return m_log.changeSetIdAt(device, seq);
    }

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

    SResult<std::optional<BlobState>> blobState(const std::string& id) override {
        auto s = m_store->db().prepare("SELECT channel, size, complete FROM server_blobs WHERE id = ?");
        if (!s) return s.error();
        s->bind(1, id);
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) return std::optional<BlobState>();
        BlobState st;
        st.channel = s->text(0);
        st.size = static_cast<std::uint64_t>(s->int64(1));
        st.complete = s->int64(2) != 0;
        if (st.complete) {
            st.offset = st.size;
        } else {
            struct stat info{};
            if (::stat(partialPath(id).c_str(), &info) == 0) st.offset = static_cast<std::uint64_t>(info.st_size);
            st.offset = std::min(st.offset, st.size);
        }
        return std::optional<BlobState>(std::move(st));
    }

    SResult<BlobAppend> blobAppend(const std::string& id, const std::string& channel, std::uint64_t size,
                                   std::uint64_t offset, crypto::ByteView bytes) override {
        auto known = blobState(id);
        if (!known) return known.error();
        if (!*known) {
            auto put = m_store->db().prepare("INSERT INTO server_blobs (id, channel, size) VALUES (?, ?, ?)");
            if (!put) return put.error();
            XS_TRY(put->bind(1, id).bind(2, channel).bind(3, static_cast<std::int64_t>(size)).run());
            *known = BlobState{channel, size, 0, false};
        } else if ((*known)->channel != channel || (*known)->size != size) {
            return fail(SyncError::Invalid, "evidence " + id.substr(0, 12) + " was begun with another channel or size");
        }
        BlobAppend out{**known, false};
        if (out.state.complete) return out;  // a repeat of the last chunk: already whole
        if (offset != out.state.offset) {
            out.offsetMismatch = true;
            return out;
        }
        if (offset + bytes.size() > size)
            return fail(SyncError::Invalid, "evidence " + id.substr(0, 12) + ": the chunk runs past the announced size");
        const std::string path = partialPath(id);
        {
            Fd f{envCreate(path, O_WRONLY | O_CLOEXEC, 0600)};
            if (f.fd < 0) return ioError("cannot open " + path);
            if (!bytes.empty() &&
                envPwrite(f.fd, bytes.data(), bytes.size(), static_cast<std::int64_t>(offset), path) != static_cast<long>(bytes.size()))
                return errno == ENOSPC ? fail(SyncError::DiskFull, "the server's disk is full") : ioError("cannot write " + path);
            if (envFsync(f.fd, path) != 0) return ioError("cannot sync " + path);
        }
        out.state.offset = offset + bytes.size();
        if (out.state.offset < size) return out;
        // The last byte: the whole must be the content its id names.
        auto sum = sha256OfFile(path);
        if (!sum) return sum.error();
        if (*sum != id) {
            (void)envUnlink(path);
            auto drop = m_store->db().prepare("DELETE FROM server_blobs WHERE id = ?");
            if (drop) (void)drop->bind(1, id).run();
            return fail(SyncError::Corrupt, "evidence " + id.substr(0, 12) + " does not hash to its id: the upload is dropped");
        }
        const std::filesystem::path target = completePath(id);
        std::error_code ec;
        std::filesystem::create_directories(target.parent_path(), ec);
        if (ec) return fail(SyncError::Io, "cannot create " + target.parent_path().string() + ": " + ec.message());
        if (envRename(path, target.string()) != 0) return ioError("cannot place " + target.string());
        XS_TRY(fsyncDir(target.parent_path()));
        XS_TRY(fsyncDir(m_blobs / "partial"));
        auto done = m_store->db().prepare("UPDATE server_blobs SET complete = 1 WHERE id = ?");
        if (!done) return done.error();
        XS_TRY(done->bind(1, id).run());
        out.state.complete = true;
        return out;
    }

    SResult<crypto::Bytes> blobRead(const std::string& id, std::uint64_t offset, std::size_t maxBytes) override {
        auto st = blobState(id);
        if (!st) return st.error();
        if (!*st || !(*st)->complete) return fail(SyncError::NotFound, "no complete evidence " + id.substr(0, 12) + " here");
        if (offset > (*st)->size) return fail(SyncError::Invalid, "the offset is past the end of evidence " + id.substr(0, 12));
        const std::string path = completePath(id).string();
        Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
        if (f.fd < 0) return ioError("cannot open " + path);
        crypto::Bytes out(static_cast<std::size_t>(std::min<std::uint64_t>(maxBytes, (*st)->size - offset)));
        std::size_t have = 0;
        while (have < out.size()) {
            ssize_t n = ::pread(f.fd, out.data() + have, out.size() - have, static_cast<off_t>(offset + have));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return ioError("cannot read " + path);
            have += static_cast<std::size_t>(n);
        }
        return out;
    }

    SResult<AccessEntry> logAccess(const std::string& device, const std::string& action,
                                   const std::vector<std::string>& channels, const std::string& range) override {
        Db& db = m_store->db();
        auto tx = Transaction::begin(db);
        if (!tx) return tx.error();
        auto last = db.prepare("SELECT seq, hash FROM server_access ORDER BY seq DESC LIMIT 1");
        if (!last) return last.error();
        auto row = last->step();
        if (!row) return row.error();
        AccessEntry e;
        e.seq = *row ? last->int64(0) + 1 : 1;
        const std::string prev = *row ? last->text(1) : net::accessLogGenesis();
        e.text = Json{{"seq", e.seq},           {"time_ms", wallClockMs()}, {"device", device}, {"action", action},
                      {"channels", channels},   {"range", range},           {"prev", prev}}
                     .dump();
        e.hash = crypto::toHex(crypto::sha256(crypto::asBytes(e.text)));
        auto put = db.prepare("INSERT INTO server_access (seq, entry, hash) VALUES (?, ?, ?)");
        if (!put) return put.error();
        XS_TRY(put->bind(1, e.seq).bind(2, e.text).bind(3, e.hash).run());
        XS_TRY(tx->commit());
        return e;
    }

    SResult<std::vector<AccessEntry>> accessAfter(std::int64_t after, std::size_t maxCount) override {
        auto s = m_store->db().prepare("SELECT seq, entry, hash FROM server_access WHERE seq > ? ORDER BY seq LIMIT ?");
        if (!s) return s.error();
        s->bind(1, after).bind(2, static_cast<std::int64_t>(maxCount));
        std::vector<AccessEntry> out;
        for (;;) {
            auto row = s->step();
            if (!row) return row.error();
            if (!*row) break;
            out.push_back({s->int64(0), s->text(1), s->text(2)});
        }
        return out;
    }

    SStatus inviteCreate(const std::string& id, crypto::ByteView serverKey, std::int64_t expiresMs) override {
        Db& db = m_store->db();
        auto tx = Transaction::begin(db);
        if (!tx) return tx.error();
        const std::int64_t now = wallClockMs();
        auto forget = db.prepare("DELETE FROM server_invites WHERE expires_ms < ?");
        if (!forget) return forget.error();
        XS_TRY(forget->bind(1, now - 7LL * 24 * 3600 * 1000).run());
        auto seen = db.prepare("SELECT 1 FROM server_invites WHERE id = ?");
        if (!seen) return seen.error();
        seen->bind(1, id);
        auto row = seen->step();
        if (!row) return row.error();
        if (*row) return fail(SyncError::Invalid, "an invitation with this id is filed already");
        auto put = db.prepare("INSERT INTO server_invites (id, server_key, expires_ms, created_ms) VALUES (?, ?, ?, ?)");
        if (!put) return put.error();
        XS_TRY(put->bind(1, id).bindBlob(2, serverKey).bind(3, expiresMs).bind(4, now).run());
        return tx->commit();
    }

    SResult<std::optional<InviteState>> invite(const std::string& id) override {
        auto s = m_store->db().prepare("SELECT server_key, expires_ms, presentation, answer FROM server_invites WHERE id = ?");
        if (!s) return s.error();
        s->bind(1, id);
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) return std::optional<InviteState>();
        InviteState st{s->blob(0), s->int64(1), s->isNull(2) ? std::string() : s->text(2), s->isNull(3) ? std::string() : s->text(3)};
        return std::optional<InviteState>(std::move(st));
    }

    SResult<bool> invitePresent(const std::string& id, const std::string& presentation) override {
        Db& db = m_store->db();
        auto tx = Transaction::begin(db);
        if (!tx) return tx.error();
        auto st = invite(id);
        if (!st) return st.error();
        if (!*st) return fail(SyncError::NotFound, "no such invitation");
        if (!(*st)->presentation.empty()) return (*st)->presentation == presentation;
        auto put = db.prepare("UPDATE server_invites SET presentation = ?, presented_ms = ? WHERE id = ?");
        if (!put) return put.error();
        XS_TRY(put->bind(1, presentation).bind(2, wallClockMs()).bind(3, id).run());
        XS_TRY(tx->commit());
        return true;
    }

    SResult<std::vector<std::pair<std::string, std::string>>> invitesWaiting(std::int64_t nowMs, std::size_t maxCount) override {
        auto s = m_store->db().prepare(
            "SELECT id, presentation FROM server_invites WHERE presentation IS NOT NULL AND answer IS NULL AND expires_ms > ?"
            " ORDER BY presented_ms, id LIMIT ?");
        if (!s) return s.error();
        s->bind(1, nowMs).bind(2, static_cast<std::int64_t>(maxCount));
        std::vector<std::pair<std::string, std::string>> out;
        for (;;) {
            auto row = s->step();
            if (!row) return row.error();
            if (!*row) break;
            out.emplace_back(s->text(0), s->text(1));
        }
        return out;
    }

    SStatus inviteAnswer(const std::string& id, const std::string& answer) override {
        Db& db = m_store->db();
        auto tx = Transaction::begin(db);
        if (!tx) return tx.error();
        auto st = invite(id);
        if (!st) return st.error();
        if (!*st || (*st)->presentation.empty()) return fail(SyncError::NotFound, "no presented invitation " + id.substr(0, 12));
        auto put = db.prepare("UPDATE server_invites SET answer = ? WHERE id = ?");
        if (!put) return put.error();
        XS_TRY(put->bind(1, answer).bind(2, id).run());
        return tx->commit();
    }

private:
    std::string partialPath(const std::string& id) const { return (m_blobs / "partial" / id).string(); }
    std::filesystem::path completePath(const std::string& id) const { return m_blobs / id.substr(0, 2) / id; }
    static Error<SyncError> ioError(const std::string& what) { return fail(SyncError::Io, what + ": " + std::strerror(errno)); }

    std::unique_ptr<Store> m_store;
    NoProjection m_sink;
    OpLog m_log;
    std::filesystem::path m_blobs;
};

}  // namespace

SResult<std::unique_ptr<ServerStore>> openSqliteServerStore(const std::filesystem::path& dir, const std::string& secret) {
    auto store = Store::open(dir, secret);
    if (!store) return store.error();
    auto s = std::make_unique<SqliteServerStore>(std::move(*store), dir);
    XS_TRY(s->open());
    return std::unique_ptr<ServerStore>(std::move(s));
}

SStatus createSqliteServerStore(const std::filesystem::path& dir, const std::string& secret, const TrustRoot& root) {
    auto store = Store::create(dir, secret, kServerKdf);
    if (!store) return store.error();
    XS_TRY((*store)->migrate({kServerMigration, kServerMigration2}));
    NoProjection sink;
    OpLog log(**store, sink);
    XS_TRY(log.open());
    auto tx = Transaction::begin((*store)->db());
    if (!tx) return tx.error();
    XS_TRY(log.pinTrustRoot(root));
    return tx->commit();
}

}  // namespace xs::sync::server
