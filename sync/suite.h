// The registry of crypto-suite ids: every format with cryptography names the suite it was made
// with (docs/FORMATS.md "Crypto suites"), so a 国密 suite (SM2/SM3/SM4, GB/T 39786) can be added
// beside XS1 without a format break. A reader refuses a suite it does not know.
//
// Where the id is written: the key file, evidence headers, change sets (JSON `suite`, the byte in
// every op header and signing input, the `changesets.suite` column), the handover archive header
// and manifest, receipts, enrolment files and device identity files.
#pragma once
#include <cstdint>
#include <string_view>

namespace xs::sync {

// XS1: AES-256-GCM and ChaCha20-Poly1305, SHA-256 and HKDF-SHA256, Argon2id, X25519 and Ed25519,
// HPKE (DHKEM X25519, HKDF-SHA256, AES-256-GCM) and age v1 (X25519, ChaCha20-Poly1305).
inline constexpr int kSuiteXs1 = 1;

inline constexpr bool isKnownSuite(std::int64_t suite) { return suite == kSuiteXs1; }
inline constexpr std::string_view suiteName(std::int64_t suite) { return suite == kSuiteXs1 ? "XS1" : "unknown"; }

}  // namespace xs::sync
