#include <doctest/doctest.h>

#include "crypto/hash.h"
#include "crypto/keys.h"
#include "tests/crypto/test_util.h"

using namespace xs::crypto;
using namespace xs::crypto::test;

namespace {
bool allZero(ByteView v) {
    for (std::uint8_t b : v) {
        if (b != 0) return false;
    }
    return true;
}
}  // namespace

// Valid cases must give the listed shared secret. Acceptable cases: those whose listed shared secret
// is all zero (low-order public keys) must be rejected by our DH with InvalidArgument; the others
// (twist points, non-canonical encodings; RFC 7748 says to accept them) must match like valid ones.
TEST_CASE("wycheproof x25519_test.json") {
    const nlohmann::json doc = loadJsonVectors("x25519_test.json");
    WycheproofCounts counts;
    int rejectedLowOrder = 0;
    for (const auto& group : doc.at("testGroups")) {
        REQUIRE(group.at("curve").get<std::string>() == "curve25519");
        for (const auto& t : group.at("tests")) {
            INFO("tcId " << t.at("tcId").get<int>() << " (" << t.at("comment").get<std::string>() << ")");
            const Bytes pub = hexField(t, "public");
            const Bytes priv = hexField(t, "private");
            const Bytes shared = hexField(t, "shared");
            const std::string result = t.at("result").get<std::string>();
            auto got = x25519(priv, pub);
            if (result == "invalid") {
                ++counts.invalid;
                CHECK_FALSE(got.ok());
                continue;
            }
            if (result == "valid") ++counts.valid;
            else ++counts.acceptable;
            if (allZero(shared)) {
                CHECK(result == "acceptable");
                ++rejectedLowOrder;
                CHECK(errorOf(got) == CryptoError::InvalidArgument);
            } else {
                REQUIRE_MESSAGE(got.ok(), describe(got));
                CHECK(toHex(*got) == toHex(shared));
            }
        }
    }
    MESSAGE("X25519: valid " << counts.valid << ", invalid " << counts.invalid << ", acceptable "
                             << counts.acceptable << " (of which " << rejectedLowOrder
                             << " low-order, rejected)");
    CHECK(counts.total() == doc.at("numberOfTests").get<int>());
    CHECK(counts.valid == 264);
    CHECK(counts.acceptable == 254);
    CHECK(rejectedLowOrder == 31);
}

TEST_CASE("x25519 rfc 7748 vectors and key generation") {
    const Bytes aliceSk = hexBytes("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    const Bytes alicePk = hexBytes("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    const Bytes bobSk = hexBytes("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    const Bytes bobPk = hexBytes("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    const std::string k = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    CHECK(toHex(*x25519PublicFromPrivate(aliceSk)) == toHex(alicePk));
    CHECK(toHex(*x25519PublicFromPrivate(bobSk)) == toHex(bobPk));
    CHECK(toHex(*x25519(aliceSk, bobPk)) == k);
    CHECK(toHex(*x25519(bobSk, alicePk)) == k);

    auto a = x25519Generate();
    auto b = x25519Generate();
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->privateKey.size() == kX25519KeySize);
    CHECK(a->publicKey.size() == kX25519KeySize);
    CHECK(*x25519PublicFromPrivate(a->privateKey) == a->publicKey);
    auto ab = x25519(a->privateKey, b->publicKey);
    auto ba = x25519(b->privateKey, a->publicKey);
    REQUIRE(ab.ok());
    REQUIRE(ba.ok());
    CHECK(constantTimeEqual(*ab, *ba));

    CHECK(errorOf(x25519(Bytes(31, 1), bobPk)) == CryptoError::InvalidArgument);
    CHECK(errorOf(x25519(aliceSk, Bytes(33, 1))) == CryptoError::InvalidArgument);
    CHECK(errorOf(x25519PublicFromPrivate(Bytes(16, 1))) == CryptoError::InvalidArgument);
    // The identity and the order-2 point.
    CHECK(errorOf(x25519(aliceSk, Bytes(32, 0))) == CryptoError::InvalidArgument);
    Bytes one(32, 0);
    one[0] = 1;
    CHECK(errorOf(x25519(aliceSk, one)) == CryptoError::InvalidArgument);
}

TEST_CASE("wycheproof ed25519_test.json") {
    const nlohmann::json doc = loadJsonVectors("ed25519_test.json");
    WycheproofCounts counts;
    for (const auto& group : doc.at("testGroups")) {
        const Bytes pk = hexBytes(group.at("publicKey").at("pk").get<std::string>());
        for (const auto& t : group.at("tests")) {
            INFO("tcId " << t.at("tcId").get<int>() << " (" << t.at("comment").get<std::string>() << ")");
            const Bytes msg = hexField(t, "msg");
            const Bytes sig = hexField(t, "sig");
            const std::string result = t.at("result").get<std::string>();
            auto st = ed25519Verify(pk, msg, sig);
            if (result == "valid") {
                ++counts.valid;
                CHECK_MESSAGE(st.ok(), describe(st));
            } else if (result == "invalid") {
                ++counts.invalid;
                CHECK_FALSE(st.ok());
            } else {
                ++counts.acceptable;
                FAIL("unexpected acceptable Ed25519 case");
            }
        }
    }
    MESSAGE("Ed25519: valid " << counts.valid << ", invalid " << counts.invalid << ", acceptable "
                              << counts.acceptable);
    CHECK(counts.total() == doc.at("numberOfTests").get<int>());
    CHECK(counts.valid == 88);
    CHECK(counts.invalid == 63);
}

TEST_CASE("ed25519 rfc 8032 vectors and sign verify round trips") {
    // RFC 8032 §7.1, TEST 1 and TEST 2.
    const Bytes sk1 = hexBytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    const Bytes pk1 = hexBytes("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    const std::string sig1 =
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
        "d25bf5f0595bbe24655141438e7a100b";
    CHECK(toHex(*ed25519PublicFromPrivate(sk1)) == toHex(pk1));
    auto s1 = ed25519Sign(sk1, {});
    REQUIRE(s1.ok());
    CHECK(toHex(*s1) == sig1);
    CHECK(ed25519Verify(pk1, {}, *s1).ok());

    const Bytes sk2 = hexBytes("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
    const Bytes msg2 = hexBytes("72");
    auto s2 = ed25519Sign(sk2, msg2);
    REQUIRE(s2.ok());
    CHECK(toHex(*s2) ==
          "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c"
          "387b2eaeb4302aeeb00d291612bb0c00");

    auto kp = ed25519Generate();
    REQUIRE(kp.ok());
    CHECK(kp->privateKey.size() == kEd25519KeySize);
    CHECK(*ed25519PublicFromPrivate(kp->privateKey) == kp->publicKey);
    const Bytes msg = toBytes(asBytes("inspection report 42"));
    auto sig = ed25519Sign(kp->privateKey, msg);
    REQUIRE(sig.ok());
    CHECK(sig->size() == kEd25519SignatureSize);
    CHECK(ed25519Verify(kp->publicKey, msg, *sig).ok());
    Bytes badMsg = msg;
    badMsg[0] ^= 1;
    CHECK(errorOf(ed25519Verify(kp->publicKey, badMsg, *sig)) == CryptoError::AuthenticationFailed);
    Bytes badSig = *sig;
    badSig[63] ^= 0x40;
    CHECK(errorOf(ed25519Verify(kp->publicKey, msg, badSig)) == CryptoError::AuthenticationFailed);
    CHECK(errorOf(ed25519Verify(kp->publicKey, msg, ByteView(*sig).first(63))) ==
          CryptoError::AuthenticationFailed);
    CHECK(errorOf(ed25519Verify(pk1, msg, *sig)) == CryptoError::AuthenticationFailed);
    CHECK(errorOf(ed25519Verify(Bytes(31, 1), msg, *sig)) == CryptoError::InvalidArgument);
    CHECK(errorOf(ed25519Sign(Bytes(64, 1), msg)) == CryptoError::InvalidArgument);
}
