// Argon2 (RFC 9106) through libargon2. The product uses Argon2id v0x13 for passphrases.
#pragma once
#include <cstdint>
#include <string_view>
#include "crypto/bytes.h"
#include "crypto/error.h"

namespace xs::crypto {

enum class Argon2Type { D = 0, I = 1, Id = 2 };

struct Argon2Params {
    std::uint32_t iterations = 3;      // t
    std::uint32_t memoryKiB = 65536;   // m
    std::uint32_t parallelism = 4;     // p (lanes = threads)
    std::uint32_t version = 0x13;
    Argon2Type type = Argon2Type::Id;
};

// Full-featured form (secret and associated data), for the RFC vectors.
CResult<SecretBytes> argon2(const Argon2Params& params, ByteView password, ByteView salt,
                            ByteView secret, ByteView ad, std::size_t tagLength);

inline CResult<SecretBytes> argon2id(std::string_view passphrase, ByteView salt,
                                     const Argon2Params& params, std::size_t tagLength = 32) {
    return argon2(params, asBytes(passphrase), salt, {}, {}, tagLength);
}

}  // namespace xs::crypto
