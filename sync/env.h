// The operating-system seam (after leveldb's Env): every file the store, its evidence, its exports
// and the handover write — creation, writes, fsync, rename, removal, truncation, through our own
// helpers and through SQLite (a VFS that wraps the system one) — passes Env::beforeFileOp, and the
// wall clock and the random numbers of this process come from Env::nowMs and Env::random. The
// process has one Env, the system's unless a ScopedEnv replaces it; tests replace it with a
// fault-injecting twin (tests/sync/fault_env.h) to fail a chosen operation with ENOSPC or EIO, cut
// a write short, fail an fsync, or end the process at that point (a crash).
//
// A seam, not a virtual file system: the real system call still does the work; the Env decides
// before it whether it happens and how many bytes it may write. Reads are not faulted (a failed
// read is an error the caller already reports). OpenSSL's key generation draws from its own
// generator, not from here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "sync/error.h"

namespace xs::sync {

enum class FileOp { Create, Write, Sync, Rename, Remove, Truncate };
const char* toString(FileOp op);

class Env {
public:
    virtual ~Env() = default;
    // Before `op` on `path` (for Rename: the source). 0 lets it happen; an errno value fails it
    // with that error. For Write, `*bytes` holds the size asked for and may be lowered: a short
    // write. May end the process (a crash point). Called from any thread.
    virtual int beforeFileOp(FileOp op, const std::string& path, std::size_t* bytes);
    virtual std::int64_t nowMs() const;                      // Unix milliseconds
    virtual bool random(std::uint8_t* out, std::size_t size);  // false: the generator failed
};

// The process's Env.
Env& env();
// Unix milliseconds now, by env().
inline std::int64_t wallClockMs() { return env().nowMs(); }

// Makes `e` the process's Env until this goes (nests). Not while other threads use files.
class ScopedEnv {
public:
    explicit ScopedEnv(Env& e);
    ~ScopedEnv();
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;
private:
    Env* m_previous;
};

// POSIX calls through env(): -1 with errno set when the Env refuses (or the call fails).
int envCreate(const std::string& path, int flags, unsigned mode);  // open(2) with O_CREAT
long envWrite(int fd, const void* data, std::size_t size, const std::string& path);
long envPwrite(int fd, const void* data, std::size_t size, std::int64_t offset, const std::string& path);
int envFsync(int fd, const std::string& path);
int envRename(const std::string& from, const std::string& to);
int envUnlink(const std::string& path);

// The name of the SQLite VFS that routes the store's database files through env() (registered on
// first use; Db::open opens every database with it).
const char* envVfsName();

}  // namespace xs::sync
