#include "crypto/encoding.h"

#include <array>

namespace xs::crypto {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t kInvalid = 0xff;

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

constexpr std::array<std::uint8_t, 256> makeBase64Table() {
    std::array<std::uint8_t, 256> table{};
    for (auto& v : table) v = kInvalid;
    for (std::uint8_t i = 0; i < 64; ++i) {
        table[static_cast<unsigned char>(kBase64Alphabet[i])] = i;
    }
    return table;
}

constexpr auto kBase64Table = makeBase64Table();

}  // namespace

std::string toHex(ByteView data) {
    std::string out;
    out.reserve(data.size() * 2);
    for (std::uint8_t b : data) {
        out.push_back(kHexDigits[b >> 4]);
        out.push_back(kHexDigits[b & 0x0f]);
    }
    return out;
}

std::optional<Bytes> fromHex(std::string_view hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    Bytes out;
    out.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        const int hi = hexValue(hex[i]);
        const int lo = hexValue(hex[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
    }
    return out;
}

std::string toBase64(ByteView data, bool pad) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) |
                                std::uint32_t{data[i + 2]};
        out.push_back(kBase64Alphabet[(v >> 18) & 0x3f]);
        out.push_back(kBase64Alphabet[(v >> 12) & 0x3f]);
        out.push_back(kBase64Alphabet[(v >> 6) & 0x3f]);
        out.push_back(kBase64Alphabet[v & 0x3f]);
    }
    const std::size_t rest = data.size() - i;
    if (rest == 1) {
        const std::uint32_t v = std::uint32_t{data[i]} << 16;
        out.push_back(kBase64Alphabet[(v >> 18) & 0x3f]);
        out.push_back(kBase64Alphabet[(v >> 12) & 0x3f]);
        if (pad) out.append("==");
    } else if (rest == 2) {
        const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
        out.push_back(kBase64Alphabet[(v >> 18) & 0x3f]);
        out.push_back(kBase64Alphabet[(v >> 12) & 0x3f]);
        out.push_back(kBase64Alphabet[(v >> 6) & 0x3f]);
        if (pad) out.push_back('=');
    }
    return out;
}

std::optional<Bytes> fromBase64(std::string_view text, bool requirePad) {
    std::size_t dataLen = text.size();
    if (requirePad) {
        if (text.size() % 4 != 0) return std::nullopt;
        if (dataLen > 0 && text[dataLen - 1] == '=') --dataLen;
        if (dataLen > 0 && text[dataLen - 1] == '=') --dataLen;
    }
    // A lone trailing sextet cannot encode a whole byte.
    if (dataLen % 4 == 1) return std::nullopt;

    Bytes out;
    out.reserve(dataLen / 4 * 3 + 2);
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < dataLen; ++i) {
        const std::uint8_t v = kBase64Table[static_cast<unsigned char>(text[i])];
        if (v == kInvalid) return std::nullopt;
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>(acc >> bits));
            acc &= (1u << bits) - 1;
        }
    }
    // Canonical encodings leave the unused low bits of the last sextet zero.
    if (acc != 0) return std::nullopt;
    return out;
}

}  // namespace xs::crypto
