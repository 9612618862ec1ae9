// Bech32 (BIP 173; the original checksum constant 1, not bech32m) as the age file format uses it
// for its key strings: recipients "age1…" (HRP "age", lowercase) and identities
// "AGE-SECRET-KEY-1…" (HRP "AGE-SECRET-KEY-", uppercase). The data part carries bytes regrouped
// into 5-bit values, zero-padded at the end (BIP 173 "convertbits" with padding).
//
// Decoding is strict: the checksum must verify, the string must be all lowercase or all uppercase,
// the separator is the last '1' with at least one HRP character before it and the six checksum
// characters after it, HRP characters are printable ASCII 33..126, data characters come from the
// Bech32 alphabet, and the padding bits must be fewer than 8 and all zero. Strings longer than
// `maxLength` (90 by default, as in BIP 173 and age's X25519 keys) are rejected.
#pragma once
#include <string>
#include <string_view>
#include "crypto/bytes.h"
#include "crypto/error.h"

namespace xs::crypto {

constexpr std::size_t kBech32MaxLength = 90;      // BIP 173 limit; age's X25519 keys are 62 and 74
constexpr std::size_t kBech32ChecksumLength = 6;  // characters

struct Bech32Decoded {
    std::string hrp;   // exactly as in the input (so uppercase for an uppercase string)
    SecretBytes data;  // the decoded bytes; SecretBytes because they are often a private key
};

// Length of the encoding of `dataSize` bytes under an HRP of `hrpSize` characters.
std::size_t bech32EncodedSize(std::size_t hrpSize, std::size_t dataSize);

// Writes the encoding to `out`, which must be exactly bech32EncodedSize(hrp.size(), data.size())
// bytes (ASCII, no terminator). The output is lowercase for a lowercase HRP and uppercase for an
// uppercase one. InvalidArgument for an empty or mixed-case HRP, an HRP character outside 33..126,
// a result longer than maxLength, or a wrong `out` size. Writing into caller memory lets secret
// strings (identities) stay in SecretBytes; intermediate values are wiped.
CStatus bech32EncodeTo(std::string_view hrp, ByteView data, std::span<std::uint8_t> out,
                       std::size_t maxLength = kBech32MaxLength);

// Convenience form for public data (recipients).
CResult<std::string> bech32Encode(std::string_view hrp, ByteView data, std::size_t maxLength = kBech32MaxLength);

// Malformed for any string that breaks the rules above.
CResult<Bech32Decoded> bech32Decode(std::string_view text, std::size_t maxLength = kBech32MaxLength);

}  // namespace xs::crypto
