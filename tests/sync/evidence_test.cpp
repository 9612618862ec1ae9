// Evidence files: streaming encryption round trips, content addressing, deduplication, and
// detection of every kind of damage (bit flips, truncation, swapped files, another store's key).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/stream.h"
#include "sync/evidence.h"
#include "tests/sync/sync_test_util.h"

namespace xs::sync {
namespace fs = std::filesystem;
namespace {

using test::errorOf;
using test::TempDir;

constexpr std::size_t kHeader = 24;
constexpr std::size_t kChunk = 65536;
constexpr std::size_t kTag = 16;

crypto::SecretBytes randomKey() {
    auto key = crypto::randomSecret(32);
    REQUIRE(key.ok());
    return std::move(*key);
}

crypto::Bytes randomContent(std::size_t n) {
    if (n == 0) return {};
    auto b = crypto::randomBytes(n);
    REQUIRE(b.ok());
    return std::move(*b);
}

EvidenceStore openEvidence(const fs::path& dir, const crypto::SecretBytes& key) {
    auto e = EvidenceStore::open(dir, key);
    REQUIRE_MESSAGE(e.ok(), test::describe(e));
    return std::move(*e);
}

std::size_t countWithExtension(const fs::path& dir, const std::string& ext) {
    std::size_t n = 0;
    for (const auto& p : test::filesUnder(dir))
        if (p.extension() == ext) ++n;
    return n;
}

std::size_t countHidden(const fs::path& dir) {
    std::size_t n = 0;
    for (const auto& p : test::filesUnder(dir))
        if (p.filename().string().rfind('.', 0) == 0) ++n;
    return n;
}

// A store directory, a source directory and an output directory under one temp dir.
struct Fixture {
    TempDir tmp;
    crypto::SecretBytes key = randomKey();
    fs::path evDir = tmp / "evidence";
    fs::path srcDir = tmp / "src";
    fs::path outDir = tmp / "out";
    EvidenceStore ev = openEvidence(evDir, key);
    int next = 0;

    Fixture() {
        fs::create_directories(srcDir);
        fs::create_directories(outDir);
    }
    fs::path source(const crypto::Bytes& content) {
        fs::path p = srcDir / ("source-" + std::to_string(next++) + ".bin");
        test::writeAll(p, content);
        return p;
    }
    EvidenceInfo add(const crypto::Bytes& content) {
        auto info = ev.add(source(content));
        REQUIRE_MESSAGE(info.ok(), test::describe(info));
        return *info;
    }
};

// The key of one evidence file, derived as docs/FORMATS.md ("Evidence file") writes it out, from
// the store's data key and the file's 24-byte header: independent of sync/evidence.cpp.
crypto::SecretBytes fileKeyPerFormats(const crypto::SecretBytes& dataKey, crypto::ByteView header) {
    auto content = crypto::hkdfSha256(dataKey, {}, crypto::asBytes("xunshen/v1/evidence-content"), 32);
    REQUIRE(content.ok());
    const std::string label = "xunshen/v1/evidence-file";
    crypto::Bytes info(label.begin(), label.end());
    info.insert(info.end(), header.begin(), header.end());
    auto key = crypto::hkdfSha256(*content, header.subspan(8, 16), info, 32);
    REQUIRE(key.ok());
    return std::move(*key);
}

crypto::Bytes openPerFormats(const crypto::SecretBytes& dataKey, crypto::ByteView file, crypto::ByteView lastAad, bool* ok) {
    crypto::Bytes plain;
    auto key = fileKeyPerFormats(dataKey, file.first(kHeader));
    auto opener = crypto::StreamOpener::create(
        crypto::AeadAlg::ChaCha20Poly1305, key,
        [&](crypto::ByteView v) {
            plain.insert(plain.end(), v.begin(), v.end());
            return crypto::CStatus();
        },
        kChunk, lastAad);
    REQUIRE(opener.ok());
    *ok = opener->write(file.subspan(kHeader)) && opener->finish();
    return plain;
}

// A version 1 file (written before 2026-11-29: no associated data on the final chunk) of
// `content`, as that version's writer made it, under the name the store gives `nameAs`.
void writeVersion1(const Fixture& f, const crypto::Bytes& content, const std::string& nameAs) {
    crypto::Bytes file = {'X', 'S', 'E', 'V', 1, 1, 16, 0};
    auto salt = crypto::randomBytes(16);
    REQUIRE(salt.ok());
    file.insert(file.end(), salt->begin(), salt->end());
    auto key = fileKeyPerFormats(f.key, file);
    auto sealer = crypto::StreamSealer::create(
        crypto::AeadAlg::ChaCha20Poly1305, key,
        [&](crypto::ByteView v) {
            file.insert(file.end(), v.begin(), v.end());
            return crypto::CStatus();
        },
        kChunk);
    REQUIRE(sealer.ok());
    REQUIRE(sealer->write(content).ok());
    REQUIRE(sealer->finish().ok());
    const fs::path p = f.ev.pathFor(nameAs);
    fs::create_directories(p.parent_path());
    test::writeAll(p, file);
}

}  // namespace

TEST_CASE("evidence: a file is written as FORMATS.md says (version 2: hash bound to the final chunk)") {
    Fixture f;
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, kChunk, kChunk + 1, 3 * kChunk + 5}) {
        CAPTURE(n);
        const crypto::Bytes content = randomContent(n);
        const EvidenceInfo info = f.add(content);
        const crypto::Digest digest = crypto::sha256(content);
        CHECK(info.hash == crypto::toHex(digest));
        const crypto::Bytes file = test::readAll(f.ev.pathFor(info.hash));
        REQUIRE(file.size() >= kHeader);
        CHECK(crypto::Bytes(file.begin(), file.begin() + 8) == crypto::Bytes{'X', 'S', 'E', 'V', 2, 1, 16, 0});
        bool ok = false;
        CHECK(openPerFormats(f.key, file, digest, &ok) == content);
        CHECK(ok);
        crypto::Digest other = digest;
        other[0] ^= 0x80;
        openPerFormats(f.key, file, other, &ok);
        CHECK_FALSE(ok);  // the final tag is over the hash: another hash does not open it
        openPerFormats(f.key, file, {}, &ok);
        CHECK_FALSE(ok);
    }
}

TEST_CASE("evidence: version 1 files are still read and their hash is still checked") {
    Fixture f;
    const crypto::Bytes a = randomContent(3 * kChunk + 9);
    const crypto::Bytes b = randomContent(kChunk);
    const std::string ha = crypto::toHex(crypto::sha256(a));
    const std::string hb = crypto::toHex(crypto::sha256(b));
    writeVersion1(f, a, ha);
    CHECK(f.ev.contains(ha));
    CHECK(f.ev.verify(ha).ok());
    REQUIRE(f.ev.exportTo(ha, f.outDir / "a.bin").ok());
    CHECK(test::readAll(f.outDir / "a.bin") == a);
    // Adding the same content again is deduplicated against the old file.
    CHECK(f.add(a).deduplicated);
    // A version 1 file whose content is not its name's: only the hash can tell, and it does.
    writeVersion1(f, a, hb);
    CHECK(errorOf(f.ev.verify(hb)) == SyncError::Corrupt);
    CHECK(errorOf(f.ev.exportTo(hb, f.outDir / "b.bin")) == SyncError::Corrupt);
    CHECK_FALSE(fs::exists(f.outDir / "b.bin"));
    // One after another on the store's reused hasher: each verdict is still its own file's.
    CHECK(f.ev.verify(ha).ok());
    CHECK(errorOf(f.ev.verify(hb)) == SyncError::Corrupt);
    CHECK(f.ev.verify(ha).ok());
}

TEST_CASE("evidence: a sequence reads its files in order and stops at the first bad one") {
    Fixture f;
    std::vector<crypto::Bytes> contents;
    std::vector<std::string> hashes;
    for (std::size_t n : {std::size_t{0}, kChunk - 1, std::size_t{3} << 20, std::size_t{100}, kChunk + 1}) {
        contents.push_back(randomContent(n));
        hashes.push_back(f.add(contents.back()).hash);
    }
    const crypto::Bytes old = randomContent(2 * kChunk + 3);  // a version 1 file among them
    writeVersion1(f, old, crypto::toHex(crypto::sha256(old)));
    contents.push_back(old);
    hashes.push_back(crypto::toHex(crypto::sha256(old)));

    auto readAllOf = [](EvidenceSequence& seq, const std::string& hash, crypto::Bytes& out) {
        out.clear();
        return seq.read(hash, [&](crypto::ByteView v) {
            out.insert(out.end(), v.begin(), v.end());
            return SStatus();
        });
    };
    crypto::Bytes got;
    {
        auto seq = f.ev.readSequence(hashes);
        REQUIRE(seq.ok());
        for (std::size_t i = 0; i < hashes.size(); ++i) {
            CAPTURE(i);
            REQUIRE(readAllOf(*seq, hashes[i], got).ok());
            CHECK(got == contents[i]);
        }
        CHECK(errorOf(readAllOf(*seq, hashes[0], got)) == SyncError::Invalid);  // the list is done
    }
    {
        auto seq = f.ev.readSequence(hashes);
        REQUIRE(seq.ok());
        CHECK(errorOf(readAllOf(*seq, hashes[1], got)) == SyncError::Invalid);  // not the next one
    }
    // One flipped byte in the third file: the first two read, the third is Corrupt, and nothing
    // after it is read.
    const fs::path third = f.ev.pathFor(hashes[2]);
    crypto::Bytes bytes = test::readAll(third);
    bytes[kHeader + 5 * (kChunk + kTag) + 7] ^= 0x20;
    test::writeAll(third, bytes);
    {
        auto seq = f.ev.readSequence(hashes);
        REQUIRE(seq.ok());
        REQUIRE(readAllOf(*seq, hashes[0], got).ok());
        REQUIRE(readAllOf(*seq, hashes[1], got).ok());
        CHECK(errorOf(readAllOf(*seq, hashes[2], got)) == SyncError::Corrupt);
        CHECK(got.size() == 5 * kChunk);  // only chunks that authenticated were released
        CHECK(errorOf(readAllOf(*seq, hashes[3], got)) == SyncError::Invalid);
    }
    // A removed file: NotFound when the sequence gets to it.
    fs::remove(third);
    {
        auto seq = f.ev.readSequence(hashes);
        REQUIRE(seq.ok());
        REQUIRE(readAllOf(*seq, hashes[0], got).ok());
        REQUIRE(readAllOf(*seq, hashes[1], got).ok());
        CHECK(errorOf(readAllOf(*seq, hashes[2], got)) == SyncError::NotFound);
    }
    CHECK(errorOf(f.ev.readSequence({"not-a-hash"})) == SyncError::Invalid);
}

TEST_CASE("evidence: add and export round-trip at chunk-boundary sizes") {
    Fixture f;
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{65535}, std::size_t{65536},
                             std::size_t{65537}, std::size_t{300000}}) {
        CAPTURE(size);
        const crypto::Bytes content = randomContent(size);
        const EvidenceInfo info = f.add(content);
        CHECK(info.hash == test::sha256Hex(content));
        CHECK(info.size == size);
        CHECK_FALSE(info.deduplicated);
        CHECK(f.ev.contains(info.hash));
        CHECK(f.ev.verify(info.hash).ok());

        // On disk: header + one tag per chunk + the content, and no extra empty chunk when the
        // content is a multiple of the chunk size.
        const fs::path stored = f.ev.pathFor(info.hash);
        REQUIRE(fs::exists(stored));
        const std::size_t chunks = size == 0 ? 1 : (size + kChunk - 1) / kChunk;
        CHECK(fs::file_size(stored) == kHeader + chunks * kTag + size);
        // The name does not reveal the content hash.
        CHECK(stored.string().find(info.hash) == std::string::npos);

        const fs::path out = f.outDir / ("export-" + std::to_string(size) + ".bin");
        auto exported = f.ev.exportTo(info.hash, out);
        REQUIRE_MESSAGE(exported.ok(), test::describe(exported));
        CHECK(test::readAll(out) == content);

        // read() streams the same bytes.
        crypto::Bytes streamed;
        auto r = f.ev.read(info.hash, [&](crypto::ByteView piece) {
            streamed.insert(streamed.end(), piece.begin(), piece.end());
            return SStatus();
        });
        CHECK(r.ok());
        CHECK(streamed == content);
    }
    CHECK(countWithExtension(f.evDir, ".xse") == 6);
    CHECK(countHidden(f.evDir) == 0);  // no temp files left behind
    CHECK(countHidden(f.outDir) == 0);
}

TEST_CASE("evidence: the same content twice is stored once") {
    Fixture f;
    const crypto::Bytes content = randomContent(100000);
    const EvidenceInfo first = f.add(content);
    CHECK_FALSE(first.deduplicated);
    const auto storedBytes = test::readAll(f.ev.pathFor(first.hash));

    const EvidenceInfo second = f.add(content);  // from a different source file
    CHECK(second.deduplicated);
    CHECK(second.hash == first.hash);
    CHECK(second.size == first.size);
    CHECK(countWithExtension(f.evDir, ".xse") == 1);
    CHECK(test::filesUnder(f.evDir).size() == 1);  // and no temp file
    CHECK(test::readAll(f.ev.pathFor(first.hash)) == storedBytes);  // the first copy is kept
    CHECK(f.ev.verify(first.hash).ok());

    // Different content is a different file.
    const EvidenceInfo other = f.add(randomContent(100));
    CHECK(other.hash != first.hash);
    CHECK(countWithExtension(f.evDir, ".xse") == 2);

    // remove() forgets it.
    REQUIRE(f.ev.remove(other.hash).ok());
    CHECK_FALSE(f.ev.contains(other.hash));
    CHECK(errorOf(f.ev.verify(other.hash)) == SyncError::NotFound);
}

TEST_CASE("evidence: flipping one byte anywhere in the stored file is Corrupt") {
    Fixture f;
    const crypto::Bytes content = randomContent(300000);
    const EvidenceInfo info = f.add(content);
    const fs::path stored = f.ev.pathFor(info.hash);
    const crypto::Bytes original = test::readAll(stored);
    REQUIRE(original.size() == kHeader + 5 * kTag + 300000);

    const std::vector<std::pair<const char*, std::size_t>> positions = {
        {"magic", 0},
        {"version", 4},
        {"suite", 5},
        {"chunk size", 6},
        {"reserved", 7},
        {"first salt byte", 8},
        {"last salt byte", kHeader - 1},
        {"first chunk, first byte", kHeader},
        {"first chunk, middle", kHeader + 30000},
        {"first chunk, tag", kHeader + kChunk + kTag - 1},
        {"second chunk", kHeader + kChunk + kTag},
        {"last chunk", original.size() - 100},
        {"last byte", original.size() - 1},
    };
    for (const auto& [what, pos] : positions) {
        CAPTURE(std::string(what));
        crypto::Bytes damaged = original;
        damaged[pos] ^= 0x01;
        test::writeAll(stored, damaged);
        CHECK(errorOf(f.ev.verify(info.hash)) == SyncError::Corrupt);

        // exportTo fails and leaves neither the target nor a temp file behind.
        const fs::path target = f.outDir / "should-not-exist.bin";
        CHECK(errorOf(f.ev.exportTo(info.hash, target)) == SyncError::Corrupt);
        CHECK_FALSE(fs::exists(target));
        CHECK(test::filesUnder(f.outDir).empty());
    }
    test::writeAll(stored, original);
    CHECK(f.ev.verify(info.hash).ok());
}

TEST_CASE("evidence: a truncated or extended file is Corrupt") {
    Fixture f;
    const crypto::Bytes content = randomContent(300000);
    const EvidenceInfo info = f.add(content);
    const fs::path stored = f.ev.pathFor(info.hash);
    const crypto::Bytes original = test::readAll(stored);

    std::vector<std::size_t> cuts = {0, 10, kHeader - 1};
    for (std::size_t k = 0; k <= 4; ++k) cuts.push_back(kHeader + k * (kChunk + kTag));  // chunk boundaries
    cuts.push_back(kHeader + 100);                   // inside the first chunk
    cuts.push_back(original.size() - 1);             // inside the last tag
    for (std::size_t cut : cuts) {
        CAPTURE(cut);
        test::writeAll(stored, crypto::ByteView(original).first(cut));
        CHECK(errorOf(f.ev.verify(info.hash)) == SyncError::Corrupt);
    }

    crypto::Bytes extended = original;
    extended.push_back(0);
    test::writeAll(stored, extended);
    CHECK(errorOf(f.ev.verify(info.hash)) == SyncError::Corrupt);

    test::writeAll(stored, original);
    CHECK(f.ev.verify(info.hash).ok());
}

TEST_CASE("evidence: swapping two stored files is Corrupt") {
    Fixture f;
    const EvidenceInfo a = f.add(randomContent(70000));
    const EvidenceInfo b = f.add(randomContent(70000));
    const fs::path pa = f.ev.pathFor(a.hash);
    const fs::path pb = f.ev.pathFor(b.hash);
    const crypto::Bytes ba = test::readAll(pa);
    const crypto::Bytes bb = test::readAll(pb);
    test::writeAll(pa, bb);
    test::writeAll(pb, ba);
    CHECK(errorOf(f.ev.verify(a.hash)) == SyncError::Corrupt);
    CHECK(errorOf(f.ev.verify(b.hash)) == SyncError::Corrupt);
    CHECK(errorOf(f.ev.exportTo(a.hash, f.outDir / "a.bin")) == SyncError::Corrupt);
    CHECK_FALSE(fs::exists(f.outDir / "a.bin"));

    // A file copied over another while keeping its header but with a different body, too.
    crypto::Bytes mixed(ba.begin(), ba.begin() + kHeader);
    mixed.insert(mixed.end(), bb.begin() + kHeader, bb.end());
    test::writeAll(pa, mixed);
    CHECK(errorOf(f.ev.verify(a.hash)) == SyncError::Corrupt);
}

TEST_CASE("evidence: a failed export leaves an existing target untouched") {
    Fixture f;
    const EvidenceInfo info = f.add(randomContent(1000));
    const fs::path target = f.outDir / "existing.txt";
    test::writeText(target, "previous content");

    // Unknown hash.
    const std::string unknown(64, 'a');
    CHECK(errorOf(f.ev.exportTo(unknown, target)) == SyncError::NotFound);
    // Damaged file.
    crypto::Bytes damaged = test::readAll(f.ev.pathFor(info.hash));
    damaged.back() ^= 0x40;
    test::writeAll(f.ev.pathFor(info.hash), damaged);
    CHECK(errorOf(f.ev.exportTo(info.hash, target)) == SyncError::Corrupt);

    const auto after = test::readAll(target);
    CHECK(std::string(after.begin(), after.end()) == "previous content");
    CHECK(test::filesUnder(f.outDir).size() == 1);

    // Not a hash at all.
    CHECK(errorOf(f.ev.verify("../../etc/passwd")) == SyncError::Invalid);
    CHECK(errorOf(f.ev.verify(std::string(64, 'A'))) == SyncError::Invalid);
    CHECK_FALSE(f.ev.contains("not-a-hash"));
}

TEST_CASE("evidence: another data key cannot read the file") {
    Fixture f;
    const crypto::Bytes content = randomContent(5000);
    const EvidenceInfo info = f.add(content);

    // Another store's evidence, same directory: the file is not even found under its name ...
    const crypto::SecretBytes otherKey = randomKey();
    EvidenceStore other = openEvidence(f.evDir, otherKey);
    CHECK(other.pathFor(info.hash) != f.ev.pathFor(info.hash));
    CHECK_FALSE(other.contains(info.hash));
    CHECK(errorOf(other.verify(info.hash)) == SyncError::NotFound);

    // ... and copied to where it would look, it does not decrypt.
    const fs::path theirs = other.pathFor(info.hash);
    fs::create_directories(theirs.parent_path());
    fs::copy_file(f.ev.pathFor(info.hash), theirs);
    CHECK(other.contains(info.hash));
    CHECK(errorOf(other.verify(info.hash)) == SyncError::Corrupt);
    CHECK(errorOf(other.exportTo(info.hash, f.outDir / "x.bin")) == SyncError::Corrupt);
    CHECK_FALSE(fs::exists(f.outDir / "x.bin"));

    // The same key opens it again (keys are derived, not stored).
    EvidenceStore same = openEvidence(f.evDir, f.key);
    REQUIRE(same.exportTo(info.hash, f.outDir / "y.bin").ok());
    CHECK(test::readAll(f.outDir / "y.bin") == content);
}

TEST_CASE("evidence: adding a missing source file is NotFound and stores nothing") {
    Fixture f;
    CHECK(errorOf(f.ev.add(f.srcDir / "missing.jpg")) == SyncError::NotFound);
    CHECK(test::filesUnder(f.evDir).empty());
}

}  // namespace xs::sync
