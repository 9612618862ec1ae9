#include <doctest/doctest.h>

#include <random>

#include "crypto/hash.h"
#include "tests/crypto/test_util.h"

using namespace xs::crypto;
using namespace xs::crypto::test;

TEST_CASE("sha256 known answers and incremental hashing") {
    CHECK(toHex(sha256({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(toHex(sha256(asBytes("abc"))) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const std::string longMsg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(toHex(sha256(asBytes(longMsg))) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    std::mt19937_64 rng(7);
    Bytes data(100000);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    Sha256 h;
    std::size_t off = 0;
    while (off < data.size()) {
        const std::size_t n = std::min<std::size_t>(rng() % 5000, data.size() - off);
        h.update(ByteView(data).subspan(off, n));
        off += n;
    }
    CHECK(h.finish() == sha256(data));

    Sha256 moved = std::move(h);
    moved.update(asBytes("abc"));
    CHECK(moved.finish() == sha256(asBytes("abc")));
}

TEST_CASE("wycheproof hmac_sha256_test.json") {
    const nlohmann::json doc = loadJsonVectors("hmac_sha256_test.json");
    WycheproofCounts counts;
    for (const auto& group : doc.at("testGroups")) {
        const std::size_t tagBytes = group.at("tagSize").get<std::size_t>() / 8;
        REQUIRE(tagBytes >= 1);
        REQUIRE(tagBytes <= 32);
        for (const auto& t : group.at("tests")) {
            INFO("tcId " << t.at("tcId").get<int>() << " (" << t.at("comment").get<std::string>() << ")");
            const Bytes key = hexField(t, "key");
            const Bytes msg = hexField(t, "msg");
            const Bytes tag = hexField(t, "tag");
            // Wycheproof's MAC check: the full tag truncated to tagSize bits must equal `tag`.
            const Digest full = hmacSha256(key, msg);
            const bool matches = constantTimeEqual(ByteView(full).first(tagBytes), tag);
            const std::string result = t.at("result").get<std::string>();
            if (result == "valid") {
                ++counts.valid;
                CHECK(matches);
            } else if (result == "invalid") {
                ++counts.invalid;
                CHECK_FALSE(matches);
            } else {
                ++counts.acceptable;
                FAIL("unexpected acceptable HMAC case");
            }
        }
    }
    MESSAGE("HMAC-SHA256: valid " << counts.valid << ", invalid " << counts.invalid << ", acceptable "
                                  << counts.acceptable);
    CHECK(counts.total() == doc.at("numberOfTests").get<int>());
    CHECK(counts.valid == 66);
    CHECK(counts.invalid == 108);
}

TEST_CASE("wycheproof hkdf_sha256_test.json") {
    const nlohmann::json doc = loadJsonVectors("hkdf_sha256_test.json");
    WycheproofCounts counts;
    for (const auto& group : doc.at("testGroups")) {
        for (const auto& t : group.at("tests")) {
            INFO("tcId " << t.at("tcId").get<int>() << " (" << t.at("comment").get<std::string>() << ")");
            const Bytes ikm = hexField(t, "ikm");
            const Bytes salt = hexField(t, "salt");
            const Bytes info = hexField(t, "info");
            const std::size_t size = t.at("size").get<std::size_t>();
            const std::string result = t.at("result").get<std::string>();
            auto okm = hkdfSha256(ikm, salt, info, size);
            if (result == "valid") {
                ++counts.valid;
                REQUIRE_MESSAGE(okm.ok(), describe(okm));
                CHECK(toHex(*okm) == t.at("okm").get<std::string>());
                // The two halves give the same answer.
                const SecretBytes prk = hkdfExtract(salt, ikm);
                auto okm2 = hkdfExpand(prk, info, size);
                REQUIRE(okm2.ok());
                CHECK(constantTimeEqual(*okm2, *okm));
            } else if (result == "invalid") {
                ++counts.invalid;
                REQUIRE_FALSE(okm.ok());
                CHECK(errorOf(okm) == CryptoError::InvalidArgument);
            } else {
                ++counts.acceptable;
                FAIL("unexpected acceptable HKDF case");
            }
        }
    }
    MESSAGE("HKDF-SHA256: valid " << counts.valid << ", invalid " << counts.invalid << ", acceptable "
                                  << counts.acceptable);
    CHECK(counts.total() == doc.at("numberOfTests").get<int>());
    CHECK(counts.valid == 83);
    CHECK(counts.invalid == 3);
}

TEST_CASE("hkdf limits and rfc 5869 case 3") {
    const Bytes ikm(22, 0x0b);
    auto okm = hkdfSha256(ikm, {}, {}, 42);
    REQUIRE(okm.ok());
    CHECK(toHex(*okm) ==
          "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
    CHECK(hkdfSha256(ikm, {}, {}, 255 * 32).ok());
    CHECK(errorOf(hkdfSha256(ikm, {}, {}, 255 * 32 + 1)) == CryptoError::InvalidArgument);
    auto empty = hkdfSha256(ikm, {}, {}, 0);
    REQUIRE(empty.ok());
    CHECK(empty->empty());
    CHECK(errorOf(hkdfExpand(Bytes(31, 1), {}, 32)) == CryptoError::InvalidArgument);
    CHECK(errorOf(hkdfExpand(Bytes(32, 1), {}, 255 * 32 + 1)) == CryptoError::InvalidArgument);
}

TEST_CASE("constant time equality") {
    CHECK(constantTimeEqual({}, {}));
    CHECK(constantTimeEqual(asBytes("abc"), asBytes("abc")));
    CHECK_FALSE(constantTimeEqual(asBytes("abc"), asBytes("abd")));
    CHECK_FALSE(constantTimeEqual(asBytes("abc"), asBytes("ab")));
    CHECK_FALSE(constantTimeEqual(asBytes(""), asBytes("a")));
}
