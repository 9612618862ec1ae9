// A thin RAII layer over SQLCipher (or plain SQLite when built with XS_PLAIN_SQLITE, for the
// benchmark's comparison binary only). SQL text is always a literal in the code; values are bound.
// A Db is used from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>
#include <string_view>
#include "crypto/bytes.h"
#include "sync/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace xs::sync {

class Stmt {
public:
    Stmt() = default;
    ~Stmt();
    Stmt(Stmt&& other) noexcept;
    Stmt& operator=(Stmt&& other) noexcept;
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    // Parameters are 1-based, as in SQLite.
    Stmt& bind(int index, std::string_view text);
    Stmt& bind(int index, std::int64_t value);
    Stmt& bindBlob(int index, crypto::ByteView blob);
    Stmt& bindNull(int index);

    SResult<bool> step();  // true: a row is ready; false: done
    SStatus run();         // step to completion, expecting no rows
    // Steps to completion, appending column 0 of every row as text to `out`; then resets.
    SStatus collectTexts(std::vector<std::string>& out);
    void reset();

    std::string text(int column) const;
    std::int64_t int64(int column) const;
    crypto::Bytes blob(int column) const;
    crypto::SecretBytes secretBlob(int column) const;  // straight into wiping memory
    bool isNull(int column) const;
    int columnCount() const;
    int columnType(int column) const;  // SQLITE_INTEGER=1 .. SQLITE_NULL=5

private:
    SStatus collectTexts(std::vector<std::string>* out);  // run() and collectTexts(): step to the end
    friend class Db;
    struct Cache;
    Stmt(sqlite3* db, sqlite3_stmt* stmt, Cache* cache, std::string sql)
        : m_db(db), m_stmt(stmt), m_cache(cache), m_sql(std::move(sql)) {}
    void release();
    sqlite3* m_db = nullptr;
    sqlite3_stmt* m_stmt = nullptr;
    Cache* m_cache = nullptr;  // where the prepared statement returns when this Stmt is done
    std::string m_sql;
};

struct DbOptions {
    bool create = false;     // create the file if missing (else NotFound)
    bool durable = true;     // synchronous=FULL (captures); NORMAL otherwise
};

class Db {
public:
    // key: the 32-byte data key, applied as a raw SQLCipher key. Ignored by the plain build.
    static SResult<Db> open(const std::string& path, crypto::ByteView key, const DbOptions& options);
    // An in-memory copy of the database at `path` (every table and index, one consistent
    // snapshot), read under a read lock only: writers of the file never wait for it. Its pages
    // are plaintext in this process's memory (zeroed when freed) and never touch the disk.
    static SResult<Db> memoryCopyOf(const std::string& path, crypto::ByteView key);
    Db();
    ~Db();
    Db(Db&& other) noexcept;
    Db& operator=(Db&& other) noexcept;
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    SStatus exec(const char* sql);
    // Prepared statements are cached by SQL text and reused (reset, bindings cleared) once the
    // returned Stmt is destroyed; the same SQL may be prepared again while one is in use.
    SResult<Stmt> prepare(const char* sql);
    std::int64_t changes() const;
    void close();
    bool isOpen() const { return m_db != nullptr; }
    static bool encrypted();  // false in the plain-SQLite build
    bool inTransaction() const;  // a BEGIN is open on this connection

private:
    explicit Db(sqlite3* db);
    sqlite3* m_db = nullptr;
    std::unique_ptr<Stmt::Cache> m_cache;  // heap-held so Stmts keep a stable pointer across moves
};

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted.
class Transaction {
public:
    static SResult<Transaction> begin(Db& db);
    // BEGIN (deferred): each database's lock is taken when the transaction first uses it, so a
    // database it only reads (an attached file) is held by a read lock and never waits for a writer.
    static SResult<Transaction> beginDeferred(Db& db);
    // Begins one unless the connection is already inside a transaction (the caller's): then the
    // caller commits or rolls back, and this returns an empty optional.
    static SResult<std::optional<Transaction>> beginUnlessOpen(Db& db);
    ~Transaction();
    Transaction(Transaction&& other) noexcept;
    Transaction& operator=(Transaction&&) = delete;
    SStatus commit();
private:
    explicit Transaction(Db* db) : m_db(db) {}
    Db* m_db = nullptr;
};

// A consistent view for a run of reads, taking no lock that blocks writers: BEGIN (deferred),
// pinned by a first read, ROLLBACK when destroyed. In WAL mode every statement inside sees the
// store as of that read, whatever other connections commit meanwhile. Write nothing through it.
class ReadSnapshot {
public:
    static SResult<ReadSnapshot> begin(Db& db);
    ~ReadSnapshot();
    ReadSnapshot(ReadSnapshot&& other) noexcept;
    ReadSnapshot& operator=(ReadSnapshot&&) = delete;
private:
    explicit ReadSnapshot(Db* db) : m_db(db) {}
    Db* m_db = nullptr;
};

// SAVEPOINT inside an open transaction: release() keeps its writes, rollback() (or destruction
// unreleased) undoes them and leaves the transaction open.
class Savepoint {
public:
    static SResult<Savepoint> begin(Db& db);
    ~Savepoint();
    Savepoint(Savepoint&& other) noexcept;
    Savepoint& operator=(Savepoint&&) = delete;
    SStatus release();
    SStatus rollback();
private:
    explicit Savepoint(Db* db) : m_db(db) {}
    Db* m_db = nullptr;
};

}  // namespace xs::sync
