// Small POSIX file helpers with durability: atomic replace (write temp, fsync, rename, fsync dir);
// WriteBehind and ReadAhead, which write and read large files from background threads; HashBehind,
// which hashes a stream on one.
//
// WriteBehind and ReadAhead bypass the page cache (O_DIRECT) and write in large requests (huge-page
// blocks, pwritev batches); where O_DIRECT is refused they fall back to ordinary buffered I/O. This
// was measured against a plain path (buffered write(2) from one writer thread that fsyncs at each
// commit, buffered reads) on bench_handover: the plain path took 2.1-3.3x the wall time, export and
// import, cold and warm (docs/BENCHMARKS.md, "file_io: tuned vs plain"). That is one 2-core VM whose
// page-cache copies are unusually expensive; a laptop writing to a USB stick was not measured.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "sync/error.h"

namespace xs::sync {

// Reads a whole file; refuses files larger than maxBytes (outside input stays bounded).
SResult<crypto::Bytes> readFile(const std::filesystem::path& path, std::size_t maxBytes);
// Writes path atomically and durably: a crash leaves either the old or the new content.
SStatus writeFileAtomic(const std::filesystem::path& path, crypto::ByteView data);
SStatus fsyncDir(const std::filesystem::path& dir);
// Lowercase hex SHA-256 of a file's bytes, read in 1 MiB pieces.
SResult<std::string> sha256OfFile(const std::filesystem::path& path);

// Removes the temporary files ("." prefix ... ".tmp", as TempFile names them) in `dir` that no
// live process is writing: a TempFile holds an flock on its file while open, so a file whose lock
// can be taken was left by a writer that died. Safe while other processes write beside it.
// Returns how many it removed.
SResult<std::size_t> removeOrphanTempFiles(const std::filesystem::path& dir, const std::string& prefix = "");

class WriteBehind;

// A file being written by fd; removed on destruction unless committed by rename. Owns the fd and
// the file until committed. Not thread-safe: one thread writes it.
class TempFile {
public:
    // With a WriteBehind, write() only fills its blocks (its thread writes them) and commitAs()
    // only queues the commit: the file is durable and in place once writeBehind->sync() has
    // succeeded, and not before. The WriteBehind must outlive the TempFile.
    static SResult<TempFile> create(const std::filesystem::path& dir, const std::string& prefix,
                                    WriteBehind* writeBehind = nullptr);
    ~TempFile();
    TempFile(TempFile&& other) noexcept;
    TempFile& operator=(TempFile&&) = delete;
    SStatus write(crypto::ByteView data);
    SStatus sync();                                           // fsync (Invalid with a WriteBehind)
    SStatus commitAs(const std::filesystem::path& target);   // fsync, close, rename, fsync dir
    const std::filesystem::path& path() const { return m_path; }
    // commitAs renamed the file into place (true even if the folder's fsync then failed).
    bool renamed() const { return m_renamed; }
private:
    TempFile(int fd, std::filesystem::path path, WriteBehind* wb) : m_fd(fd), m_path(std::move(path)), m_wb(wb) {}
    int m_fd = -1;
    std::filesystem::path m_path;
    WriteBehind* m_wb = nullptr;
    std::uint8_t* m_block = nullptr;  // the WriteBehind block being filled
    std::size_t m_fill = 0;
    std::uint64_t m_offset = 0;       // file offset of m_block
    bool m_renamed = false;
};

// Writes files front to back from background threads, so that the caller's thread goes on
// encrypting meanwhile. TempFiles created with it hand over whole blocks (1 MiB, 8 of them at
// most: write() waits while all are queued), which the writer thread writes with O_DIRECT where
// the filesystem allows it (the last partial block of a file goes through the page cache). Blocks
// queued back to back for one file go out in one pwritev of up to kMaxBatch blocks; the blocks
// sit in one region of 2 MiB transparent huge pages where the kernel grants them, so that a 4 MiB
// batch is one disk request rather than several (a virtio disk takes at most 254 pieces of memory
// per request). A commit writes the rest of the file and hands it to the syncer thread, which
// fsyncs it and only then renames it into place; files committed while the syncer is busy are
// fsynced together, then renamed (one journal commit serves the group, and the writer is not held
// up by it). Directories are fsynced once each, in sync(). The first error is sticky and comes
// back from later writes and from sync(); after it nothing more is renamed into place.
// On bench_handover's VM, O_DIRECT alone (4 KiB-page blocks, no batching, no syncer) took 2.1x
// this path's time on export and 1.2x on import with cold input; buffered writes 2.1-3.3x.
// Ownership: the blocks are this object's; TempFiles created with it must go before it. Not
// thread-safe: one producer thread.
class WriteBehind {
public:
    static constexpr std::size_t kBlockSize = std::size_t{1} << 20;
    static constexpr std::size_t kBlocks = 8;
    static constexpr std::size_t kMaxBatch = 4;

    static SResult<std::unique_ptr<WriteBehind>> start();
    // Stops the threads. Temp files not yet renamed into place are removed; renamed ones stay.
    ~WriteBehind();
    WriteBehind(const WriteBehind&) = delete;
    WriteBehind& operator=(const WriteBehind&) = delete;

    // A directory for sync() to fsync too (one where the caller created an entry).
    void syncDirLater(const std::filesystem::path& dir);
    // Waits until every queued write and commit is done (files fsynced and renamed), then fsyncs
    // each directory a commit renamed into (and those given to syncDirLater) once. Ok only if
    // everything succeeded.
    SStatus sync();

private:
    friend class TempFile;
    struct Job {
        enum Kind { Write, Commit, Discard, Barrier } kind = Write;
        int fd = -1;
        std::uint64_t offset = 0;
        std::uint8_t* block = nullptr;  // returned to the pool once done
        std::size_t size = 0;
        std::filesystem::path path;    // the temp file
        std::filesystem::path target;  // Commit
    };
    struct Written {  // committed, waiting for its fsync and rename
        int fd;
        std::filesystem::path path, target;
    };
    WriteBehind() = default;
    SResult<std::uint8_t*> takeBlock();
    SStatus push(Job job);
    void runWriter();
    void runSyncer();
    void execute(Job& job);
    void writeBatch(std::vector<Job>& batch);
    void writeAt(int fd, const std::uint8_t* data, std::size_t size, std::uint64_t offset, const std::filesystem::path& path);
    void syncGroup(std::vector<Written>& group);
    void setError(Error<SyncError> e);
    void dropJob(Job& job);

    std::thread m_writer;
    std::thread m_syncer;
    std::mutex m_mutex;
    std::condition_variable m_wake;      // the writer: a job, or stop
    std::condition_variable m_syncWake;  // the syncer: files to sync, or the writer is gone
    std::condition_variable m_done;      // a free block, a barrier passed, room or quiet at the syncer
    std::deque<Job> m_jobs;
    std::vector<std::uint8_t*> m_free;
    std::vector<std::unique_ptr<std::uint8_t, void (*)(void*)>> m_storage;
    std::vector<Written> m_toSync;
    bool m_syncing = false;  // the syncer is working on a group
    std::set<std::filesystem::path> m_dirs;
    std::optional<Error<SyncError>> m_error;
    std::uint64_t m_barriersDone = 0;
    std::uint64_t m_barriersAsked = 0;
    bool m_writerGone = false;
    std::atomic<bool> m_stop{false};
    std::atomic<bool> m_failed{false};  // m_error is set (read by the threads without the lock)
};

// Reads one file, or a list of files one after another, front to back from a background thread,
// so that the caller's thread only processes them: at most kBlocks blocks of kBlockSize (4 MiB)
// in flight, in the same kind of huge-page region as WriteBehind's. A file not (mostly) in the
// page cache is read with O_DIRECT where the filesystem allows it: input read once needs no page
// cache, and filling the page cache costs CPU that export and import need for their ciphers (the
// measurements are WriteBehind's above: reads and writes were compared together). A file whose
// first 64 MiB are at least half in the page cache (just copied from a USB stick, say) is read
// through it, with POSIX_FADV_SEQUENTIAL. Ownership: the blocks are this object's; a piece from
// next() is valid until the next call. Not thread-safe: one consumer thread.
class ReadAhead {
public:
    static constexpr std::size_t kBlockSize = std::size_t{1} << 20;
    static constexpr std::size_t kBlocks = 4;

    // fd: open for reading, at the start of the file (or a pipe), owned by the caller, which keeps
    // it open until this goes (its O_DIRECT flag may change). path: for messages.
    static SResult<std::unique_ptr<ReadAhead>> start(int fd, const std::filesystem::path& path);
    // The files at `paths`, in this order, each opened (and closed) by the thread as it gets to it.
    static SResult<std::unique_ptr<ReadAhead>> startFiles(std::vector<std::filesystem::path> paths);
    ~ReadAhead();  // stops the thread (mid-file is fine)
    ReadAhead(const ReadAhead&) = delete;
    ReadAhead& operator=(const ReadAhead&) = delete;

    // The next bytes of the file (valid until the next call), empty at its end; with startFiles,
    // the next call after that gives the next file's first bytes. Errors: Io on a read error,
    // NotFound for a listed file that does not exist (after the bytes of the files before it).
    SResult<crypto::ByteView> next();

private:
    struct Piece {
        std::uint8_t* block;  // nullptr: the end of one of the listed files
        std::size_t size;
    };
    ReadAhead() = default;
    SStatus launch();  // the blocks and the thread
    void run();
    void readAll();
    bool readOne(int fd, const std::filesystem::path& path);  // false: stop (error or asked to)

    int m_fd = -1;
    std::filesystem::path m_path;
    std::vector<std::filesystem::path> m_paths;  // startFiles
    std::thread m_thread;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::vector<std::uint8_t*> m_free;
    std::deque<Piece> m_full;  // in order
    std::vector<std::unique_ptr<std::uint8_t, void (*)(void*)>> m_storage;
    std::uint8_t* m_current = nullptr;  // the consumer's
    std::optional<Error<SyncError>> m_error;
    bool m_end = false;
    bool m_stop = false;
};

// SHA-256 of a stream on a thread of its own, for a caller whose thread has other work per byte
// (sealing or opening evidence) while a core is free: update() copies the bytes into one of
// kBlocks blocks of kBlockSize and returns at once unless all are queued; finish() waits until
// everything queued is hashed and gives the digest of everything passed to update() since the
// last finish(). The same object then hashes the next stream, on the same thread and blocks (a
// handover of 533 files starts one thread and maps its blocks once, not 533 times). The bytes a
// stream left in the blocks are wiped by finish(), all blocks when this goes (they held evidence
// plaintext). If no thread can be started, update() hashes in place: slower, same digest. Not
// thread-safe: one producer.
class HashBehind {
public:
    static constexpr std::size_t kBlockSize = std::size_t{256} << 10;
    static constexpr std::size_t kBlocks = 4;

    HashBehind();
    ~HashBehind();  // stops and joins the thread
    HashBehind(const HashBehind&) = delete;
    HashBehind& operator=(const HashBehind&) = delete;

    void update(crypto::ByteView data);
    crypto::Digest finish();  // the digest; update() then starts the next stream

private:
    struct Piece {
        std::uint8_t* block;
        std::size_t size;
    };
    void run();
    void handOver();  // queues m_current (m_fill bytes)

    crypto::Sha256 m_sha;  // the thread's until it is joined
    std::thread m_thread;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::vector<std::uint8_t*> m_free;
    std::deque<Piece> m_full;  // in order
    std::vector<std::unique_ptr<std::uint8_t[]>> m_storage;
    std::vector<std::size_t> m_dirty;  // per block of m_storage: bytes written since the last wipe (producer's)
    std::uint8_t* m_current = nullptr;  // the producer's, being filled
    std::size_t m_fill = 0;
    bool m_end = false;
    bool m_inline = false;  // no thread: hash in update()
};

}  // namespace xs::sync
