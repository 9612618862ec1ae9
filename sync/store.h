// A person's encrypted local store: a directory holding
//   keyfile.json   the wrapped data key (sync/keyfile.h)
//   store.db       SQLCipher database keyed with the data key (+ -wal, -shm)
//   evidence/      STREAM-encrypted evidence files (sync/evidence.h)
//   lockout.json   consecutive failed unlocks (only while there are some)
// The data key lives only inside an open Store and is wiped by lock() or destruction.
// A Store is used from one thread at a time.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "crypto/kdf.h"
#include "sync/db.h"
#include "sync/evidence.h"

namespace xs::sync {

// A schema step, applied once in order inside a transaction. `module` namespaces the versions
// so that sync/ and app/ evolve their tables independently.
struct Migration {
    std::string module;
    int version;
    const char* sql;
};

// How long the last successful open() spent deriving the passphrase key (for the benchmark's
// "open excluding KDF" figure) and in total.
struct OpenTimings {
    double kdfMs = 0;
    double totalMs = 0;
};

class Store {
public:
    static constexpr const char* kDbFile = "store.db";
    static constexpr const char* kKeyFile = "keyfile.json";
    static constexpr const char* kEvidenceDir = "evidence";
    static constexpr const char* kLockoutFile = "lockout.json";
    // Held shared (flock) by every open connection; the first to open the store alone takes it
    // exclusively for a moment and removes what a crash left: temporary files and evidence files
    // no record names.
    static constexpr const char* kLockFile = "store.lock";

    // Creates a new store in an empty or missing directory. AlreadyExists if one is there.
    static SResult<std::unique_ptr<Store>> create(const std::filesystem::path& dir, std::string_view passphrase,
                                                  const crypto::Argon2Params& kdf);
    // Opens an existing store. A wrong passphrase touches nothing but lockout.json and waits
    // longer after each consecutive failure (0.25 s doubling, at most 30 s); WrongPassphrase.
    static SResult<std::unique_ptr<Store>> open(const std::filesystem::path& dir, std::string_view passphrase);
    static bool exists(const std::filesystem::path& dir);
    // Another connection to this open store, with its data key (no passphrase, no KDF): for work
    // on another thread (each connection is used by one thread at a time). Invalid when locked.
    SResult<std::unique_ptr<Store>> openAnother() const;
    // An in-memory copy of the database (Db::memoryCopyOf) as a store of its own, for work that
    // changes it to throw away (verify's replay): no evidence, no files, no lock.
    SResult<std::unique_ptr<Store>> memoryCopy() const;

    // Applies every migration not yet applied (sync's own first, then `extra`).
    SStatus migrate(const std::vector<Migration>& extra);

    // Changes the passphrase: re-wraps the same data key; the database is not re-encrypted. On
    // failure the old key file is put back where the new one had already replaced it; the error
    // says which passphrase opens the store when even that failed.
    SStatus rekey(std::string_view newPassphrase, const crypto::Argon2Params& kdf);

    // Drops keys from memory and closes the database.
    void lock();

    Db& db() { return m_db; }
    EvidenceStore& evidence() { return *m_evidence; }
    const std::string& storeId() const { return m_storeId; }
    const std::filesystem::path& dir() const { return m_dir; }
    const crypto::Argon2Params& kdfParams() const { return m_kdf; }
    const OpenTimings& openTimings() const { return m_timings; }

    // Meta key/value table (device id, clocks, owner).
    SResult<std::string> meta(const std::string& key);  // NotFound when absent
    SStatus setMeta(const std::string& key, const std::string& value);

    // ---- evidence scopes and the files this store holds (sync/evidence.h)
    // The scope's key, made (randomly) on first use unless `create` is false (then NotFound).
    // Gone for good after destroyEvidenceScope.
    SResult<EvidenceScope> evidenceScope(const std::string& name, bool create = true);
    // A new random key for a scope that has none yet, not stored: saveEvidenceScope stores it
    // (inside the transaction that also records its first files). Forbidden for a shredded scope.
    SResult<EvidenceScope> newEvidenceScope(const std::string& name);
    SStatus saveEvidenceScope(const EvidenceScope& scope);
    // Records a file of the scope as held here (inside the caller's transaction).
    SStatus recordEvidence(const std::string& scope, const std::string& hash, std::uint64_t size);
    struct EvidenceEntry {
        std::int64_t seq = 0;  // arrival order in this store
        std::string scope;
        std::string hash;
        std::uint64_t size = 0;
        bool shredded = false;  // removed on purpose (handover confirm)
    };
    // The scope's files in arrival order (all scopes when empty), shredded ones included.
    SResult<std::vector<EvidenceEntry>> evidenceEntries(const std::string& scope = {});
    SResult<std::optional<EvidenceEntry>> evidenceEntry(const std::string& scope, const std::string& hash);
    // Marks one file shredded (inside the caller's transaction; the scope's key stays). The file
    // itself is removed with removeShreddedFiles once that transaction has committed.
    SStatus markEvidenceShredded(const std::string& scope, const std::string& hash);
    // Destroys the scope's key and marks its remaining files shredded (inside the caller's
    // transaction): what is left of them on disk opens with nothing. Returns the files marked.
    SResult<std::size_t> destroyEvidenceScope(const std::string& scope);
    // Removes the files of shredded entries that are still on disk. Returns how many.
    SResult<std::size_t> removeShreddedFiles();
    // Forgets the scope's shredded entries whose files are gone (not even their hashes stay).
    // Entries whose file is still on disk are kept, so removeShreddedFiles can finish later.
    SStatus forgetShreddedEvidence(const std::string& scope);
    // Finishes what a shredding interrupted after its commit (a crash, a kill): removes the
    // shredded files still on disk and forgets the entries of every destroyed scope. Returns how
    // many files it removed.
    SResult<std::size_t> finishShredding();
    // Copies the write-ahead log into the database and truncates it. False when another
    // connection kept it from finishing (the log then still holds what it held).
    SResult<bool> checkpoint();

    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

private:
    Store() = default;
    // Takes the store lock (shared); alone, first cleans up after a crash.
    SStatus lockAndCleanUp();
    // (scope, hash) of the evidence_files rows `sql` selects.
    SResult<std::vector<std::pair<std::string, std::string>>> evidencePairs(const char* sql);
    // The rest of open once the data key is known: database, migrations, evidence.
    static SResult<std::unique_ptr<Store>> openWithKey(const std::filesystem::path& dir, std::string storeId,
                                                       const crypto::Argon2Params& kdf, crypto::SecretBytes key);
    std::filesystem::path m_dir;
    std::string m_storeId;
    crypto::Argon2Params m_kdf;
    OpenTimings m_timings;
    crypto::SecretBytes m_dataKey;
    Db m_db;
    std::unique_ptr<EvidenceStore> m_evidence;
    int m_lockFd = -1;
};

// Test seam: replaces the sleep between failed unlocks (default: std::this_thread::sleep_for).
void setUnlockSleeper(std::function<void(double seconds)> sleeper);
double unlockDelaySeconds(int failures);

}  // namespace xs::sync
