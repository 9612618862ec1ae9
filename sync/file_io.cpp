#include "sync/file_io.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <openssl/crypto.h>

#include "crypto/encoding.h"
#include "crypto/random.h"
#include "sync/env.h"

namespace xs::sync {
namespace fs = std::filesystem;
namespace {

// The fraction of a regular file's first 64 MiB that is in the page cache (mincore over a
// read-only mapping: a sample, so its cost does not grow with the file); 0 for anything else
// (pipes, empty files) or when it cannot tell.
double residentFraction(int fd) {
    struct stat st{};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) return 0;
    const auto size = std::min(static_cast<std::size_t>(st.st_size), std::size_t{64} << 20);
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return 0;
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> pages((size + page - 1) / page);
    std::size_t resident = 0;
    if (::mincore(map, size, pages.data()) == 0)
        for (unsigned char p : pages) resident += p & 1;
    ::munmap(map, size);
    return static_cast<double>(resident) / static_cast<double>(pages.size());
}

Error<SyncError> ioError(const std::string& what, const fs::path& path) {
    if (errno == ENOSPC || errno == EDQUOT)
        return fail(SyncError::DiskFull, "disk full: " + what + " " + path.string() + ": " + std::strerror(errno));
    return fail(SyncError::Io, what + " " + path.string() + ": " + std::strerror(errno));
}

// Turns O_DIRECT on or off for fd; true if it changed.
bool setDirect(int fd, bool on) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ((flags & O_DIRECT) != 0) == on) return false;
    return ::fcntl(fd, F_SETFL, on ? (flags | O_DIRECT) : (flags & ~O_DIRECT)) == 0;
}

constexpr std::size_t kMaxWaitingForSync = 256;  // committed files waiting for the syncer (fds)

}  // namespace

SResult<crypto::Bytes> readFile(const fs::path& path, std::size_t maxBytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return fail(SyncError::NotFound, "no such file: " + path.string());
        return ioError("cannot open", path);
    }
    crypto::Bytes out;
    std::uint8_t buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            ::close(fd);
            return ioError("cannot read", path);
        }
        if (n == 0) break;
        if (out.size() + static_cast<std::size_t>(n) > maxBytes) {
            ::close(fd);
            return fail(SyncError::Invalid, "file too large: " + path.string());
        }
        out.insert(out.end(), buf, buf + n);
    }
    ::close(fd);
    return out;
}

SStatus fsyncDir(const fs::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ioError("cannot open directory", dir);
    int rc = envFsync(fd, dir.string());
    const int err = errno;
    ::close(fd);
    errno = err;
    if (rc != 0) return ioError("cannot sync directory", dir);
    return {};
}

SResult<TempFile> TempFile::create(const fs::path& dir, const std::string& prefix, WriteBehind* writeBehind) {
    auto rnd = crypto::randomBytes(8);
    if (!rnd) return fail(SyncError::Crypto, rnd.message());
    fs::path path = dir / ("." + prefix + "." + crypto::toHex(*rnd) + ".tmp");
    int fd = envCreate(path.string(), O_WRONLY | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return ioError("cannot create", path);
    // Held while the file is open, by this process only: removeOrphanTempFiles takes a temp file
    // whose lock it can get for one whose writer died (kill -9, a crash, a power cut).
    (void)::flock(fd, LOCK_EX | LOCK_NB);
    // Bypass the page cache where the filesystem allows it (not tmpfs, for one): the thread then
    // writes whole aligned blocks; if it refuses, the writes go through the page cache.
    if (writeBehind) setDirect(fd, true);
    return TempFile(fd, std::move(path), writeBehind);
}

SResult<std::size_t> removeOrphanTempFiles(const fs::path& dir, const std::string& prefix) {
    std::size_t removed = 0;
    std::error_code ec;
    const std::string head = "." + prefix;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.size() < head.size() + 5 || name.compare(0, head.size(), head) != 0 ||
            name.compare(name.size() - 4, 4, ".tmp") != 0)
            continue;
        int fd = ::open(it->path().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) continue;
        struct stat st {};
        // A live writer holds the lock; a regular file nobody holds is what a dead one left.
        if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ::flock(fd, LOCK_EX | LOCK_NB) == 0 &&
            ::unlink(it->path().c_str()) == 0)
            ++removed;
        ::close(fd);
    }
    if (ec && ec != std::errc::no_such_file_or_directory)
        return fail(SyncError::Io, "cannot list " + dir.string() + ": " + ec.message());
    return removed;
}

TempFile::~TempFile() {
    if (m_fd < 0) return;
    if (m_wb) {
        // Blocks of this file may still be queued: the thread closes and removes it after them.
        // (Only running out of memory for the queue entry can throw here, and that terminates.)
        WriteBehind::Job job;
        job.kind = WriteBehind::Job::Discard;
        job.fd = m_fd;
        job.block = std::exchange(m_block, nullptr);
        job.path = m_path;
        (void)m_wb->push(std::move(job));
        return;
    }
    ::close(m_fd);
    ::unlink(m_path.c_str());
}

TempFile::TempFile(TempFile&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1)), m_path(std::move(other.m_path)), m_wb(other.m_wb),
      m_block(std::exchange(other.m_block, nullptr)), m_fill(other.m_fill), m_offset(other.m_offset), m_renamed(other.m_renamed) {}

SStatus TempFile::write(crypto::ByteView data) {
    if (m_wb) {
        while (!data.empty()) {
            if (m_block == nullptr) {
                auto block = m_wb->takeBlock();
                if (!block) return block.error();
                m_block = *block;
                m_fill = 0;
            }
            const std::size_t n = std::min(WriteBehind::kBlockSize - m_fill, data.size());
            std::memcpy(m_block + m_fill, data.data(), n);
            m_fill += n;
            data = data.subspan(n);
            if (m_fill == WriteBehind::kBlockSize) {
                WriteBehind::Job job;
                job.kind = WriteBehind::Job::Write;
                job.fd = m_fd;
                job.offset = m_offset;
                job.block = std::exchange(m_block, nullptr);
                job.size = std::exchange(m_fill, 0);
                job.path = m_path;  // for error messages
                m_offset += WriteBehind::kBlockSize;
                XS_TRY(m_wb->push(std::move(job)));
            }
        }
        return {};
    }
    const std::uint8_t* p = data.data();
    std::size_t left = data.size();
    while (left > 0) {
        long n = envWrite(m_fd, p, left, m_path.string());
        if (n < 0) {
            if (errno == EINTR) continue;
            return ioError("cannot write", m_path);
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    return {};
}

SStatus TempFile::sync() {
    if (m_wb) return fail(SyncError::Invalid, "a write-behind file is synced by its commit");
    if (envFsync(m_fd, m_path.string()) != 0) return ioError("cannot sync", m_path);
    return {};
}

SStatus TempFile::commitAs(const fs::path& target) {
    if (m_wb) {
        WriteBehind::Job job;
        job.kind = WriteBehind::Job::Commit;
        job.fd = std::exchange(m_fd, -1);
        job.offset = m_offset;
        job.block = std::exchange(m_block, nullptr);
        job.size = std::exchange(m_fill, 0);
        job.path = m_path;
        job.target = target;
        return m_wb->push(std::move(job));
    }
    XS_TRY(sync());
    ::close(std::exchange(m_fd, -1));
    if (envRename(m_path.string(), target.string()) != 0) {
        auto err = ioError("cannot rename to", target);
        ::unlink(m_path.c_str());
        return err;
    }
    m_renamed = true;
    return fsyncDir(target.parent_path().empty() ? fs::path(".") : target.parent_path());
}

// ---------------------------------------------------------------------------------------------

// The blocks of a WriteBehind or ReadAhead, in one region aligned for O_DIRECT and, where the
// kernel grants transparent huge pages, made of 2 MiB pages: a disk request may have only so many
// physically separate pieces (254 on this project's virtio disks), so a 1 MiB O_DIRECT write from
// 4 KiB pages is split in two while one from huge pages is a single request, and four
// back-to-back blocks one request of 4 MiB.
std::uint8_t* allocateIoRegion(std::size_t bytes) {
    constexpr std::size_t kHugePage = std::size_t{2} << 20;
    bytes = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    auto* p = static_cast<std::uint8_t*>(std::aligned_alloc(kHugePage, bytes));
    if (p != nullptr) (void)::madvise(p, bytes, MADV_HUGEPAGE);  // a hint: 4 KiB pages work too
    return p;
}

SResult<std::unique_ptr<WriteBehind>> WriteBehind::start() {
    std::unique_ptr<WriteBehind> wb(new WriteBehind());
    wb->m_free.reserve(kBlocks);
    auto* region = allocateIoRegion(kBlocks * kBlockSize);
    if (region == nullptr) return fail(SyncError::Io, "cannot allocate write buffers");
    wb->m_storage.emplace_back(region, &std::free);
    for (std::size_t i = 0; i < kBlocks; ++i) wb->m_free.push_back(region + i * kBlockSize);
    try {
        wb->m_syncer = std::thread([w = wb.get()] { w->runSyncer(); });
        wb->m_writer = std::thread([w = wb.get()] { w->runWriter(); });
    } catch (const std::exception& e) {
        return fail(SyncError::Io, std::string("cannot start the writer threads: ") + e.what());
    }
    return wb;
}

WriteBehind::~WriteBehind() {
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;  // both threads now drop what is left: close and remove the temp files
    }
    m_wake.notify_all();
    m_done.notify_all();
    if (m_writer.joinable()) m_writer.join();
    {
        std::lock_guard lock(m_mutex);
        m_writerGone = true;  // nothing more can reach the syncer
    }
    m_syncWake.notify_all();
    if (m_syncer.joinable()) m_syncer.join();
}

void WriteBehind::syncDirLater(const fs::path& dir) {
    std::lock_guard lock(m_mutex);
    m_dirs.insert(dir);
}

SStatus WriteBehind::sync() {
    std::unique_lock lock(m_mutex);
    Job barrier;
    barrier.kind = Job::Barrier;
    m_jobs.push_back(std::move(barrier));
    const std::uint64_t ticket = ++m_barriersAsked;
    m_wake.notify_one();
    m_done.wait(lock, [&] { return m_barriersDone >= ticket; });
    if (m_error) return *m_error;
    return {};
}

SResult<std::uint8_t*> WriteBehind::takeBlock() {
    std::unique_lock lock(m_mutex);
    m_done.wait(lock, [&] { return !m_free.empty() || m_error; });
    if (m_error) return *m_error;
    std::uint8_t* block = m_free.back();
    m_free.pop_back();
    return block;
}

SStatus WriteBehind::push(Job job) {
    std::lock_guard lock(m_mutex);
    m_jobs.push_back(std::move(job));
    m_wake.notify_one();
    if (m_error) return *m_error;
    return {};
}

void WriteBehind::setError(Error<SyncError> e) {
    std::lock_guard lock(m_mutex);
    if (!m_error) m_error = std::move(e);
    m_failed = true;
    m_done.notify_all();
}

// The writer: blocks and the ends of files, in order; committed files go on to the syncer.
void WriteBehind::runWriter() {
    std::vector<Job> batch;
    batch.reserve(kMaxBatch);
    std::unique_lock lock(m_mutex);
    for (;;) {
        m_wake.wait(lock, [&] { return !m_jobs.empty() || m_stop; });
        if (m_jobs.empty()) return;  // stopping, and everything queued is dropped
        batch.clear();
        batch.push_back(std::move(m_jobs.front()));
        m_jobs.pop_front();
        // Whole blocks queued back to back for the same file: one write.
        while (batch.front().kind == Job::Write && batch.size() < kMaxBatch && !m_jobs.empty()) {
            const Job& last = batch.back();
            const Job& next = m_jobs.front();
            if (next.kind != Job::Write || next.fd != last.fd || next.offset != last.offset + last.size ||
                last.size != kBlockSize)
                break;
            batch.push_back(std::move(m_jobs.front()));
            m_jobs.pop_front();
        }
        const bool drop = m_failed || m_stop;
        lock.unlock();
        if (drop) {
            for (Job& job : batch) dropJob(job);
        } else if (batch.size() > 1) {
            writeBatch(batch);  // whole blocks of one file: no allocation, nothing to drop
        } else {
            try {
                execute(batch.front());
            } catch (...) {  // bad_alloc: fail the whole, not the process
                setError(fail(SyncError::Io, "background write failed: out of memory"));
                dropJob(batch.front());
            }
        }
        lock.lock();
        for (const Job& job : batch) {
            if (job.block) m_free.push_back(job.block);
            if (job.kind == Job::Barrier) ++m_barriersDone;
        }
        m_done.notify_all();
    }
}

// Consecutive whole blocks of one file: one pwritev; whatever it did not write (an error, a
// short write, O_DIRECT refused) block by block through writeAt, which handles each case.
void WriteBehind::writeBatch(std::vector<Job>& batch) {
    std::array<iovec, kMaxBatch> iov{};
    std::size_t total = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        iov[i] = iovec{batch[i].block, batch[i].size};
        total += batch[i].size;
    }
    // The Env sees the batch as one write; a short one is cut at a block edge or inside a block.
    std::size_t allowed = total;
    int refused = m_failed ? 0 : env().beforeFileOp(FileOp::Write, batch.front().path.string(), &allowed);
    if (refused) {
        errno = refused;
        return setError(ioError("cannot write", batch.front().path));
    }
    int count = 0;
    for (std::size_t left = std::min(allowed, total); count < static_cast<int>(batch.size()) && left > 0; ++count) {
        iov[count].iov_len = std::min(left, iov[count].iov_len);
        left -= iov[count].iov_len;
    }
    ssize_t n = m_failed || count == 0 ? -1 : ::pwritev(batch.front().fd, iov.data(), count, static_cast<off_t>(batch.front().offset));
    std::size_t written = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (written == total) return;
    for (Job& job : batch) {
        const std::size_t skip = std::min(written, job.size);
        written -= skip;
        if (skip < job.size) writeAt(job.fd, job.block + skip, job.size - skip, job.offset + skip, job.path);
    }
}

void WriteBehind::dropJob(Job& job) {
    if (job.kind == Job::Commit || job.kind == Job::Discard) {
        if (job.fd >= 0) ::close(std::exchange(job.fd, -1));
        ::unlink(job.path.c_str());
    }
}

void WriteBehind::execute(Job& job) {
    switch (job.kind) {
        case Job::Write:
            writeAt(job.fd, job.block, job.size, job.offset, job.path);
            return;
        case Job::Commit: {
            // The rest of the file through the page cache (it is not a whole aligned block).
            if (job.size > 0) {
                setDirect(job.fd, false);
                writeAt(job.fd, job.block, job.size, job.offset, job.path);
            }
            if (m_failed) return dropJob(job);
            std::unique_lock lock(m_mutex);
            // Bounded: each waiting file holds an fd.
            m_done.wait(lock, [&] { return m_toSync.size() < kMaxWaitingForSync || m_failed || m_stop; });
            if (m_failed || m_stop) {
                lock.unlock();
                return dropJob(job);
            }
            m_toSync.push_back(Written{job.fd, job.path, job.target});
            job.fd = -1;
            m_syncWake.notify_one();
            return;
        }
        case Job::Discard:
            return dropJob(job);
        case Job::Barrier: {
            std::set<fs::path> dirs;
            {
                // Everything committed before the barrier is through the syncer (synced and in
                // place, or dropped after an error).
                std::unique_lock lock(m_mutex);
                m_done.wait(lock, [&] { return (m_toSync.empty() && !m_syncing) || m_stop; });
                dirs.swap(m_dirs);
            }
            for (const auto& d : dirs) {
                if (m_failed || m_stop) return;
                if (auto st = fsyncDir(d); !st) setError(st.error());
            }
            return;
        }
    }
}

void WriteBehind::writeAt(int fd, const std::uint8_t* data, std::size_t size, std::uint64_t offset, const fs::path& path) {
    while (size > 0 && !m_failed) {
        long n = envPwrite(fd, data, size, static_cast<std::int64_t>(offset), path.string());
        if (n < 0) {
            const int err = errno;
            if (err == EINTR) continue;
            if (err == EINVAL && setDirect(fd, false)) continue;  // O_DIRECT refused: page cache
            errno = err;
            return setError(ioError("cannot write", path));
        }
        if (static_cast<std::size_t>(n) < size) setDirect(fd, false);  // the rest may be unaligned
        data += n;
        size -= static_cast<std::size_t>(n);
        offset += static_cast<std::uint64_t>(n);
    }
}

// The syncer: takes every file committed meanwhile as one group, so that fsyncs (and their waits
// for the journal) overlap the writer's writes, and one journal commit serves the group.
void WriteBehind::runSyncer() {
    std::unique_lock lock(m_mutex);
    for (;;) {
        m_syncWake.wait(lock, [&] { return !m_toSync.empty() || m_writerGone; });
        if (m_toSync.empty()) return;
        std::vector<Written> group;
        group.swap(m_toSync);
        m_syncing = true;
        m_done.notify_all();  // room for the writer
        lock.unlock();
        syncGroup(group);
        lock.lock();
        m_syncing = false;
        m_done.notify_all();
    }
}

void WriteBehind::syncGroup(std::vector<Written>& group) {
    // fsync every file first, then rename them: a file is never in place before its data is
    // durable. After an error (or when stopping) the rest is removed instead.
    for (auto& w : group) {
        if (m_failed || m_stop) break;
        if (envFsync(w.fd, w.path.string()) != 0) setError(ioError("cannot sync", w.path));
    }
    for (auto& w : group) {
        ::close(w.fd);
        if (m_failed || m_stop) {
            ::unlink(w.path.c_str());
            continue;
        }
        if (envRename(w.path.string(), w.target.string()) != 0) {
            setError(ioError("cannot rename to", w.target));
            ::unlink(w.path.c_str());
            continue;
        }
        try {
            std::lock_guard lock(m_mutex);
            m_dirs.insert(w.target.parent_path().empty() ? fs::path(".") : w.target.parent_path());
        } catch (...) {
            setError(fail(SyncError::Io, "background sync failed: out of memory"));
        }
    }
}

SStatus writeFileAtomic(const fs::path& path, crypto::ByteView data) {
    fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    auto tmp = TempFile::create(dir, path.filename().string());
    if (!tmp) return tmp.error();
    XS_TRY(tmp->write(data));
    return tmp->commitAs(path);
}

// ---------------------------------------------------------------------------------------------

SStatus ReadAhead::launch() {
    m_free.reserve(kBlocks);
    auto* region = allocateIoRegion(kBlocks * kBlockSize);
    if (region == nullptr) return fail(SyncError::Io, "cannot allocate read buffers");
    m_storage.emplace_back(region, &std::free);
    for (std::size_t i = 0; i < kBlocks; ++i) m_free.push_back(region + i * kBlockSize);
    try {
        m_thread = std::thread([this] { run(); });
    } catch (const std::exception& e) {
        return fail(SyncError::Io, std::string("cannot start the reader thread: ") + e.what());
    }
    return {};
}

SResult<std::unique_ptr<ReadAhead>> ReadAhead::start(int fd, const fs::path& path) {
    std::unique_ptr<ReadAhead> ra(new ReadAhead());
    ra->m_fd = fd;
    ra->m_path = path;
    XS_TRY(ra->launch());
    return ra;
}

SResult<std::unique_ptr<ReadAhead>> ReadAhead::startFiles(std::vector<fs::path> paths) {
    std::unique_ptr<ReadAhead> ra(new ReadAhead());
    ra->m_paths = std::move(paths);
    XS_TRY(ra->launch());
    return ra;
}

ReadAhead::~ReadAhead() {
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_changed.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

SResult<crypto::ByteView> ReadAhead::next() {
    std::unique_lock lock(m_mutex);
    if (m_current != nullptr) {
        m_free.push_back(std::exchange(m_current, nullptr));
        m_changed.notify_all();
    }
    m_changed.wait(lock, [&] { return !m_full.empty() || m_end || m_error; });
    if (!m_full.empty()) {  // what was read before an error still comes first
        Piece p = m_full.front();
        m_full.pop_front();
        if (p.block == nullptr) return crypto::ByteView();  // one listed file ends
        m_current = p.block;
        return crypto::ByteView(p.block, p.size);
    }
    if (m_error) return *m_error;
    return crypto::ByteView();
}

void ReadAhead::run() {
    try {
        readAll();
    } catch (...) {  // bad_alloc: fail the read, not the process
        std::lock_guard lock(m_mutex);
        if (!m_error) m_error = fail(SyncError::Io, "cannot read " + m_path.string() + ": out of memory");
        m_changed.notify_all();
    }
}

void ReadAhead::readAll() {
    if (m_paths.empty()) {
        (void)readOne(m_fd, m_path);
    } else {
        for (const auto& path : m_paths) {
            const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                auto error = errno == ENOENT ? fail(SyncError::NotFound, "no such file " + path.string())
                                             : ioError("cannot open", path);
                std::lock_guard lock(m_mutex);
                m_error = std::move(error);
                m_changed.notify_all();
                return;
            }
            const bool more = readOne(fd, path);
            ::close(fd);
            if (!more) return;
            std::lock_guard lock(m_mutex);
            m_full.push_back(Piece{nullptr, 0});
            m_changed.notify_all();
        }
    }
    std::lock_guard lock(m_mutex);
    m_end = true;
    m_changed.notify_all();
}

bool ReadAhead::readOne(int fd, const fs::path& path) {
    // A file mostly in the page cache already (just copied from a USB stick, say) is read from
    // there; otherwise from the disk directly.
    if (residentFraction(fd) < 0.5) setDirect(fd, true);
    else (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    for (;;) {
        std::uint8_t* block = nullptr;
        {
            std::unique_lock lock(m_mutex);
            m_changed.wait(lock, [&] { return !m_free.empty() || m_stop; });
            if (m_stop) return false;
            block = m_free.back();
            m_free.pop_back();
        }
        std::size_t size = 0;
        std::optional<Error<SyncError>> error;
        bool end = false;
        // A whole block (or up to the end of the file): aligned offsets for the next O_DIRECT read.
        while (size < kBlockSize) {
            ssize_t n = ::read(fd, block + size, kBlockSize - size);  // read(2): pipes work too
            if (n < 0) {
                const int err = errno;
                if (err == EINTR) continue;
                if (err == EINVAL && setDirect(fd, false)) continue;  // O_DIRECT refused: page cache
                errno = err;
                error = ioError("cannot read", path);
                break;
            }
            if (n == 0) {
                end = true;
                break;
            }
            size += static_cast<std::size_t>(n);
            if (size < kBlockSize) setDirect(fd, false);  // short read: the rest may be unaligned
        }
        std::lock_guard lock(m_mutex);
        if (size > 0) {
            m_full.push_back(Piece{block, size});
        } else {
            m_free.push_back(block);
        }
        if (error) m_error = std::move(error);
        m_changed.notify_all();
        if (error) return false;
        if (end) return true;
    }
}

// ---------------------------------------------------------------------------------------------

HashBehind::HashBehind() {
    try {
        m_storage.reserve(kBlocks);
        m_free.reserve(kBlocks);
        for (std::size_t i = 0; i < kBlocks; ++i) {
            m_storage.push_back(std::make_unique_for_overwrite<std::uint8_t[]>(kBlockSize));
            m_free.push_back(m_storage.back().get());
        }
        m_dirty.assign(kBlocks, 0);
        m_current = m_free.back();
        m_free.pop_back();
        m_thread = std::thread([this] { run(); });
    } catch (const std::exception&) {
        m_inline = true;  // no memory or no thread: hash in update()
    }
}

HashBehind::~HashBehind() {
    {
        std::lock_guard lock(m_mutex);
        m_end = true;
        m_full.clear();  // not wanted any more
    }
    m_changed.notify_all();
    if (m_thread.joinable()) m_thread.join();
    for (auto& b : m_storage) OPENSSL_cleanse(b.get(), kBlockSize);
}

void HashBehind::run() {
    for (;;) {
        Piece piece{};
        {
            std::unique_lock lock(m_mutex);
            m_changed.wait(lock, [this] { return !m_full.empty() || m_end; });
            if (m_full.empty()) return;  // the end, and everything queued is hashed
            piece = m_full.front();
            m_full.pop_front();
        }
        m_sha.update(crypto::ByteView(piece.block, piece.size));
        {
            std::lock_guard lock(m_mutex);
            m_free.push_back(piece.block);
        }
        m_changed.notify_all();
    }
}

void HashBehind::handOver() {
    for (std::size_t i = 0; i < m_storage.size(); ++i)
        if (m_storage[i].get() == m_current) m_dirty[i] = std::max(m_dirty[i], m_fill);
    std::unique_lock lock(m_mutex);
    m_full.push_back({m_current, m_fill});
    m_changed.notify_all();
    m_changed.wait(lock, [this] { return !m_free.empty(); });
    m_current = m_free.back();
    m_free.pop_back();
    m_fill = 0;
}

void HashBehind::update(crypto::ByteView data) {
    if (m_inline) {
        m_sha.update(data);
        return;
    }
    while (!data.empty()) {
        const std::size_t n = std::min(kBlockSize - m_fill, data.size());
        std::memcpy(m_current + m_fill, data.data(), n);
        m_fill += n;
        data = data.subspan(n);
        if (m_fill == kBlockSize) handOver();
    }
}

crypto::Digest HashBehind::finish() {
    if (!m_inline) {
        if (m_fill > 0) handOver();
        std::unique_lock lock(m_mutex);
        // Every block but the one being filled is back: everything queued is hashed, and the
        // thread waits for the next stream's first block.
        m_changed.wait(lock, [this] { return m_full.empty() && m_free.size() + 1 == kBlocks; });
        for (std::size_t i = 0; i < m_storage.size(); ++i) {
            OPENSSL_cleanse(m_storage[i].get(), m_dirty[i]);
            m_dirty[i] = 0;
        }
    }
    return m_sha.finish();  // and ready for the next stream
}

SResult<std::string> sha256OfFile(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(SyncError::Io, "cannot open " + path.string() + ": " + std::strerror(errno));
    crypto::Sha256 h;
    std::vector<std::uint8_t> buf(1 << 20);
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            return fail(SyncError::Io, "cannot read " + path.string() + ": " + std::strerror(e));
        }
        if (n == 0) break;
        h.update(crypto::ByteView(buf.data(), static_cast<std::size_t>(n)));
    }
    ::close(fd);
    return crypto::toHex(h.finish());
}

}  // namespace xs::sync
