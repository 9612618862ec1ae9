// SHA-256, HMAC-SHA256, HKDF-SHA256 (RFC 5869) and constant-time comparison.
// The functions without an error result can only fail if OpenSSL cannot allocate memory; they
// then abort the process, as an out-of-memory would.
#pragma once
#include <array>
#include <memory>
#include "crypto/bytes.h"
#include "crypto/error.h"

namespace xs::crypto {

using Digest = std::array<std::uint8_t, 32>;

Digest sha256(ByteView data);

// Incremental SHA-256 for streams (evidence files, bundles). Not thread-safe. Do not use a
// moved-from object (it ignores updates and returns an all-zero digest).
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;
    void update(ByteView data);
    Digest finish();  // the object may not be updated afterwards (if it is, it hashes afresh)
private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

Digest hmacSha256(ByteView key, ByteView data);

// HKDF-SHA256. `length` up to 255*32 bytes; else InvalidArgument.
CResult<SecretBytes> hkdfSha256(ByteView ikm, ByteView salt, ByteView info, std::size_t length);
SecretBytes hkdfExtract(ByteView salt, ByteView ikm);  // PRK, 32 bytes
// prk must be at least 32 bytes (RFC 5869 §2.3), else InvalidArgument.
CResult<SecretBytes> hkdfExpand(ByteView prk, ByteView info, std::size_t length);

// Constant-time equality; different lengths compare unequal (length is not secret).
bool constantTimeEqual(ByteView a, ByteView b);

}  // namespace xs::crypto
