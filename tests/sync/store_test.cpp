// The encrypted store: create/open, lockout after wrong passphrases, rekey, nothing in clear on disk.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "crypto/random.h"
#include "sync/keyfile.h"
#include "sync/oplog.h"
#include "sync/store.h"
#include "sync/uuid.h"
#include "tests/sync/sync_test_util.h"

namespace xs::sync {
namespace fs = std::filesystem;
namespace {

using test::cheapKdf;
using test::errorOf;
using test::TempDir;

std::unique_ptr<Store> createStore(const fs::path& dir, std::string_view passphrase,
                                   const crypto::Argon2Params& kdf = cheapKdf()) {
    auto s = Store::create(dir, passphrase, kdf);
    REQUIRE_MESSAGE(s.ok(), test::describe(s));
    return std::move(s.value());
}

std::unique_ptr<Store> openStore(const fs::path& dir, std::string_view passphrase) {
    auto s = Store::open(dir, passphrase);
    REQUIRE_MESSAGE(s.ok(), test::describe(s));
    return std::move(s.value());
}

// Path (relative to dir) -> content of every file below dir.
std::map<std::string, crypto::Bytes> snapshot(const fs::path& dir) {
    std::map<std::string, crypto::Bytes> out;
    for (const auto& p : test::filesUnder(dir)) out[fs::relative(p, dir).string()] = test::readAll(p);
    return out;
}

int lockoutFailures(const fs::path& dir) {
    auto j = nlohmann::json::parse(test::readAll(dir / Store::kLockoutFile));
    REQUIRE(j.contains("failures"));
    return j["failures"].get<int>();
}

bool contains(const crypto::Bytes& haystack, const std::string& needle) {
    return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) != haystack.end();
}

// A sink that projects nothing (the op log's own tables are enough here).
class NullSink final : public ProjectionSink {
public:
    SStatus reset(Db&) override { return {}; }
    SStatus project(Db&, const std::string&, const std::string&, const Json&) override { return {}; }
    std::vector<std::string> tables() const override { return {}; }
};

}  // namespace

TEST_CASE("store: create then open with the right passphrase") {
    TempDir tmp;
    const fs::path dir = tmp / "store";
    CHECK_FALSE(Store::exists(dir));
    std::string storeId;
    {
        auto store = createStore(dir, "右边的口令 right");
        storeId = store->storeId();
        CHECK(isUuid(storeId));
        CHECK(store->dir() == dir);
        REQUIRE(store->setMeta("greeting", "你好").ok());
        REQUIRE(store->setMeta("greeting", "hello").ok());  // replaces
        auto v = store->meta("greeting");
        REQUIRE(v.ok());
        CHECK(*v == "hello");
        CHECK(errorOf(store->meta("absent")) == SyncError::NotFound);
        store->lock();
    }
    CHECK(Store::exists(dir));
    CHECK(fs::exists(dir / Store::kKeyFile));
    CHECK(fs::exists(dir / Store::kDbFile));
    CHECK(fs::is_directory(dir / Store::kEvidenceDir));
    CHECK_FALSE(fs::exists(dir / Store::kLockoutFile));
    // The key file parses and names the store.
    auto kf = parseKeyFile(test::readAll(dir / Store::kKeyFile));
    REQUIRE(kf.ok());
    CHECK(kf->storeId == storeId);

    auto store = openStore(dir, "右边的口令 right");
    CHECK(store->storeId() == storeId);
    CHECK(store->kdfParams().memoryKiB == cheapKdf().memoryKiB);
    CHECK(store->kdfParams().iterations == cheapKdf().iterations);
    auto v = store->meta("greeting");
    REQUIRE(v.ok());
    CHECK(*v == "hello");

    // Opening where no store is.
    CHECK(errorOf(Store::open(tmp / "nothing-here", "x")) == SyncError::NotFound);
}

TEST_CASE("store: the store directory and its files are private to the owner") {
    test::SleepRecorder sleeper;
    TempDir tmp;
    const fs::path dir = tmp / "store";
    {
        auto store = createStore(dir, "private");
        REQUIRE(store->setMeta("k", "v").ok());
        fs::create_directories(tmp / "src");
        test::writeText(tmp / "src" / "e.txt", "evidence");
        auto scope = store->evidenceScope("inspection-1");
        REQUIRE_MESSAGE(scope.ok(), test::describe(scope));
        auto info = store->evidence().add(*scope, tmp / "src" / "e.txt");
        REQUIRE_MESSAGE(info.ok(), test::describe(info));
        store->lock();
    }
    (void)Store::open(dir, "wrong");  // leaves lockout.json
    REQUIRE(fs::exists(dir / Store::kLockoutFile));
    const auto groupOrOthers = fs::perms::group_all | fs::perms::others_all;
    CHECK((fs::status(dir).permissions() & groupOrOthers) == fs::perms::none);
    for (const auto& f : test::filesUnder(dir)) {
        CAPTURE(f.string());
        CHECK((fs::status(f).permissions() & groupOrOthers) == fs::perms::none);
    }
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
        if (!it->is_directory()) continue;
        CAPTURE(it->path().string());
        CHECK((it->status().permissions() & groupOrOthers) == fs::perms::none);
    }
}

TEST_CASE("store: create refuses Argon2 parameters that open() would reject") {
    // Whatever create() accepts must open again: a key file that parseKeyFile refuses would lock
    // the person out of their own store.
    struct Case {
        const char* name;
        crypto::Argon2Params kdf;
    };
    const std::vector<Case> cases = {
        {"memory below 8 MiB", {.iterations = 1, .memoryKiB = 4096, .parallelism = 1}},
        {"parallelism above 16", {.iterations = 1, .memoryKiB = 8192, .parallelism = 17}},
    };
    for (const auto& c : cases) {
        CAPTURE(std::string(c.name));
        TempDir tmp;
        const fs::path dir = tmp / "store";
        auto created = Store::create(dir, "pass", c.kdf);
        if (!created.ok()) {
            CHECK(errorOf(created) == SyncError::Invalid);
            CHECK_FALSE(Store::exists(dir));
            continue;
        }
        (*created)->lock();
        auto opened = Store::open(dir, "pass");
        CHECK_MESSAGE(opened.ok(), "create() accepted parameters open() rejects: " << test::describe(opened));
    }
}

TEST_CASE("store: rekey refuses Argon2 parameters that open() would reject") {
    test::SleepRecorder sleeper;
    TempDir tmp;
    const fs::path dir = tmp / "store";
    {
        auto store = createStore(dir, "old");
        REQUIRE(store->setMeta("k", "v").ok());
        const crypto::Argon2Params weak{.iterations = 1, .memoryKiB = 4096, .parallelism = 1};
        auto s = store->rekey("new", weak);
        CHECK_MESSAGE(errorOf(s) == SyncError::Invalid, "rekey with 4 MiB Argon2 memory was " << test::describe(s));
        store->lock();
    }
    // Whatever happened, the person must still be able to open the store.
    auto withOld = Store::open(dir, "old");
    auto withNew = Store::open(dir, "new");
    CHECK_MESSAGE((withOld.ok() || withNew.ok()),
                  "store cannot be opened any more: old: " << test::describe(withOld) << "; new: " << test::describe(withNew));
}

TEST_CASE("store: create over an existing store is AlreadyExists") {
    TempDir tmp;
    const fs::path dir = tmp / "store";
    auto store = createStore(dir, "first");
    REQUIRE(store->setMeta("k", "v").ok());
    store->lock();
    const auto before = snapshot(dir);

    auto again = Store::create(dir, "second", cheapKdf());
    CHECK(errorOf(again) == SyncError::AlreadyExists);
    CHECK(snapshot(dir) == before);  // the existing store is untouched
    auto reopened = openStore(dir, "first");
    CHECK(reopened->meta("k").ok());

    // A database without a key file (an aborted init) is not overwritten either.
    TempDir tmp2;
    fs::create_directories(tmp2 / "s");
    test::writeText(tmp2 / "s" / Store::kDbFile, "not a database");
    CHECK(errorOf(Store::create(tmp2 / "s", "p", cheapKdf())) == SyncError::AlreadyExists);
    const auto dbAfter = test::readAll(tmp2 / "s" / Store::kDbFile);
    CHECK(std::string(dbAfter.begin(), dbAfter.end()) == "not a database");
    CHECK_FALSE(fs::exists(tmp2 / "s" / Store::kKeyFile));
}

TEST_CASE("store: unlock delays double and are capped") {
    CHECK(unlockDelaySeconds(0) == 0);
    CHECK(unlockDelaySeconds(1) == doctest::Approx(0.25));
    CHECK(unlockDelaySeconds(2) == doctest::Approx(0.5));
    CHECK(unlockDelaySeconds(3) == doctest::Approx(1.0));
    for (int n = 1; n < 12; ++n) CHECK(unlockDelaySeconds(n) <= unlockDelaySeconds(n + 1));
    CHECK(unlockDelaySeconds(1) < unlockDelaySeconds(2));
    CHECK(unlockDelaySeconds(20) == doctest::Approx(30.0));
    CHECK(unlockDelaySeconds(1000) == doctest::Approx(30.0));
}

TEST_CASE("store: a wrong passphrase changes nothing but lockout.json - and waits longer each time") {
    test::SleepRecorder sleeper;
    TempDir tmp;
    const fs::path dir = tmp / "store";
    {
        auto store = createStore(dir, "right");
        REQUIRE(store->setMeta("k", "v").ok());
        store->lock();
    }
    const auto before = snapshot(dir);
    const auto keyBytes = test::readAll(dir / Store::kKeyFile);
    const auto dbBytes = test::readAll(dir / Store::kDbFile);

    auto first = Store::open(dir, "wrong");
    CHECK(errorOf(first) == SyncError::WrongPassphrase);
    CHECK(test::readAll(dir / Store::kKeyFile) == keyBytes);
    CHECK(test::readAll(dir / Store::kDbFile) == dbBytes);
    REQUIRE(fs::exists(dir / Store::kLockoutFile));
    CHECK(lockoutFailures(dir) == 1);
    REQUIRE_FALSE(sleeper.sleeps().empty());
    const double firstWait = sleeper.sleeps().back();
    CHECK(firstWait == doctest::Approx(unlockDelaySeconds(1)));
    {
        // Nothing but lockout.json was added or changed.
        auto after = snapshot(dir);
        after.erase(Store::kLockoutFile);
        CHECK(after == before);
    }

    sleeper.clear();
    auto second = Store::open(dir, "also wrong");
    CHECK(errorOf(second) == SyncError::WrongPassphrase);
    CHECK(test::readAll(dir / Store::kKeyFile) == keyBytes);
    CHECK(test::readAll(dir / Store::kDbFile) == dbBytes);
    CHECK(lockoutFailures(dir) == 2);
    REQUIRE_FALSE(sleeper.sleeps().empty());
    const double secondWait = sleeper.sleeps().back();
    CHECK(secondWait == doctest::Approx(unlockDelaySeconds(2)));
    CHECK(firstWait < secondWait);
    {
        auto after = snapshot(dir);
        after.erase(Store::kLockoutFile);
        CHECK(after == before);
    }

    // The right passphrase opens the store and clears the failure count.
    auto ok = Store::open(dir, "right");
    REQUIRE_MESSAGE(ok.ok(), test::describe(ok));
    CHECK_FALSE(fs::exists(dir / Store::kLockoutFile));
    auto v = (*ok)->meta("k");
    REQUIRE(v.ok());
    CHECK(*v == "v");
    (*ok)->lock();

    // After a success the count starts again from one.
    sleeper.clear();
    CHECK(errorOf(Store::open(dir, "wrong again")) == SyncError::WrongPassphrase);
    CHECK(lockoutFailures(dir) == 1);
    REQUIRE_FALSE(sleeper.sleeps().empty());
    CHECK(sleeper.sleeps().back() == doctest::Approx(unlockDelaySeconds(1)));
}

TEST_CASE("store: a lockout dated in the future (the clock moved back) costs at most the largest delay owed") {
    test::SleepRecorder sleeper;
    TempDir tmp;
    const fs::path dir = tmp / "store";
    createStore(dir, "right")->lock();
    for (const char* file : {R"({"failures": 3, "last_failure_ms": 9999999999999})",
                             R"({"failures": 2147483647, "last_failure_ms": 9223372036854775807})",
                             R"({"failures": 3, "last_failure_ms": -9223372036854775807})"}) {
        CAPTURE(file);
        test::writeText(dir / Store::kLockoutFile, file);
        sleeper.clear();
        auto ok = Store::open(dir, "right");
        REQUIRE_MESSAGE(ok.ok(), test::describe(ok));
        for (double s : sleeper.sleeps()) CHECK(s <= unlockDelaySeconds(1000));
        if (std::string(file).find("\"failures\": 3,") != std::string::npos && std::string(file).find("9999") != std::string::npos) {
            REQUIRE(sleeper.sleeps().size() == 1);
            CHECK(sleeper.sleeps()[0] <= doctest::Approx(unlockDelaySeconds(3)));  // not the 30 s cap
        }
        CHECK_FALSE(fs::exists(dir / Store::kLockoutFile));
        (*ok)->lock();
    }
}

TEST_CASE("store: rekey re-wraps the key without rewriting the database") {
    test::SleepRecorder sleeper;
    TempDir tmp;
    const fs::path dir = tmp / "store";
    std::string storeId;
    {
        auto store = createStore(dir, "old passphrase");
        storeId = store->storeId();
        REQUIRE(store->setMeta("before-rekey", "kept").ok());
        store->lock();
    }
    const std::string dbHashBefore = test::fileSha256(dir / Store::kDbFile);
    const auto keyFileBefore = test::readAll(dir / Store::kKeyFile);

    crypto::Argon2Params newKdf = cheapKdf();
    newKdf.iterations = 2;
    {
        auto store = openStore(dir, "old passphrase");
        REQUIRE(store->rekey("new passphrase", newKdf).ok());
        CHECK(store->kdfParams().iterations == 2);
        // Still usable after rekey.
        auto v = store->meta("before-rekey");
        REQUIRE(v.ok());
        CHECK(*v == "kept");
        store->lock();
        // A locked store cannot be rekeyed.
        CHECK(errorOf(store->rekey("third", newKdf)) == SyncError::Invalid);
    }
    CHECK(test::fileSha256(dir / Store::kDbFile) == dbHashBefore);
    CHECK(test::readAll(dir / Store::kKeyFile) != keyFileBefore);
    auto kf = parseKeyFile(test::readAll(dir / Store::kKeyFile));
    REQUIRE(kf.ok());
    CHECK(kf->storeId == storeId);
    CHECK(kf->kdf.iterations == 2);

    CHECK(errorOf(Store::open(dir, "old passphrase")) == SyncError::WrongPassphrase);
    auto store = openStore(dir, "new passphrase");
    CHECK(store->storeId() == storeId);
    CHECK(store->kdfParams().iterations == 2);
    auto v = store->meta("before-rekey");
    REQUIRE(v.ok());
    CHECK(*v == "kept");
}

TEST_CASE("store: after lock no file in the store holds a marker in clear") {
    TempDir tmp;
    const fs::path dir = tmp / "store";
    auto rnd = crypto::randomBytes(16);
    REQUIRE(rnd.ok());
    const std::string marker = "XS-MARKER-" + crypto::toHex(*rnd);

    auto store = createStore(dir, "marker passphrase");
    REQUIRE(store->setMeta("marker", marker).ok());
    REQUIRE(store->setMeta("marker-" + marker, "key holds it too").ok());

    // Through an evidence file (from outside the store) ...
    fs::create_directories(tmp / "src");
    std::string content;
    for (int i = 0; i < 5000; ++i) content += "line " + std::to_string(i) + " " + marker + "\n";
    test::writeText(tmp / "src" / ("evidence-" + marker + ".txt"), content);
    // (in a scope whose name holds the marker too, recorded in the database).
    auto scope = store->evidenceScope("inspection-" + marker);
    REQUIRE_MESSAGE(scope.ok(), test::describe(scope));
    auto info = store->evidence().add(*scope, tmp / "src" / ("evidence-" + marker + ".txt"));
    REQUIRE_MESSAGE(info.ok(), test::describe(info));
    {
        auto tx = Transaction::begin(store->db());
        REQUIRE(tx.ok());
        REQUIRE(store->recordEvidence(scope->name, info->hash, info->size).ok());
        REQUIRE(tx->commit().ok());
    }

    // ... and through the op log.
    NullSink sink;
    ManualClock clock(1'760'000'000'000);
    OpLog log(*store, sink, clock);
    REQUIRE(log.open().ok());
    // A device writes only once registered: this store is its own registrar (as an audit
    // office's is) and registers its device in the change set that carries the marker.
    const auto& me = log.identity().publicInfo();
    {
        auto tx = Transaction::begin(store->db());
        REQUIRE(tx.ok());
        REQUIRE(log.pinTrustRoot({me.id, me.signKey}).ok());
        REQUIRE(tx->commit().ok());
    }
    Draft d;
    d.registerDevice({me.id, me.signKey, me.exchangeKey, me.subkeys, "registrar", std::nullopt, {}});
    d.set("org", "note", "n1", "text", marker);
    auto committed = log.commit(d);
    REQUIRE_MESSAGE(committed.ok(), test::describe(committed));

    store->lock();

    const auto files = test::filesUnder(dir);
    CHECK(files.size() >= 3);  // keyfile.json, store.db, the evidence file at least
    bool sawEvidence = false;
    for (const auto& f : files) {
        CAPTURE(f.string());
        CHECK(f.string().find(marker) == std::string::npos);
        CHECK(f.string().find(info->hash) == std::string::npos);
        const auto bytes = test::readAll(f);
        CHECK_FALSE(contains(bytes, marker));
        CHECK_FALSE(contains(bytes, "XS-MARKER-"));
        if (f.extension() == ".xse") sawEvidence = true;
    }
    CHECK(sawEvidence);
}

}  // namespace xs::sync

namespace xs::sync {

TEST_CASE("store: opening removes the temp files a killed writer left in the store and its evidence folder") {
    test::SleepRecorder sleeper;
    test::TempDir tmp;
    const fs::path dir = tmp / "store";
    createStore(dir, "right")->lock();
    // What kill -9 mid-import leaves: temp files nobody holds (no live writer).
    test::writeText(dir / Store::kEvidenceDir / ".evidence.0123456789abcdef.tmp", std::string(100000, 'c'));
    test::writeText(dir / ".keyfile.json.fedcba9876543210.tmp", "{half");
    auto ok = Store::open(dir, "right");
    REQUIRE_MESSAGE(ok.ok(), test::describe(ok));
    CHECK_FALSE(fs::exists(dir / Store::kEvidenceDir / ".evidence.0123456789abcdef.tmp"));
    CHECK_FALSE(fs::exists(dir / ".keyfile.json.fedcba9876543210.tmp"));
    CHECK(fs::exists(dir / Store::kKeyFile));
}

}  // namespace xs::sync
