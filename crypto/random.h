// CSPRNG (OpenSSL RAND_bytes). Failure is reported, never ignored.
#pragma once
#include "crypto/bytes.h"
#include "crypto/error.h"

namespace xs::crypto {

CStatus randomFill(std::uint8_t* out, std::size_t size);
CResult<Bytes> randomBytes(std::size_t size);
CResult<SecretBytes> randomSecret(std::size_t size);

}  // namespace xs::crypto
