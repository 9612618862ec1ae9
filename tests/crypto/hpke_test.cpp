#include <doctest/doctest.h>

#include "crypto/hash.h"
#include "crypto/hpke.h"
#include "tests/crypto/test_util.h"

using namespace xs::crypto;
using namespace xs::crypto::test;

namespace {

struct HpkeTally {
    int cases = 0;
    int baseCases = 0;
    int authCases = 0;
    int encryptions = 0;
    int exports = 0;
};

void checkExports(const nlohmann::json& vec, const hpke::Context& ctx, HpkeTally* tally) {
    for (const auto& e : vec.at("exports")) {
        auto value = ctx.exportSecret(hexField(e, "exporter_context"), e.at("L").get<std::size_t>());
        REQUIRE_MESSAGE(value.ok(), describe(value));
        CHECK(toHex(*value) == e.at("exported_value").get<std::string>());
        if (tally != nullptr) ++tally->exports;
    }
}

}  // namespace

TEST_CASE("hpke hpke_x25519_rfc9180.json") {
    const nlohmann::json doc = loadJsonVectors("hpke_x25519_rfc9180.json");
    HpkeTally tally;
    for (const auto& vec : doc) {
        const int mode = vec.at("mode").get<int>();
        const int aeadId = vec.at("aead_id").get<int>();
        INFO("mode " << mode << " aead " << aeadId);
        REQUIRE(vec.at("kem_id").get<int>() == hpke::kKemId);
        REQUIRE(vec.at("kdf_id").get<int>() == hpke::kKdfId);
        REQUIRE((aeadId >= 1 && aeadId <= 3));
        REQUIRE((mode == 0 || mode == 2));
        const auto aead = static_cast<hpke::AeadId>(aeadId);
        const Bytes info = hexField(vec, "info");

        // DeriveKeyPair reproduces the listed keys.
        auto kpE = hpke::deriveKeyPair(hexField(vec, "ikmE"));
        auto kpR = hpke::deriveKeyPair(hexField(vec, "ikmR"));
        REQUIRE(kpE.ok());
        REQUIRE(kpR.ok());
        CHECK(toHex(kpE->privateKey) == vec.at("skEm").get<std::string>());
        CHECK(toHex(kpE->publicKey) == vec.at("pkEm").get<std::string>());
        CHECK(toHex(kpR->privateKey) == vec.at("skRm").get<std::string>());
        CHECK(toHex(kpR->publicKey) == vec.at("pkRm").get<std::string>());

        const Bytes skE = hexField(vec, "skEm");
        const Bytes skR = hexField(vec, "skRm");
        const Bytes pkR = hexField(vec, "pkRm");
        const Bytes enc = hexField(vec, "enc");

        CResult<hpke::SenderSetup> sender = xs::fail(CryptoError::Internal, "unset");
        CResult<hpke::Context> receiver = xs::fail(CryptoError::Internal, "unset");
        if (mode == 0) {
            ++tally.baseCases;
            sender = hpke::setupBaseSDeterministic(aead, pkR, info, skE);
            receiver = hpke::setupBaseR(aead, enc, skR, info);
        } else {
            ++tally.authCases;
            auto kpS = hpke::deriveKeyPair(hexField(vec, "ikmS"));
            REQUIRE(kpS.ok());
            CHECK(toHex(kpS->privateKey) == vec.at("skSm").get<std::string>());
            CHECK(toHex(kpS->publicKey) == vec.at("pkSm").get<std::string>());
            const Bytes skS = hexField(vec, "skSm");
            const Bytes pkS = hexField(vec, "pkSm");
            sender = hpke::setupAuthSDeterministic(aead, pkR, info, skS, skE);
            receiver = hpke::setupAuthR(aead, enc, skR, info, pkS);
            // The wrong sender key gives a different context.
            auto wrong = hpke::setupAuthR(aead, enc, skR, info, pkR);
            REQUIRE(wrong.ok());
            const auto& first = vec.at("encryptions").at(0);
            CHECK(errorOf(wrong->open(hexField(first, "aad"), hexField(first, "ct"))) ==
                  CryptoError::AuthenticationFailed);
        }
        REQUIRE_MESSAGE(sender.ok(), describe(sender));
        REQUIRE_MESSAGE(receiver.ok(), describe(receiver));
        CHECK(toHex(sender->enc) == toHex(enc));

        std::uint64_t seq = 0;
        for (const auto& e : vec.at("encryptions")) {
            INFO("sequence " << seq);
            const Bytes aad = hexField(e, "aad");
            const Bytes pt = hexField(e, "pt");
            const Bytes ct = hexField(e, "ct");
            auto sealed = sender->context.seal(aad, pt);
            REQUIRE(sealed.ok());
            CHECK(toHex(*sealed) == toHex(ct));
            auto opened = receiver->open(aad, ct);
            REQUIRE_MESSAGE(opened.ok(), describe(opened));
            CHECK(*opened == pt);
            ++seq;
            ++tally.encryptions;
        }
        CHECK(seq == 257);
        CHECK(sender->context.sequence() == 257);
        CHECK(receiver->sequence() == 257);
        checkExports(vec, sender->context, &tally);
        checkExports(vec, *receiver, nullptr);
        ++tally.cases;
    }
    MESSAGE("HPKE: " << tally.cases << " cases (" << tally.baseCases << " base, " << tally.authCases
                     << " auth), " << tally.encryptions << " encryptions, " << tally.exports << " exports");
    CHECK(tally.cases == 6);
    CHECK(tally.baseCases == 3);
    CHECK(tally.authCases == 3);
    CHECK(tally.encryptions == 6 * 257);
    CHECK(tally.exports == 18);
}

TEST_CASE("hpke round trips with fresh keys") {
    for (auto aead : {hpke::AeadId::Aes128Gcm, hpke::AeadId::Aes256Gcm, hpke::AeadId::ChaCha20Poly1305}) {
        auto r = x25519Generate();
        auto s = x25519Generate();
        REQUIRE(r.ok());
        REQUIRE(s.ok());
        const Bytes info = toBytes(asBytes("xunshen test"));

        auto base = hpke::setupBaseS(aead, r->publicKey, info);
        REQUIRE(base.ok());
        auto base2 = hpke::setupBaseS(aead, r->publicKey, info);
        REQUIRE(base2.ok());
        CHECK(base->enc != base2->enc);  // a fresh ephemeral key each time
        auto baseR = hpke::setupBaseR(aead, base->enc, r->privateKey, info);
        REQUIRE(baseR.ok());

        auto auth = hpke::setupAuthS(aead, r->publicKey, info, s->privateKey);
        REQUIRE(auth.ok());
        auto authR = hpke::setupAuthR(aead, auth->enc, r->privateKey, info, s->publicKey);
        REQUIRE(authR.ok());

        for (int i = 0; i < 5; ++i) {
            const Bytes pt(static_cast<std::size_t>(i * 37), static_cast<std::uint8_t>(i));
            const Bytes aad{static_cast<std::uint8_t>(i)};
            auto c1 = base->context.seal(aad, pt);
            REQUIRE(c1.ok());
            // A damaged message fails without consuming the sequence number.
            Bytes bad = *c1;
            bad[0] ^= 1;
            CHECK(errorOf(baseR->open(aad, bad)) == CryptoError::AuthenticationFailed);
            auto p1 = baseR->open(aad, *c1);
            REQUIRE(p1.ok());
            CHECK(*p1 == pt);
            auto c2 = auth->context.seal(aad, pt);
            REQUIRE(c2.ok());
            auto p2 = authR->open(aad, *c2);
            REQUIRE(p2.ok());
            CHECK(*p2 == pt);
        }
        auto e1 = base->context.exportSecret(asBytes("ctx"), 64);
        auto e2 = baseR->exportSecret(asBytes("ctx"), 64);
        REQUIRE(e1.ok());
        REQUIRE(e2.ok());
        CHECK(constantTimeEqual(*e1, *e2));
        CHECK(errorOf(baseR->exportSecret({}, 255 * 32 + 1)) == CryptoError::InvalidArgument);

        // Roles, wrong keys and wrong info.
        CHECK(errorOf(base->context.open({}, Bytes(32, 0))) == CryptoError::InvalidArgument);
        CHECK(errorOf(baseR->seal({}, Bytes(3, 0))) == CryptoError::InvalidArgument);
        auto c = base->context.seal({}, Bytes(10, 1));
        REQUIRE(c.ok());
        auto otherInfo = hpke::setupBaseR(aead, base->enc, r->privateKey, asBytes("other"));
        REQUIRE(otherInfo.ok());
        for (int i = 0; i < 5; ++i) CHECK(errorOf(otherInfo->open({}, Bytes(16, 0))) == CryptoError::AuthenticationFailed);
        CHECK(errorOf(otherInfo->open({}, *c)) == CryptoError::AuthenticationFailed);
        auto authWrongSender = hpke::setupAuthR(aead, auth->enc, r->privateKey, info, r->publicKey);
        REQUIRE(authWrongSender.ok());
        auto c3 = auth->context.seal({}, Bytes(10, 1));
        REQUIRE(c3.ok());
        for (int i = 0; i < 5; ++i) (void)authWrongSender->open({}, Bytes(16, 0));
        CHECK(errorOf(authWrongSender->open({}, *c3)) == CryptoError::AuthenticationFailed);
    }
}

TEST_CASE("hpke rejects bad keys") {
    const auto aead = hpke::AeadId::ChaCha20Poly1305;
    auto r = x25519Generate();
    REQUIRE(r.ok());
    // Low-order recipient keys and encapsulations give an all-zero DH: rejected.
    CHECK(errorOf(hpke::setupBaseS(aead, Bytes(32, 0), {})) == CryptoError::InvalidArgument);
    CHECK(errorOf(hpke::setupBaseR(aead, Bytes(32, 0), r->privateKey, {})) == CryptoError::InvalidArgument);
    CHECK(errorOf(hpke::setupAuthR(aead, r->publicKey, r->privateKey, {}, Bytes(32, 0))) ==
          CryptoError::InvalidArgument);
    CHECK(errorOf(hpke::setupBaseS(aead, Bytes(31, 9), {})) == CryptoError::InvalidArgument);
    CHECK(errorOf(hpke::setupBaseR(aead, Bytes(33, 9), r->privateKey, {})) == CryptoError::InvalidArgument);
    CHECK(errorOf(hpke::setupBaseR(aead, r->publicKey, Bytes(31, 9), {})) == CryptoError::InvalidArgument);
    CHECK(errorOf(hpke::setupAuthS(aead, r->publicKey, {}, Bytes(5, 1))) == CryptoError::InvalidArgument);
    CHECK(errorOf(hpke::setupBaseS(static_cast<hpke::AeadId>(0xffff), r->publicKey, {})) ==
          CryptoError::InvalidArgument);
}
