// The key file (`keyfile.json` beside the database): the store's random 256-bit data key wrapped
// with AES-256-GCM under a key derived from the person's passphrase by Argon2id. Everything that
// shapes the derivation (format, version, suite, Argon2 parameters, salt, store id) is bound into
// the wrap as associated data, so a downgraded parameter makes the unwrap fail. Format: docs/FORMATS.md.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include "crypto/bytes.h"
#include "crypto/kdf.h"
#include "sync/error.h"
#include "sync/suite.h"

namespace xs::sync {

constexpr int kKeyFileVersion = 1;

struct KeyFile {
    int version = kKeyFileVersion;
    int suite = kSuiteXs1;
    std::string storeId;
    crypto::Argon2Params kdf;
    crypto::Bytes salt;        // 16 bytes
    crypto::Bytes nonce;       // 12 bytes
    crypto::Bytes wrappedKey;  // 32-byte key + 16-byte tag
};

// Bounds accepted from a key file (outside input) and from `init`.
constexpr std::uint32_t kMinKdfMemoryKiB = 8 * 1024;
constexpr std::uint32_t kMaxKdfMemoryKiB = 4 * 1024 * 1024;

// Invalid unless the parameters are within the bounds every key file must satisfy.
SStatus validateKdfParams(const crypto::Argon2Params& kdf);

SResult<KeyFile> parseKeyFile(crypto::ByteView json);  // strict; Invalid on any deviation
std::string serializeKeyFile(const KeyFile& keyFile);

// Wraps dataKey under the passphrase with fresh salt and nonce.
SResult<KeyFile> wrapDataKey(const crypto::SecretBytes& dataKey, std::string_view passphrase,
                             const crypto::Argon2Params& kdf, const std::string& storeId);
// WrongPassphrase when the tag does not verify.
SResult<crypto::SecretBytes> unwrapDataKey(const KeyFile& keyFile, std::string_view passphrase);

}  // namespace xs::sync
