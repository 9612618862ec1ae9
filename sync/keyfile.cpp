#include "sync/keyfile.h"

#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "crypto/aead.h"
#include "crypto/encoding.h"
#include "crypto/random.h"

namespace xs::sync {
namespace {

using nlohmann::json;

std::string associatedData(const KeyFile& k) {
    return "xunshen-keyfile|" + std::to_string(k.version) + "|" + std::to_string(k.suite) + "|" + k.storeId +
           "|argon2id|" + std::to_string(k.kdf.version) + "|" + std::to_string(k.kdf.memoryKiB) + "|" +
           std::to_string(k.kdf.iterations) + "|" + std::to_string(k.kdf.parallelism) + "|" +
           crypto::toBase64(k.salt);
}

Error<SyncError> invalid(const std::string& what) {
    return fail(SyncError::Invalid, "key file is malformed: " + what);
}

// Integers of T's range only: booleans and fractions are not silently converted, and a value T
// cannot hold is refused rather than truncated (4294975488 is not 8192 KiB).
template <typename T>
T integer(const json& j, const char* key) {
    const json& v = j.at(key);
    const bool fits = v.is_number_unsigned() ? std::in_range<T>(v.get<std::uint64_t>())
                      : v.is_number_integer() ? std::in_range<T>(v.get<std::int64_t>())
                                              : false;
    if (!fits)
        throw std::invalid_argument(std::string(key) + (std::is_unsigned_v<T> ? " must be a non-negative integer" : " must be an integer") +
                                    " up to " + std::to_string(std::numeric_limits<T>::max()));
    return v.get<T>();
}

}  // namespace

SStatus validateKdfParams(const crypto::Argon2Params& kdf) {
    if (kdf.type != crypto::Argon2Type::Id) return fail(SyncError::Invalid, "the passphrase KDF must be Argon2id");
    if (kdf.version != 0x13) return fail(SyncError::Invalid, "Argon2 version must be 0x13");
    if (kdf.memoryKiB < kMinKdfMemoryKiB || kdf.memoryKiB > kMaxKdfMemoryKiB)
        return fail(SyncError::Invalid, "Argon2 memory must be 8192 to 4194304 KiB");
    if (kdf.iterations < 1 || kdf.iterations > 64) return fail(SyncError::Invalid, "Argon2 iterations must be 1 to 64");
    if (kdf.parallelism < 1 || kdf.parallelism > 16) return fail(SyncError::Invalid, "Argon2 parallelism must be 1 to 16");
    return {};
}

SResult<KeyFile> parseKeyFile(crypto::ByteView bytes) {
    json j = json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return invalid("not a JSON object");
    KeyFile k;
    try {
        if (j.at("format").get<std::string>() != "xunshen-keyfile") return invalid("wrong format tag");
        k.version = integer<int>(j, "version");
        if (k.version != kKeyFileVersion) return invalid("unsupported version " + std::to_string(k.version));
        k.suite = integer<int>(j, "suite");
        if (k.suite != kSuiteXs1) return invalid("unsupported crypto suite " + std::to_string(k.suite));
        k.storeId = j.at("store_id").get<std::string>();
        const json& kdf = j.at("kdf");
        if (kdf.at("alg").get<std::string>() != "argon2id") return invalid("unsupported KDF");
        k.kdf.version = integer<std::uint32_t>(kdf, "version");
        k.kdf.memoryKiB = integer<std::uint32_t>(kdf, "memory_kib");
        k.kdf.iterations = integer<std::uint32_t>(kdf, "iterations");
        k.kdf.parallelism = integer<std::uint32_t>(kdf, "parallelism");
        auto salt = crypto::fromBase64(kdf.at("salt").get<std::string>());
        const json& wrap = j.at("wrap");
        if (wrap.at("alg").get<std::string>() != "aes-256-gcm") return invalid("unsupported wrap algorithm");
        auto nonce = crypto::fromBase64(wrap.at("nonce").get<std::string>());
        auto ct = crypto::fromBase64(wrap.at("ciphertext").get<std::string>());
        if (!salt || salt->size() != 16) return invalid("salt must be 16 bytes");
        if (!nonce || nonce->size() != 12) return invalid("nonce must be 12 bytes");
        if (!ct || ct->size() != 48) return invalid("wrapped key must be 48 bytes");
        k.salt = std::move(*salt);
        k.nonce = std::move(*nonce);
        k.wrappedKey = std::move(*ct);
    } catch (const json::exception& e) {
        return invalid(std::string("missing or mistyped field (") + e.what() + ")");
    } catch (const std::invalid_argument& e) {
        return invalid(e.what());
    }
    if (auto v = validateKdfParams(k.kdf); !v) return invalid(v.message());
    if (k.storeId.empty() || k.storeId.size() > 64) return invalid("bad store id");
    return k;
}

std::string serializeKeyFile(const KeyFile& k) {
    json j = {
        {"format", "xunshen-keyfile"},
        {"version", k.version},
        {"suite", k.suite},
        {"store_id", k.storeId},
        {"kdf",
         {{"alg", "argon2id"},
          {"version", k.kdf.version},
          {"memory_kib", k.kdf.memoryKiB},
          {"iterations", k.kdf.iterations},
          {"parallelism", k.kdf.parallelism},
          {"salt", crypto::toBase64(k.salt)}}},
        {"wrap",
         {{"alg", "aes-256-gcm"},
          {"nonce", crypto::toBase64(k.nonce)},
          {"ciphertext", crypto::toBase64(k.wrappedKey)}}},
    };
    return j.dump(2) + "\n";
}

SResult<KeyFile> wrapDataKey(const crypto::SecretBytes& dataKey, std::string_view passphrase,
                             const crypto::Argon2Params& kdf, const std::string& storeId) {
    if (dataKey.size() != 32) return fail(SyncError::Invalid, "data key must be 32 bytes");
    XS_TRY(validateKdfParams(kdf));
    KeyFile k;
    k.storeId = storeId;
    k.kdf = kdf;
    k.kdf.type = crypto::Argon2Type::Id;
    auto salt = crypto::randomBytes(16);
    auto nonce = crypto::randomBytes(12);
    if (!salt || !nonce) return fail(SyncError::Crypto, "random number generator failed");
    k.salt = std::move(*salt);
    k.nonce = std::move(*nonce);
    auto kek = crypto::argon2id(passphrase, k.salt, k.kdf);
    if (!kek) return fail(SyncError::Crypto, "key derivation failed: " + kek.message());
    auto ct = crypto::aeadSeal(crypto::AeadAlg::AesGcm, *kek, k.nonce, crypto::asBytes(associatedData(k)), dataKey);
    if (!ct) return fail(SyncError::Crypto, "key wrap failed: " + ct.message());
    k.wrappedKey = std::move(*ct);
    return k;
}

SResult<crypto::SecretBytes> unwrapDataKey(const KeyFile& k, std::string_view passphrase) {
    auto kek = crypto::argon2id(passphrase, k.salt, k.kdf);
    if (!kek) return fail(SyncError::Crypto, "key derivation failed: " + kek.message());
    auto aead = crypto::Aead::create(crypto::AeadAlg::AesGcm, *kek);
    if (!aead) return fail(SyncError::Crypto, "key unwrap failed: " + aead.message());
    crypto::SecretBytes key(k.wrappedKey.size() - crypto::kAeadTagSize);
    // Decrypts straight into memory that wipes itself, so no plaintext key copy outlives this call.
    if (!aead->open(k.nonce, crypto::asBytes(associatedData(k)), k.wrappedKey, key.data()))
        return fail(SyncError::WrongPassphrase, "wrong passphrase");
    return key;
}

}  // namespace xs::sync
