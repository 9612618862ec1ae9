// Helpers shared by the sync tests: temp directories, whole-file I/O, cheap Argon2 parameters,
// readable SyncError values in failed CHECKs, and a recorder for the unlock sleeper.
#pragma once

#include <doctest/doctest.h>

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "sync/error.h"
#include "sync/store.h"

namespace xs::sync::test {

namespace fs = std::filesystem;

// Argon2id cheap enough for unit tests (the minimum a key file accepts).
inline crypto::Argon2Params cheapKdf() {
    return crypto::Argon2Params{.iterations = 1, .memoryKiB = 8192, .parallelism = 1};
}

// A fresh directory under /tmp, removed with everything in it when the test ends.
class TempDir {
public:
    TempDir() {
        std::string pattern = "/tmp/xs-sync-test-XXXXXX";
        char* made = ::mkdtemp(pattern.data());
        REQUIRE_MESSAGE(made != nullptr, "mkdtemp failed");
        m_path = made;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const fs::path& path() const { return m_path; }
    fs::path operator/(const std::string& name) const { return m_path / name; }

private:
    fs::path m_path;
};

inline crypto::Bytes readAll(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path.string());
    return crypto::Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void writeAll(const fs::path& path, crypto::ByteView data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    REQUIRE_MESSAGE(out.good(), "cannot create " << path.string());
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    REQUIRE(out.good());
}

inline void writeText(const fs::path& path, const std::string& text) { writeAll(path, crypto::asBytes(text)); }

inline std::string sha256Hex(crypto::ByteView data) { return crypto::toHex(crypto::sha256(data)); }
inline std::string fileSha256(const fs::path& path) { return sha256Hex(readAll(path)); }

// Every regular file below dir (recursively), sorted.
inline std::vector<fs::path> filesUnder(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (it->is_regular_file()) out.push_back(it->path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

inline std::string errorName(SyncError e) {
    switch (e) {
        case SyncError::WrongPassphrase: return "WrongPassphrase";
        case SyncError::NotFound: return "NotFound";
        case SyncError::AlreadyExists: return "AlreadyExists";
        case SyncError::Corrupt: return "Corrupt";
        case SyncError::Io: return "Io";
        case SyncError::Database: return "Database";
        case SyncError::Crypto: return "Crypto";
        case SyncError::Invalid: return "Invalid";
        case SyncError::Forbidden: return "Forbidden";
        case SyncError::Busy: return "Busy";
        case SyncError::DiskFull: return "DiskFull";
        case SyncError::Cancelled: return "Cancelled";
        case SyncError::Unavailable: return "Unavailable";
    }
    return "?";
}

// The error code of a failed Result/Status, or nullopt on success.
template <typename R>
std::optional<SyncError> errorOf(const R& r) {
    if (r.ok()) return std::nullopt;
    return r.code();
}

template <typename R>
std::string describe(const R& r) {
    if (r.ok()) return "ok";
    return errorName(r.code()) + ": " + r.message();
}

// Records the waits between failed unlocks instead of sleeping; restores a real sleeper after.
class SleepRecorder {
public:
    SleepRecorder() {
        setUnlockSleeper([this](double seconds) { m_sleeps.push_back(seconds); });
    }
    ~SleepRecorder() {
        setUnlockSleeper([](double seconds) {
            std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
        });
    }
    SleepRecorder(const SleepRecorder&) = delete;
    SleepRecorder& operator=(const SleepRecorder&) = delete;
    const std::vector<double>& sleeps() const { return m_sleeps; }
    void clear() { m_sleeps.clear(); }

private:
    std::vector<double> m_sleeps;
};

// Column 0 of every row of `sql`, as secrets (keys the test then tries, as an adversary would).
inline std::vector<crypto::SecretBytes> secretColumn(Db& db, const char* sql) {
    auto s = db.prepare(sql);
    REQUIRE(s.ok());
    std::vector<crypto::SecretBytes> out;
    for (;;) {
        auto row = s->step();
        REQUIRE(row.ok());
        if (!*row) break;
        out.push_back(s->secretBlob(0));
    }
    return out;
}

}  // namespace xs::sync::test

// Readable error codes in failed CHECKs (non-template overloads, preferred over doctest's
// generic enum printing, which shows the number).
namespace xs::sync {
inline doctest::String toString(const SyncError& e) { return test::errorName(e).c_str(); }
inline doctest::String toString(const std::optional<SyncError>& e) {
    return e ? test::errorName(*e).c_str() : "success";
}
}  // namespace xs::sync
