// Small POSIX file helpers with durability: atomic replace (write temp, fsync, rename, fsync dir).
#pragma once
#include <filesystem>
#include <string>
#include "crypto/bytes.h"
#include "sync/error.h"

namespace xs::sync {

// Reads a whole file; refuses files larger than maxBytes (outside input stays bounded).
SResult<crypto::Bytes> readFile(const std::filesystem::path& path, std::size_t maxBytes);
// Writes path atomically and durably: a crash leaves either the old or the new content.
SStatus writeFileAtomic(const std::filesystem::path& path, crypto::ByteView data);
SStatus fsyncDir(const std::filesystem::path& dir);

// A file being written by fd; removed on destruction unless committed by rename.
class TempFile {
public:
    static SResult<TempFile> create(const std::filesystem::path& dir, const std::string& prefix);
    ~TempFile();
    TempFile(TempFile&& other) noexcept;
    TempFile& operator=(TempFile&&) = delete;
    SStatus write(crypto::ByteView data);
    SStatus sync();                                           // fsync
    SStatus commitAs(const std::filesystem::path& target);   // fsync, close, rename, fsync dir
    const std::filesystem::path& path() const { return m_path; }
private:
    TempFile(int fd, std::filesystem::path path) : m_fd(fd), m_path(std::move(path)) {}
    int m_fd = -1;
    std::filesystem::path m_path;
};

}  // namespace xs::sync
