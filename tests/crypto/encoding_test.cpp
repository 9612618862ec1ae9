#include <doctest/doctest.h>

#include <random>

#include "crypto/encoding.h"
#include "tests/crypto/test_util.h"

using namespace xs::crypto;
using namespace xs::crypto::test;

TEST_CASE("hex round trips and rejects malformed input") {
    std::mt19937_64 rng(11);
    for (std::size_t n = 0; n < 70; ++n) {
        Bytes data(n);
        for (auto& b : data) b = static_cast<std::uint8_t>(rng());
        const std::string hex = toHex(data);
        CHECK(hex.size() == 2 * n);
        auto back = fromHex(hex);
        REQUIRE(back.has_value());
        CHECK(*back == data);
    }
    CHECK(toHex(Bytes{0x00, 0x7f, 0x80, 0xff, 0xab}) == "007f80ffab");
    CHECK(*fromHex("DEADbeef") == Bytes{0xde, 0xad, 0xbe, 0xef});
    CHECK(fromHex("")->empty());
    CHECK_FALSE(fromHex("abc").has_value());    // odd length
    CHECK_FALSE(fromHex("0g").has_value());     // bad character
    CHECK_FALSE(fromHex("zz").has_value());
    CHECK_FALSE(fromHex(" 00").has_value());    // whitespace
    CHECK_FALSE(fromHex("00 ").has_value());
    CHECK_FALSE(fromHex("0x00").has_value());
    CHECK_FALSE(fromHex(std::string("0\0", 2)).has_value());
}

TEST_CASE("base64 known answers from rfc 4648") {
    const std::pair<const char*, const char*> cases[] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : cases) {
        CHECK(toBase64(asBytes(plain)) == encoded);
        auto back = fromBase64(encoded);
        REQUIRE(back.has_value());
        CHECK(*back == toBytes(asBytes(plain)));

        std::string unpadded = encoded;
        while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
        CHECK(toBase64(asBytes(plain), false) == unpadded);
        auto back2 = fromBase64(unpadded, false);
        REQUIRE(back2.has_value());
        CHECK(*back2 == toBytes(asBytes(plain)));
    }
    CHECK(toBase64(Bytes{0xfb, 0xff, 0xbf}) == "+/+/");
}

TEST_CASE("base64 round trips with random data") {
    std::mt19937_64 rng(12);
    for (std::size_t n = 0; n < 200; ++n) {
        Bytes data(n);
        for (auto& b : data) b = static_cast<std::uint8_t>(rng());
        for (bool pad : {true, false}) {
            const std::string text = toBase64(data, pad);
            auto back = fromBase64(text, pad);
            REQUIRE(back.has_value());
            CHECK(*back == data);
        }
    }
}

TEST_CASE("base64 rejects malformed and non-canonical input") {
    // Non-canonical: unused low bits of the last character must be zero.
    CHECK(fromBase64("Zg==").has_value());
    CHECK_FALSE(fromBase64("Zh==").has_value());
    CHECK(fromBase64("Zm8=").has_value());
    CHECK_FALSE(fromBase64("Zm9=").has_value());
    CHECK_FALSE(fromBase64("Zm9vYh==").has_value());
    CHECK_FALSE(fromBase64("Zm9vYmF=").has_value());
    CHECK_FALSE(fromBase64("Zh", false).has_value());
    CHECK_FALSE(fromBase64("Zm9vYmF", false).has_value());
    // Padding rules.
    CHECK_FALSE(fromBase64("Zg").has_value());      // padding required
    CHECK_FALSE(fromBase64("Zg=").has_value());
    CHECK_FALSE(fromBase64("Zg===").has_value());
    CHECK_FALSE(fromBase64("Zm9v====").has_value());
    CHECK_FALSE(fromBase64("Z===").has_value());
    CHECK_FALSE(fromBase64("====").has_value());
    CHECK_FALSE(fromBase64("Zg==Zg==").has_value());  // padding in the middle
    CHECK_FALSE(fromBase64("Z=g=").has_value());
    CHECK_FALSE(fromBase64("Zg==", false).has_value());  // unpadded form wanted
    CHECK_FALSE(fromBase64("Zm8=", false).has_value());
    CHECK_FALSE(fromBase64("Z", false).has_value());     // a lone sextet
    CHECK_FALSE(fromBase64("Zm9vY", false).has_value());
    // Characters outside the standard alphabet.
    CHECK_FALSE(fromBase64("Zm9v\n").has_value());
    CHECK_FALSE(fromBase64("Zm 9v").has_value());
    CHECK_FALSE(fromBase64("Zm9-").has_value());  // base64url
    CHECK_FALSE(fromBase64("Zm9_").has_value());
    CHECK_FALSE(fromBase64("Zm9*").has_value());
    CHECK_FALSE(fromBase64(std::string("Zm9\0", 4)).has_value());
    CHECK_FALSE(fromBase64("Zm9\xc3", false).has_value());
    CHECK(fromBase64("", true)->empty());
    CHECK(fromBase64("", false)->empty());
}
