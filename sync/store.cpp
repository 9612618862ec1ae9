#include "sync/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "crypto/random.h"
#include "sync/evidence.h"
#include "sync/file_io.h"
#include "sync/keyfile.h"
#include "sync/uuid.h"
#include "sync/env.h"

namespace xs::sync {
namespace fs = std::filesystem;
namespace {

std::function<void(double)>& sleeper() {
    static std::function<void(double)> s = [](double seconds) {
        std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    };
    return s;
}

struct Lockout {
    int failures = 0;
    std::int64_t lastFailureMs = 0;
};

std::int64_t wallMs() {
    return wallClockMs();
}

Lockout readLockout(const fs::path& dir) {
    auto bytes = readFile(dir / Store::kLockoutFile, 4096);
    if (!bytes) return {};
    auto j = nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr, false);
    Lockout l;
    if (j.is_object() && j.contains("failures") && j["failures"].is_number_integer() && j.contains("last_failure_ms") &&
        j["last_failure_ms"].is_number_integer()) {
        // A file anyone with access to the folder can write: the count is bounded (the delay stops
        // growing long before), and a time ahead of this clock (moved back since, or forged) counts
        // as now, so the wait owed is never more than the largest delay.
        l.failures = static_cast<int>(std::clamp<std::int64_t>(j["failures"].get<std::int64_t>(), 0, 1000));
        const std::int64_t now = std::max<std::int64_t>(0, wallMs());
        l.lastFailureMs = std::clamp<std::int64_t>(j["last_failure_ms"].get<std::int64_t>(), 0, now);
    }
    return l;
}

constexpr int kFirstCurrentFormat = 5;  // the sync migration that starts change-set format 2

const std::vector<Migration>& syncMigrations() {
    static const std::vector<Migration> m = {
        {"sync", 1,
         "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
         // The op log: the source of truth. body is the JSON list of field changes.
         "CREATE TABLE changesets (id TEXT PRIMARY KEY, device TEXT NOT NULL, seq INTEGER NOT NULL,"
         "  hlc INTEGER NOT NULL, op_count INTEGER NOT NULL, local INTEGER NOT NULL) WITHOUT ROWID;"
         "CREATE UNIQUE INDEX changesets_device_seq ON changesets(device, seq);"
         "CREATE TABLE ops (id TEXT PRIMARY KEY, changeset TEXT NOT NULL REFERENCES changesets(id),"
         "  idx INTEGER NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL, record_id TEXT NOT NULL,"
         "  hlc INTEGER NOT NULL, device TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;"
         "CREATE INDEX ops_record ON ops(kind, record_id);"
         "CREATE INDEX ops_changeset ON ops(changeset, idx);"
         // Projection state, rebuilt from ops: every version of every field (the projected one
         // marked `winner`), what each superseded, and unresolved concurrent text edits.
         // WITHOUT ROWID keeps each table one B-tree: fewer pages to encrypt per commit.
         "CREATE TABLE field_versions (kind TEXT NOT NULL, record_id TEXT NOT NULL, field TEXT NOT NULL,"
         "  op_id TEXT NOT NULL, hlc INTEGER NOT NULL, device TEXT NOT NULL, value TEXT NOT NULL,"
         "  winner INTEGER NOT NULL, PRIMARY KEY (kind, record_id, field, op_id)) WITHOUT ROWID;"
         "CREATE TABLE field_bases (kind TEXT NOT NULL, record_id TEXT NOT NULL, field TEXT NOT NULL,"
         "  op_id TEXT NOT NULL, base_op TEXT NOT NULL, PRIMARY KEY (kind, record_id, field, base_op, op_id))"
         "  WITHOUT ROWID;"
         "CREATE TABLE conflicts (kind TEXT NOT NULL, record_id TEXT NOT NULL, field TEXT NOT NULL,"
         "  op_id TEXT NOT NULL, value TEXT NOT NULL, hlc INTEGER NOT NULL, device TEXT NOT NULL,"
         "  PRIMARY KEY (kind, record_id, field, op_id)) WITHOUT ROWID;"},
        {"sync", 2,
         // Device identity: private keys only here, inside the encrypted database.
         "CREATE TABLE device_secrets (name TEXT PRIMARY KEY, secret BLOB NOT NULL) WITHOUT ROWID;"
         "CREATE TABLE devices (id TEXT PRIMARY KEY, sign_pk BLOB NOT NULL, kx_pk BLOB NOT NULL,"
         "  person_id TEXT, local INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"},
        {"sync", 3,
         // Signed, hash-chained change sets; change sets held for a missing predecessor; forks.
         "ALTER TABLE changesets ADD COLUMN prev_hash BLOB;"
         "ALTER TABLE changesets ADD COLUMN hash BLOB;"
         "ALTER TABLE changesets ADD COLUMN signature BLOB;"
         "CREATE TABLE held_changesets (device TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,"
         "  body TEXT NOT NULL, PRIMARY KEY (device, seq, id)) WITHOUT ROWID;"
         "CREATE TABLE forks (device TEXT NOT NULL, seq INTEGER NOT NULL, changeset TEXT NOT NULL,"
         "  detail TEXT NOT NULL, PRIMARY KEY (device, seq, changeset)) WITHOUT ROWID;"},
        {"sync", 4,
         // Channels: ops of encrypted channels keep only their sealed body (body = '');
         // channel keys this replica holds; key envelopes as received; channels shredded here.
         "ALTER TABLE ops ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;"
         "ALTER TABLE ops ADD COLUMN sealed BLOB;"
         "CREATE INDEX ops_channel ON ops(channel, epoch);"
         "CREATE TABLE channel_keys (channel TEXT NOT NULL, epoch INTEGER NOT NULL, key BLOB NOT NULL,"
         "  PRIMARY KEY (channel, epoch)) WITHOUT ROWID;"
         "CREATE TABLE key_envelopes (channel TEXT NOT NULL, epoch INTEGER NOT NULL, recipient TEXT NOT NULL,"
         "  issuer TEXT NOT NULL, enc BLOB NOT NULL, wrapped BLOB NOT NULL, signature BLOB NOT NULL,"
         "  PRIMARY KEY (channel, epoch, recipient)) WITHOUT ROWID;"
         "CREATE TABLE shredded_channels (channel TEXT PRIMARY KEY, at_ms INTEGER NOT NULL,"
         "  reason TEXT NOT NULL) WITHOUT ROWID;"},
        {"sync", 5,
         // Change sets v2 (causal deps, verdicts, body bytes hashed as stored), the registrar's
         // device records in the log instead of a local table, key envelopes inside the log,
         // per-scope evidence keys. Only empty logs get here (Store::migrate refuses older data).
         "DROP TABLE ops; DROP TABLE changesets; DROP TABLE held_changesets; DROP TABLE forks;"
         "DROP TABLE field_versions; DROP TABLE field_bases; DROP TABLE conflicts; DROP TABLE key_envelopes;"
         "DROP TABLE devices;"
         "CREATE TABLE changesets (id TEXT PRIMARY KEY, device TEXT NOT NULL, seq INTEGER NOT NULL,"
         "  hlc INTEGER NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL, signature BLOB NOT NULL,"
         "  deps TEXT NOT NULL, vv TEXT NOT NULL, op_count INTEGER NOT NULL, local INTEGER NOT NULL,"
         "  verdict TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"
         "CREATE UNIQUE INDEX changesets_device_seq ON changesets(device, seq);"
         "CREATE INDEX changesets_order ON changesets(hlc, device, seq);"
         "CREATE TABLE ops (id TEXT PRIMARY KEY, changeset TEXT NOT NULL REFERENCES changesets(id),"
         "  idx INTEGER NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL, record_id TEXT NOT NULL,"
         "  hlc INTEGER NOT NULL, device TEXT NOT NULL, epoch INTEGER NOT NULL, body BLOB NOT NULL) WITHOUT ROWID;"
         "CREATE INDEX ops_record ON ops(record_id);"
         "CREATE INDEX ops_changeset ON ops(changeset, idx);"
         "CREATE INDEX ops_channel ON ops(channel, epoch);"
         "CREATE TABLE held_changesets (id TEXT PRIMARY KEY, device TEXT NOT NULL, seq INTEGER NOT NULL,"
         "  reason TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;"
         "CREATE TABLE forks (device TEXT NOT NULL, seq INTEGER NOT NULL, changeset TEXT NOT NULL,"
         "  detail TEXT NOT NULL, PRIMARY KEY (device, seq, changeset)) WITHOUT ROWID;"
         // Projection state, rebuilt from the accepted ops: every version of every field with the
         // (device, seq) of its change set (to read the state at a causal position), what each
         // superseded, and unresolved concurrent text edits.
         "CREATE TABLE field_versions (kind TEXT NOT NULL, record_id TEXT NOT NULL, field TEXT NOT NULL,"
         "  op_id TEXT NOT NULL, hlc INTEGER NOT NULL, device TEXT NOT NULL, seq INTEGER NOT NULL,"
         "  value TEXT NOT NULL, winner INTEGER NOT NULL,"
         "  PRIMARY KEY (kind, record_id, field, op_id)) WITHOUT ROWID;"
         "CREATE INDEX field_versions_value ON field_versions(kind, field, value);"
         "CREATE TABLE field_bases (kind TEXT NOT NULL, record_id TEXT NOT NULL, field TEXT NOT NULL,"
         "  op_id TEXT NOT NULL, base_op TEXT NOT NULL, PRIMARY KEY (kind, record_id, field, base_op, op_id))"
         "  WITHOUT ROWID;"
         "CREATE TABLE conflicts (kind TEXT NOT NULL, record_id TEXT NOT NULL, field TEXT NOT NULL,"
         "  op_id TEXT NOT NULL, value TEXT NOT NULL, hlc INTEGER NOT NULL, device TEXT NOT NULL,"
         "  PRIMARY KEY (kind, record_id, field, op_id)) WITHOUT ROWID;"
         // Evidence: a random key per scope (an inspection), destroyed when the scope is shredded;
         // the files this store holds, in the order they arrived.
         "CREATE TABLE evidence_scopes (scope TEXT PRIMARY KEY, key BLOB NOT NULL) WITHOUT ROWID;"
         "CREATE TABLE evidence_files (seq INTEGER PRIMARY KEY AUTOINCREMENT, scope TEXT NOT NULL,"
         "  hash TEXT NOT NULL, size INTEGER NOT NULL, shredded_at INTEGER, UNIQUE (scope, hash));"
         "CREATE TABLE shredded_scopes (scope TEXT PRIMARY KEY, at_ms INTEGER NOT NULL) WITHOUT ROWID;"},
        {"sync", 6,
         // The crypto suite of each stored change set (sync/suite.h), as its signed bytes name it.
         "ALTER TABLE changesets ADD COLUMN suite INTEGER NOT NULL DEFAULT 1;"},
        {"sync", 7,
         // Change sets held withheld (need-to-know, sync/changeset.h): their op hashes, 32 bytes
         // each in order, instead of ops rows.
         "CREATE TABLE withheld_ops (changeset TEXT PRIMARY KEY REFERENCES changesets(id), hashes BLOB NOT NULL)"
         "  WITHOUT ROWID;"},
    };
    return m;
}

}  // namespace

void setUnlockSleeper(std::function<void(double)> s) { sleeper() = std::move(s); }

double unlockDelaySeconds(int failures) {
    if (failures <= 0) return 0;
    double d = 0.25;
    for (int i = 1; i < failures && d < 30; ++i) d *= 2;
    return std::min(d, 30.0);
}

bool Store::exists(const fs::path& dir) {
    std::error_code ec;
    return fs::exists(dir / kKeyFile, ec);
}

SResult<std::unique_ptr<Store>> Store::create(const fs::path& dir, std::string_view passphrase,
                                              const crypto::Argon2Params& kdf) {
    XS_TRY(validateKdfParams(kdf));
    std::error_code ec;
    if (exists(dir) || fs::exists(dir / kDbFile, ec))
        return fail(SyncError::AlreadyExists, "a store already exists in " + dir.string());
    fs::create_directories(dir, ec);
    if (ec) return fail(SyncError::Io, "cannot create " + dir.string() + ": " + ec.message());
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);

    auto key = crypto::randomSecret(32);
    if (!key) return fail(SyncError::Crypto, "random number generator failed");
    auto storeId = newUuidV7();
    if (!storeId) return storeId.error();
    auto keyFile = wrapDataKey(*key, passphrase, kdf, *storeId);
    if (!keyFile) return keyFile.error();

    std::unique_ptr<Store> store(new Store());
    store->m_dir = dir;
    store->m_storeId = *storeId;
    store->m_kdf = kdf;
    auto db = Db::open((dir / kDbFile).string(), *key, {.create = true, .durable = true});
    if (!db) return db.error();
    store->m_db = std::move(*db);
    fs::permissions(dir / kDbFile, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace, ec);
    XS_TRY(store->migrate({}));
    auto evidence = EvidenceStore::open(dir / kEvidenceDir, *key);
    if (!evidence) return evidence.error();
    store->m_evidence = std::make_unique<EvidenceStore>(std::move(*evidence));
    store->m_dataKey = std::move(*key);
    XS_TRY(store->lockAndCleanUp());
    // The key file is written last: a store without one is an aborted init, not a store.
    std::string text = serializeKeyFile(*keyFile);
    XS_TRY(writeFileAtomic(dir / kKeyFile, crypto::asBytes(text)));
    return store;
}

SResult<std::unique_ptr<Store>> Store::open(const fs::path& dir, std::string_view passphrase) {
    auto started = std::chrono::steady_clock::now();
    auto bytes = readFile(dir / kKeyFile, 64 * 1024);
    if (!bytes) {
        if (bytes.code() == SyncError::NotFound) return fail(SyncError::NotFound, "no store in " + dir.string() + " (run init first)");
        return bytes.error();
    }
    auto keyFile = parseKeyFile(*bytes);
    if (!keyFile) return keyFile.error();

    // Honour the delay owed from earlier failures, even across processes.
    Lockout lockout = readLockout(dir);
    if (lockout.failures > 0) {
        double delay = unlockDelaySeconds(lockout.failures);
        double owed = delay - static_cast<double>(wallMs() - lockout.lastFailureMs) / 1000.0;
        if (owed > 0) sleeper()(std::min(owed, delay));
    }
    auto kdfStarted = std::chrono::steady_clock::now();
    auto key = unwrapDataKey(*keyFile, passphrase);
    double kdfMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - kdfStarted).count();
    if (!key) {
        if (key.code() != SyncError::WrongPassphrase) return key.error();
        lockout.failures = std::min(lockout.failures + 1, 1000);
        lockout.lastFailureMs = wallMs();
        std::string text = nlohmann::json{{"failures", lockout.failures}, {"last_failure_ms", lockout.lastFailureMs}}.dump();
        (void)writeFileAtomic(dir / kLockoutFile, crypto::asBytes(text));
        double wait = unlockDelaySeconds(lockout.failures);
        sleeper()(wait);
        char buf[160];
        std::snprintf(buf, sizeof buf, "wrong passphrase (%d consecutive failure%s; waited %.2g s)", lockout.failures,
                      lockout.failures == 1 ? "" : "s", wait);
        return fail(SyncError::WrongPassphrase, buf);
    }
    if (lockout.failures > 0) {
        std::error_code ec;
        fs::remove(dir / kLockoutFile, ec);
    }

    auto store = openWithKey(dir, keyFile->storeId, keyFile->kdf, std::move(*key));
    if (!store) return store.error();
    (*store)->m_timings = {kdfMs, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count()};
    return store;
}

SResult<std::unique_ptr<Store>> Store::openWithKey(const fs::path& dir, std::string storeId, const crypto::Argon2Params& kdf,
                                                   crypto::SecretBytes key) {
    std::unique_ptr<Store> store(new Store());
    store->m_dir = dir;
    store->m_storeId = std::move(storeId);
    store->m_kdf = kdf;
    auto db = Db::open((dir / kDbFile).string(), key, {.create = false, .durable = true});
    if (!db) return db.error();
    store->m_db = std::move(*db);
    XS_TRY(store->migrate({}));
    auto evidence = EvidenceStore::open(dir / kEvidenceDir, key);
    if (!evidence) return evidence.error();
    store->m_evidence = std::make_unique<EvidenceStore>(std::move(*evidence));
    store->m_dataKey = std::move(key);
    XS_TRY(store->lockAndCleanUp());
    return store;
}

SResult<std::vector<std::pair<std::string, std::string>>> Store::evidencePairs(const char* sql) {
    auto s = m_db.prepare(sql);
    if (!s) return s.error();
    std::vector<std::pair<std::string, std::string>> out;
    for (;;) {
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) break;
        out.emplace_back(s->text(0), s->text(1));
    }
    return out;
}

Store::~Store() {
    if (m_lockFd >= 0) ::close(m_lockFd);
}

SStatus Store::lockAndCleanUp() {
    const fs::path path = m_dir / kLockFile;
    m_lockFd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (m_lockFd < 0) return fail(SyncError::Io, "cannot open " + path.string() + ": " + std::strerror(errno));
    if (::flock(m_lockFd, LOCK_EX | LOCK_NB) == 0) {
        // No other connection: nothing is being written. What a killed writer left behind goes: an
        // evidence file half written, a key file half written, an evidence file placed but never
        // recorded (the record's transaction did not commit).
        XS_TRY(removeOrphanTempFiles(m_dir));
        XS_TRY(removeOrphanTempFiles(m_dir / kEvidenceDir));
        auto held = evidencePairs("SELECT scope, hash FROM evidence_files");
        if (!held) return held.error();
        auto removed = m_evidence->removeFilesOtherThan(*held);
        if (!removed) return removed.error();
    }
    // Shared from here on (waits only while another opener cleans up).
    while (::flock(m_lockFd, LOCK_SH) != 0)
        if (errno != EINTR) return fail(SyncError::Io, "cannot lock " + path.string() + ": " + std::strerror(errno));
    return {};
}

SResult<std::unique_ptr<Store>> Store::openAnother() const {
    if (m_dataKey.empty()) return fail(SyncError::Invalid, "store is locked");
    return openWithKey(m_dir, m_storeId, m_kdf, crypto::SecretBytes(m_dataKey.data(), m_dataKey.size()));
}

SResult<std::unique_ptr<Store>> Store::memoryCopy() const {
    if (m_dataKey.empty()) return fail(SyncError::Invalid, "store is locked");
    auto db = Db::memoryCopyOf((m_dir / kDbFile).string(), m_dataKey);
    if (!db) return db.error();
    std::unique_ptr<Store> copy(new Store());
    copy->m_dir = m_dir;
    copy->m_storeId = m_storeId;
    copy->m_kdf = m_kdf;
    copy->m_db = std::move(*db);
    return copy;
}

SStatus Store::migrate(const std::vector<Migration>& extra) {
    XS_TRY(m_db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (module TEXT NOT NULL, version INTEGER NOT NULL,"
                     " PRIMARY KEY (module, version))"));
    std::vector<const Migration*> all;
    for (const auto& m : syncMigrations()) all.push_back(&m);
    for (const auto& m : extra) all.push_back(&m);
    for (const Migration* m : all) {
        auto check = m_db.prepare("SELECT 1 FROM schema_migrations WHERE module = ? AND version = ?");
        if (!check) return check.error();
        check->bind(1, m->module).bind(2, std::int64_t{m->version});
        auto has = check->step();
        if (!has) return has.error();
        if (*has) continue;
        check.value().reset();
        if (m->module == "sync" && m->version == kFirstCurrentFormat) {
            // Change sets of the first format cannot be carried over (their signatures cover other bytes).
            auto old = m_db.prepare("SELECT count(*) FROM changesets");
            if (!old) return old.error();
            if (auto row = old->step(); !row) return row.error();
            if (old->int64(0) > 0)
                return fail(SyncError::Invalid, "this store was made by an earlier development version of Xunshen whose "
                                                "change sets this version cannot carry over; create a new store");
        }
        auto tx = Transaction::begin(m_db);
        if (!tx) return tx.error();
        XS_TRY(m_db.exec(m->sql));
        auto mark = m_db.prepare("INSERT INTO schema_migrations (module, version) VALUES (?, ?)");
        if (!mark) return mark.error();
        mark->bind(1, m->module).bind(2, std::int64_t{m->version});
        XS_TRY(mark->run());
        XS_TRY(tx->commit());
    }
    return {};
}

SStatus Store::rekey(std::string_view newPassphrase, const crypto::Argon2Params& kdf) {
    if (m_dataKey.empty()) return fail(SyncError::Invalid, "store is locked");
    auto keyFile = wrapDataKey(m_dataKey, newPassphrase, kdf, m_storeId);
    if (!keyFile) return keyFile.error();
    std::string text = serializeKeyFile(*keyFile);
    auto old = readFile(m_dir / kKeyFile, 64 * 1024);
    if (!old) return old.error();
    auto written = writeFileAtomic(m_dir / kKeyFile, crypto::asBytes(text));
    if (!written) {
        // The rename may have happened before the failure (the folder's fsync failed): then the
        // old key file goes back.
        auto now = readFile(m_dir / kKeyFile, 64 * 1024);
        if (now && *now == *old) return written.error();
        auto restored = writeFileAtomic(m_dir / kKeyFile, *old);
        if (restored) return written.error();
        return fail(written.error().code, written.message() +
                                              "; the NEW passphrase is the one that opens the store now (the old key file could "
                                              "not be put back: " + restored.message() + ")");
    }
    m_kdf = kdf;
    return {};
}

void Store::lock() {
    m_evidence.reset();
    m_db.close();
    m_dataKey.wipe();
}

SResult<std::string> Store::meta(const std::string& key) {
    auto s = m_db.prepare("SELECT value FROM meta WHERE key = ?");
    if (!s) return s.error();
    s->bind(1, key);
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return fail(SyncError::NotFound, "no meta value " + key);
    return s->text(0);
}

SStatus Store::setMeta(const std::string& key, const std::string& value) {
    auto s = m_db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
    if (!s) return s.error();
    s->bind(1, key).bind(2, value);
    return s->run();
}

SResult<EvidenceScope> Store::evidenceScope(const std::string& name, bool create) {
    if (name.empty() || name.size() > 200) return fail(SyncError::Invalid, "bad evidence scope name");
    auto s = m_db.prepare("SELECT key FROM evidence_scopes WHERE scope = ?");
    if (!s) return s.error();
    s->bind(1, name);
    auto row = s->step();
    if (!row) return row.error();
    if (*row) return EvidenceScope{name, s->secretBlob(0)};
    s.value().reset();
    if (!create) return fail(SyncError::NotFound, "no evidence key for scope " + name + " here");
    auto fresh = newEvidenceScope(name);
    if (!fresh) return fresh.error();
    XS_TRY(saveEvidenceScope(*fresh));
    return fresh;
}

SResult<EvidenceScope> Store::newEvidenceScope(const std::string& name) {
    if (name.empty() || name.size() > 200) return fail(SyncError::Invalid, "bad evidence scope name");
    auto destroyed = m_db.prepare("SELECT 1 FROM shredded_scopes WHERE scope = ?");
    if (!destroyed) return destroyed.error();
    destroyed->bind(1, name);
    auto gone = destroyed->step();
    if (!gone) return gone.error();
    if (*gone) return fail(SyncError::Forbidden, "the evidence of scope " + name + " was shredded here");
    auto key = crypto::randomSecret(32);
    if (!key) return fail(SyncError::Crypto, "random number generator failed");
    return EvidenceScope{name, std::move(*key)};
}

SStatus Store::saveEvidenceScope(const EvidenceScope& scope) {
    auto ins = m_db.prepare("INSERT OR IGNORE INTO evidence_scopes (scope, key) VALUES (?, ?)");
    if (!ins) return ins.error();
    ins->bind(1, scope.name).bindBlob(2, scope.key.view());
    return ins->run();
}

SStatus Store::recordEvidence(const std::string& scope, const std::string& hash, std::uint64_t size) {
    // Content captured again after its file was shredded (a partial wipe) is held again.
    auto again = m_db.prepare("UPDATE evidence_files SET shredded_at = NULL WHERE scope = ? AND hash = ? AND shredded_at IS NOT NULL");
    if (!again) return again.error();
    again->bind(1, scope).bind(2, hash);
    XS_TRY(again->run());
    again.value().reset();
    auto s = m_db.prepare("INSERT OR IGNORE INTO evidence_files (scope, hash, size) VALUES (?, ?, ?)");
    if (!s) return s.error();
    s->bind(1, scope).bind(2, hash).bind(3, static_cast<std::int64_t>(size));
    return s->run();
}

SResult<std::vector<Store::EvidenceEntry>> Store::evidenceEntries(const std::string& scope) {
    auto s = m_db.prepare("SELECT seq, scope, hash, size, shredded_at IS NOT NULL FROM evidence_files"
                          " WHERE ?1 = '' OR scope = ?1 ORDER BY seq");
    if (!s) return s.error();
    s->bind(1, scope);
    std::vector<EvidenceEntry> out;
    for (;;) {
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) break;
        out.push_back({s->int64(0), s->text(1), s->text(2), static_cast<std::uint64_t>(s->int64(3)), s->int64(4) != 0});
    }
    return out;
}

SResult<std::optional<Store::EvidenceEntry>> Store::evidenceEntry(const std::string& scope, const std::string& hash) {
    auto s = m_db.prepare("SELECT seq, scope, hash, size, shredded_at IS NOT NULL FROM evidence_files WHERE scope = ? AND hash = ?");
    if (!s) return s.error();
    s->bind(1, scope).bind(2, hash);
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return std::optional<EvidenceEntry>();
    return std::optional<EvidenceEntry>(
        EvidenceEntry{s->int64(0), s->text(1), s->text(2), static_cast<std::uint64_t>(s->int64(3)), s->int64(4) != 0});
}

SStatus Store::markEvidenceShredded(const std::string& scope, const std::string& hash) {
    auto s = m_db.prepare("UPDATE evidence_files SET shredded_at = ? WHERE scope = ? AND hash = ? AND shredded_at IS NULL");
    if (!s) return s.error();
    s->bind(1, wallMs()).bind(2, scope).bind(3, hash);
    return s->run();
}

SResult<std::size_t> Store::destroyEvidenceScope(const std::string& scope) {
    auto entries = evidenceEntries(scope);
    if (!entries) return entries.error();
    std::size_t marked = 0;
    for (const auto& e : *entries) {
        if (e.shredded) continue;
        XS_TRY(markEvidenceShredded(scope, e.hash));
        ++marked;
    }
    auto del = m_db.prepare("DELETE FROM evidence_scopes WHERE scope = ?");
    if (!del) return del.error();
    del->bind(1, scope);
    XS_TRY(del->run());
    // Marked, so that its key is never made again.
    auto mark = m_db.prepare("INSERT OR IGNORE INTO shredded_scopes (scope, at_ms) VALUES (?, ?)");
    if (!mark) return mark.error();
    mark->bind(1, scope).bind(2, wallMs());
    XS_TRY(mark->run());
    return marked;
}

SResult<std::size_t> Store::removeShreddedFiles() {
    // Only the shredded rows (this runs at every open: Store::finishShredding).
    auto shredded = evidencePairs("SELECT scope, hash FROM evidence_files WHERE shredded_at IS NOT NULL");
    if (!shredded) return shredded.error();
    std::size_t removed = 0;
    for (const auto& [scope, hash] : *shredded) {
        if (!m_evidence->contains(scope, hash)) continue;
        XS_TRY(m_evidence->remove(scope, hash));
        ++removed;
    }
    return removed;
}

SStatus Store::forgetShreddedEvidence(const std::string& scope) {
    auto entries = evidenceEntries(scope);
    if (!entries) return entries.error();
    auto del = m_db.prepare("DELETE FROM evidence_files WHERE scope = ? AND hash = ? AND shredded_at IS NOT NULL");
    if (!del) return del.error();
    for (const auto& e : *entries) {
        if (!e.shredded || m_evidence->contains(e.scope, e.hash)) continue;
        del->bind(1, scope).bind(2, e.hash);
        XS_TRY(del->run());
        del->reset();
    }
    return {};
}

SResult<std::size_t> Store::finishShredding() {
    auto removed = removeShreddedFiles();
    if (!removed) return removed.error();
    auto s = m_db.prepare("SELECT DISTINCT e.scope FROM evidence_files e JOIN shredded_scopes z ON z.scope = e.scope");
    if (!s) return s.error();
    std::vector<std::string> scopes;
    XS_TRY(s->collectTexts(scopes));
    if (scopes.empty()) return removed;
    auto tx = Transaction::begin(m_db);
    if (!tx) return tx.error();
    for (const auto& scope : scopes) XS_TRY(forgetShreddedEvidence(scope));
    XS_TRY(tx->commit());
    return removed;
}

SResult<bool> Store::checkpoint() {
    // Columns: busy, log frames, checkpointed frames. busy = 1 when a reader or writer held it up.
    auto s = m_db.prepare("PRAGMA wal_checkpoint(TRUNCATE)");
    if (!s) return s.error();
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return true;  // not in WAL mode: nothing to empty
    return s->int64(0) == 0;
}

}  // namespace xs::sync
