#include "sync/db.h"
#include "sync/env.h"

#include <cerrno>
#include <cstring>
#include <utility>

#ifdef XS_PLAIN_SQLITE
#include <sqlite3.h>
#else
#define SQLITE_HAS_CODEC 1
#include <sqlcipher/sqlite3.h>
#endif


namespace xs::sync {
namespace {

// How long a statement waits for another process's write lock before the store is "busy".
constexpr int kBusyTimeoutMs = 10000;

// An SQLite result code as an error of the kind a person can act on: a busy store, a full disk
// and a damaged (or wrongly keyed) file are told apart from any other database failure.
Error<SyncError> errorFor(int rc, sqlite3* db, const std::string& what) {
    std::string detail = db ? sqlite3_errmsg(db) : "no database";
    int errnum = db ? sqlite3_system_errno(db) : 0;
    switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return fail(SyncError::Busy, "store busy: another program kept it locked for " +
                                             std::to_string(kBusyTimeoutMs / 1000) + " s (" + what + "); try again");
        case SQLITE_FULL:
            return fail(SyncError::DiskFull, "disk full: " + what + " needs room the disk does not have; nothing was written");
        case SQLITE_IOERR:
            if (errnum == ENOSPC || errnum == EDQUOT)
                return fail(SyncError::DiskFull, "disk full: " + what + " needs room the disk does not have; nothing was written");
            return fail(SyncError::Io, what + ": I/O error (" + detail + (errnum ? ", " + std::string(std::strerror(errnum)) : "") + ")");
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT:
            return fail(SyncError::Corrupt, what + ": the database is damaged or was not written with this key (" + detail + ")");
        default:
            return fail(SyncError::Database, what + ": " + detail);
    }
}

#ifndef XS_PLAIN_SQLITE
// The key as SQLCipher's raw-key literal x'<64 hex>', which skips its own PBKDF2 (the key is
// already random).
crypto::SecretBytes rawKeyLiteral(crypto::ByteView key) {
    static constexpr char kHexDigits[] = "0123456789abcdef";
    crypto::SecretBytes raw(3 + 2 * key.size());
    raw.data()[0] = 'x';
    raw.data()[1] = '\'';
    for (std::size_t i = 0; i < key.size(); ++i) {
        raw.data()[2 + 2 * i] = static_cast<std::uint8_t>(kHexDigits[key[i] >> 4]);
        raw.data()[3 + 2 * i] = static_cast<std::uint8_t>(kHexDigits[key[i] & 15]);
    }
    raw.data()[raw.size() - 1] = '\'';
    return raw;
}
#endif

Error<SyncError> dbError(sqlite3* db, const char* what) {
    return errorFor(db ? sqlite3_extended_errcode(db) : SQLITE_ERROR, db, what);
}

}  // namespace

struct Stmt::Cache {
    std::unordered_map<std::string, sqlite3_stmt*> idle;
    ~Cache() {
        for (auto& [sql, stmt] : idle) sqlite3_finalize(stmt);
    }
};

void Stmt::release() {
    if (!m_stmt) return;
    if (m_cache) {
        sqlite3_reset(m_stmt);
        sqlite3_clear_bindings(m_stmt);
        auto [it, inserted] = m_cache->idle.emplace(std::move(m_sql), m_stmt);
        if (!inserted) sqlite3_finalize(m_stmt);
    } else {
        sqlite3_finalize(m_stmt);
    }
    m_stmt = nullptr;
}

Stmt::~Stmt() { release(); }
Stmt::Stmt(Stmt&& other) noexcept
    : m_db(std::exchange(other.m_db, nullptr)),
      m_stmt(std::exchange(other.m_stmt, nullptr)),
      m_cache(std::exchange(other.m_cache, nullptr)),
      m_sql(std::move(other.m_sql)) {}
Stmt& Stmt::operator=(Stmt&& other) noexcept {
    if (this != &other) {
        release();
        m_db = std::exchange(other.m_db, nullptr);
        m_stmt = std::exchange(other.m_stmt, nullptr);
        m_cache = std::exchange(other.m_cache, nullptr);
        m_sql = std::move(other.m_sql);
    }
    return *this;
}

Stmt& Stmt::bind(int index, std::string_view text) {
    sqlite3_bind_text(m_stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
}
Stmt& Stmt::bind(int index, std::int64_t value) {
    sqlite3_bind_int64(m_stmt, index, value);
    return *this;
}
Stmt& Stmt::bindBlob(int index, crypto::ByteView blob) {
    // An empty blob is a zero-length blob, not NULL (sqlite binds NULL for a null pointer).
    if (blob.empty()) sqlite3_bind_zeroblob(m_stmt, index, 0);
    else sqlite3_bind_blob(m_stmt, index, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    return *this;
}
Stmt& Stmt::bindNull(int index) {
    sqlite3_bind_null(m_stmt, index);
    return *this;
}

SResult<bool> Stmt::step() {
    int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return dbError(m_db, "statement failed");
}

SStatus Stmt::run() { return collectTexts(nullptr); }

SStatus Stmt::collectTexts(std::vector<std::string>& out) { return collectTexts(&out); }

SStatus Stmt::collectTexts(std::vector<std::string>* out) {
    for (;;) {
        auto r = step();
        if (!r) {
            sqlite3_reset(m_stmt);
            return r.error();
        }
        if (!*r) break;
        if (out) out->push_back(text(0));
    }
    sqlite3_reset(m_stmt);
    return {};
}

void Stmt::reset() {
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
}

std::string Stmt::text(int column) const {
    const unsigned char* p = sqlite3_column_text(m_stmt, column);
    int n = sqlite3_column_bytes(m_stmt, column);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
}
std::int64_t Stmt::int64(int column) const { return sqlite3_column_int64(m_stmt, column); }
crypto::Bytes Stmt::blob(int column) const {
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(m_stmt, column));
    int n = sqlite3_column_bytes(m_stmt, column);
    return p ? crypto::Bytes(p, p + n) : crypto::Bytes();
}
crypto::SecretBytes Stmt::secretBlob(int column) const {
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(m_stmt, column));
    int n = sqlite3_column_bytes(m_stmt, column);
    return p ? crypto::SecretBytes(p, static_cast<std::size_t>(n)) : crypto::SecretBytes();
}
bool Stmt::isNull(int column) const { return sqlite3_column_type(m_stmt, column) == SQLITE_NULL; }
int Stmt::columnCount() const { return sqlite3_column_count(m_stmt); }
int Stmt::columnType(int column) const { return sqlite3_column_type(m_stmt, column); }

SResult<Db> Db::open(const std::string& path, crypto::ByteView key, const DbOptions& options) {
    sqlite3* raw = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (options.create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags, envVfsName());
    Db db(raw);
    if (rc != SQLITE_OK) {
        if (rc == SQLITE_CANTOPEN && !options.create) return fail(SyncError::NotFound, "no database at " + path);
        return dbError(raw, "cannot open database");
    }
    sqlite3_extended_result_codes(raw, 1);
    // Before the first statement: another process writing must make this one wait, not fail
    // (and a failure to read must not look like a wrong key).
    sqlite3_busy_timeout(raw, kBusyTimeoutMs);
#ifndef XS_PLAIN_SQLITE
    if (key.size() != 32) return fail(SyncError::Invalid, "data key must be 32 bytes");
    crypto::SecretBytes rawKey = rawKeyLiteral(key);
    rc = sqlite3_key(raw, rawKey.data(), static_cast<int>(rawKey.size()));
    rawKey.wipe();
    if (rc != SQLITE_OK) return dbError(raw, "cannot key database");
    XS_TRY(db.exec("PRAGMA cipher_page_size = 4096"));
    XS_TRY(db.exec("PRAGMA cipher_use_hmac = ON"));
#else
    (void)key;
#endif
    // The first real read tells whether the key fits this file.
    rc = sqlite3_exec(raw, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
    if ((rc & 0xff) == SQLITE_NOTADB)
        return fail(SyncError::Corrupt, "database cannot be read with this key (not a store created here?)");
    if (rc != SQLITE_OK) return dbError(raw, "cannot read the database");
    XS_TRY(db.exec("PRAGMA temp_store = MEMORY"));
    XS_TRY(db.exec("PRAGMA cache_size = -16384"));  // 16 MiB of decrypted pages
    XS_TRY(db.exec("PRAGMA journal_mode = WAL"));
    XS_TRY(db.exec(options.durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL"));
    XS_TRY(db.exec("PRAGMA foreign_keys = ON"));
    // Deleted content is overwritten, not left in free pages: crypto-shredding relies on it.
    XS_TRY(db.exec("PRAGMA secure_delete = ON"));
    return db;
}

SResult<Db> Db::memoryCopyOf(const std::string& path, crypto::ByteView key) {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, envVfsName());
    Db db(raw);
    if (rc != SQLITE_OK) return dbError(raw, "cannot open an in-memory database");
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, kBusyTimeoutMs);
    XS_TRY(db.exec("PRAGMA foreign_keys = OFF"));  // rows arrive table by table
#ifndef XS_PLAIN_SQLITE
    // The attached file's cipher settings must be known before ATTACH reads its first page.
    XS_TRY(db.exec("PRAGMA cipher_default_page_size = 4096"));
    XS_TRY(db.exec("PRAGMA cipher_default_use_hmac = ON"));
#endif
    auto attach = db.prepare("ATTACH DATABASE ? AS src KEY ?");
    if (!attach) return attach.error();
    attach->bind(1, path);
#ifndef XS_PLAIN_SQLITE
    if (key.size() != 32) return fail(SyncError::Invalid, "data key must be 32 bytes");
    const crypto::SecretBytes rawKey = rawKeyLiteral(key);  // SQLite copies the binding
    attach->bind(2, std::string_view(reinterpret_cast<const char*>(rawKey.data()), rawKey.size()));
#else
    (void)key;
    attach->bind(2, std::string());
#endif
    XS_TRY(attach->run());
    attach.value().reset();
    {
        // One transaction: the copy is one snapshot of the file, which it only reads (deferred: an
        // immediate one would take the file's write lock too, and wait behind any writer).
        auto tx = Transaction::beginDeferred(db);
        if (!tx) return tx.error();
        auto schema = db.prepare("SELECT type, name, sql FROM src.sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
                                 " ORDER BY type = 'table' DESC");
        if (!schema) return schema.error();
        std::vector<std::pair<std::string, std::string>> objects;  // (type, name) in creation order
        std::vector<std::string> creates;
        for (;;) {
            auto row = schema->step();
            if (!row) return row.error();
            if (!*row) break;
            objects.emplace_back(schema->text(0), schema->text(1));
            creates.push_back(schema->text(2));
        }
        schema.value().reset();
        for (const auto& sql : creates) XS_TRY(db.exec(sql.c_str()));  // unqualified: into main
        for (const auto& [type, name] : objects) {
            if (type != "table") continue;
            std::string quoted = "\"" + name + "\"";  // names come from the schema, not from input
            XS_TRY(db.exec(("INSERT INTO main." + quoted + " SELECT * FROM src." + quoted).c_str()));
        }
        XS_TRY(tx->commit());
    }
    XS_TRY(db.exec("DETACH DATABASE src"));
    XS_TRY(db.exec("PRAGMA foreign_keys = ON"));
    return db;
}

Db::Db() = default;
Db::Db(sqlite3* db) : m_db(db), m_cache(std::make_unique<Stmt::Cache>()) {}
Db::~Db() { close(); }
Db::Db(Db&& other) noexcept : m_db(std::exchange(other.m_db, nullptr)), m_cache(std::move(other.m_cache)) {}
Db& Db::operator=(Db&& other) noexcept {
    if (this != &other) {
        close();
        m_db = std::exchange(other.m_db, nullptr);
        m_cache = std::move(other.m_cache);
    }
    return *this;
}

void Db::close() {
    m_cache.reset();  // finalizes idle statements
    if (m_db) {
        sqlite3_close_v2(m_db);
        m_db = nullptr;
    }
}

SStatus Db::exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(m_db, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errmsg(m_db);
        sqlite3_free(err);
        return errorFor(rc, m_db, "SQL failed: " + msg);
    }
    return {};
}

SResult<Stmt> Db::prepare(const char* sql) {
    std::string key(sql);
    if (m_cache) {
        auto it = m_cache->idle.find(key);
        if (it != m_cache->idle.end()) {
            sqlite3_stmt* stmt = it->second;
            m_cache->idle.erase(it);
            return Stmt(m_db, stmt, m_cache.get(), std::move(key));
        }
    }
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(m_db, sql, -1, &stmt, nullptr) != SQLITE_OK) return dbError(m_db, "prepare failed");
    return Stmt(m_db, stmt, m_cache.get(), std::move(key));
}

std::int64_t Db::changes() const { return sqlite3_changes(m_db); }
bool Db::inTransaction() const { return m_db && sqlite3_get_autocommit(m_db) == 0; }

bool Db::encrypted() {
#ifdef XS_PLAIN_SQLITE
    return false;
#else
    return true;
#endif
}

SResult<Transaction> Transaction::begin(Db& db) {
    XS_TRY(db.exec("BEGIN IMMEDIATE"));
    return Transaction(&db);
}
SResult<Transaction> Transaction::beginDeferred(Db& db) {
    XS_TRY(db.exec("BEGIN"));
    return Transaction(&db);
}
SResult<std::optional<Transaction>> Transaction::beginUnlessOpen(Db& db) {
    if (db.inTransaction()) return std::optional<Transaction>();
    auto tx = begin(db);
    if (!tx) return tx.error();
    return std::optional<Transaction>(std::move(*tx));
}
Transaction::~Transaction() {
    if (m_db) (void)m_db->exec("ROLLBACK");
}
Transaction::Transaction(Transaction&& other) noexcept : m_db(std::exchange(other.m_db, nullptr)) {}
SStatus Transaction::commit() {
    Db* db = std::exchange(m_db, nullptr);
    auto s = db->exec("COMMIT");
    if (!s) (void)db->exec("ROLLBACK");
    return s;
}

SResult<ReadSnapshot> ReadSnapshot::begin(Db& db) {
    if (db.inTransaction()) return fail(SyncError::Database, "a read snapshot cannot start inside a transaction");
    XS_TRY(db.exec("BEGIN"));
    ReadSnapshot snap(&db);
    XS_TRY(db.exec("SELECT count(*) FROM sqlite_master"));  // the snapshot starts at this read
    return snap;
}
ReadSnapshot::~ReadSnapshot() {
    if (m_db) (void)m_db->exec("ROLLBACK");
}
ReadSnapshot::ReadSnapshot(ReadSnapshot&& other) noexcept : m_db(std::exchange(other.m_db, nullptr)) {}

SResult<Savepoint> Savepoint::begin(Db& db) {
    if (!db.inTransaction()) return fail(SyncError::Database, "a savepoint needs an open transaction");
    XS_TRY(db.exec("SAVEPOINT xs_sp"));
    return Savepoint(&db);
}
Savepoint::~Savepoint() { (void)rollback(); }
Savepoint::Savepoint(Savepoint&& other) noexcept : m_db(std::exchange(other.m_db, nullptr)) {}
SStatus Savepoint::release() {
    Db* db = std::exchange(m_db, nullptr);
    if (!db) return {};
    return db->exec("RELEASE xs_sp");
}
SStatus Savepoint::rollback() {
    Db* db = std::exchange(m_db, nullptr);
    if (!db) return {};
    XS_TRY(db->exec("ROLLBACK TO xs_sp"));
    return db->exec("RELEASE xs_sp");
}

}  // namespace xs::sync
