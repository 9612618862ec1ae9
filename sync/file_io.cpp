#include "sync/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "crypto/encoding.h"
#include "crypto/random.h"

namespace xs::sync {
namespace fs = std::filesystem;
namespace {

Error<SyncError> ioError(const std::string& what, const fs::path& path) {
    return fail(SyncError::Io, what + " " + path.string() + ": " + std::strerror(errno));
}

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
    int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return ioError("cannot sync directory", dir);
    return {};
}

SResult<TempFile> TempFile::create(const fs::path& dir, const std::string& prefix) {
    auto rnd = crypto::randomBytes(8);
    if (!rnd) return fail(SyncError::Crypto, rnd.message());
    fs::path path = dir / ("." + prefix + "." + crypto::toHex(*rnd) + ".tmp");
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return ioError("cannot create", path);
    return TempFile(fd, std::move(path));
}

TempFile::~TempFile() {
    if (m_fd >= 0) {
        ::close(m_fd);
        ::unlink(m_path.c_str());
    }
}

TempFile::TempFile(TempFile&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1)), m_path(std::move(other.m_path)) {}

SStatus TempFile::write(crypto::ByteView data) {
    const std::uint8_t* p = data.data();
    std::size_t left = data.size();
    while (left > 0) {
        ssize_t n = ::write(m_fd, p, left);
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
    if (::fsync(m_fd) != 0) return ioError("cannot sync", m_path);
    return {};
}

SStatus TempFile::commitAs(const fs::path& target) {
    XS_TRY(sync());
    ::close(std::exchange(m_fd, -1));
    if (::rename(m_path.c_str(), target.c_str()) != 0) {
        auto err = ioError("cannot rename to", target);
        ::unlink(m_path.c_str());
        return err;
    }
    return fsyncDir(target.parent_path().empty() ? fs::path(".") : target.parent_path());
}

SStatus writeFileAtomic(const fs::path& path, crypto::ByteView data) {
    fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    auto tmp = TempFile::create(dir, path.filename().string());
    if (!tmp) return tmp.error();
    XS_TRY(tmp->write(data));
    return tmp->commitAs(path);
}

}  // namespace xs::sync
