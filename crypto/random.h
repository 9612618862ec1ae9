// CSPRNG (OpenSSL RAND_bytes). Failure is reported, never ignored.
#pragma once
#include "crypto/bytes.h"
#include "crypto/error.h"

namespace xs::crypto {

CStatus randomFill(std::uint8_t* out, std::size_t size);  // from the random source
CResult<Bytes> randomBytes(std::size_t size);
CResult<SecretBytes> randomSecret(std::size_t size);

// The seam (sync::Env installs one for tests): a source that replaces OpenSSL's for randomFill in
// this process; nullptr restores OpenSSL's. systemRandomFill is always OpenSSL's.
using RandomSource = bool (*)(std::uint8_t* out, std::size_t size);
void setRandomSource(RandomSource source);
CStatus systemRandomFill(std::uint8_t* out, std::size_t size);

}  // namespace xs::crypto
