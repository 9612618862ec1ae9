#include "crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>

namespace xs::crypto {
namespace {
std::atomic<RandomSource> g_source{nullptr};
}

void setRandomSource(RandomSource source) { g_source.store(source, std::memory_order_release); }

CStatus randomFill(std::uint8_t* out, std::size_t size) {
    if (RandomSource source = g_source.load(std::memory_order_acquire)) {
        if (!source(out, size)) return fail(CryptoError::RandomFailure, "the random number generator failed");
        return CStatus::success();
    }
    return systemRandomFill(out, size);
}

CStatus systemRandomFill(std::uint8_t* out, std::size_t size) {
    constexpr std::size_t kMaxPerCall = 1u << 30;  // RAND_bytes takes an int
    while (size > 0) {
        const std::size_t n = std::min(size, kMaxPerCall);
        if (RAND_bytes(out, static_cast<int>(n)) != 1) {
            return fail(CryptoError::RandomFailure, "the OpenSSL CSPRNG failed to produce random bytes");
        }
        out += n;
        size -= n;
    }
    return CStatus::success();
}

CResult<Bytes> randomBytes(std::size_t size) {
    Bytes out(size);
    if (auto st = randomFill(out.data(), out.size()); !st) return st.error();
    return out;
}

CResult<SecretBytes> randomSecret(std::size_t size) {
    SecretBytes out(size);
    if (auto st = randomFill(out.data(), out.size()); !st) return st.error();
    return out;
}

}  // namespace xs::crypto
