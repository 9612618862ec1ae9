#include "crypto/bech32.h"

#include <openssl/crypto.h>

#include <array>

namespace xs::crypto {
namespace {

constexpr char kCharset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
constexpr std::uint32_t kGenerator[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
constexpr std::int8_t kNotInCharset = -1;

constexpr std::array<std::int8_t, 128> makeCharsetTable() {
    std::array<std::int8_t, 128> table{};
    for (auto& v : table) v = kNotInCharset;
    for (std::int8_t i = 0; i < 32; ++i) table[static_cast<unsigned char>(kCharset[i])] = i;
    return table;
}
constexpr auto kCharsetTable = makeCharsetTable();

bool isUpper(char c) {
    return c >= 'A' && c <= 'Z';
}
bool isLower(char c) {
    return c >= 'a' && c <= 'z';
}
char toLower(char c) {
    return isUpper(c) ? static_cast<char>(c - 'A' + 'a') : c;
}
char toUpper(char c) {
    return isLower(c) ? static_cast<char>(c - 'a' + 'A') : c;
}

// The BIP 173 checksum state, fed one 5-bit value at a time.
class Polymod {
public:
    void feed(std::uint8_t value) {
        const std::uint32_t top = m_chk >> 25;
        m_chk = ((m_chk & 0x1ffffff) << 5) ^ value;
        for (int i = 0; i < 5; ++i) {
            if ((top >> i) & 1) m_chk ^= kGenerator[i];
        }
    }
    // The HRP expansion: high bits of each (lowercased) character, a zero, then the low bits.
    void feedHrp(std::string_view hrp) {
        for (char c : hrp) feed(static_cast<std::uint8_t>(static_cast<unsigned char>(toLower(c)) >> 5));
        feed(0);
        for (char c : hrp) feed(static_cast<std::uint8_t>(static_cast<unsigned char>(toLower(c)) & 31));
    }
    std::uint32_t value() const { return m_chk; }

private:
    std::uint32_t m_chk = 1;
};

// HRP rules shared by both directions: 1+ characters in 33..126, not mixed case.
bool validHrp(std::string_view hrp) {
    if (hrp.empty()) return false;
    bool upper = false;
    bool lower = false;
    for (char c : hrp) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 33 || u > 126) return false;
        upper = upper || isUpper(c);
        lower = lower || isLower(c);
    }
    return !(upper && lower);
}

std::size_t fiveBitGroups(std::size_t dataSize) {
    return (dataSize * 8 + 4) / 5;
}

}  // namespace

std::size_t bech32EncodedSize(std::size_t hrpSize, std::size_t dataSize) {
    return hrpSize + 1 + fiveBitGroups(dataSize) + kBech32ChecksumLength;
}

CStatus bech32EncodeTo(std::string_view hrp, ByteView data, std::span<std::uint8_t> out, std::size_t maxLength) {
    if (!validHrp(hrp)) {
        return fail(CryptoError::InvalidArgument, "Bech32 HRP must be 1+ printable ASCII characters, not mixed case");
    }
    const std::size_t total = bech32EncodedSize(hrp.size(), data.size());
    if (total > maxLength) {
        return fail(CryptoError::InvalidArgument, "Bech32 string would be " + std::to_string(total) +
                                                      " characters, over the limit of " + std::to_string(maxLength));
    }
    if (out.size() != total) {
        return fail(CryptoError::InvalidArgument, "Bech32 output buffer has the wrong size");
    }
    bool upper = false;
    for (char c : hrp) upper = upper || isUpper(c);
    auto emit = [upper](char c) { return static_cast<std::uint8_t>(upper ? toUpper(c) : c); };

    std::size_t pos = 0;
    for (char c : hrp) out[pos++] = emit(toLower(c));
    out[pos++] = emit('1');

    Polymod chk;
    chk.feedHrp(hrp);
    // 8-bit to 5-bit regrouping, zero-padded at the end.
    std::uint32_t acc = 0;
    int bits = 0;
    auto put = [&](std::uint8_t v) {
        chk.feed(v);
        out[pos++] = emit(kCharset[v]);
    };
    for (std::uint8_t b : data) {
        acc = ((acc << 8) | b) & 0xfff;  // at most 4 + 8 live bits
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            put(static_cast<std::uint8_t>((acc >> bits) & 31));
        }
    }
    if (bits > 0) put(static_cast<std::uint8_t>((acc << (5 - bits)) & 31));
    OPENSSL_cleanse(&acc, sizeof acc);

    for (std::size_t i = 0; i < kBech32ChecksumLength; ++i) chk.feed(0);
    const std::uint32_t mod = chk.value() ^ 1;
    for (std::size_t i = 0; i < kBech32ChecksumLength; ++i) {
        out[pos++] = emit(kCharset[(mod >> (5 * (5 - i))) & 31]);
    }
    return CStatus::success();
}

CResult<std::string> bech32Encode(std::string_view hrp, ByteView data, std::size_t maxLength) {
    if (!validHrp(hrp)) {
        return fail(CryptoError::InvalidArgument, "Bech32 HRP must be 1+ printable ASCII characters, not mixed case");
    }
    std::string out(bech32EncodedSize(hrp.size(), data.size()), '\0');
    auto st = bech32EncodeTo(
        hrp, data, std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()), out.size()), maxLength);
    if (!st) return st.error();
    return out;
}

CResult<Bech32Decoded> bech32Decode(std::string_view text, std::size_t maxLength) {
    if (text.size() > maxLength) {
        return fail(CryptoError::Malformed,
                    "Bech32 string is longer than " + std::to_string(maxLength) + " characters");
    }
    bool upper = false;
    bool lower = false;
    for (char c : text) {
        upper = upper || isUpper(c);
        lower = lower || isLower(c);
    }
    if (upper && lower) return fail(CryptoError::Malformed, "Bech32 string mixes upper and lower case");

    const std::size_t sep = text.rfind('1');
    if (sep == std::string_view::npos || sep < 1 || sep + 1 + kBech32ChecksumLength > text.size()) {
        return fail(CryptoError::Malformed, "Bech32 separator '1' is missing or misplaced");
    }
    const std::string_view hrp = text.substr(0, sep);
    for (char c : hrp) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 33 || u > 126) return fail(CryptoError::Malformed, "Bech32 HRP has a non-printable character");
    }

    Polymod chk;
    chk.feedHrp(hrp);
    const std::string_view dataPart = text.substr(sep + 1);
    const std::size_t valueCount = dataPart.size() - kBech32ChecksumLength;
    SecretBytes data(valueCount * 5 / 8);
    std::size_t outPos = 0;
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < dataPart.size(); ++i) {
        const auto u = static_cast<unsigned char>(toLower(dataPart[i]));
        const std::int8_t v = u < kCharsetTable.size() ? kCharsetTable[u] : kNotInCharset;
        if (v == kNotInCharset) {
            OPENSSL_cleanse(&acc, sizeof acc);
            return fail(CryptoError::Malformed, "Bech32 data has a character outside the alphabet");
        }
        chk.feed(static_cast<std::uint8_t>(v));
        if (i >= valueCount) continue;                                // checksum characters
        acc = ((acc << 5) | static_cast<std::uint32_t>(v)) & 0x1fff;  // at most 7 + 5 live bits
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            data.data()[outPos++] = static_cast<std::uint8_t>(acc >> bits);
        }
    }
    const bool paddingOk = bits < 5 && (acc & ((1u << bits) - 1)) == 0;
    OPENSSL_cleanse(&acc, sizeof acc);
    if (chk.value() != 1) return fail(CryptoError::Malformed, "Bech32 checksum does not verify");
    // BIP 173: at most 4 padding bits, all zero.
    if (!paddingOk) return fail(CryptoError::Malformed, "Bech32 data has invalid padding bits");
    return Bech32Decoded{std::string(hrp), std::move(data)};
}

}  // namespace xs::crypto
