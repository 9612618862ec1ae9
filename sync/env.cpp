#include "sync/env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <algorithm>
#include <cstdlib>
#include <mutex>

#include <openssl/crypto.h>

#include "crypto/random.h"

#ifdef XS_PLAIN_SQLITE
#include <sqlite3.h>
#else
#define SQLITE_HAS_CODEC 1
#include <sqlcipher/sqlite3.h>
#endif

namespace xs::sync {

const char* toString(FileOp op) {
    switch (op) {
        case FileOp::Create: return "create";
        case FileOp::Write: return "write";
        case FileOp::Sync: return "sync";
        case FileOp::Rename: return "rename";
        case FileOp::Remove: return "remove";
        case FileOp::Truncate: return "truncate";
    }
    return "?";
}

int Env::beforeFileOp(FileOp, const std::string&, std::size_t*) { return 0; }

std::int64_t Env::nowMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

bool Env::random(std::uint8_t* out, std::size_t size) { return crypto::systemRandomFill(out, size).ok(); }

namespace {

// Never destroyed: SQLite may write (a connection closed by a static's destructor) after every
// function-local static is gone.
Env& systemEnv() {
    static Env* e = new Env;
    return *e;
}
std::atomic<Env*> g_env{nullptr};

// crypto's generator, while an Env other than the system's is installed.
bool randomThroughEnv(std::uint8_t* out, std::size_t size) { return env().random(out, size); }

}  // namespace

Env& env() {
    Env* e = g_env.load(std::memory_order_acquire);
    return e ? *e : systemEnv();
}

ScopedEnv::ScopedEnv(Env& e) : m_previous(g_env.exchange(&e, std::memory_order_acq_rel)) {
    crypto::setRandomSource(&randomThroughEnv);
}
ScopedEnv::~ScopedEnv() {
    g_env.store(m_previous, std::memory_order_release);
    if (!m_previous) crypto::setRandomSource(nullptr);
}

int envCreate(const std::string& path, int flags, unsigned mode) {
    if (int err = env().beforeFileOp(FileOp::Create, path, nullptr)) {
        errno = err;
        return -1;
    }
    return ::open(path.c_str(), flags | O_CREAT, static_cast<mode_t>(mode));
}

long envWrite(int fd, const void* data, std::size_t size, const std::string& path) {
    std::size_t n = size;
    if (int err = env().beforeFileOp(FileOp::Write, path, &n)) {
        errno = err;
        return -1;
    }
    return ::write(fd, data, std::min(n, size));
}

long envPwrite(int fd, const void* data, std::size_t size, std::int64_t offset, const std::string& path) {
    std::size_t n = size;
    if (int err = env().beforeFileOp(FileOp::Write, path, &n)) {
        errno = err;
        return -1;
    }
    return ::pwrite(fd, data, std::min(n, size), static_cast<off_t>(offset));
}

int envFsync(int fd, const std::string& path) {
    if (int err = env().beforeFileOp(FileOp::Sync, path, nullptr)) {
        errno = err;
        return -1;
    }
    return ::fsync(fd);
}

int envRename(const std::string& from, const std::string& to) {
    if (int err = env().beforeFileOp(FileOp::Rename, from, nullptr)) {
        errno = err;
        return -1;
    }
    return ::rename(from.c_str(), to.c_str());
}

int envUnlink(const std::string& path) {
    if (int err = env().beforeFileOp(FileOp::Remove, path, nullptr)) {
        errno = err;
        return -1;
    }
    return ::unlink(path.c_str());
}

// ---------------------------------------------------------------- the SQLite VFS

namespace {

// A file of the wrapping VFS: the system VFS's file right behind it in the same allocation.
struct EnvFile {
    sqlite3_file base;
    sqlite3_file* real;
    const char* path;  // SQLite keeps the name valid until xClose; "" for its nameless temp files
};

sqlite3_vfs* g_real = nullptr;
thread_local int t_lastErrno = 0;  // what the Env refused with, for sqlite3_system_errno

sqlite3_file* realOf(sqlite3_file* f) { return reinterpret_cast<EnvFile*>(f)->real; }
std::string pathOf(sqlite3_file* f) { return reinterpret_cast<EnvFile*>(f)->path; }

int refuse(int err, int code) {
    t_lastErrno = err;
    errno = err;
    return (err == ENOSPC || err == EDQUOT) ? SQLITE_FULL : code;
}

int xClose(sqlite3_file* f) {
    sqlite3_file* r = realOf(f);
    int rc = r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
    f->pMethods = nullptr;
    return rc;
}
int xRead(sqlite3_file* f, void* p, int n, sqlite3_int64 off) { return realOf(f)->pMethods->xRead(realOf(f), p, n, off); }
int xWrite(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
    std::size_t allowed = static_cast<std::size_t>(n);
    if (int err = env().beforeFileOp(FileOp::Write, pathOf(f), &allowed)) return refuse(err, SQLITE_IOERR_WRITE);
    if (allowed < static_cast<std::size_t>(n)) {  // a short write: what the system VFS reports as a full disk
        if (allowed > 0) realOf(f)->pMethods->xWrite(realOf(f), p, static_cast<int>(allowed), off);
        return refuse(ENOSPC, SQLITE_FULL);
    }
    return realOf(f)->pMethods->xWrite(realOf(f), p, n, off);
}
int xTruncate(sqlite3_file* f, sqlite3_int64 size) {
    if (int err = env().beforeFileOp(FileOp::Truncate, pathOf(f), nullptr)) return refuse(err, SQLITE_IOERR_TRUNCATE);
    return realOf(f)->pMethods->xTruncate(realOf(f), size);
}
int xSync(sqlite3_file* f, int flags) {
    if (int err = env().beforeFileOp(FileOp::Sync, pathOf(f), nullptr)) return refuse(err, SQLITE_IOERR_FSYNC);
    return realOf(f)->pMethods->xSync(realOf(f), flags);
}
int xFileSize(sqlite3_file* f, sqlite3_int64* size) { return realOf(f)->pMethods->xFileSize(realOf(f), size); }
int xLock(sqlite3_file* f, int l) { return realOf(f)->pMethods->xLock(realOf(f), l); }
int xUnlock(sqlite3_file* f, int l) { return realOf(f)->pMethods->xUnlock(realOf(f), l); }
int xCheckReservedLock(sqlite3_file* f, int* out) { return realOf(f)->pMethods->xCheckReservedLock(realOf(f), out); }
int xFileControl(sqlite3_file* f, int op, void* arg) { return realOf(f)->pMethods->xFileControl(realOf(f), op, arg); }
int xSectorSize(sqlite3_file* f) { return realOf(f)->pMethods->xSectorSize(realOf(f)); }
int xDeviceCharacteristics(sqlite3_file* f) { return realOf(f)->pMethods->xDeviceCharacteristics(realOf(f)); }
int xShmMap(sqlite3_file* f, int pg, int sz, int extend, void volatile** out) {
    return realOf(f)->pMethods->xShmMap(realOf(f), pg, sz, extend, out);
}
int xShmLock(sqlite3_file* f, int offset, int n, int flags) { return realOf(f)->pMethods->xShmLock(realOf(f), offset, n, flags); }
void xShmBarrier(sqlite3_file* f) { realOf(f)->pMethods->xShmBarrier(realOf(f)); }
int xShmUnmap(sqlite3_file* f, int deleteFlag) { return realOf(f)->pMethods->xShmUnmap(realOf(f), deleteFlag); }
int xFetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) { return realOf(f)->pMethods->xFetch(realOf(f), off, n, out); }
int xUnfetch(sqlite3_file* f, sqlite3_int64 off, void* p) { return realOf(f)->pMethods->xUnfetch(realOf(f), off, p); }

const sqlite3_io_methods kMethods = {
    3,         xClose,     xRead,       xWrite,  xTruncate, xSync,     xFileSize,
    xLock,     xUnlock,    xCheckReservedLock,   xFileControl,         xSectorSize,
    xDeviceCharacteristics, xShmMap,    xShmLock, xShmBarrier,         xShmUnmap,
    xFetch,    xUnfetch,
};

int vOpen(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* outFlags) {
    auto* file = reinterpret_cast<EnvFile*>(f);
    file->base.pMethods = nullptr;
    file->real = reinterpret_cast<sqlite3_file*>(file + 1);
    file->path = name ? name : "";
    if ((flags & SQLITE_OPEN_CREATE) && name) {
        if (int err = env().beforeFileOp(FileOp::Create, name, nullptr)) {
            refuse(err, SQLITE_CANTOPEN);
            return err == ENOSPC ? SQLITE_FULL : SQLITE_CANTOPEN;
        }
    }
    int rc = g_real->xOpen(g_real, name, file->real, flags, outFlags);
    // The system VFS may set its methods even when it fails; xClose is then still owed.
    if (file->real->pMethods) file->base.pMethods = &kMethods;
    return rc;
}
int vDelete(sqlite3_vfs*, const char* name, int syncDir) {
    if (int err = env().beforeFileOp(FileOp::Remove, name, nullptr)) return refuse(err, SQLITE_IOERR_DELETE);
    return g_real->xDelete(g_real, name, syncDir);
}
int vAccess(sqlite3_vfs*, const char* name, int flags, int* out) { return g_real->xAccess(g_real, name, flags, out); }
int vFullPathname(sqlite3_vfs*, const char* name, int n, char* out) { return g_real->xFullPathname(g_real, name, n, out); }
void* vDlOpen(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void vDlError(sqlite3_vfs*, int n, char* out) { g_real->xDlError(g_real, n, out); }
void (*vDlSym(sqlite3_vfs*, void* h, const char* sym))(void) { return g_real->xDlSym(g_real, h, sym); }
void vDlClose(sqlite3_vfs*, void* h) { g_real->xDlClose(g_real, h); }
int vRandomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int vSleep(sqlite3_vfs*, int us) { return g_real->xSleep(g_real, us); }
int vCurrentTime(sqlite3_vfs*, double* out) { return g_real->xCurrentTime(g_real, out); }
int vGetLastError(sqlite3_vfs*, int n, char* out) {
    if (int e = std::exchange(t_lastErrno, 0)) return e;
    return g_real->xGetLastError(g_real, n, out);
}
int vCurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) { return g_real->xCurrentTimeInt64(g_real, out); }

sqlite3_vfs g_vfs;

// SQLite's memory, zeroed when freed: its page cache holds decrypted pages (channel keys, device
// keys, findings), which would otherwise stay in freed heap after the store is locked.
int* sizeSlot(void* p) { return reinterpret_cast<int*>(static_cast<char*>(p) - 8); }
void* wipingMalloc(int n) {
    if (n <= 0) return nullptr;
    auto* p = static_cast<char*>(std::malloc(static_cast<std::size_t>(n) + 8));
    if (!p) return nullptr;
    *reinterpret_cast<int*>(p) = n;
    return p + 8;
}
void wipingFree(void* p) {
    if (!p) return;
    OPENSSL_cleanse(p, static_cast<std::size_t>(*sizeSlot(p)));
    std::free(static_cast<char*>(p) - 8);
}
void* wipingRealloc(void* p, int n) {
    if (!p) return wipingMalloc(n);
    void* fresh = wipingMalloc(n);
    if (!fresh) return nullptr;
    std::memcpy(fresh, p, static_cast<std::size_t>(std::min(*sizeSlot(p), n)));
    wipingFree(p);
    return fresh;
}
int wipingSize(void* p) { return p ? *sizeSlot(p) : 0; }
int wipingRoundup(int n) { return (n + 7) & ~7; }
int wipingInit(void*) { return SQLITE_OK; }
void wipingShutdown(void*) {}
const sqlite3_mem_methods kWipingMemory = {wipingMalloc, wipingFree, wipingRealloc, wipingSize,
                                            wipingRoundup, wipingInit, wipingShutdown, nullptr};

}  // namespace

const char* envVfsName() {
    static std::once_flag once;
    std::call_once(once, [] {
        // Before SQLite starts (and only then may its allocator change).
        sqlite3_config(SQLITE_CONFIG_MALLOC, &kWipingMemory);
        sqlite3_initialize();
        g_real = sqlite3_vfs_find(nullptr);
        g_vfs = {};
        g_vfs.iVersion = 2;
        g_vfs.szOsFile = static_cast<int>(sizeof(EnvFile)) + g_real->szOsFile;
        g_vfs.mxPathname = g_real->mxPathname;
        g_vfs.zName = "xs-env";
        g_vfs.xOpen = vOpen;
        g_vfs.xDelete = vDelete;
        g_vfs.xAccess = vAccess;
        g_vfs.xFullPathname = vFullPathname;
        g_vfs.xDlOpen = vDlOpen;
        g_vfs.xDlError = vDlError;
        g_vfs.xDlSym = vDlSym;
        g_vfs.xDlClose = vDlClose;
        g_vfs.xRandomness = vRandomness;
        g_vfs.xSleep = vSleep;
        g_vfs.xCurrentTime = vCurrentTime;
        g_vfs.xGetLastError = vGetLastError;
        g_vfs.xCurrentTimeInt64 = vCurrentTimeInt64;
        sqlite3_vfs_register(&g_vfs, 0);
    });
    return "xs-env";
}

}  // namespace xs::sync
