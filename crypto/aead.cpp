#include "crypto/aead.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>

namespace xs::crypto {
namespace {

constexpr int kEncrypt = 1;
constexpr int kDecrypt = 0;
constexpr std::size_t kMaxUpdate = 1u << 30;  // EVP update lengths are ints

Error<CryptoError> opensslError(const char* what) {
    ERR_clear_error();  // keep OpenSSL's thread-local queue clean for other users of the library
    return fail(CryptoError::Internal, what);
}

// Feeds `in` to the cipher in int-sized pieces; out == nullptr feeds associated data.
bool cipherUpdate(EVP_CIPHER_CTX* ctx, std::uint8_t* out, ByteView in, std::size_t& written) {
    written = 0;
    std::size_t offset = 0;
    while (offset < in.size()) {
        const std::size_t n = std::min(in.size() - offset, kMaxUpdate);
        int outLen = 0;
        if (EVP_CipherUpdate(ctx, out == nullptr ? nullptr : out + written, &outLen,
                             in.data() + offset, static_cast<int>(n)) != 1) {
            return false;
        }
        offset += n;
        written += static_cast<std::size_t>(outLen);
    }
    return true;
}

}  // namespace

struct Aead::Impl {
    EVP_CIPHER_CTX* ctx = nullptr;
    AeadAlg alg = AeadAlg::AesGcm;
    std::size_t nonceSize = kAeadNonceSize;

    ~Impl() { EVP_CIPHER_CTX_free(ctx); }  // the provider cleanses its key schedule

    CStatus begin(ByteView nonce, int direction) {
        if (alg == AeadAlg::ChaCha20Poly1305) {
            if (nonce.size() != kAeadNonceSize) {
                return fail(CryptoError::InvalidArgument, "ChaCha20-Poly1305 needs a 12-byte nonce");
            }
        } else if (nonce.empty() || nonce.size() > kAesGcmMaxNonceSize) {
            return fail(CryptoError::InvalidArgument, "AES-GCM needs a nonce of 1 to 128 bytes");
        }
        if (nonce.size() != nonceSize) {
            if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(nonce.size()),
                                    nullptr) != 1) {
                return opensslError("OpenSSL refused the AES-GCM nonce length");
            }
            nonceSize = nonce.size();
        }
        if (EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data(), direction) != 1) {
            return opensslError("OpenSSL failed to set the AEAD nonce");
        }
        return CStatus::success();
    }
};

CResult<Aead> Aead::create(AeadAlg alg, ByteView key) {
    const char* name = nullptr;
    if (alg == AeadAlg::AesGcm) {
        switch (key.size()) {
            case 16: name = "AES-128-GCM"; break;
            case 24: name = "AES-192-GCM"; break;
            case 32: name = "AES-256-GCM"; break;
            default: return fail(CryptoError::InvalidArgument, "AES-GCM needs a 16, 24 or 32-byte key");
        }
    } else if (alg == AeadAlg::ChaCha20Poly1305) {
        if (key.size() != 32) {
            return fail(CryptoError::InvalidArgument, "ChaCha20-Poly1305 needs a 32-byte key");
        }
        name = "ChaCha20-Poly1305";
    } else {
        return fail(CryptoError::InvalidArgument, "unknown AEAD algorithm");
    }

    EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, name, nullptr);
    if (cipher == nullptr) return opensslError("OpenSSL does not provide the AEAD cipher");
    auto impl = std::make_unique<Impl>();
    impl->alg = alg;
    impl->ctx = EVP_CIPHER_CTX_new();
    const bool ok = impl->ctx != nullptr &&
                    EVP_CipherInit_ex(impl->ctx, cipher, nullptr, key.data(), nullptr, kEncrypt) == 1;
    EVP_CIPHER_free(cipher);
    if (!ok) return opensslError("OpenSSL failed to initialise the AEAD key");

    Aead aead;
    aead.m_impl = std::move(impl);
    return aead;
}

Aead::~Aead() = default;
Aead::Aead(Aead&&) noexcept = default;
Aead& Aead::operator=(Aead&&) noexcept = default;

CStatus Aead::seal(ByteView nonce, ByteView aad, ByteView plaintext, std::uint8_t* out) {
    if (!m_impl) return fail(CryptoError::InvalidArgument, "Aead used after it was moved from");
    if (auto st = m_impl->begin(nonce, kEncrypt); !st) return st;
    EVP_CIPHER_CTX* ctx = m_impl->ctx;

    std::size_t written = 0;
    if (!cipherUpdate(ctx, nullptr, aad, written) || !cipherUpdate(ctx, out, plaintext, written) ||
        written != plaintext.size()) {
        return opensslError("AEAD encryption failed");
    }
    std::array<std::uint8_t, EVP_MAX_BLOCK_LENGTH> scratch{};  // stream AEADs emit nothing here
    int finalLen = 0;
    if (EVP_EncryptFinal_ex(ctx, scratch.data(), &finalLen) != 1 || finalLen != 0 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kAeadTagSize),
                            out + plaintext.size()) != 1) {
        return opensslError("AEAD encryption failed");
    }
    return CStatus::success();
}

CStatus Aead::open(ByteView nonce, ByteView aad, ByteView ciphertext, std::uint8_t* out) {
    if (!m_impl) return fail(CryptoError::InvalidArgument, "Aead used after it was moved from");
    if (ciphertext.size() < kAeadTagSize) {
        return fail(CryptoError::AuthenticationFailed, "AEAD ciphertext is shorter than its tag");
    }
    if (auto st = m_impl->begin(nonce, kDecrypt); !st) return st;
    EVP_CIPHER_CTX* ctx = m_impl->ctx;

    const ByteView body = ciphertext.first(ciphertext.size() - kAeadTagSize);
    std::array<std::uint8_t, kAeadTagSize> tag{};
    std::copy(ciphertext.end() - kAeadTagSize, ciphertext.end(), tag.begin());
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag.size()), tag.data()) != 1) {
        return opensslError("AEAD decryption failed");
    }
    std::size_t written = 0;
    if (!cipherUpdate(ctx, nullptr, aad, written) || !cipherUpdate(ctx, out, body, written) ||
        written != body.size()) {
        if (!body.empty()) OPENSSL_cleanse(out, body.size());
        return opensslError("AEAD decryption failed");
    }
    std::array<std::uint8_t, EVP_MAX_BLOCK_LENGTH> scratch{};
    int finalLen = 0;
    if (EVP_DecryptFinal_ex(ctx, scratch.data(), &finalLen) != 1) {
        // The plaintext was written before the tag was checked; it must not survive.
        if (!body.empty()) OPENSSL_cleanse(out, body.size());
        ERR_clear_error();
        return fail(CryptoError::AuthenticationFailed, "AEAD tag did not verify");
    }
    return CStatus::success();
}

CResult<Bytes> aeadSeal(AeadAlg alg, ByteView key, ByteView nonce, ByteView aad, ByteView plaintext) {
    auto aead = Aead::create(alg, key);
    if (!aead) return aead.error();
    Bytes out(plaintext.size() + kAeadTagSize);
    if (auto st = aead->seal(nonce, aad, plaintext, out.data()); !st) return st.error();
    return out;
}

CResult<Bytes> aeadOpen(AeadAlg alg, ByteView key, ByteView nonce, ByteView aad, ByteView ciphertext) {
    auto aead = Aead::create(alg, key);
    if (!aead) return aead.error();
    if (ciphertext.size() < kAeadTagSize) {
        return fail(CryptoError::AuthenticationFailed, "AEAD ciphertext is shorter than its tag");
    }
    Bytes out(ciphertext.size() - kAeadTagSize);
    if (auto st = aead->open(nonce, aad, ciphertext, out.data()); !st) return st.error();
    return out;
}

}  // namespace xs::crypto
