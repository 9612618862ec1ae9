// Evidence files: streaming encryption round trips, content addressing, deduplication, and
// detection of every kind of damage (bit flips, truncation, swapped files, another store's or
// another scope's key, a destroyed scope key).
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/stream.h"
#include "sync/db.h"
#include "sync/evidence.h"
#include "sync/keyfile.h"
#include "sync/store.h"
#include "tests/sync/sync_test_util.h"

namespace xs::sync {
namespace fs = std::filesystem;
namespace {

using test::errorOf;
using test::TempDir;

constexpr std::size_t kHeader = 24;
constexpr std::size_t kChunk = 65536;
constexpr std::size_t kTag = 16;

constexpr const char* kPassphrase = "evidence test passphrase";
constexpr const char* kScope = "inspection-1";

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

std::unique_ptr<Store> createStore(const fs::path& dir) {
    auto s = Store::create(dir, kPassphrase, test::cheapKdf());
    REQUIRE_MESSAGE(s.ok(), test::describe(s));
    return std::move(s.value());
}

std::unique_ptr<Store> openStore(const fs::path& dir) {
    auto s = Store::open(dir, kPassphrase);
    REQUIRE_MESSAGE(s.ok(), test::describe(s));
    return std::move(s.value());
}

EvidenceScope scopeOf(Store& store, const std::string& name, bool create = true) {
    auto s = store.evidenceScope(name, create);
    REQUIRE_MESSAGE(s.ok(), test::describe(s));
    REQUIRE(s->name == name);
    REQUIRE(s->key.size() == 32);
    return std::move(*s);
}

// The store's data key, unwrapped from its keyfile.json with the passphrase (to derive the name
// key independently of the store).
crypto::SecretBytes dataKeyOf(const fs::path& storeDir) {
    auto kf = parseKeyFile(test::readAll(storeDir / Store::kKeyFile));
    REQUIRE_MESSAGE(kf.ok(), test::describe(kf));
    auto key = unwrapDataKey(*kf, kPassphrase);
    REQUIRE_MESSAGE(key.ok(), test::describe(key));
    return std::move(*key);
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

// A store (its evidence directory and scope kScope), a source directory and an output directory
// under one temp dir.
struct Fixture {
    TempDir tmp;
    fs::path storeDir = tmp / "store";
    fs::path evDir = storeDir / Store::kEvidenceDir;
    fs::path srcDir = tmp / "src";
    fs::path outDir = tmp / "out";
    std::unique_ptr<Store> store = createStore(storeDir);
    EvidenceScope scope = scopeOf(*store, kScope);
    int next = 0;

    Fixture() {
        fs::create_directories(srcDir);
        fs::create_directories(outDir);
    }
    EvidenceStore& ev() { return store->evidence(); }
    fs::path source(const crypto::Bytes& content) {
        fs::path p = srcDir / ("source-" + std::to_string(next++) + ".bin");
        test::writeAll(p, content);
        return p;
    }
    EvidenceInfo add(const crypto::Bytes& content) { return addTo(scope, content); }
    EvidenceInfo addTo(const EvidenceScope& s, const crypto::Bytes& content) {
        auto info = ev().add(s, source(content));
        REQUIRE_MESSAGE(info.ok(), test::describe(info));
        return *info;
    }
};

// The key of one evidence file, derived as docs/FORMATS.md ("Evidence file") writes it out, from
// the scope's key and the file's 24-byte header: independent of sync/evidence.cpp.
crypto::SecretBytes fileKeyPerFormats(const crypto::SecretBytes& scopeKey, crypto::ByteView header) {
    const std::string label = "xunshen/v1/evidence-file";
    crypto::Bytes info(label.begin(), label.end());
    info.insert(info.end(), header.begin(), header.end());
    auto key = crypto::hkdfSha256(scopeKey, header.subspan(8, 16), info, 32);
    REQUIRE(key.ok());
    return std::move(*key);
}

// Where a file of `scope` with content `hash` lives, as docs/FORMATS.md names it: from the data
// key, the scope's name and the raw hash.
fs::path pathPerFormats(const fs::path& evDir, const crypto::SecretBytes& dataKey, const std::string& scope,
                        const std::string& hash) {
    auto nameKey = crypto::hkdfSha256(dataKey, {}, crypto::asBytes("xunshen/v1/evidence-name"), 32);
    REQUIRE(nameKey.ok());
    auto raw = crypto::fromHex(hash);
    REQUIRE(raw.has_value());
    REQUIRE(raw->size() == 32);
    crypto::Bytes input(scope.begin(), scope.end());
    input.push_back(0);
    input.insert(input.end(), raw->begin(), raw->end());
    const std::string n = crypto::toHex(crypto::hmacSha256(*nameKey, input));
    return evDir / n.substr(0, 2) / (n.substr(2) + ".xse");
}

crypto::Bytes openPerFormats(const crypto::SecretBytes& scopeKey, crypto::ByteView file, crypto::ByteView lastAad, bool* ok) {
    crypto::Bytes plain;
    auto key = fileKeyPerFormats(scopeKey, file.first(kHeader));
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
// `content`, as that version's writer made it (under the fixture scope's key), under the name the
// store gives `nameAs` in that scope.
void writeVersion1(Fixture& f, const crypto::Bytes& content, const std::string& nameAs) {
    crypto::Bytes file = {'X', 'S', 'E', 'V', 1, 1, 16, 0};
    auto salt = crypto::randomBytes(16);
    REQUIRE(salt.ok());
    file.insert(file.end(), salt->begin(), salt->end());
    auto key = fileKeyPerFormats(f.scope.key, file);
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
    const fs::path p = f.ev().pathFor(kScope, nameAs);
    fs::create_directories(p.parent_path());
    test::writeAll(p, file);
}

}  // namespace

TEST_CASE("evidence: a file is written as FORMATS.md says (version 2: hash bound to the final chunk)") {
    Fixture f;
    // The scope's key as the database holds it, and the data key from the key file: the file's
    // key and name are derived from these here, independently of sync/evidence.cpp.
    const EvidenceScope stored = scopeOf(*f.store, kScope, false);
    const crypto::SecretBytes& scopeKey = stored.key;
    const crypto::SecretBytes dataKey = dataKeyOf(f.storeDir);
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, kChunk, kChunk + 1, 3 * kChunk + 5}) {
        CAPTURE(n);
        const crypto::Bytes content = randomContent(n);
        const EvidenceInfo info = f.add(content);
        const crypto::Digest digest = crypto::sha256(content);
        CHECK(info.hash == crypto::toHex(digest));
        const fs::path where = pathPerFormats(f.evDir, dataKey, kScope, info.hash);
        CHECK(f.ev().pathFor(kScope, info.hash) == where);
        REQUIRE(fs::exists(where));
        const crypto::Bytes file = test::readAll(where);
        REQUIRE(file.size() >= kHeader);
        CHECK(crypto::Bytes(file.begin(), file.begin() + 8) == crypto::Bytes{'X', 'S', 'E', 'V', 2, 1, 16, 0});
        bool ok = false;
        CHECK(openPerFormats(scopeKey, file, digest, &ok) == content);
        CHECK(ok);
        crypto::Digest other = digest;
        other[0] ^= 0x80;
        openPerFormats(scopeKey, file, other, &ok);
        CHECK_FALSE(ok);  // the final tag is over the hash: another hash does not open it
        openPerFormats(scopeKey, file, {}, &ok);
        CHECK_FALSE(ok);
    }
}

TEST_CASE("evidence: a version 1 file is refused - and a file under another content's name does not open") {
    // Version 1 files belong to stores of the first change-set format, which are refused at open.
    Fixture f;
    const crypto::Bytes a = randomContent(3 * kChunk + 9);
    const std::string ha = crypto::toHex(crypto::sha256(a));
    writeVersion1(f, a, ha);
    CHECK(f.ev().contains(kScope, ha));
    auto v = f.ev().verify(f.scope, ha);
    CHECK(errorOf(v) == SyncError::Corrupt);
    CHECK(v.message().find("unsupported version") != std::string::npos);
    // A version 2 file renamed to another content's hash: its final tag is over its own hash.
    const crypto::Bytes b = randomContent(kChunk);
    const std::string hb = crypto::toHex(crypto::sha256(b));
    const EvidenceInfo info = f.add(b);
    const crypto::Bytes other = randomContent(100);
    const std::string ho = crypto::toHex(crypto::sha256(other));
    const fs::path to = f.ev().pathFor(kScope, ho);
    fs::create_directories(to.parent_path());
    fs::copy_file(f.ev().pathFor(kScope, info.hash), to);
    CHECK(errorOf(f.ev().verify(f.scope, ho)) == SyncError::Corrupt);
    CHECK(errorOf(f.ev().exportTo(f.scope, ho, f.outDir / "o.bin")) == SyncError::Corrupt);
    CHECK_FALSE(fs::exists(f.outDir / "o.bin"));
    CHECK(f.ev().verify(f.scope, hb).ok());
}

TEST_CASE("evidence: a sequence reads its files in order and stops at the first bad one") {
    Fixture f;
    std::vector<crypto::Bytes> contents;
    std::vector<std::string> hashes;
    for (std::size_t n : {std::size_t{0}, kChunk - 1, std::size_t{3} << 20, std::size_t{100}, kChunk + 1}) {
        contents.push_back(randomContent(n));
        hashes.push_back(f.add(contents.back()).hash);
    }

    auto readAllOf = [](EvidenceSequence& seq, const std::string& hash, crypto::Bytes& out) {
        out.clear();
        return seq.read(hash, [&](crypto::ByteView v) {
            out.insert(out.end(), v.begin(), v.end());
            return SStatus();
        });
    };
    crypto::Bytes got;
    {
        auto seq = f.ev().readSequence(f.scope, hashes);
        REQUIRE(seq.ok());
        for (std::size_t i = 0; i < hashes.size(); ++i) {
            CAPTURE(i);
            REQUIRE(readAllOf(*seq, hashes[i], got).ok());
            CHECK(got == contents[i]);
        }
        CHECK(errorOf(readAllOf(*seq, hashes[0], got)) == SyncError::Invalid);  // the list is done
    }
    {
        auto seq = f.ev().readSequence(f.scope, hashes);
        REQUIRE(seq.ok());
        CHECK(errorOf(readAllOf(*seq, hashes[1], got)) == SyncError::Invalid);  // not the next one
    }
    // One flipped byte in the third file: the first two read, the third is Corrupt, and nothing
    // after it is read.
    const fs::path third = f.ev().pathFor(kScope, hashes[2]);
    crypto::Bytes bytes = test::readAll(third);
    bytes[kHeader + 5 * (kChunk + kTag) + 7] ^= 0x20;
    test::writeAll(third, bytes);
    {
        auto seq = f.ev().readSequence(f.scope, hashes);
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
        auto seq = f.ev().readSequence(f.scope, hashes);
        REQUIRE(seq.ok());
        REQUIRE(readAllOf(*seq, hashes[0], got).ok());
        REQUIRE(readAllOf(*seq, hashes[1], got).ok());
        CHECK(errorOf(readAllOf(*seq, hashes[2], got)) == SyncError::NotFound);
    }
    CHECK(errorOf(f.ev().readSequence(f.scope, {"not-a-hash"})) == SyncError::Invalid);
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
        CHECK(f.ev().contains(kScope, info.hash));
        CHECK(f.ev().verify(f.scope, info.hash).ok());

        // On disk: header + one tag per chunk + the content, and no extra empty chunk when the
        // content is a multiple of the chunk size.
        const fs::path stored = f.ev().pathFor(kScope, info.hash);
        REQUIRE(fs::exists(stored));
        const std::size_t chunks = size == 0 ? 1 : (size + kChunk - 1) / kChunk;
        CHECK(fs::file_size(stored) == kHeader + chunks * kTag + size);
        // The name does not reveal the content hash.
        CHECK(stored.string().find(info.hash) == std::string::npos);

        const fs::path out = f.outDir / ("export-" + std::to_string(size) + ".bin");
        auto exported = f.ev().exportTo(f.scope, info.hash, out);
        REQUIRE_MESSAGE(exported.ok(), test::describe(exported));
        CHECK(test::readAll(out) == content);

        // read() streams the same bytes.
        crypto::Bytes streamed;
        auto r = f.ev().read(f.scope, info.hash, [&](crypto::ByteView piece) {
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
    const auto storedBytes = test::readAll(f.ev().pathFor(kScope, first.hash));

    const EvidenceInfo second = f.add(content);  // from a different source file
    CHECK(second.deduplicated);
    CHECK(second.hash == first.hash);
    CHECK(second.size == first.size);
    CHECK(countWithExtension(f.evDir, ".xse") == 1);
    CHECK(test::filesUnder(f.evDir).size() == 1);  // and no temp file
    CHECK(test::readAll(f.ev().pathFor(kScope, first.hash)) == storedBytes);  // the first copy is kept
    CHECK(f.ev().verify(f.scope, first.hash).ok());

    // Different content is a different file.
    const EvidenceInfo other = f.add(randomContent(100));
    CHECK(other.hash != first.hash);
    CHECK(countWithExtension(f.evDir, ".xse") == 2);

    // remove() forgets it.
    REQUIRE(f.ev().remove(kScope, other.hash).ok());
    CHECK_FALSE(f.ev().contains(kScope, other.hash));
    CHECK(errorOf(f.ev().verify(f.scope, other.hash)) == SyncError::NotFound);

    // Once per scope: the same content in another scope is another file, under that scope's key.
    const EvidenceScope scope2 = scopeOf(*f.store, "inspection-2");
    const EvidenceInfo elsewhere = f.addTo(scope2, content);
    CHECK_FALSE(elsewhere.deduplicated);
    CHECK(elsewhere.hash == first.hash);
    CHECK(f.ev().pathFor("inspection-2", first.hash) != f.ev().pathFor(kScope, first.hash));
    CHECK(countWithExtension(f.evDir, ".xse") == 2);
    CHECK(f.ev().verify(scope2, first.hash).ok());
    CHECK(test::readAll(f.ev().pathFor(kScope, first.hash)) == storedBytes);
}

TEST_CASE("evidence: flipping one byte anywhere in the stored file is Corrupt") {
    Fixture f;
    const crypto::Bytes content = randomContent(300000);
    const EvidenceInfo info = f.add(content);
    const fs::path stored = f.ev().pathFor(kScope, info.hash);
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
        CHECK(errorOf(f.ev().verify(f.scope, info.hash)) == SyncError::Corrupt);

        // exportTo fails and leaves neither the target nor a temp file behind.
        const fs::path target = f.outDir / "should-not-exist.bin";
        CHECK(errorOf(f.ev().exportTo(f.scope, info.hash, target)) == SyncError::Corrupt);
        CHECK_FALSE(fs::exists(target));
        CHECK(test::filesUnder(f.outDir).empty());
    }
    test::writeAll(stored, original);
    CHECK(f.ev().verify(f.scope, info.hash).ok());
}

TEST_CASE("evidence: a truncated or extended file is Corrupt") {
    Fixture f;
    const crypto::Bytes content = randomContent(300000);
    const EvidenceInfo info = f.add(content);
    const fs::path stored = f.ev().pathFor(kScope, info.hash);
    const crypto::Bytes original = test::readAll(stored);

    std::vector<std::size_t> cuts = {0, 10, kHeader - 1};
    for (std::size_t k = 0; k <= 4; ++k) cuts.push_back(kHeader + k * (kChunk + kTag));  // chunk boundaries
    cuts.push_back(kHeader + 100);                   // inside the first chunk
    cuts.push_back(original.size() - 1);             // inside the last tag
    for (std::size_t cut : cuts) {
        CAPTURE(cut);
        test::writeAll(stored, crypto::ByteView(original).first(cut));
        CHECK(errorOf(f.ev().verify(f.scope, info.hash)) == SyncError::Corrupt);
    }

    crypto::Bytes extended = original;
    extended.push_back(0);
    test::writeAll(stored, extended);
    CHECK(errorOf(f.ev().verify(f.scope, info.hash)) == SyncError::Corrupt);

    test::writeAll(stored, original);
    CHECK(f.ev().verify(f.scope, info.hash).ok());
}

TEST_CASE("evidence: swapping two stored files is Corrupt") {
    Fixture f;
    const EvidenceInfo a = f.add(randomContent(70000));
    const EvidenceInfo b = f.add(randomContent(70000));
    const fs::path pa = f.ev().pathFor(kScope, a.hash);
    const fs::path pb = f.ev().pathFor(kScope, b.hash);
    const crypto::Bytes ba = test::readAll(pa);
    const crypto::Bytes bb = test::readAll(pb);
    test::writeAll(pa, bb);
    test::writeAll(pb, ba);
    CHECK(errorOf(f.ev().verify(f.scope, a.hash)) == SyncError::Corrupt);
    CHECK(errorOf(f.ev().verify(f.scope, b.hash)) == SyncError::Corrupt);
    CHECK(errorOf(f.ev().exportTo(f.scope, a.hash, f.outDir / "a.bin")) == SyncError::Corrupt);
    CHECK_FALSE(fs::exists(f.outDir / "a.bin"));

    // A file copied over another while keeping its header but with a different body, too.
    crypto::Bytes mixed(ba.begin(), ba.begin() + kHeader);
    mixed.insert(mixed.end(), bb.begin() + kHeader, bb.end());
    test::writeAll(pa, mixed);
    CHECK(errorOf(f.ev().verify(f.scope, a.hash)) == SyncError::Corrupt);
}

TEST_CASE("evidence: a failed export leaves an existing target untouched") {
    Fixture f;
    const EvidenceInfo info = f.add(randomContent(1000));
    const fs::path target = f.outDir / "existing.txt";
    test::writeText(target, "previous content");

    // Unknown hash.
    const std::string unknown(64, 'a');
    CHECK(errorOf(f.ev().exportTo(f.scope, unknown, target)) == SyncError::NotFound);
    // Damaged file.
    crypto::Bytes damaged = test::readAll(f.ev().pathFor(kScope, info.hash));
    damaged.back() ^= 0x40;
    test::writeAll(f.ev().pathFor(kScope, info.hash), damaged);
    CHECK(errorOf(f.ev().exportTo(f.scope, info.hash, target)) == SyncError::Corrupt);

    const auto after = test::readAll(target);
    CHECK(std::string(after.begin(), after.end()) == "previous content");
    CHECK(test::filesUnder(f.outDir).size() == 1);

    // Not a hash at all.
    CHECK(errorOf(f.ev().verify(f.scope, "../../etc/passwd")) == SyncError::Invalid);
    CHECK(errorOf(f.ev().verify(f.scope, std::string(64, 'A'))) == SyncError::Invalid);
    CHECK_FALSE(f.ev().contains(kScope, "not-a-hash"));
}

TEST_CASE("evidence: another store cannot read the file") {
    Fixture f;
    const crypto::Bytes content = randomContent(5000);
    const EvidenceInfo info = f.add(content);

    // Another store (another data key, and its own key for a scope of the same name), its evidence
    // opened on this directory: the file is not even found under its name ...
    const fs::path otherDir = f.tmp / "other-store";
    auto otherStore = createStore(otherDir);
    const EvidenceScope otherScope = scopeOf(*otherStore, kScope);
    CHECK(crypto::Bytes(otherScope.key.view().begin(), otherScope.key.view().end()) !=
          crypto::Bytes(f.scope.key.view().begin(), f.scope.key.view().end()));
    EvidenceStore other = openEvidence(f.evDir, dataKeyOf(otherDir));
    CHECK(other.pathFor(kScope, info.hash) != f.ev().pathFor(kScope, info.hash));
    CHECK_FALSE(other.contains(kScope, info.hash));
    CHECK(errorOf(other.verify(otherScope, info.hash)) == SyncError::NotFound);

    // ... and copied to where it would look, it does not decrypt.
    const fs::path theirs = other.pathFor(kScope, info.hash);
    fs::create_directories(theirs.parent_path());
    fs::copy_file(f.ev().pathFor(kScope, info.hash), theirs);
    CHECK(other.contains(kScope, info.hash));
    CHECK(errorOf(other.verify(otherScope, info.hash)) == SyncError::Corrupt);
    CHECK(errorOf(other.exportTo(otherScope, info.hash, f.outDir / "x.bin")) == SyncError::Corrupt);
    CHECK_FALSE(fs::exists(f.outDir / "x.bin"));

    // The same store, locked and opened again, opens it again (the scope's key is kept in its
    // encrypted database, the name key derived from its data key).
    f.store->lock();
    f.store = openStore(f.storeDir);
    const EvidenceScope again = scopeOf(*f.store, kScope, false);
    REQUIRE(f.ev().exportTo(again, info.hash, f.outDir / "y.bin").ok());
    CHECK(test::readAll(f.outDir / "y.bin") == content);
}

TEST_CASE("evidence: a file of one scope does not open with another scope's key and nothing opens after the scope is destroyed") {
    Fixture f;
    const EvidenceScope a = scopeOf(*f.store, "A");
    const EvidenceScope b = scopeOf(*f.store, "B");
    CHECK(crypto::Bytes(a.key.view().begin(), a.key.view().end()) != crypto::Bytes(b.key.view().begin(), b.key.view().end()));
    const crypto::Bytes content = randomContent(2 * kChunk + 77);
    const EvidenceInfo info = f.addTo(a, content);
    const std::string& h = info.hash;
    const EvidenceInfo keptInB = f.addTo(b, randomContent(1000));  // another scope's file, untouched below
    {
        auto tx = Transaction::begin(f.store->db());
        REQUIRE(tx.ok());
        REQUIRE(f.store->recordEvidence("A", h, info.size).ok());
        REQUIRE(f.store->recordEvidence("B", keptInB.hash, keptInB.size).ok());
        REQUIRE(tx->commit().ok());
    }
    REQUIRE(f.ev().verify(a, h).ok());

    // Scope B does not find A's file: its name is another ...
    CHECK(f.ev().contains("A", h));
    CHECK_FALSE(f.ev().contains("B", h));
    CHECK(f.ev().pathFor("A", h) != f.ev().pathFor("B", h));
    CHECK(errorOf(f.ev().verify(b, h)) == SyncError::NotFound);
    CHECK(errorOf(f.ev().exportTo(b, h, f.outDir / "b.bin")) == SyncError::NotFound);
    CHECK_FALSE(fs::exists(f.outDir / "b.bin"));
    // ... and copied to B's name, B's key does not open it.
    const fs::path inB = f.ev().pathFor("B", h);
    fs::create_directories(inB.parent_path());
    fs::copy_file(f.ev().pathFor("A", h), inB);
    CHECK(errorOf(f.ev().verify(b, h)) == SyncError::Corrupt);
    CHECK(errorOf(f.ev().exportTo(b, h, f.outDir / "b.bin")) == SyncError::Corrupt);
    CHECK_FALSE(fs::exists(f.outDir / "b.bin"));
    REQUIRE(f.ev().remove("B", h).ok());
    CHECK(f.ev().verify(a, h).ok());  // A's own copy is untouched

    // Destroying A: its key is gone and its file is marked shredded.
    const fs::path inA = f.ev().pathFor("A", h);
    const crypto::Bytes encrypted = test::readAll(inA);
    {
        auto tx = Transaction::begin(f.store->db());
        REQUIRE(tx.ok());
        auto marked = f.store->destroyEvidenceScope("A");
        REQUIRE_MESSAGE(marked.ok(), test::describe(marked));
        CHECK(*marked == 1);
        REQUIRE(tx->commit().ok());
    }
    CHECK(errorOf(f.store->evidenceScope("A")) == SyncError::Forbidden);  // never made again
    CHECK_FALSE(f.store->evidenceScope("A", false).ok());
    {
        auto entry = f.store->evidenceEntry("A", h);
        REQUIRE(entry.ok());
        REQUIRE(entry->has_value());
        CHECK((*entry)->shredded);
    }
    auto removed = f.store->removeShreddedFiles();
    REQUIRE_MESSAGE(removed.ok(), test::describe(removed));
    CHECK(*removed == 1);
    CHECK_FALSE(f.ev().contains("A", h));
    CHECK_FALSE(fs::exists(inA));

    // A copy of the encrypted file put back where it was: nothing this store has opens it.
    fs::create_directories(inA.parent_path());
    test::writeAll(inA, encrypted);
    REQUIRE(f.ev().contains("A", h));
    const EvidenceScope keyless{"A", {}};  // all the store can give for A now
    CHECK(errorOf(f.ev().verify(keyless, h)) == SyncError::NotFound);
    CHECK(errorOf(f.ev().exportTo(keyless, h, f.outDir / "a.bin")) == SyncError::NotFound);
    CHECK_FALSE(fs::exists(f.outDir / "a.bin"));
    {
        auto seq = f.ev().readSequence(keyless, {h});
        REQUIRE(seq.ok());
        CHECK(errorOf(seq->read(h, [](crypto::ByteView) { return SStatus(); })) == SyncError::NotFound);
    }
    CHECK(errorOf(f.ev().writer(keyless)) == SyncError::Invalid);
    // Neither do other keys under A's name: B's, the default scope's, a random one.
    CHECK(errorOf(f.ev().verify(EvidenceScope{"A", b.key.clone()}, h)) == SyncError::Corrupt);
    CHECK(errorOf(f.ev().verify(EvidenceScope{"A", f.scope.key.clone()}, h)) == SyncError::Corrupt);
    CHECK(errorOf(f.ev().verify(EvidenceScope{"A", randomKey()}, h)) == SyncError::Corrupt);
    // The key that did open it is nowhere in the store, even after it is locked and opened again.
    f.store->lock();
    f.store = openStore(f.storeDir);
    CHECK(errorOf(f.store->evidenceScope("A", false)) == SyncError::NotFound);
    CHECK(errorOf(f.store->evidenceScope("A")) == SyncError::Forbidden);
    CHECK(f.ev().contains("A", h));

    // Scope B is untouched: its file reads with its key, fetched again.
    const EvidenceScope bAgain = scopeOf(*f.store, "B", false);
    CHECK(f.ev().verify(bAgain, keptInB.hash).ok());
    auto entryB = f.store->evidenceEntry("B", keptInB.hash);
    REQUIRE(entryB.ok());
    REQUIRE(entryB->has_value());
    CHECK_FALSE((*entryB)->shredded);
    // Control: the key as it was (held by this test alone) still opens the copy, so what failed
    // above is the key's absence, not a damaged file.
    CHECK(f.ev().verify(a, h).ok());
}

TEST_CASE("evidence: adding a missing source file is NotFound and stores nothing") {
    Fixture f;
    CHECK(errorOf(f.ev().add(f.scope, f.srcDir / "missing.jpg")) == SyncError::NotFound);
    CHECK(test::filesUnder(f.evDir).empty());
}

TEST_CASE("evidence blob: the stored file travels as it is and opens with its file key alone in another store - nothing else opens it") {
    Fixture sender, receiver;
    const crypto::Bytes content = randomContent(3 * kChunk + 5);
    const EvidenceInfo info = sender.add(content);
    auto blob = sender.ev().blobOf(sender.scope, info.hash);
    REQUIRE_MESSAGE(blob.ok(), test::describe(blob));
    const crypto::Bytes stored = test::readAll(blob->path);
    CHECK(blob->size == stored.size());
    CHECK(blob->id == crypto::toHex(crypto::sha256(stored)));
    // The file key is the one docs/FORMATS.md derives from the scope key and the header.
    auto expected = fileKeyPerFormats(sender.scope.key, crypto::ByteView(stored).subspan(0, kHeader));
    CHECK(crypto::constantTimeEqual(blob->fileKey, expected));

    const fs::path copy = receiver.srcDir / "downloaded.blob";
    test::writeAll(copy, stored);
    // Another store's scope key (of the same name) never opens it; the file key does.
    auto got = receiver.ev().addFromBlob(receiver.scope, info.hash, copy, blob->fileKey);
    REQUIRE_MESSAGE(got.ok(), test::describe(got));
    CHECK(got->hash == info.hash);
    CHECK(got->size == content.size());
    crypto::Bytes back;
    REQUIRE(receiver.ev().read(receiver.scope, info.hash, [&](crypto::ByteView b) {
        back.insert(back.end(), b.begin(), b.end());
        return SStatus();
    }).ok());
    CHECK(back == content);
    // Re-encrypted under the receiver's own key: not the same bytes on its disk.
    CHECK(test::readAll(receiver.ev().pathFor(kScope, info.hash)) != stored);

    Fixture other;
    const fs::path otherCopy = other.srcDir / "downloaded.blob";
    auto tryOpen = [&](const crypto::Bytes& bytes, const crypto::SecretBytes& key, const std::string& hash) {
        test::writeAll(otherCopy, bytes);
        auto r = other.ev().addFromBlob(other.scope, hash, otherCopy, key);
        CHECK(r.code() == SyncError::Corrupt);
        CHECK(!other.ev().contains(kScope, hash));
        CHECK(countWithExtension(other.evDir, ".xse") == 0);
        CHECK(countHidden(other.evDir) == 0);
    };
    crypto::Bytes bytes(stored.begin(), stored.end());
    tryOpen(bytes, randomKey(), info.hash);  // a wrong key
    crypto::Bytes flipped = bytes;
    flipped[kHeader + kChunk + 7] ^= 0x01;
    tryOpen(flipped, blob->fileKey, info.hash);  // a flipped byte
    tryOpen(crypto::Bytes(bytes.begin(), bytes.end() - 100), blob->fileKey, info.hash);  // cut short
    const std::string otherHash = crypto::toHex(crypto::sha256(crypto::asBytes(std::string("other content"))));
    tryOpen(bytes, blob->fileKey, otherHash);  // claimed to be other content
}

}  // namespace xs::sync
