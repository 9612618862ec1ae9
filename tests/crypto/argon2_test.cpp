#include <doctest/doctest.h>

#include <regex>
#include <sstream>

#include "crypto/kdf.h"
#include "tests/crypto/test_util.h"

using namespace xs::crypto;
using namespace xs::crypto::test;

namespace {

// "01 02 ff " -> bytes
Bytes spacedHex(std::string text) {
    std::string compact;
    for (char c : text) {
        if (c != ' ') compact.push_back(c);
    }
    return hexBytes(compact);
}

struct GenkatVector {
    std::uint32_t version = 0;
    Argon2Params params;
    std::size_t tagLength = 0;
    Bytes password, salt, secret, ad, tag;
};

// Parses the reference `genkat` output: header lines, then block dumps, then the final "Tag:".
GenkatVector parseGenkat(const std::string& text) {
    GenkatVector v;
    bool haveVersion = false, haveParams = false, haveTag = false;
    std::istringstream in(text);
    std::string line;
    const std::regex versionRe(R"(^Argon2(d|i|id) version number (\d+)$)");
    const std::regex paramsRe(
        R"(^Memory: (\d+) KiB, Iterations: (\d+), Parallelism: (\d+) lanes, Tag length: (\d+) bytes$)");
    const std::regex fieldRe(R"(^(Password|Salt|Secret|Associated data)\[(\d+)\]: ([0-9a-f ]*)$)");
    const std::regex tagRe(R"(^Tag: ([0-9a-f ]+)$)");
    std::smatch m;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (std::regex_match(line, m, versionRe)) {
            REQUIRE_MESSAGE(!haveVersion, "the KAT file holds more than one vector");
            haveVersion = true;
            v.params.type = m[1] == "d" ? Argon2Type::D : m[1] == "i" ? Argon2Type::I : Argon2Type::Id;
            v.params.version = static_cast<std::uint32_t>(std::stoul(m[2]));
        } else if (std::regex_match(line, m, paramsRe)) {
            haveParams = true;
            v.params.memoryKiB = static_cast<std::uint32_t>(std::stoul(m[1]));
            v.params.iterations = static_cast<std::uint32_t>(std::stoul(m[2]));
            v.params.parallelism = static_cast<std::uint32_t>(std::stoul(m[3]));
            v.tagLength = std::stoul(m[4]);
        } else if (std::regex_match(line, m, fieldRe)) {
            Bytes value = spacedHex(m[3]);
            REQUIRE(value.size() == std::stoul(m[2]));
            if (m[1] == "Password") v.password = std::move(value);
            else if (m[1] == "Salt") v.salt = std::move(value);
            else if (m[1] == "Secret") v.secret = std::move(value);
            else v.ad = std::move(value);
        } else if (std::regex_match(line, m, tagRe)) {
            haveTag = true;
            v.tag = spacedHex(m[1]);
        }
    }
    REQUIRE(haveVersion);
    REQUIRE(haveParams);
    REQUIRE(haveTag);
    REQUIRE(v.tag.size() == v.tagLength);
    return v;
}

void checkGenkatFile(const char* file, std::uint32_t expectedVersion) {
    const GenkatVector v = parseGenkat(readVectorFile(file));
    CHECK(v.params.version == expectedVersion);
    CHECK(v.params.type == Argon2Type::Id);
    CHECK(v.password.size() == 32);
    CHECK(v.secret.size() == 8);
    CHECK(v.ad.size() == 12);
    auto tag = argon2(v.params, v.password, v.salt, v.secret, v.ad, v.tagLength);
    REQUIRE_MESSAGE(tag.ok(), describe(tag));
    CHECK(toHex(*tag) == toHex(v.tag));
}

}  // namespace

TEST_CASE("argon2 argon2_rfc9106.json") {
    const nlohmann::json doc = loadJsonVectors("argon2_rfc9106.json");
    int count = 0;
    bool seen[3] = {false, false, false};
    for (const auto& vec : doc.at("vectors")) {
        INFO("RFC 9106 section " << vec.at("rfc9106_section").get<std::string>());
        Argon2Params p;
        const int type = vec.at("type_y").get<int>();
        REQUIRE(type >= 0);
        REQUIRE(type <= 2);
        seen[type] = true;
        p.type = static_cast<Argon2Type>(type);
        p.version = vec.at("version").get<std::uint32_t>();
        p.memoryKiB = vec.at("memory_kib").get<std::uint32_t>();
        p.iterations = vec.at("iterations").get<std::uint32_t>();
        p.parallelism = vec.at("parallelism").get<std::uint32_t>();
        auto tag = argon2(p, hexField(vec, "password"), hexField(vec, "salt"), hexField(vec, "secret"),
                          hexField(vec, "ad"), vec.at("tag_length").get<std::size_t>());
        REQUIRE_MESSAGE(tag.ok(), describe(tag));
        CHECK(toHex(*tag) == vec.at("tag").get<std::string>());
        ++count;
    }
    CHECK(count == 3);
    CHECK((seen[0] && seen[1] && seen[2]));
}

TEST_CASE("argon2 argon2_kats/argon2id") { checkGenkatFile("argon2_kats/argon2id", 0x13); }

TEST_CASE("argon2 argon2_kats/argon2id_v16") { checkGenkatFile("argon2_kats/argon2id_v16", 0x10); }

TEST_CASE("argon2id convenience form and parameter errors") {
    Argon2Params p;
    p.memoryKiB = 64;
    p.iterations = 1;
    p.parallelism = 1;
    const Bytes salt(16, 9);
    auto a = argon2id("correct horse", salt, p);
    auto b = argon2(p, asBytes("correct horse"), salt, {}, {}, 32);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->size() == 32);
    CHECK(toHex(*a) == toHex(*b));
    auto c = argon2id("correct horsf", salt, p);
    REQUIRE(c.ok());
    CHECK(toHex(*a) != toHex(*c));
    CHECK(argon2id("", salt, p).ok());

    CHECK(errorOf(argon2id("pw", Bytes(7, 1), p)) == CryptoError::InvalidArgument);  // salt < 8
    CHECK(errorOf(argon2id("pw", salt, p, 3)) == CryptoError::InvalidArgument);      // tag < 4
    Argon2Params badVersion = p;
    badVersion.version = 0x12;
    CHECK(errorOf(argon2id("pw", salt, badVersion)) == CryptoError::InvalidArgument);
    Argon2Params noLanes = p;
    noLanes.parallelism = 0;
    CHECK(errorOf(argon2id("pw", salt, noLanes)) == CryptoError::InvalidArgument);
    Argon2Params noTime = p;
    noTime.iterations = 0;
    CHECK(errorOf(argon2id("pw", salt, noTime)) == CryptoError::InvalidArgument);
}
