#pragma once
#include "crypto/result.h"

namespace xs::crypto {

enum class CryptoError {
    InvalidArgument,       // wrong key/nonce length, bad parameters
    AuthenticationFailed,  // AEAD tag or signature did not verify
    Truncated,             // a stream ended before its last chunk
    Malformed,             // input that does not follow the format (bad hex, extra data after last chunk)
    RandomFailure,         // the CSPRNG failed
    Internal,              // OpenSSL or libargon2 reported an unexpected failure
};

template <typename T>
using CResult = Result<T, CryptoError>;
using CStatus = Status<CryptoError>;

}  // namespace xs::crypto
