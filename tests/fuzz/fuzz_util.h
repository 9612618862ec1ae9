// Helpers shared by the fuzz targets (tests/fuzz/*_fuzz.cpp): the input as text, a fixed signing
// key for formats whose body is only read once a signature verifies (a target signs the fuzzed body
// itself, so the fuzzer reaches the code behind the signature), and a check that aborts, which
// libFuzzer and the replay driver report as a crash. Single-threaded, like the targets.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "crypto/bytes.h"
#include "crypto/encoding.h"
#include "crypto/keys.h"

namespace xs::fuzz {

inline std::string_view textOf(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// An invariant of the code under test failed: report it and abort (a finding, like a sanitizer's).
[[noreturn]] inline void invariantFailed(const char* what, const char* file, int line) {
    std::fprintf(stderr, "fuzz invariant failed at %s:%d: %s\n", file, line, what);
    std::abort();
}
#define XS_FUZZ_CHECK(cond) \
    do {                    \
        if (!(cond)) ::xs::fuzz::invariantFailed(#cond, __FILE__, __LINE__); \
    } while (0)

// The fuzz targets' Ed25519 key: the seed 32 x 0x42. Its public key (hex) is what the committed
// corpora name as the office's signing key (docs/TESTING.md "Signed formats").
class FixedSigner {
public:
    static const FixedSigner& instance() {
        static const FixedSigner signer;
        return signer;
    }
    const crypto::Bytes& publicKey() const { return m_public; }
    std::string publicKeyHex() const { return crypto::toHex(m_public); }
    // The 64-byte signature over `message`, as lowercase hex.
    std::string signHex(std::string_view message) const {
        auto sig = crypto::ed25519Sign(m_seed, crypto::asBytes(message));
        if (!sig) invariantFailed("ed25519Sign failed", __FILE__, __LINE__);
        return crypto::toHex(*sig);
    }

private:
    FixedSigner() : m_seed(32, 0x42) {
        auto pub = crypto::ed25519PublicFromPrivate(m_seed);
        if (!pub) invariantFailed("ed25519PublicFromPrivate failed", __FILE__, __LINE__);
        m_public = std::move(*pub);
    }
    crypto::Bytes m_seed;
    crypto::Bytes m_public;
};

}  // namespace xs::fuzz
