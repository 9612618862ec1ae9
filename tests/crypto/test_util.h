// Helpers shared by the crypto tests: loading vector files (a missing file fails the test) and hex.
#pragma once

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <fstream>
#include <system_error>
#include <string>
#include <string_view>

#include "crypto/bytes.h"
#include "crypto/encoding.h"
#include "crypto/error.h"

namespace xs::crypto::test {

inline std::filesystem::path vectorPath(std::string_view relative) {
    return std::filesystem::path(XS_TESTVECTORS_DIR) / relative;
}

// The whole file as bytes. A missing or unreadable file fails the calling test case.
inline std::string readVectorFile(std::string_view relative) {
    const std::filesystem::path path = vectorPath(relative);
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    REQUIRE_MESSAGE(!ec, "missing test vector file: " << path.string());
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open test vector file: " << path.string());
    std::string data(static_cast<std::size_t>(size), '\0');
    in.read(data.data(), static_cast<std::streamsize>(data.size()));
    REQUIRE_MESSAGE(in.gcount() == static_cast<std::streamsize>(data.size()),
                    "cannot read test vector file: " << path.string());
    return data;
}

inline nlohmann::json loadJsonVectors(std::string_view relative) {
    const std::string text = readVectorFile(relative);
    nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    REQUIRE_MESSAGE(!json.is_discarded(), "invalid JSON in " << relative);
    return json;
}

inline Bytes hexBytes(std::string_view hex) {
    auto bytes = fromHex(hex);
    REQUIRE_MESSAGE(bytes.has_value(), "bad hex in test data: " << hex);
    return *bytes;
}

inline Bytes hexField(const nlohmann::json& object, const char* key) {
    REQUIRE_MESSAGE(object.contains(key), "missing field " << key);
    return hexBytes(object.at(key).get<std::string>());
}

inline Bytes concat(ByteView a, ByteView b) {
    Bytes out(a.begin(), a.end());
    out.insert(out.end(), b.begin(), b.end());
    return out;
}

inline Bytes toBytes(ByteView v) { return Bytes(v.begin(), v.end()); }

inline std::string errorName(CryptoError e) {
    switch (e) {
        case CryptoError::InvalidArgument: return "InvalidArgument";
        case CryptoError::AuthenticationFailed: return "AuthenticationFailed";
        case CryptoError::Truncated: return "Truncated";
        case CryptoError::Malformed: return "Malformed";
        case CryptoError::RandomFailure: return "RandomFailure";
        case CryptoError::Internal: return "Internal";
    }
    return "?";
}

// The error code of a failed Result/Status, or nullopt on success (code() itself requires failure).
template <typename R>
std::optional<CryptoError> errorOf(const R& r) {
    if (r.ok()) return std::nullopt;
    return r.code();
}

template <typename R>
std::string describe(const R& r) {
    if (r.ok()) return "ok";
    return errorName(r.code()) + ": " + r.message();
}

// Tally of Wycheproof results, checked against the file's numberOfTests.
struct WycheproofCounts {
    int valid = 0;
    int invalid = 0;
    int acceptable = 0;
    int total() const { return valid + invalid + acceptable; }
};

}  // namespace xs::crypto::test

// Readable error codes in failed CHECKs.
template <>
struct doctest::StringMaker<xs::crypto::CryptoError> {
    static doctest::String convert(xs::crypto::CryptoError e) {
        return xs::crypto::test::errorName(e).c_str();
    }
};
template <>
struct doctest::StringMaker<std::optional<xs::crypto::CryptoError>> {
    static doctest::String convert(const std::optional<xs::crypto::CryptoError>& e) {
        return e ? xs::crypto::test::errorName(*e).c_str() : "success";
    }
};
