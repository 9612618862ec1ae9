// Hex and base64 for public data (ids, hashes, key files). Decoders reject malformed input.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include "crypto/bytes.h"

namespace xs::crypto {

std::string toHex(ByteView data);                          // lowercase
std::optional<Bytes> fromHex(std::string_view hex);       // accepts upper/lower, rejects odd length
std::string toBase64(ByteView data, bool pad = true);      // standard alphabet (RFC 4648 §4)
// Strict and canonical only: no whitespace, no characters outside the alphabet, unused low bits of
// the last character must be zero. requirePad = true wants exactly the padded form toBase64(x, true)
// makes; requirePad = false wants the unpadded form toBase64(x, false) makes and rejects any '='.
std::optional<Bytes> fromBase64(std::string_view text, bool requirePad = true);

}  // namespace xs::crypto
