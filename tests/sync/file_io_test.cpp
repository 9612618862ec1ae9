// HashBehind: the digest computed on its thread is SHA-256 of exactly the bytes given, however
// they were split, one stream after another on the same object, and it may be dropped unfinished.
// WriteBehind: files written through it, alone or interleaved (its batched writes must not mix
// files or skip a block), read back byte for byte; a file dropped uncommitted leaves nothing; the
// first error comes back from sync() and later commits, and nothing after it is put in place.
// writeFileAtomic and a TempFile without a WriteBehind: replace whole, leave no temp file behind.
// ReadAhead over a list of files: each file's bytes, then its end, in order; a missing file is
// reported after the files before it.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "crypto/hash.h"
#include "sync/file_io.h"
#include "tests/sync/sync_test_util.h"

namespace xs::sync {
namespace {

crypto::Bytes pattern(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    crypto::Bytes out(n);
    for (auto& b : out) b = static_cast<std::uint8_t>(rng());
    return out;
}

TEST_CASE("HashBehind gives SHA-256 of the bytes whatever the pieces") {
    constexpr std::size_t B = HashBehind::kBlockSize;
    const std::vector<std::size_t> sizes = {0, 1, B - 1, B, B + 1, HashBehind::kBlocks * B, HashBehind::kBlocks * B + 3,
                                            3 * 1024 * 1024 + 17};
    for (std::size_t size : sizes) {
        CAPTURE(size);
        const crypto::Bytes data = pattern(size, size + 1);
        const crypto::Digest expected = crypto::sha256(data);
        {  // one piece
            HashBehind h;
            h.update(data);
            CHECK(h.finish() == expected);
        }
        {  // random pieces, some empty, some larger than a block
            std::mt19937_64 rng(size);
            HashBehind h;
            std::size_t off = 0;
            while (off < size) {
                std::size_t n = std::min<std::size_t>(size - off, rng() % (2 * B + 2));
                h.update(crypto::ByteView(data).subspan(off, n));
                off += n;
            }
            CHECK(h.finish() == expected);
        }
    }
}

TEST_CASE("HashBehind hashes one stream after another on the same thread") {
    constexpr std::size_t B = HashBehind::kBlockSize;
    // Sizes that leave the blocks in every state at a finish(): none used, one partly, all full
    // with one more queued; then a stream that is empty.
    const std::vector<std::size_t> sizes = {5, HashBehind::kBlocks * B + B / 2, 0, B, 2 * B + 1, 0, 7 * B + 11, 1};
    HashBehind h;
    std::mt19937_64 rng(77);
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        CAPTURE(i);
        const crypto::Bytes data = pattern(sizes[i], 100 + i);
        std::size_t off = 0;
        while (off < data.size()) {
            std::size_t n = std::min<std::size_t>(data.size() - off, rng() % (B + B / 3));
            h.update(crypto::ByteView(data).subspan(off, n));
            off += n;
        }
        CHECK(h.finish() == crypto::sha256(data));
    }
    h.update(pattern(3 * B, 1));  // and it may still go with a stream unfinished
}

TEST_CASE("HashBehind dropped unfinished with blocks queued stops cleanly") {
    const crypto::Bytes data = pattern(3 * HashBehind::kBlockSize * HashBehind::kBlocks, 9);
    for (int i = 0; i < 20; ++i) {
        HashBehind h;
        h.update(data);  // more than the queue holds: the thread is busy when this goes
    }
    HashBehind unused;  // never given anything
    CHECK(HashBehind().finish() == crypto::sha256(crypto::ByteView()));
}

TEST_CASE("WriteBehind writes files whole whether alone or interleaved") {
    constexpr std::size_t B = WriteBehind::kBlockSize;
    test::TempDir tmp;
    auto wb = WriteBehind::start();
    REQUIRE(wb.ok());
    // Sizes around the batch: many whole blocks (batched), a tail, less than a block.
    const std::vector<std::size_t> sizes = {WriteBehind::kMaxBatch * B * 3 + B / 2 + 7, 2 * B, B - 5, 0, 11 * B + 4096};
    std::vector<crypto::Bytes> contents;
    std::vector<TempFile> files;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        contents.push_back(pattern(sizes[i], 500 + i));
        auto f = TempFile::create(tmp.path(), "wb", wb->get());
        REQUIRE(f.ok());
        files.push_back(std::move(*f));
    }
    // Interleaved: a piece of each in turn, pieces of varied size.
    std::mt19937_64 rng(5);
    std::vector<std::size_t> off(sizes.size(), 0);
    for (bool more = true; more;) {
        more = false;
        for (std::size_t i = 0; i < files.size(); ++i) {
            if (off[i] == sizes[i]) continue;
            const std::size_t n = std::min<std::size_t>(sizes[i] - off[i], 1 + rng() % (3 * B));
            REQUIRE(files[i].write(crypto::ByteView(contents[i]).subspan(off[i], n)).ok());
            off[i] += n;
            more = true;
        }
    }
    for (std::size_t i = 0; i < files.size(); ++i)
        REQUIRE(files[i].commitAs(tmp.path() / ("file-" + std::to_string(i))).ok());
    // And one alone, in a single call: its blocks queue back to back.
    const crypto::Bytes alone = pattern(9 * B + 3, 77);
    auto f = TempFile::create(tmp.path(), "wb", wb->get());
    REQUIRE(f.ok());
    REQUIRE(f->write(alone).ok());
    REQUIRE(f->commitAs(tmp.path() / "alone").ok());
    REQUIRE((*wb)->sync().ok());
    for (std::size_t i = 0; i < files.size(); ++i) CHECK(test::readAll(tmp.path() / ("file-" + std::to_string(i))) == contents[i]);
    CHECK(test::readAll(tmp.path() / "alone") == alone);
}

// The names in dir, sorted.
std::vector<std::string> entries(const std::filesystem::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

TEST_CASE("WriteBehind: a file dropped uncommitted leaves nothing, committed ones stay") {
    constexpr std::size_t B = WriteBehind::kBlockSize;
    test::TempDir tmp;
    const crypto::Bytes kept = pattern(2 * B + 9, 31);
    {
        auto wb = WriteBehind::start();
        REQUIRE(wb.ok());
        {
            auto dropped = TempFile::create(tmp.path(), "wb", wb->get());
            REQUIRE(dropped.ok());
            REQUIRE(dropped->write(pattern(3 * B + 1, 30)).ok());  // blocks queued, then dropped
        }
        auto f = TempFile::create(tmp.path(), "wb", wb->get());
        REQUIRE(f.ok());
        REQUIRE(f->write(kept).ok());
        REQUIRE(f->commitAs(tmp.path() / "kept").ok());
        REQUIRE((*wb)->sync().ok());
        CHECK(entries(tmp.path()) == std::vector<std::string>{"kept"});
    }
    CHECK(entries(tmp.path()) == std::vector<std::string>{"kept"});  // and it stays when the threads stop
    CHECK(test::readAll(tmp.path() / "kept") == kept);
}

TEST_CASE("WriteBehind: the first error is sticky and nothing after it is put in place") {
    constexpr std::size_t B = WriteBehind::kBlockSize;
    test::TempDir tmp;
    {
        auto wb = WriteBehind::start();
        REQUIRE(wb.ok());
        auto bad = TempFile::create(tmp.path(), "wb", wb->get());
        REQUIRE(bad.ok());
        REQUIRE(bad->write(pattern(B + 10, 40)).ok());
        REQUIRE(bad->commitAs(tmp.path() / "no-such-dir" / "bad").ok());  // only queued: the rename fails later
        auto st = (*wb)->sync();
        REQUIRE_FALSE(st.ok());
        CHECK(st.code() == SyncError::Io);
        auto later = TempFile::create(tmp.path(), "wb", wb->get());
        REQUIRE(later.ok());
        (void)later->write(pattern(B / 2, 41));  // may already refuse
        CHECK_FALSE(later->commitAs(tmp.path() / "later").ok());
        CHECK_FALSE((*wb)->sync().ok());
    }
    CHECK(entries(tmp.path()).empty());  // neither file, no temp file left
}

TEST_CASE("writeFileAtomic and a TempFile without a WriteBehind replace whole and leave no temp file") {
    test::TempDir tmp;
    const auto path = tmp / "state.json";
    REQUIRE(writeFileAtomic(path, pattern(100, 50)).ok());
    const crypto::Bytes second = pattern(70000, 51);
    REQUIRE(writeFileAtomic(path, second).ok());
    CHECK(test::readAll(path) == second);
    {
        auto dropped = TempFile::create(tmp.path(), "state.json");
        REQUIRE(dropped.ok());
        REQUIRE(dropped->write(pattern(10, 52)).ok());
        REQUIRE(dropped->sync().ok());
    }
    CHECK(entries(tmp.path()) == std::vector<std::string>{"state.json"});
    CHECK(test::readAll(path) == second);
    auto read = readFile(path, second.size());
    REQUIRE(read.ok());
    CHECK(*read == second);
    auto tooLarge = readFile(path, second.size() - 1);
    REQUIRE_FALSE(tooLarge.ok());
    CHECK(tooLarge.code() == SyncError::Invalid);
}

// Everything ReadAhead gives for one listed file, up to its end.
crypto::Bytes readToEnd(ReadAhead& ra) {
    crypto::Bytes out;
    for (;;) {
        auto bytes = ra.next();
        REQUIRE_MESSAGE(bytes.ok(), bytes.message());
        if (bytes->empty()) return out;
        out.insert(out.end(), bytes->begin(), bytes->end());
    }
}

TEST_CASE("ReadAhead reads a list of files one after another") {
    constexpr std::size_t B = ReadAhead::kBlockSize;
    test::TempDir tmp;
    const std::vector<std::size_t> sizes = {B + 1, 0, 3, B, ReadAhead::kBlocks * B * 2 + 4095, 24, 0};
    std::vector<std::filesystem::path> paths;
    std::vector<crypto::Bytes> contents;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        contents.push_back(pattern(sizes[i], 900 + i));
        paths.push_back(tmp / ("f" + std::to_string(i)));
        test::writeAll(paths.back(), contents.back());
    }
    {
        auto ra = ReadAhead::startFiles(paths);
        REQUIRE(ra.ok());
        for (std::size_t i = 0; i < sizes.size(); ++i) {
            CAPTURE(i);
            CHECK(readToEnd(**ra) == contents[i]);
        }
        auto after = (*ra)->next();  // past the last file: the end again
        REQUIRE(after.ok());
        CHECK(after->empty());
    }
    {  // the same list with a missing file in the middle
        auto withGap = paths;
        withGap.insert(withGap.begin() + 2, tmp / "missing");
        auto ra = ReadAhead::startFiles(withGap);
        REQUIRE(ra.ok());
        CHECK(readToEnd(**ra) == contents[0]);
        CHECK(readToEnd(**ra) == contents[1]);
        auto gap = (*ra)->next();
        REQUIRE_FALSE(gap.ok());
        CHECK(gap.code() == SyncError::NotFound);
    }
    {  // dropped after the first file, with the thread waiting for a free block
        auto ra = ReadAhead::startFiles(paths);
        REQUIRE(ra.ok());
        CHECK(readToEnd(**ra) == contents[0]);
    }
}

}  // namespace
}  // namespace xs::sync

namespace xs::sync {

TEST_CASE("file_io: a temp file a killed process left is removed - one a live writer holds is not") {
    namespace fs = std::filesystem;
    test::TempDir tmp;
    const fs::path dir = tmp.path();
    // A writer killed with -9 after creating and filling its temp file.
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        auto t = TempFile::create(dir, "evidence");
        if (t) (void)t->write(crypto::asBytes(std::string(4096, 'x')));
        ::kill(::getpid(), SIGKILL);
        ::_exit(1);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFSIGNALED(status));
    auto live = TempFile::create(dir, "evidence");
    REQUIRE(live.ok());
    REQUIRE(live->write(crypto::asBytes(std::string("still being written"))).ok());
    test::writeText(dir / "keep.txt", "not a temp file");
    test::writeText(dir / ".other.abc.tmp", "another prefix");
    std::size_t temps = 0;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().rfind(".evidence.", 0) == 0) ++temps;
    REQUIRE(temps == 2);  // the orphan and the live one

    auto removed = removeOrphanTempFiles(dir, "evidence");
    REQUIRE(removed.ok());
    CHECK(*removed == 1);
    CHECK(fs::exists(live->path()));
    CHECK(fs::exists(dir / "keep.txt"));
    CHECK(fs::exists(dir / ".other.abc.tmp"));  // not this prefix
    // Without a prefix every orphaned temp file goes; the live one stays.
    auto all = removeOrphanTempFiles(dir);
    REQUIRE(all.ok());
    CHECK(*all == 1);
    CHECK(fs::exists(live->path()));
    REQUIRE(live->commitAs(dir / "done.bin").ok());
    CHECK(test::readAll(dir / "done.bin").size() == 19);
}

}  // namespace xs::sync
