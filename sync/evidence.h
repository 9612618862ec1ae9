// Evidence files (photos, PDFs, spreadsheets) beside the database, each encrypted as a STREAM
// (ChaCha20-Poly1305, 64 KiB chunks, per-file key) and addressed by the SHA-256 of its plaintext
// within a scope (an inspection). Each scope has its own random key (EvidenceScope), kept in the
// encrypted database and destroyed when the scope is shredded: the files of a shredded scope open
// with nothing the device holds, its data key included. On disk a file is named by HMAC(name key,
// scope || hash), so the directory listing does not reveal which known documents are present.
// Identical content is stored once per scope. Format: docs/FORMATS.md.
// Not thread-safe; one EvidenceStore per open Store.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "crypto/bytes.h"
#include "sync/error.h"

namespace xs::sync {

struct EvidenceInfo {
    std::string hash;  // lowercase hex SHA-256 of the plaintext
    std::uint64_t size = 0;
    bool deduplicated = false;  // content was already present
};

class EvidenceStore;
class HashBehind;

// A scope's name and its 32-byte key (Store::evidenceScope).
struct EvidenceScope {
    std::string name;
    crypto::SecretBytes key;
};
class WriteBehind;

// Streams one evidence file into the store: write() any number of times, then finish() returns
// its hash (deduplicated against existing content). Destroyed unfinished, nothing is left.
class EvidenceWriter {
public:
    ~EvidenceWriter();
    EvidenceWriter(EvidenceWriter&&) noexcept;
    EvidenceWriter& operator=(EvidenceWriter&&) = delete;
    SStatus write(crypto::ByteView data);
    SResult<EvidenceInfo> finish();
    struct Impl;  // opaque
private:
    friend class EvidenceStore;
    EvidenceWriter();
    std::unique_ptr<Impl> m_impl;
};

// Reads evidence files in an order given up front (handover export) with one read-ahead thread:
// the disk reads the next files while the caller opens this one. Made by readSequence().
class EvidenceSequence {
public:
    ~EvidenceSequence();
    EvidenceSequence(EvidenceSequence&&) noexcept;
    EvidenceSequence& operator=(EvidenceSequence&&) = delete;
    // As EvidenceStore::read, for the next hash of the list (Invalid for any other, and for
    // anything after a failure: the files after it are not read).
    SStatus read(const std::string& hash, const std::function<SStatus(crypto::ByteView)>& sink);
private:
    friend class EvidenceStore;
    EvidenceSequence();
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// An evidence file as it travels through the sync server: the stored bytes verbatim (they are
// ciphertext), their SHA-256 (the server's content address) and the file key that opens them,
// which travels only inside the attachment op, under the team channel's encryption.
struct EvidenceBlob {
    std::string id;  // lowercase hex SHA-256 of the stored file
    std::uint64_t size = 0;
    crypto::SecretBytes fileKey;
    std::filesystem::path path;  // the stored file (read it, never write it)
};

class EvidenceStore {
public:
    // dir: <store>/evidence. dataKey: the store's data key; the name key is derived, the key not kept.
    static SResult<EvidenceStore> open(const std::filesystem::path& dir, const crypto::SecretBytes& dataKey);

    // Encrypts the file at `source` into the scope (streaming; any size).
    SResult<EvidenceInfo> add(const EvidenceScope& scope, const std::filesystem::path& source);
    // With a WriteBehind (many files in a row: handover import), the file is written by its threads
    // and finish() only queues the commit: the file is durable and in place once
    // writeBehind->sync() has succeeded, and must not be referenced before. The directory syncs
    // are left to that sync() too (once per directory instead of twice per file).
    SResult<EvidenceWriter> writer(const EvidenceScope& scope, WriteBehind* writeBehind = nullptr);
    // Decrypts to `target` atomically; Corrupt if the content does not authenticate or hash.
    SStatus exportTo(const EvidenceScope& scope, const std::string& hash, const std::filesystem::path& target);
    // Decrypts and discards, checking chunk tags and the content hash.
    SStatus verify(const EvidenceScope& scope, const std::string& hash);
    // Streams the plaintext to `sink` after each chunk authenticates; hash checked at the end.
    SStatus read(const EvidenceScope& scope, const std::string& hash, const std::function<SStatus(crypto::ByteView)>& sink);
    // The files of `hashes`, to be read in this order (each hash once).
    SResult<EvidenceSequence> readSequence(const EvidenceScope& scope, const std::vector<std::string>& hashes);
    // The stored file of `hash` as a blob (reads it once to hash it).
    SResult<EvidenceBlob> blobOf(const EvidenceScope& scope, const std::string& hash);
    // Opens a downloaded blob with its file key and stores its content in `scope` (re-encrypted
    // under the scope's key); Corrupt, with nothing stored, unless it opens as the content of `hash`.
    SResult<EvidenceInfo> addFromBlob(const EvidenceScope& scope, const std::string& hash,
                                      const std::filesystem::path& blobFile, const crypto::SecretBytes& blobKey);
    bool contains(const std::string& scope, const std::string& hash) const;
    SStatus remove(const std::string& scope, const std::string& hash);
    // Removes the files under the folder that hold none of `held` (scope, hash): what a writer
    // killed between placing a file and committing its record left behind. Only while no other
    // connection has the store open (Store::open sees to that). Returns how many it removed.
    SResult<std::size_t> removeFilesOtherThan(const std::vector<std::pair<std::string, std::string>>& held);
    std::filesystem::path pathFor(const std::string& scope, const std::string& hash) const;

private:
    friend class EvidenceWriter;
    friend class EvidenceSequence;
    EvidenceStore() = default;
    std::shared_ptr<HashBehind> takeHasher();
    // Opens the stored file of `hash` from its bytes as `nextBytes` gives them (empty: the end).
    SStatus decode(const EvidenceScope& scope, const std::string& hash,
                   const std::function<SResult<crypto::ByteView>()>& nextBytes,
                   const std::function<SStatus(crypto::ByteView)>& sink);
    // As decode, with the file key given by `keyFor` from the file's header.
    SStatus decodeWith(const std::function<SResult<crypto::SecretBytes>(crypto::ByteView header)>& keyFor,
                       const std::string& hash, const std::function<SResult<crypto::ByteView>()>& nextBytes,
                       const std::function<SStatus(crypto::ByteView)>& sink);
    std::filesystem::path m_dir;
    std::shared_ptr<HashBehind> m_spareHasher;  // reused from one file to the next (a thread and 1 MiB)
    crypto::SecretBytes m_nameKey;     // names files (derived from the data key)
};

}  // namespace xs::sync
