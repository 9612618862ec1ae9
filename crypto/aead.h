// AEAD: AES-GCM (key 16/24/32 bytes; the product uses 32) and ChaCha20-Poly1305 (key 32, nonce 12).
// Ciphertext layout is ciphertext || 16-byte tag.
#pragma once
#include <memory>
#include "crypto/bytes.h"
#include "crypto/error.h"

namespace xs::crypto {

enum class AeadAlg { AesGcm, ChaCha20Poly1305 };

constexpr std::size_t kAeadTagSize = 16;
constexpr std::size_t kAeadNonceSize = 12;  // the size the product uses
// OpenSSL 3.0's GCM implementation holds at most 1024 bits of IV; longer ones are InvalidArgument.
constexpr std::size_t kAesGcmMaxNonceSize = 128;

// One-shot. AES-GCM accepts nonce lengths 1..kAesGcmMaxNonceSize (other than 12 only for test
// vectors); ChaCha20-Poly1305 needs 12. Wrong key or nonce sizes are InvalidArgument.
CResult<Bytes> aeadSeal(AeadAlg alg, ByteView key, ByteView nonce, ByteView aad, ByteView plaintext);
// Fails with AuthenticationFailed on a bad tag, never returns unauthenticated plaintext.
CResult<Bytes> aeadOpen(AeadAlg alg, ByteView key, ByteView nonce, ByteView aad, ByteView ciphertext);

// A keyed context reused for many messages (stream chunks). Holds a copy of the key; wipes it.
// (The key schedule lives in OpenSSL's cipher context, which OpenSSL cleanses when it is freed.)
// Not thread-safe: use one object per thread. A moved-from object returns InvalidArgument.
class Aead {
public:
    static CResult<Aead> create(AeadAlg alg, ByteView key);
    ~Aead();
    Aead(Aead&&) noexcept;
    Aead& operator=(Aead&&) noexcept;
    // out must have room for plaintext.size() + kAeadTagSize bytes. out may equal
    // plaintext.data() (in place) but must not otherwise overlap it.
    CStatus seal(ByteView nonce, ByteView aad, ByteView plaintext, std::uint8_t* out);
    // out must have room for ciphertext.size() - kAeadTagSize bytes (same overlap rule). out never
    // keeps unauthenticated plaintext: if decryption fails, what was written there is zeroed. A bad
    // tag, or a ciphertext shorter than the tag, is AuthenticationFailed.
    CStatus open(ByteView nonce, ByteView aad, ByteView ciphertext, std::uint8_t* out);
private:
    Aead() = default;
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace xs::crypto
