#include "crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace xs::crypto {
namespace {

constexpr std::size_t kHashSize = 32;
constexpr std::size_t kMaxHkdfLength = 255 * kHashSize;

// SHA-256 and HMAC only fail on allocation failure inside OpenSSL; the API has no error path for
// them, so that is treated like std::bad_alloc escaping a noexcept function.
[[noreturn]] void opensslFatal() { std::abort(); }

// OpenSSL treats a null key as "keep the previous key"; a zero-length key needs a valid pointer.
const std::uint8_t* keyPointer(ByteView key) {
    static const std::uint8_t kEmpty = 0;
    return key.empty() ? &kEmpty : key.data();
}

class HmacSha256 {
public:
    explicit HmacSha256(ByteView key) {
        EVP_MAC* mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
        if (mac == nullptr) opensslFatal();
        m_ctx = EVP_MAC_CTX_new(mac);
        EVP_MAC_free(mac);
        if (m_ctx == nullptr) opensslFatal();
        char digest[] = "SHA256";
        const OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_MAC_init(m_ctx, keyPointer(key), key.size(), params) != 1) opensslFatal();
    }
    ~HmacSha256() { EVP_MAC_CTX_free(m_ctx); }
    HmacSha256(const HmacSha256&) = delete;
    HmacSha256& operator=(const HmacSha256&) = delete;

    // Starts a new MAC under the same key.
    void reset() {
        if (EVP_MAC_init(m_ctx, nullptr, 0, nullptr) != 1) opensslFatal();
    }
    void update(ByteView data) {
        if (!data.empty() && EVP_MAC_update(m_ctx, data.data(), data.size()) != 1) opensslFatal();
    }
    void finish(std::uint8_t* out) {
        std::size_t len = 0;
        if (EVP_MAC_final(m_ctx, out, &len, kHashSize) != 1 || len != kHashSize) opensslFatal();
    }

private:
    EVP_MAC_CTX* m_ctx = nullptr;
};

}  // namespace

Digest sha256(ByteView data) {
    Digest out{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
        len != out.size()) {
        opensslFatal();
    }
    return out;
}

struct Sha256::Impl {
    EVP_MD_CTX* ctx = nullptr;
    ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : m_impl(std::make_unique<Impl>()) {
    m_impl->ctx = EVP_MD_CTX_new();
    if (m_impl->ctx == nullptr || EVP_DigestInit_ex(m_impl->ctx, EVP_sha256(), nullptr) != 1) {
        opensslFatal();
    }
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(ByteView data) {
    if (!m_impl || data.empty()) return;
    if (EVP_DigestUpdate(m_impl->ctx, data.data(), data.size()) != 1) opensslFatal();
}

Digest Sha256::finish() {
    Digest out{};
    if (!m_impl) return out;
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(m_impl->ctx, out.data(), &len) != 1 || len != out.size()) opensslFatal();
    // Start over so that misuse after finish() hashes from scratch instead of failing in OpenSSL.
    if (EVP_DigestInit_ex(m_impl->ctx, EVP_sha256(), nullptr) != 1) opensslFatal();
    return out;
}

Digest hmacSha256(ByteView key, ByteView data) {
    Digest out{};
    HmacSha256 mac(key);
    mac.update(data);
    mac.finish(out.data());
    return out;
}

SecretBytes hkdfExtract(ByteView salt, ByteView ikm) {
    // RFC 5869: an absent salt is HashLen zero bytes, which HMAC pads to the same block as "".
    SecretBytes prk(kHashSize);
    HmacSha256 mac(salt);
    mac.update(ikm);
    mac.finish(prk.data());
    return prk;
}

CResult<SecretBytes> hkdfExpand(ByteView prk, ByteView info, std::size_t length) {
    if (prk.size() < kHashSize) {
        return fail(CryptoError::InvalidArgument, "HKDF-Expand needs a PRK of at least 32 bytes");
    }
    if (length > kMaxHkdfLength) {
        return fail(CryptoError::InvalidArgument, "HKDF-SHA256 output is limited to 8160 bytes");
    }
    SecretBytes okm(length);
    SecretBytes block(kHashSize);
    HmacSha256 mac(prk);
    std::size_t done = 0;
    for (std::uint8_t counter = 1; done < length; ++counter) {
        if (counter > 1) {
            mac.reset();
            mac.update(block.view());
        }
        mac.update(info);
        mac.update(ByteView(&counter, 1));
        mac.finish(block.data());
        const std::size_t n = std::min(kHashSize, length - done);
        std::memcpy(okm.data() + done, block.data(), n);
        done += n;
    }
    return okm;
}

CResult<SecretBytes> hkdfSha256(ByteView ikm, ByteView salt, ByteView info, std::size_t length) {
    if (length > kMaxHkdfLength) {
        return fail(CryptoError::InvalidArgument, "HKDF-SHA256 output is limited to 8160 bytes");
    }
    const SecretBytes prk = hkdfExtract(salt, ikm);
    return hkdfExpand(prk, info, length);
}

bool constantTimeEqual(ByteView a, ByteView b) {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace xs::crypto
