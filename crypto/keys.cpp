#include "crypto/keys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <memory>

namespace xs::crypto {
namespace {

struct PkeyDeleter {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }  // OpenSSL wipes private keys
};
struct PkeyCtxDeleter {
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxDeleter {
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

constexpr const char* kX25519 = "X25519";
constexpr const char* kEd25519 = "ED25519";

Error<CryptoError> opensslError(const char* what) {
    ERR_clear_error();
    return fail(CryptoError::Internal, what);
}

PkeyPtr privateKey(const char* type, ByteView raw) {
    return PkeyPtr(EVP_PKEY_new_raw_private_key_ex(nullptr, type, nullptr, raw.data(), raw.size()));
}

PkeyPtr publicKey(const char* type, ByteView raw) {
    return PkeyPtr(EVP_PKEY_new_raw_public_key_ex(nullptr, type, nullptr, raw.data(), raw.size()));
}

CResult<Bytes> rawPublic(const EVP_PKEY* key) {
    Bytes out(32);
    std::size_t len = out.size();
    if (EVP_PKEY_get_raw_public_key(key, out.data(), &len) != 1 || len != out.size()) {
        return opensslError("OpenSSL failed to export a public key");
    }
    return out;
}

// Asked for as a parameter, which the provider writes straight into `out`: OpenSSL 3.0's
// EVP_PKEY_get_raw_private_key exports the key through a parameter block that it frees unwiped.
CResult<SecretBytes> rawPrivate(const EVP_PKEY* key) {
    SecretBytes out(32);
    std::size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PRIV_KEY, out.data(), out.size(), &len) != 1 ||
        len != out.size()) {
        return opensslError("OpenSSL failed to export a private key");
    }
    return out;
}

// The empty message needs a valid pointer for some OpenSSL paths.
const std::uint8_t* messagePointer(ByteView message) {
    static const std::uint8_t kEmpty = 0;
    return message.empty() ? &kEmpty : message.data();
}

template <typename Pair>
CResult<Pair> generate(const char* type) {
    PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, type));
    if (!key) return opensslError("OpenSSL key generation failed");
    auto priv = rawPrivate(key.get());
    if (!priv) return priv.error();
    auto pub = rawPublic(key.get());
    if (!pub) return pub.error();
    return Pair{std::move(priv).value(), std::move(pub).value()};
}

CResult<Bytes> publicFromPrivate(const char* type, ByteView raw, const char* sizeMessage) {
    if (raw.size() != 32) return fail(CryptoError::InvalidArgument, sizeMessage);
    PkeyPtr key = privateKey(type, raw);
    if (!key) return opensslError("OpenSSL rejected the private key");
    return rawPublic(key.get());
}

}  // namespace

CResult<X25519KeyPair> x25519Generate() { return generate<X25519KeyPair>(kX25519); }

CResult<Bytes> x25519PublicFromPrivate(ByteView privateKeyBytes) {
    return publicFromPrivate(kX25519, privateKeyBytes, "X25519 private keys are 32 bytes");
}

CResult<SecretBytes> x25519(ByteView privateKeyBytes, ByteView peerPublicKey) {
    if (privateKeyBytes.size() != kX25519KeySize || peerPublicKey.size() != kX25519KeySize) {
        return fail(CryptoError::InvalidArgument, "X25519 keys are 32 bytes");
    }
    PkeyPtr ours = privateKey(kX25519, privateKeyBytes);
    PkeyPtr peer = publicKey(kX25519, peerPublicKey);
    if (!ours || !peer) return opensslError("OpenSSL rejected an X25519 key");
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ours.get(), nullptr));
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1) {
        return opensslError("OpenSSL failed to set up X25519");
    }
    SecretBytes shared(kX25519KeySize);
    std::size_t len = shared.size();
    const bool derived = EVP_PKEY_derive(ctx.get(), shared.data(), &len) == 1 && len == shared.size();
    ERR_clear_error();
    // OpenSSL itself refuses an all-zero result; the explicit check keeps that guarantee here.
    static const std::uint8_t kZero[kX25519KeySize] = {};
    if (!derived || CRYPTO_memcmp(shared.data(), kZero, sizeof kZero) == 0) {
        return fail(CryptoError::InvalidArgument,
                    "X25519 peer key is of low order (the shared secret would be all zero)");
    }
    return shared;
}

CResult<Ed25519KeyPair> ed25519Generate() { return generate<Ed25519KeyPair>(kEd25519); }

CResult<Bytes> ed25519PublicFromPrivate(ByteView privateKeyBytes) {
    return publicFromPrivate(kEd25519, privateKeyBytes, "Ed25519 private keys are 32 bytes");
}

CResult<Bytes> ed25519Sign(ByteView privateKeyBytes, ByteView message) {
    if (privateKeyBytes.size() != kEd25519KeySize) {
        return fail(CryptoError::InvalidArgument, "Ed25519 private keys are 32 bytes");
    }
    PkeyPtr key = privateKey(kEd25519, privateKeyBytes);
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!key || !ctx ||
        EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key.get(), nullptr) != 1) {
        return opensslError("OpenSSL failed to set up Ed25519 signing");
    }
    Bytes sig(kEd25519SignatureSize);
    std::size_t len = sig.size();
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, messagePointer(message), message.size()) != 1 ||
        len != sig.size()) {
        return opensslError("Ed25519 signing failed");
    }
    return sig;
}

CStatus ed25519Verify(ByteView publicKeyBytes, ByteView message, ByteView signature) {
    if (publicKeyBytes.size() != kEd25519KeySize) {
        return fail(CryptoError::InvalidArgument, "Ed25519 public keys are 32 bytes");
    }
    if (signature.size() != kEd25519SignatureSize) {
        return fail(CryptoError::AuthenticationFailed, "Ed25519 signature is not 64 bytes");
    }
    PkeyPtr key = publicKey(kEd25519, publicKeyBytes);
    if (!key) {
        ERR_clear_error();
        return fail(CryptoError::AuthenticationFailed, "Ed25519 public key is not usable");
    }
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx ||
        EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key.get(), nullptr) != 1) {
        return opensslError("OpenSSL failed to set up Ed25519 verification");
    }
    const int rc = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                                    messagePointer(message), message.size());
    ERR_clear_error();
    if (rc != 1) return fail(CryptoError::AuthenticationFailed, "Ed25519 signature did not verify");
    return CStatus::success();
}

}  // namespace xs::crypto
