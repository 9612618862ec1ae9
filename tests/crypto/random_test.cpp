#include <doctest/doctest.h>

#include "crypto/random.h"
#include "tests/crypto/test_util.h"

using namespace xs::crypto;

TEST_CASE("random bytes have the requested size and differ") {
    for (std::size_t n : {0u, 1u, 16u, 32u, 1000u, 100000u}) {
        auto a = randomBytes(n);
        auto b = randomBytes(n);
        REQUIRE(a.ok());
        REQUIRE(b.ok());
        CHECK(a->size() == n);
        if (n >= 16) CHECK(*a != *b);
    }
    auto s = randomSecret(32);
    REQUIRE(s.ok());
    CHECK(s->size() == 32);
    CHECK(xs::crypto::test::toBytes(*s) != Bytes(32, 0));
    std::uint8_t buf[64] = {};
    CHECK(randomFill(buf, sizeof buf).ok());
    CHECK(randomFill(nullptr, 0).ok());
}
