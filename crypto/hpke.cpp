#include "crypto/hpke.h"

#include <array>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string_view>

#include "crypto/hash.h"

namespace xs::crypto::hpke {
namespace {

constexpr std::uint8_t kModeBase = 0x00;
constexpr std::uint8_t kModeAuth = 0x02;
constexpr std::size_t kHashSize = 32;  // Nh
constexpr std::size_t kNonceSize = 12;  // Nn for all three AEADs
constexpr std::string_view kVersionLabel = "HPKE-v1";

void appendU16(Bytes& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

void append(Bytes& out, ByteView v) { out.insert(out.end(), v.begin(), v.end()); }

Bytes toBytes(std::string_view s) {
    const ByteView v = asBytes(s);
    return Bytes(v.begin(), v.end());
}

Bytes kemSuiteId() {
    Bytes id = toBytes("KEM");
    appendU16(id, kKemId);
    return id;
}

Bytes hpkeSuiteId(AeadId aead) {
    Bytes id = toBytes("HPKE");
    appendU16(id, kKemId);
    appendU16(id, kKdfId);
    appendU16(id, static_cast<std::uint16_t>(aead));
    return id;
}

// Concatenation into wiped memory, for inputs that carry secrets.
SecretBytes secretConcat(std::initializer_list<ByteView> parts) {
    std::size_t size = 0;
    for (ByteView p : parts) size += p.size();
    SecretBytes out(size);
    std::size_t off = 0;
    for (ByteView p : parts) {
        if (!p.empty()) std::memcpy(out.data() + off, p.data(), p.size());
        off += p.size();
    }
    return out;
}

SecretBytes labeledExtract(ByteView suiteId, ByteView salt, std::string_view label, ByteView ikm) {
    const SecretBytes labeledIkm = secretConcat({asBytes(kVersionLabel), suiteId, asBytes(label), ikm});
    return hkdfExtract(salt, labeledIkm);
}

CResult<SecretBytes> labeledExpand(ByteView suiteId, ByteView prk, std::string_view label, ByteView info,
                                   std::size_t length) {
    if (length > std::numeric_limits<std::uint16_t>::max()) {
        return fail(CryptoError::InvalidArgument, "HPKE output length is too large");
    }
    Bytes labeledInfo;
    labeledInfo.reserve(2 + kVersionLabel.size() + suiteId.size() + label.size() + info.size());
    appendU16(labeledInfo, static_cast<std::uint16_t>(length));
    append(labeledInfo, asBytes(kVersionLabel));
    append(labeledInfo, suiteId);
    append(labeledInfo, asBytes(label));
    append(labeledInfo, info);
    return hkdfExpand(prk, labeledInfo, length);
}

CResult<SecretBytes> extractAndExpand(ByteView dh, ByteView kemContext) {
    const Bytes suite = kemSuiteId();
    const SecretBytes eaePrk = labeledExtract(suite, {}, "eae_prk", dh);
    return labeledExpand(suite, eaePrk, "shared_secret", kemContext, kHashSize);
}

struct Encapsulation {
    SecretBytes sharedSecret;
    Bytes enc;
};

// Encap / AuthEncap (RFC 9180 §4.1) with a given ephemeral key; skS empty selects base mode.
CResult<Encapsulation> encap(ByteView pkR, ByteView skE, ByteView skS) {
    if (pkR.size() != kX25519KeySize) {
        return fail(CryptoError::InvalidArgument, "HPKE recipient public key must be 32 bytes");
    }
    auto pkE = x25519PublicFromPrivate(skE);
    if (!pkE) return pkE.error();
    auto dhE = x25519(skE, pkR);
    if (!dhE) return dhE.error();
    Bytes kemContext = *pkE;
    append(kemContext, pkR);
    SecretBytes dh;
    if (skS.empty()) {
        dh = std::move(dhE).value();
    } else {
        auto dhS = x25519(skS, pkR);
        if (!dhS) return dhS.error();
        auto pkS = x25519PublicFromPrivate(skS);
        if (!pkS) return pkS.error();
        dh = secretConcat({*dhE, *dhS});
        append(kemContext, *pkS);
    }
    auto shared = extractAndExpand(dh, kemContext);
    if (!shared) return shared.error();
    return Encapsulation{std::move(shared).value(), std::move(pkE).value()};
}

// Decap / AuthDecap; pkS empty selects base mode.
CResult<SecretBytes> decap(ByteView enc, ByteView skR, ByteView pkS) {
    if (enc.size() != kEncSize) return fail(CryptoError::InvalidArgument, "HPKE enc must be 32 bytes");
    auto pkR = x25519PublicFromPrivate(skR);
    if (!pkR) return pkR.error();
    auto dhE = x25519(skR, enc);
    if (!dhE) return dhE.error();
    Bytes kemContext(enc.begin(), enc.end());
    append(kemContext, *pkR);
    SecretBytes dh;
    if (pkS.empty()) {
        dh = std::move(dhE).value();
    } else {
        auto dhS = x25519(skR, pkS);
        if (!dhS) return dhS.error();
        dh = secretConcat({*dhE, *dhS});
        append(kemContext, pkS);
    }
    return extractAndExpand(dh, kemContext);
}

CResult<std::size_t> aeadKeySize(AeadId aead) {
    switch (aead) {
        case AeadId::Aes128Gcm: return std::size_t{16};
        case AeadId::Aes256Gcm: return std::size_t{32};
        case AeadId::ChaCha20Poly1305: return std::size_t{32};
    }
    return fail(CryptoError::InvalidArgument, "unsupported HPKE AEAD");
}

}  // namespace

struct ContextFactory {
    // KeySchedule (RFC 9180 §5.1) without a PSK, as base and auth modes require.
    static CResult<Context> keySchedule(Context::Role role, std::uint8_t mode, AeadId aeadId,
                                        ByteView sharedSecret, ByteView info) {
        auto keySize = aeadKeySize(aeadId);
        if (!keySize) return keySize.error();
        const Bytes suite = hpkeSuiteId(aeadId);

        const SecretBytes pskIdHash = labeledExtract(suite, {}, "psk_id_hash", {});
        const SecretBytes infoHash = labeledExtract(suite, {}, "info_hash", info);
        Bytes ksContext{mode};
        append(ksContext, pskIdHash);
        append(ksContext, infoHash);

        const SecretBytes secret = labeledExtract(suite, sharedSecret, "secret", {});
        auto key = labeledExpand(suite, secret, "key", ksContext, *keySize);
        if (!key) return key.error();
        auto baseNonce = labeledExpand(suite, secret, "base_nonce", ksContext, kNonceSize);
        if (!baseNonce) return baseNonce.error();
        auto exporterSecret = labeledExpand(suite, secret, "exp", ksContext, kHashSize);
        if (!exporterSecret) return exporterSecret.error();

        const AeadAlg alg = aeadId == AeadId::ChaCha20Poly1305 ? AeadAlg::ChaCha20Poly1305 : AeadAlg::AesGcm;
        auto aead = xs::crypto::Aead::create(alg, *key);
        if (!aead) return aead.error();
        return Context(role, aeadId, std::move(aead).value(), std::move(baseNonce).value(),
                       std::move(exporterSecret).value());
    }

    static CResult<SenderSetup> sender(std::uint8_t mode, AeadId aead, ByteView pkR, ByteView info,
                                       ByteView skS, ByteView skE) {
        auto encapsulated = encap(pkR, skE, skS);
        if (!encapsulated) return encapsulated.error();
        auto ctx = keySchedule(Context::Role::Sender, mode, aead, encapsulated->sharedSecret, info);
        if (!ctx) return ctx.error();
        return SenderSetup{std::move(encapsulated->enc), std::move(ctx).value()};
    }

    static CResult<SenderSetup> senderWithFreshKey(std::uint8_t mode, AeadId aead, ByteView pkR,
                                                   ByteView info, ByteView skS) {
        auto ephemeral = x25519Generate();
        if (!ephemeral) return ephemeral.error();
        return sender(mode, aead, pkR, info, skS, ephemeral->privateKey);
    }

    static CResult<Context> receiver(std::uint8_t mode, AeadId aead, ByteView enc, ByteView skR,
                                     ByteView info, ByteView pkS) {
        auto shared = decap(enc, skR, pkS);
        if (!shared) return shared.error();
        return keySchedule(Context::Role::Receiver, mode, aead, *shared, info);
    }
};

Context::Context(Role role, AeadId aeadId, xs::crypto::Aead aead, SecretBytes baseNonce,
                 SecretBytes exporterSecret)
    : m_role(role), m_aeadId(aeadId), m_aead(std::move(aead)), m_baseNonce(std::move(baseNonce)),
      m_exporterSecret(std::move(exporterSecret)) {}

Context::~Context() = default;
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;

namespace {

// ComputeNonce (RFC 9180 §5.2): base_nonce XOR I2OSP(seq, Nn).
std::array<std::uint8_t, kNonceSize> computeNonce(ByteView baseNonce, std::uint64_t seq) {
    std::array<std::uint8_t, kNonceSize> nonce{};
    std::memcpy(nonce.data(), baseNonce.data(), kNonceSize);
    for (std::size_t i = 0; i < 8; ++i) {
        nonce[kNonceSize - 1 - i] ^= static_cast<std::uint8_t>(seq >> (8 * i));
    }
    return nonce;
}

}  // namespace

CResult<Bytes> Context::seal(ByteView aad, ByteView plaintext) {
    if (m_role != Role::Sender) return fail(CryptoError::InvalidArgument, "HPKE receiver contexts cannot seal");
    if (m_baseNonce.size() != kNonceSize) return fail(CryptoError::InvalidArgument, "HPKE context was moved from");
    if (m_seq == std::numeric_limits<std::uint64_t>::max()) {
        return fail(CryptoError::InvalidArgument, "HPKE message limit reached");
    }
    const auto nonce = computeNonce(m_baseNonce, m_seq);
    Bytes out(plaintext.size() + kAeadTagSize);
    if (auto st = m_aead.seal(nonce, aad, plaintext, out.data()); !st) return st.error();
    ++m_seq;
    return out;
}

CResult<Bytes> Context::open(ByteView aad, ByteView ciphertext) {
    if (m_role != Role::Receiver) return fail(CryptoError::InvalidArgument, "HPKE sender contexts cannot open");
    if (m_baseNonce.size() != kNonceSize) return fail(CryptoError::InvalidArgument, "HPKE context was moved from");
    if (m_seq == std::numeric_limits<std::uint64_t>::max()) {
        return fail(CryptoError::InvalidArgument, "HPKE message limit reached");
    }
    if (ciphertext.size() < kAeadTagSize) {
        return fail(CryptoError::AuthenticationFailed, "HPKE ciphertext is shorter than its tag");
    }
    const auto nonce = computeNonce(m_baseNonce, m_seq);
    Bytes out(ciphertext.size() - kAeadTagSize);
    if (auto st = m_aead.open(nonce, aad, ciphertext, out.data()); !st) return st.error();
    ++m_seq;
    return out;
}

CResult<SecretBytes> Context::exportSecret(ByteView exporterContext, std::size_t length) const {
    if (m_exporterSecret.size() != kHashSize) {
        return fail(CryptoError::InvalidArgument, "HPKE context was moved from");
    }
    const Bytes suite = hpkeSuiteId(m_aeadId);
    return labeledExpand(suite, m_exporterSecret, "sec", exporterContext, length);
}

CResult<X25519KeyPair> deriveKeyPair(ByteView ikm) {
    const Bytes suite = kemSuiteId();
    const SecretBytes dkpPrk = labeledExtract(suite, {}, "dkp_prk", ikm);
    auto sk = labeledExpand(suite, dkpPrk, "sk", {}, kX25519KeySize);
    if (!sk) return sk.error();
    auto pk = x25519PublicFromPrivate(*sk);
    if (!pk) return pk.error();
    return X25519KeyPair{std::move(sk).value(), std::move(pk).value()};
}

CResult<SenderSetup> setupBaseS(AeadId aead, ByteView pkR, ByteView info) {
    return ContextFactory::senderWithFreshKey(kModeBase, aead, pkR, info, {});
}

CResult<SenderSetup> setupBaseSDeterministic(AeadId aead, ByteView pkR, ByteView info, ByteView skE) {
    return ContextFactory::sender(kModeBase, aead, pkR, info, {}, skE);
}

CResult<Context> setupBaseR(AeadId aead, ByteView enc, ByteView skR, ByteView info) {
    return ContextFactory::receiver(kModeBase, aead, enc, skR, info, {});
}

CResult<SenderSetup> setupAuthS(AeadId aead, ByteView pkR, ByteView info, ByteView skS) {
    if (skS.size() != kX25519KeySize) {
        return fail(CryptoError::InvalidArgument, "HPKE sender private key must be 32 bytes");
    }
    return ContextFactory::senderWithFreshKey(kModeAuth, aead, pkR, info, skS);
}

CResult<SenderSetup> setupAuthSDeterministic(AeadId aead, ByteView pkR, ByteView info, ByteView skS,
                                             ByteView skE) {
    if (skS.size() != kX25519KeySize) {
        return fail(CryptoError::InvalidArgument, "HPKE sender private key must be 32 bytes");
    }
    return ContextFactory::sender(kModeAuth, aead, pkR, info, skS, skE);
}

CResult<Context> setupAuthR(AeadId aead, ByteView enc, ByteView skR, ByteView info, ByteView pkS) {
    if (pkS.size() != kX25519KeySize) {
        return fail(CryptoError::InvalidArgument, "HPKE sender public key must be 32 bytes");
    }
    return ContextFactory::receiver(kModeAuth, aead, enc, skR, info, pkS);
}

}  // namespace xs::crypto::hpke
