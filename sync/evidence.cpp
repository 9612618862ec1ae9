#include "sync/evidence.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <utility>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/stream.h"
#include "sync/file_io.h"
#include "sync/keyfile.h"
#include "sync/env.h"

namespace xs::sync {
namespace fs = std::filesystem;
namespace {

// Header: "XSEV" | version (1) | suite (1) | chunk size log2 (1) | reserved 0 (1) | salt (16).
// Version 2 seals the final chunk with the content's SHA-256 as its associated data, so a file
// that opens is the content of that hash without hashing it again. (Version 1 files, without it,
// belong to stores of the first change-set format, which are refused at open: they are not read.)
constexpr std::size_t kHeaderSize = 24;
constexpr std::uint8_t kVersion = 2;
constexpr std::uint8_t kChunkLog2 = 16;
constexpr std::size_t kChunkSize = std::size_t{1} << kChunkLog2;
constexpr std::size_t kReadChunks = 4;  // sealed chunks read per read(2)

// Each file's key: HKDF-SHA256(ikm = the scope's key, salt = the header's 16 random bytes,
// info = "xunshen/v1/evidence-file" || header).
SResult<crypto::SecretBytes> fileKey(const crypto::SecretBytes& contentKey, crypto::ByteView header) {
    std::string info = "xunshen/v1/evidence-file";
    crypto::Bytes infoBytes(info.begin(), info.end());
    infoBytes.insert(infoBytes.end(), header.begin(), header.end());
    auto key = crypto::hkdfSha256(contentKey, header.subspan(8, 16), infoBytes, 32);
    if (!key) return fail(SyncError::Crypto, "cannot derive evidence key: " + key.message());
    return std::move(*key);
}

Error<SyncError> cryptoToSync(const Error<crypto::CryptoError>& e, const std::string& hash) {
    return fail(SyncError::Corrupt, "evidence " + hash.substr(0, 12) + " is damaged or was tampered with (" + e.message + ")");
}

bool isHexHash(const std::string& h) {
    if (h.size() != 64) return false;
    for (char c : h)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

}  // namespace

SResult<EvidenceStore> EvidenceStore::open(const fs::path& dir, const crypto::SecretBytes& dataKey) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return fail(SyncError::Io, "cannot create " + dir.string() + ": " + ec.message());
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    EvidenceStore store;
    store.m_dir = dir;
    auto name = crypto::hkdfSha256(dataKey, {}, crypto::asBytes("xunshen/v1/evidence-name"), 32);
    if (!name) return fail(SyncError::Crypto, "cannot derive evidence keys");
    store.m_nameKey = std::move(*name);
    return store;
}

fs::path EvidenceStore::pathFor(const std::string& scope, const std::string& hash) const {
    auto raw = crypto::fromHex(hash);
    crypto::Bytes input(scope.begin(), scope.end());
    input.push_back(0);
    if (raw) input.insert(input.end(), raw->begin(), raw->end());
    std::string name = crypto::toHex(crypto::hmacSha256(m_nameKey, input));
    return m_dir / name.substr(0, 2) / (name.substr(2) + ".xse");
}

bool EvidenceStore::contains(const std::string& scope, const std::string& hash) const {
    std::error_code ec;
    return isHexHash(hash) && fs::exists(pathFor(scope, hash), ec);
}

std::shared_ptr<HashBehind> EvidenceStore::takeHasher() {
    if (m_spareHasher) return std::move(m_spareHasher);
    return std::make_shared<HashBehind>();
}

struct EvidenceWriter::Impl {
    EvidenceStore* store = nullptr;
    std::string scope;
    WriteBehind* writeBehind = nullptr;
    std::optional<TempFile> tmp;
    std::optional<crypto::StreamSealer> sealer;
    std::shared_ptr<HashBehind> hasher;  // SHA-256 on another core while this thread seals
    std::uint64_t total = 0;
    SStatus writeStatus;
};

EvidenceWriter::EvidenceWriter() : m_impl(std::make_unique<Impl>()) {}
EvidenceWriter::~EvidenceWriter() = default;
EvidenceWriter::EvidenceWriter(EvidenceWriter&&) noexcept = default;

SResult<EvidenceWriter> EvidenceStore::writer(const EvidenceScope& scope, WriteBehind* writeBehind) {
    if (scope.key.size() != 32) return fail(SyncError::Invalid, "evidence scope " + scope.name + " has no key");
    EvidenceWriter w;
    auto& impl = *w.m_impl;
    impl.store = this;
    impl.scope = scope.name;
    impl.writeBehind = writeBehind;
    impl.hasher = takeHasher();
    auto tmp = TempFile::create(m_dir, "evidence", writeBehind);
    if (!tmp) return tmp.error();
    impl.tmp.emplace(std::move(*tmp));
    std::array<std::uint8_t, kHeaderSize> header{};
    std::memcpy(header.data(), "XSEV", 4);
    header[4] = kVersion;
    header[5] = static_cast<std::uint8_t>(kSuiteXs1);
    header[6] = kChunkLog2;
    header[7] = 0;
    if (!crypto::randomFill(header.data() + 8, 16)) return fail(SyncError::Crypto, "random number generator failed");
    XS_TRY(impl.tmp->write(header));
    auto key = fileKey(scope.key, header);
    if (!key) return key.error();
    EvidenceWriter::Impl* p = &impl;
    auto sealer = crypto::StreamSealer::create(
        crypto::AeadAlg::ChaCha20Poly1305, *key,
        [p](crypto::ByteView chunk) -> crypto::CStatus {
            p->writeStatus = p->tmp->write(chunk);
            if (!p->writeStatus) return fail(crypto::CryptoError::Internal, p->writeStatus.message());
            return {};
        },
        kChunkSize);
    if (!sealer) return fail(SyncError::Crypto, sealer.message());
    impl.sealer.emplace(std::move(*sealer));
    return w;
}

SStatus EvidenceWriter::write(crypto::ByteView data) {
    m_impl->hasher->update(data);
    m_impl->total += data.size();
    if (!m_impl->sealer->write(data))
        return m_impl->writeStatus ? fail(SyncError::Crypto, "evidence encryption failed") : m_impl->writeStatus.error();
    return {};
}

SResult<EvidenceInfo> EvidenceWriter::finish() {
    Impl& impl = *m_impl;
    const crypto::Digest digest = impl.hasher->finish();
    impl.store->m_spareHasher = std::move(impl.hasher);  // clean again: the next file's
    if (!impl.sealer->finish(digest))
        return impl.writeStatus ? fail(SyncError::Crypto, "evidence encryption failed") : impl.writeStatus.error();
    EvidenceInfo info;
    info.hash = crypto::toHex(digest);
    info.size = impl.total;
    fs::path target = impl.store->pathFor(impl.scope, info.hash);
    std::error_code ec;
    if (fs::exists(target, ec)) {
        info.deduplicated = true;  // the TempFile removes itself
        return info;
    }
    fs::create_directories(target.parent_path(), ec);
    if (ec) return fail(SyncError::Io, "cannot create " + target.parent_path().string() + ": " + ec.message());
    fs::permissions(target.parent_path(), fs::perms::owner_all, fs::perm_options::replace, ec);
    if (impl.writeBehind) {
        XS_TRY(impl.tmp->commitAs(target));
        impl.writeBehind->syncDirLater(impl.store->m_dir);  // it may hold a new subdirectory
        return info;
    }
    SStatus placed = impl.tmp->commitAs(target);
    if (placed) placed = fsyncDir(impl.store->m_dir);
    if (!placed) {
        // Renamed into place before a folder's fsync failed: the file is this call's (the target
        // was not there) and no record will name it.
        if (impl.tmp->renamed()) (void)envUnlink(target.string());
        return placed.error();
    }
    return info;
}

SResult<EvidenceInfo> EvidenceStore::add(const EvidenceScope& scope, const fs::path& source) {
    int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        if (errno == ENOENT) return fail(SyncError::NotFound, "no such evidence file: " + source.string());
        return fail(SyncError::Io, "cannot read evidence file " + source.string() + ": " + std::strerror(errno));
    }
    struct Closer { int fd; ~Closer() { ::close(fd); } } closer{in};
    auto w = writer(scope);
    if (!w) return w.error();
    std::vector<std::uint8_t> buf(kChunkSize);
    for (;;) {
        ssize_t n = ::read(in, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(SyncError::Io, "cannot read evidence file " + source.string() + ": " + std::strerror(errno));
        }
        if (n == 0) break;
        XS_TRY(w->write(crypto::ByteView(buf.data(), static_cast<std::size_t>(n))));
    }
    return w->finish();
}

SStatus EvidenceStore::read(const EvidenceScope& scope, const std::string& hash,
                            const std::function<SStatus(crypto::ByteView)>& sink) {
    if (!isHexHash(hash)) return fail(SyncError::Invalid, "not an evidence hash: " + hash);
    int in = ::open(pathFor(scope.name, hash).c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return fail(SyncError::NotFound, "no evidence with hash " + hash);
    struct Closer { int fd; ~Closer() { ::close(fd); } } closer{in};
    (void)::posix_fadvise(in, 0, 0, POSIX_FADV_SEQUENTIAL);  // a larger read-ahead window
    // The header alone first, then whole chunks, which open in place.
    std::vector<std::uint8_t> buf(kReadChunks * (kChunkSize + 16));
    std::size_t want = kHeaderSize;
    return decode(
        scope, hash,
        [&]() -> SResult<crypto::ByteView> {
            for (;;) {
                ssize_t n = ::read(in, buf.data(), std::exchange(want, buf.size()));
                if (n >= 0) return crypto::ByteView(buf.data(), static_cast<std::size_t>(n));
                if (errno != EINTR)
                    return fail(SyncError::Io, "cannot read evidence " + hash.substr(0, 12) + ": " + std::strerror(errno));
            }
        },
        sink);
}

SStatus EvidenceStore::decode(const EvidenceScope& scope, const std::string& hash,
                              const std::function<SResult<crypto::ByteView>()>& nextBytes,
                              const std::function<SStatus(crypto::ByteView)>& sink) {
    return decodeWith(
        [&](crypto::ByteView header) -> SResult<crypto::SecretBytes> {
            if (scope.key.size() != 32) return fail(SyncError::NotFound, "evidence " + hash.substr(0, 12) + ": its scope's key is gone");
            return fileKey(scope.key, header);
        },
        hash, nextBytes, sink);
}

SStatus EvidenceStore::decodeWith(const std::function<SResult<crypto::SecretBytes>(crypto::ByteView header)>& keyFor,
                                  const std::string& hash,
                                  const std::function<SResult<crypto::ByteView>()>& nextBytes,
                                  const std::function<SStatus(crypto::ByteView)>& sink) {
    // The header, however the bytes come.
    std::array<std::uint8_t, kHeaderSize> header{};
    std::size_t have = 0;
    crypto::ByteView rest;
    while (have < kHeaderSize) {
        auto bytes = nextBytes();
        if (!bytes) return bytes.error();
        if (bytes->empty()) break;
        const std::size_t n = std::min(kHeaderSize - have, bytes->size());
        std::memcpy(header.data() + have, bytes->data(), n);
        have += n;
        rest = bytes->subspan(n);
    }
    if (have < kHeaderSize || std::memcmp(header.data(), "XSEV", 4) != 0)
        return fail(SyncError::Corrupt, "evidence " + hash.substr(0, 12) + " has a damaged header");
    if (header[4] != kVersion || header[5] != kSuiteXs1 || header[6] != kChunkLog2 || header[7] != 0)
        return fail(SyncError::Corrupt, "evidence " + hash.substr(0, 12) + " has an unsupported version or suite");
    auto key = keyFor(header);
    if (!key) return key.error();

    // The final tag is over the content's hash: a file that opens is that content.
    const auto digest = crypto::fromHex(hash);
    SStatus sinkStatus;
    auto opener = crypto::StreamOpener::create(
        crypto::AeadAlg::ChaCha20Poly1305, *key,
        [&](crypto::ByteView plain) -> crypto::CStatus {
            sinkStatus = sink(plain);
            if (!sinkStatus) return fail(crypto::CryptoError::Internal, sinkStatus.message());
            return {};
        },
        kChunkSize, crypto::ByteView(*digest));
    if (!opener) return fail(SyncError::Crypto, opener.message());
    for (;;) {
        if (!rest.empty()) {
            auto s = opener->write(rest);
            if (!s) return sinkStatus ? cryptoToSync(s.error(), hash) : sinkStatus.error();
        }
        auto bytes = nextBytes();
        if (!bytes) return bytes.error();
        if (bytes->empty()) break;
        rest = *bytes;
    }
    auto s = opener->finish();
    if (!s) return sinkStatus ? cryptoToSync(s.error(), hash) : sinkStatus.error();
    return {};
}

struct EvidenceSequence::Impl {
    EvidenceStore* store = nullptr;
    EvidenceScope scope;
    std::unique_ptr<ReadAhead> input;
    std::vector<std::string> hashes;
    std::size_t next = 0;
    bool failed = false;
};

EvidenceSequence::EvidenceSequence() : m_impl(std::make_unique<Impl>()) {}
EvidenceSequence::~EvidenceSequence() = default;
EvidenceSequence::EvidenceSequence(EvidenceSequence&&) noexcept = default;

SResult<EvidenceSequence> EvidenceStore::readSequence(const EvidenceScope& scope, const std::vector<std::string>& hashes) {
    std::vector<fs::path> paths;
    paths.reserve(hashes.size());
    for (const auto& h : hashes) {
        if (!isHexHash(h)) return fail(SyncError::Invalid, "not an evidence hash: " + h);
        paths.push_back(pathFor(scope.name, h));
    }
    auto input = ReadAhead::startFiles(std::move(paths));
    if (!input) return input.error();
    EvidenceSequence seq;
    seq.m_impl->store = this;
    seq.m_impl->scope = {scope.name, scope.key.clone()};
    seq.m_impl->input = std::move(*input);
    seq.m_impl->hashes = hashes;
    return seq;
}

SStatus EvidenceSequence::read(const std::string& hash, const std::function<SStatus(crypto::ByteView)>& sink) {
    Impl& impl = *m_impl;
    if (impl.failed || impl.next >= impl.hashes.size() || impl.hashes[impl.next] != hash)
        return fail(SyncError::Invalid, "evidence " + hash.substr(0, 12) + " read out of the sequence's order");
    ++impl.next;
    impl.failed = true;  // until this file is read to its end
    auto st = impl.store->decode(
        impl.scope, hash,
        [&]() -> SResult<crypto::ByteView> {
            auto bytes = impl.input->next();
            if (!bytes && bytes.code() == SyncError::NotFound) return fail(SyncError::NotFound, "no evidence with hash " + hash);
            if (!bytes) return fail(SyncError::Io, "cannot read evidence " + hash.substr(0, 12) + ": " + bytes.message());
            return bytes;
        },
        sink);
    if (st) impl.failed = false;
    return st;
}

SStatus EvidenceStore::exportTo(const EvidenceScope& scope, const std::string& hash, const fs::path& target) {
    fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    auto tmp = TempFile::create(dir, target.filename().string());
    if (!tmp) return tmp.error();
    XS_TRY(read(scope, hash, [&](crypto::ByteView plain) { return tmp->write(plain); }));
    return tmp->commitAs(target);
}

SResult<std::size_t> EvidenceStore::removeFilesOtherThan(const std::vector<std::pair<std::string, std::string>>& held) {
    std::set<fs::path> keep;
    for (const auto& [scope, hash] : held) keep.insert(pathFor(scope, hash));
    std::size_t removed = 0;
    std::error_code ec;
    for (auto sub = fs::directory_iterator(m_dir, ec); !ec && sub != fs::directory_iterator(); sub.increment(ec)) {
        if (!sub->is_directory() || sub->path().filename().string().size() != 2) continue;
        std::error_code inner;
        for (auto it = fs::directory_iterator(sub->path(), inner); !inner && it != fs::directory_iterator(); it.increment(inner)) {
            if (it->path().extension() != ".xse" || keep.count(it->path())) continue;
            if (envUnlink(it->path().string()) != 0)
                return fail(SyncError::Io, "cannot remove " + it->path().string() + ": " + std::strerror(errno));
            ++removed;
        }
        if (inner) return fail(SyncError::Io, "cannot list " + sub->path().string() + ": " + inner.message());
    }
    if (ec) return fail(SyncError::Io, "cannot list " + m_dir.string() + ": " + ec.message());
    return removed;
}

SResult<EvidenceBlob> EvidenceStore::blobOf(const EvidenceScope& scope, const std::string& hash) {
    if (!isHexHash(hash)) return fail(SyncError::Invalid, "not an evidence hash: " + hash);
    if (scope.key.size() != 32) return fail(SyncError::NotFound, "evidence " + hash.substr(0, 12) + ": its scope's key is gone");
    EvidenceBlob blob;
    blob.path = pathFor(scope.name, hash);
    int in = ::open(blob.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return fail(SyncError::NotFound, "no evidence with hash " + hash);
    struct Closer { int fd; ~Closer() { ::close(fd); } } closer{in};
    (void)::posix_fadvise(in, 0, 0, POSIX_FADV_SEQUENTIAL);
    crypto::Sha256 hasher;
    std::vector<std::uint8_t> buf(kReadChunks * (kChunkSize + 16));
    std::array<std::uint8_t, kHeaderSize> header{};
    for (;;) {
        ssize_t n = ::read(in, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(SyncError::Io, "cannot read evidence " + hash.substr(0, 12) + ": " + std::strerror(errno));
        }
        if (n == 0) break;
        const auto got = static_cast<std::size_t>(n);
        if (blob.size < kHeaderSize)
            std::memcpy(header.data() + blob.size, buf.data(), std::min(got, kHeaderSize - static_cast<std::size_t>(blob.size)));
        hasher.update(crypto::ByteView(buf.data(), got));
        blob.size += got;
    }
    if (blob.size < kHeaderSize || std::memcmp(header.data(), "XSEV", 4) != 0)
        return fail(SyncError::Corrupt, "evidence " + hash.substr(0, 12) + " has a damaged header");
    auto key = fileKey(scope.key, header);
    if (!key) return key.error();
    blob.fileKey = std::move(*key);
    blob.id = crypto::toHex(hasher.finish());
    return blob;
}

SResult<EvidenceInfo> EvidenceStore::addFromBlob(const EvidenceScope& scope, const std::string& hash,
                                                 const fs::path& blobFile, const crypto::SecretBytes& blobKey) {
    if (!isHexHash(hash)) return fail(SyncError::Invalid, "not an evidence hash: " + hash);
    if (blobKey.size() != 32) return fail(SyncError::Invalid, "an evidence blob key is 32 bytes");
    int in = ::open(blobFile.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return fail(SyncError::NotFound, "cannot open " + blobFile.string() + ": " + std::strerror(errno));
    struct Closer { int fd; ~Closer() { ::close(fd); } } closer{in};
    (void)::posix_fadvise(in, 0, 0, POSIX_FADV_SEQUENTIAL);
    auto w = writer(scope);
    if (!w) return w.error();
    std::vector<std::uint8_t> buf(kReadChunks * (kChunkSize + 16));
    std::size_t want = kHeaderSize;
    XS_TRY(decodeWith([&](crypto::ByteView) -> SResult<crypto::SecretBytes> { return blobKey.clone(); }, hash,
                      [&]() -> SResult<crypto::ByteView> {
                          for (;;) {
                              ssize_t n = ::read(in, buf.data(), std::exchange(want, buf.size()));
                              if (n >= 0) return crypto::ByteView(buf.data(), static_cast<std::size_t>(n));
                              if (errno != EINTR)
                                  return fail(SyncError::Io, "cannot read " + blobFile.string() + ": " + std::strerror(errno));
                          }
                      },
                      [&](crypto::ByteView plain) { return w->write(plain); }));
    auto info = w->finish();
    if (!info) return info.error();
    // The final tag is over `hash`, so this holds whenever the blob opened; checked all the same.
    if (info->hash != hash) {
        if (!info->deduplicated) (void)remove(scope.name, info->hash);
        return fail(SyncError::Corrupt, "evidence " + hash.substr(0, 12) + " from the server is other content");
    }
    return info;
}

SStatus EvidenceStore::verify(const EvidenceScope& scope, const std::string& hash) {
    return read(scope, hash, [](crypto::ByteView) { return SStatus(); });
}

SStatus EvidenceStore::remove(const std::string& scope, const std::string& hash) {
    const fs::path path = pathFor(scope, hash);
    if (envUnlink(path.string()) != 0 && errno != ENOENT)
        return fail(SyncError::Io, "cannot remove evidence " + path.string() + ": " + std::strerror(errno));
    return {};
}

}  // namespace xs::sync
