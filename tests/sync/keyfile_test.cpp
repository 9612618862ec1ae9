// The key file: wrap/unwrap, authentication of every derivation parameter, strict parsing.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "crypto/encoding.h"
#include "crypto/random.h"
#include "sync/keyfile.h"
#include "tests/sync/sync_test_util.h"

namespace xs::sync {
namespace {

using nlohmann::json;
using test::cheapKdf;
using test::errorOf;

crypto::SecretBytes randomKey() {
    auto key = crypto::randomSecret(32);
    REQUIRE(key.ok());
    return std::move(*key);
}

KeyFile wrapped(const crypto::SecretBytes& key, std::string_view passphrase = "correct horse 电池 staple") {
    auto kf = wrapDataKey(key, passphrase, cheapKdf(), "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    REQUIRE_MESSAGE(kf.ok(), test::describe(kf));
    return std::move(*kf);
}

bool sameBytes(crypto::ByteView a, crypto::ByteView b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// A valid key file as JSON, for mutation.
json validJson() {
    auto key = randomKey();
    return json::parse(serializeKeyFile(wrapped(key)));
}

std::optional<SyncError> parseError(const std::string& text) { return errorOf(parseKeyFile(crypto::asBytes(text))); }

}  // namespace

TEST_CASE("keyfile: wrap then unwrap returns the same data key") {
    auto key = randomKey();
    KeyFile kf = wrapped(key, "pass phrase");
    CHECK(kf.version == kKeyFileVersion);
    CHECK(kf.suite == kSuiteXs1);
    CHECK(kf.salt.size() == 16);
    CHECK(kf.nonce.size() == 12);
    CHECK(kf.wrappedKey.size() == 48);
    CHECK(kf.kdf.memoryKiB == 8192);
    CHECK(kf.kdf.iterations == 1);
    CHECK(kf.kdf.parallelism == 1);

    auto back = unwrapDataKey(kf, "pass phrase");
    REQUIRE_MESSAGE(back.ok(), test::describe(back));
    CHECK(sameBytes(*back, key));

    // The wrapped key is not the key in clear, and every wrap uses a fresh salt and nonce.
    CHECK_FALSE(sameBytes(crypto::ByteView(kf.wrappedKey).first(32), key));
    KeyFile again = wrapped(key, "pass phrase");
    CHECK(again.salt != kf.salt);
    CHECK(again.nonce != kf.nonce);
    CHECK(again.wrappedKey != kf.wrappedKey);
    auto back2 = unwrapDataKey(again, "pass phrase");
    REQUIRE(back2.ok());
    CHECK(sameBytes(*back2, key));

    // A data key of the wrong size is refused.
    crypto::SecretBytes shortKey(16);
    CHECK(errorOf(wrapDataKey(shortKey, "x", cheapKdf(), "store")) == SyncError::Invalid);
}

TEST_CASE("keyfile: a wrong passphrase is WrongPassphrase") {
    auto key = randomKey();
    KeyFile kf = wrapped(key, "Secret-1");
    CHECK(errorOf(unwrapDataKey(kf, "Secret-2")) == SyncError::WrongPassphrase);
    CHECK(errorOf(unwrapDataKey(kf, "secret-1")) == SyncError::WrongPassphrase);
    CHECK(errorOf(unwrapDataKey(kf, "Secret-1 ")) == SyncError::WrongPassphrase);
    CHECK(errorOf(unwrapDataKey(kf, "")) == SyncError::WrongPassphrase);
    CHECK(unwrapDataKey(kf, "Secret-1").ok());
}

TEST_CASE("keyfile: changing any bound parameter makes unwrap fail") {
    auto key = randomKey();
    const std::string pass = "bound parameters";
    const KeyFile original = wrapped(key, pass);
    REQUIRE(unwrapDataKey(original, pass).ok());

    struct Mutation {
        const char* name;
        std::function<void(KeyFile&)> apply;
    };
    const std::vector<Mutation> mutations = {
        {"memoryKiB", [](KeyFile& k) { k.kdf.memoryKiB = 16384; }},
        {"iterations", [](KeyFile& k) { k.kdf.iterations = 2; }},
        {"parallelism", [](KeyFile& k) { k.kdf.parallelism = 2; }},
        {"argon2 version", [](KeyFile& k) { k.kdf.version = 0x10; }},
        {"first salt byte", [](KeyFile& k) { k.salt[0] ^= 0x01; }},
        {"last salt byte", [](KeyFile& k) { k.salt[15] ^= 0x80; }},
        {"storeId", [](KeyFile& k) { k.storeId[0] = k.storeId[0] == '0' ? '1' : '0'; }},
        {"storeId suffix", [](KeyFile& k) { k.storeId += "x"; }},
        {"format version", [](KeyFile& k) { k.version = 2; }},
        {"suite", [](KeyFile& k) { k.suite = 2; }},
        {"nonce", [](KeyFile& k) { k.nonce[11] ^= 0x01; }},
        {"wrapped key", [](KeyFile& k) { k.wrappedKey[0] ^= 0x01; }},
        {"tag", [](KeyFile& k) { k.wrappedKey[47] ^= 0x01; }},
    };
    for (const auto& m : mutations) {
        CAPTURE(std::string(m.name));
        KeyFile k = original;
        m.apply(k);
        auto r = unwrapDataKey(k, pass);
        CHECK_FALSE(r.ok());
        CHECK(errorOf(r) == SyncError::WrongPassphrase);
    }

    // The same through the file: a downgraded parameter written into keyfile.json parses but fails.
    json j = json::parse(serializeKeyFile(original));
    j["kdf"]["memory_kib"] = 16384;
    auto parsed = parseKeyFile(crypto::asBytes(j.dump()));
    REQUIRE_MESSAGE(parsed.ok(), test::describe(parsed));
    CHECK(errorOf(unwrapDataKey(*parsed, pass)) == SyncError::WrongPassphrase);

    j = json::parse(serializeKeyFile(original));
    j["kdf"]["iterations"] = 2;
    parsed = parseKeyFile(crypto::asBytes(j.dump()));
    REQUIRE(parsed.ok());
    CHECK(errorOf(unwrapDataKey(*parsed, pass)) == SyncError::WrongPassphrase);
}

TEST_CASE("keyfile: parseKeyFile accepts its own serializeKeyFile output") {
    auto key = randomKey();
    const KeyFile kf = wrapped(key, "round trip");
    const std::string text = serializeKeyFile(kf);
    auto parsed = parseKeyFile(crypto::asBytes(text));
    REQUIRE_MESSAGE(parsed.ok(), test::describe(parsed));
    CHECK(parsed->version == kf.version);
    CHECK(parsed->suite == kf.suite);
    CHECK(parsed->storeId == kf.storeId);
    CHECK(parsed->kdf.memoryKiB == kf.kdf.memoryKiB);
    CHECK(parsed->kdf.iterations == kf.kdf.iterations);
    CHECK(parsed->kdf.parallelism == kf.kdf.parallelism);
    CHECK(parsed->kdf.version == kf.kdf.version);
    CHECK(parsed->salt == kf.salt);
    CHECK(parsed->nonce == kf.nonce);
    CHECK(parsed->wrappedKey == kf.wrappedKey);
    CHECK(serializeKeyFile(*parsed) == text);
    auto back = unwrapDataKey(*parsed, "round trip");
    REQUIRE(back.ok());
    CHECK(sameBytes(*back, key));
}

TEST_CASE("keyfile: parseKeyFile rejects malformed input with Invalid") {
    SUBCASE("not JSON") {
        CHECK(parseError("") == SyncError::Invalid);
        CHECK(parseError("{not json") == SyncError::Invalid);
        CHECK(parseError("xunshen-keyfile") == SyncError::Invalid);
        CHECK(parseError(validJson().dump() + "}") == SyncError::Invalid);
    }
    SUBCASE("JSON but not an object") {
        CHECK(parseError("[]") == SyncError::Invalid);
        CHECK(parseError("null") == SyncError::Invalid);
        CHECK(parseError("\"xunshen-keyfile\"") == SyncError::Invalid);
        CHECK(parseError("1") == SyncError::Invalid);
    }
    SUBCASE("wrong format tag") {
        json j = validJson();
        j["format"] = "xunshen-keyfile-v2";
        CHECK(parseError(j.dump()) == SyncError::Invalid);
        j["format"] = "XUNSHEN-KEYFILE";
        CHECK(parseError(j.dump()) == SyncError::Invalid);
    }
    SUBCASE("version 2") {
        json j = validJson();
        j["version"] = 2;
        CHECK(parseError(j.dump()) == SyncError::Invalid);
        j["version"] = 0;
        CHECK(parseError(j.dump()) == SyncError::Invalid);
    }
    SUBCASE("suite 9") {
        json j = validJson();
        j["suite"] = 9;
        CHECK(parseError(j.dump()) == SyncError::Invalid);
    }
    SUBCASE("salt of 15 or 17 bytes, or not base64") {
        json j = validJson();
        j["kdf"]["salt"] = crypto::toBase64(crypto::Bytes(15, 7));
        CHECK(parseError(j.dump()) == SyncError::Invalid);
        j["kdf"]["salt"] = crypto::toBase64(crypto::Bytes(17, 7));
        CHECK(parseError(j.dump()) == SyncError::Invalid);
        j["kdf"]["salt"] = "not base64!";
        CHECK(parseError(j.dump()) == SyncError::Invalid);
    }
    SUBCASE("nonce and wrapped key of the wrong size") {
        json j = validJson();
        j["wrap"]["nonce"] = crypto::toBase64(crypto::Bytes(11, 1));
        CHECK(parseError(j.dump()) == SyncError::Invalid);
        j = validJson();
        j["wrap"]["ciphertext"] = crypto::toBase64(crypto::Bytes(47, 1));
        CHECK(parseError(j.dump()) == SyncError::Invalid);
    }
    SUBCASE("Argon2 parameters out of range") {
        const std::vector<std::pair<const char*, json>> bad = {
            {"memory_kib", 8191},  {"memory_kib", 0},      {"memory_kib", 4 * 1024 * 1024 + 1},
            {"iterations", 0},     {"iterations", 65},     {"parallelism", 0},
            {"parallelism", 17},   {"version", 0x10},      {"memory_kib", -1},
        };
        for (const auto& [field, value] : bad) {
            CAPTURE(std::string(field));
            CAPTURE(value.dump());
            json j = validJson();
            j["kdf"][field] = value;
            CHECK(parseError(j.dump()) == SyncError::Invalid);
        }
    }
    SUBCASE("unknown algorithms") {
        json j = validJson();
        j["kdf"]["alg"] = "argon2i";
        CHECK(parseError(j.dump()) == SyncError::Invalid);
        j = validJson();
        j["wrap"]["alg"] = "chacha20-poly1305";
        CHECK(parseError(j.dump()) == SyncError::Invalid);
    }
    SUBCASE("bad store id") {
        json j = validJson();
        j["store_id"] = "";
        CHECK(parseError(j.dump()) == SyncError::Invalid);
        j["store_id"] = std::string(65, 'a');
        CHECK(parseError(j.dump()) == SyncError::Invalid);
    }
    SUBCASE("every missing field") {
        const json base = validJson();
        for (auto it = base.begin(); it != base.end(); ++it) {
            CAPTURE(it.key());
            json j = base;
            j.erase(it.key());
            CHECK(parseError(j.dump()) == SyncError::Invalid);
            if (it->is_object()) {
                for (auto inner = it->begin(); inner != it->end(); ++inner) {
                    CAPTURE(inner.key());
                    json k = base;
                    k[it.key()].erase(inner.key());
                    CHECK(parseError(k.dump()) == SyncError::Invalid);
                }
            }
        }
    }
    SUBCASE("wrong types: strings, numbers, objects where they do not belong") {
        const std::vector<std::pair<std::vector<std::string>, json>> bad = {
            {{"format"}, 1},
            {{"version"}, "1"},
            {{"suite"}, "1"},
            {{"store_id"}, 12345},
            {{"store_id"}, json::array()},
            {{"kdf"}, "argon2id"},
            {{"kdf", "memory_kib"}, "8192"},
            {{"kdf", "iterations"}, "1"},
            {{"kdf", "salt"}, 16},
            {{"wrap"}, json::array()},
            {{"wrap", "nonce"}, json::object()},
            {{"wrap", "ciphertext"}, nullptr},
        };
        for (const auto& [path, value] : bad) {
            CAPTURE(path.back());
            CAPTURE(value.dump());
            json j = validJson();
            if (path.size() == 1) j[path[0]] = value;
            else j[path[0]][path[1]] = value;
            CHECK(parseError(j.dump()) == SyncError::Invalid);
        }
    }
}

TEST_CASE("keyfile: parseKeyFile rejects booleans and fractions where the format has integers") {
    // "strict; Invalid on any deviation": a boolean or a fraction where the format has an
    // integer is a deviation, not the integer it happens to convert to.
    const std::vector<std::pair<std::vector<std::string>, json>> bad = {
        {{"version"}, true},
        {{"suite"}, true},
        {{"version"}, 1.5},
        {{"kdf", "iterations"}, true},
        {{"kdf", "parallelism"}, 1.9},
        {{"kdf", "memory_kib"}, 8192.5},
    };
    for (const auto& [path, value] : bad) {
        CAPTURE(path.back());
        CAPTURE(value.dump());
        json j = validJson();
        if (path.size() == 1) j[path[0]] = value;
        else j[path[0]][path[1]] = value;
        CHECK(parseError(j.dump()) == SyncError::Invalid);
    }
}

// Found while writing the keyfile fuzz target, whose field invariant reports it (the input is
// tests/fuzz/corpus/keyfile/crash-memory-kib-truncated.json): integers were narrowed to their
// field's type, so memory_kib 4294975488 was read as 8192 and version 4294967297 as 1.
TEST_CASE("keyfile: parseKeyFile refuses integers its fields cannot hold instead of truncating them") {
    const std::vector<std::pair<std::vector<std::string>, json>> bad = {
        {{"version"}, 4294967297},
        {{"suite"}, -4294967295},
        {{"kdf", "memory_kib"}, 4294975488},
        {{"kdf", "iterations"}, 4294967297},
        {{"kdf", "parallelism"}, 18446744073709551615u},
        {{"kdf", "version"}, 4294967315},
        {{"kdf", "iterations"}, -1},
    };
    for (const auto& [path, value] : bad) {
        CAPTURE(path.back());
        CAPTURE(value.dump());
        json j = validJson();
        if (path.size() == 1) j[path[0]] = value;
        else j[path[0]][path[1]] = value;
        CHECK(parseError(j.dump()) == SyncError::Invalid);
    }
    // The largest value each field's type holds still reaches the range checks (and fails there).
    json j = validJson();
    j["kdf"]["memory_kib"] = 4294967295u;
    auto r = parseKeyFile(crypto::asBytes(j.dump()));
    REQUIRE(errorOf(r) == SyncError::Invalid);
    CHECK(r.message().find("Argon2 memory") != std::string::npos);
}

}  // namespace xs::sync
