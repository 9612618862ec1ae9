#include <doctest/doctest.h>

#include <regex>

#include "crypto/keys.h"
#include "sync/identity.h"
#include "sync/store.h"
#include "tests/sync/sync_test_util.h"

using namespace xs;
using namespace xs::sync;
using namespace xs::sync::test;

namespace {

bool contains(const crypto::Bytes& hay, crypto::ByteView needle) {
    return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

}  // namespace

TEST_CASE("identity: created once - stable across reopen - private keys never on disk in clear") {
    TempDir dir;
    DevicePublic first;
    crypto::Bytes signPrivateCopy;
    crypto::Bytes exchangePrivateCopy;
    {
        auto store = Store::create(dir / "s", "passphrase one", cheapKdf());
        REQUIRE(store);
        auto id = DeviceIdentity::loadOrCreate(**store, "01a22390-6af9-7313-a9f3-d759999beed2");
        REQUIRE(id);
        first = id->publicInfo();
        CHECK(first.signKey.size() == 32);
        CHECK(first.exchangeKey.size() == 32);
        auto again = DeviceIdentity::loadOrCreate(**store, "01a22390-6af9-7313-a9f3-d759999beed2");
        REQUIRE(again);
        CHECK(again->publicInfo().signKey == first.signKey);  // not regenerated
        const auto& x = id->exchangePrivateKey();
        exchangePrivateCopy.assign(x.data(), x.data() + x.size());
        auto pub = crypto::x25519PublicFromPrivate(x);
        REQUIRE(pub);
        CHECK(*pub == first.exchangeKey);
        // Signatures verify with the public key and fail for another message.
        auto sig = id->sign(crypto::asBytes("change set bytes"));
        REQUIRE(sig);
        CHECK(crypto::ed25519Verify(first.signKey, crypto::asBytes("change set bytes"), *sig).ok());
        CHECK_FALSE(crypto::ed25519Verify(first.signKey, crypto::asBytes("change set byteS"), *sig).ok());
        (*store)->lock();
    }
    auto reopened = Store::open(dir / "s", "passphrase one");
    REQUIRE(reopened);
    auto id = DeviceIdentity::loadOrCreate(**reopened, "01a22390-6af9-7313-a9f3-d759999beed2");
    REQUIRE(id);
    CHECK(id->publicInfo().signKey == first.signKey);
    CHECK(id->publicInfo().exchangeKey == first.exchangeKey);
    (*reopened)->lock();
    for (const auto& f : filesUnder(dir / "s")) {
        INFO("file " << f.string());
        CHECK_FALSE(contains(readAll(f), exchangePrivateCopy));
    }
}

TEST_CASE("identity: fingerprints are 8 groups of 5 digits and differ between devices") {
    TempDir dir;
    auto a = Store::create(dir / "a", "passphrase one", cheapKdf());
    auto b = Store::create(dir / "b", "passphrase two", cheapKdf());
    REQUIRE(a);
    REQUIRE(b);
    auto ia = DeviceIdentity::loadOrCreate(**a, "01a22390-6af9-7313-a9f3-d759999beed2");
    auto ib = DeviceIdentity::loadOrCreate(**b, "01a22390-6af9-7313-a9f3-d759999beed3");
    REQUIRE(ia);
    REQUIRE(ib);
    std::string fa = fingerprint(ia->publicInfo());
    std::string fb = fingerprint(ib->publicInfo());
    CHECK(std::regex_match(fa, std::regex("^([0-9]{5} ){7}[0-9]{5}$")));
    CHECK(fa != fb);
    DevicePublic tampered = ia->publicInfo();
    tampered.exchangeKey[0] ^= 1;
    CHECK(fingerprint(tampered) != fa);
}
