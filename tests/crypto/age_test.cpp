// age v1 (C2SP): every applicable C2SP/CCTV vector, Bech32 key strings, round trips through
// AgeEncryptor/AgeDecryptor, tampering, bounded memory, and a cross-check with /usr/bin/age.
#include <doctest/doctest.h>
#include <zlib.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/age.h"
#include "crypto/bech32.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "tests/crypto/test_util.h"

using namespace xs::crypto;
using namespace xs::crypto::test;

namespace {

// ---- Helpers ------------------------------------------------------------------------------------

std::string failureName(const std::optional<AgeFailure>& f) {
    return f ? ageFailureName(*f) : "success";
}

enum class Split { Whole, OneByte, Random };

struct Outcome {
    bool ok = false;
    std::optional<AgeFailure> failure;  // set when !ok
    std::string message;
    Digest digest{};           // SHA-256 of all released plaintext
    std::size_t released = 0;  // bytes released
    Bytes plaintext;           // kept only when asked
};

// Decrypts `input` fed in the given split pattern; the first error (write or finish) ends the run.
Outcome decrypt(std::span<const SecretBytes> ids, ByteView input, AgeInputFormat format = AgeInputFormat::Auto,
                Split split = Split::Whole, std::uint64_t seed = 1, bool keep = false) {
    Outcome r;
    Sha256 hash;
    auto dec = AgeDecryptor::create(
        ids,
        [&](ByteView v) {
            hash.update(v);
            r.released += v.size();
            if (keep) r.plaintext.insert(r.plaintext.end(), v.begin(), v.end());
            return CStatus::success();
        },
        format);
    REQUIRE(dec.ok());
    CStatus st;
    switch (split) {
        case Split::Whole:
            st = dec->write(input);
            break;
        case Split::OneByte:
            for (std::size_t i = 0; i < input.size() && st; ++i) st = dec->write(input.subspan(i, 1));
            break;
        case Split::Random: {
            std::mt19937_64 rng(seed);
            std::size_t off = 0;
            while (off < input.size() && st) {
                // Mostly small pieces around line and header sizes, sometimes large ones, sometimes empty.
                const std::uint64_t pick = rng() % 10;
                const std::size_t max = pick < 6 ? 80 : pick < 9 ? 70000 : 1;
                const std::size_t n = std::min<std::size_t>(rng() % (max + 1), input.size() - off);
                st = dec->write(input.subspan(off, n));
                off += n;
            }
            break;
        }
    }
    if (st) st = dec->finish();
    r.ok = st.ok();
    if (!st) {
        r.message = st.message();
        r.failure = dec->failure();
    }
    r.digest = hash.finish();
    return r;
}

Bytes encrypt(std::span<const Bytes> recipients, ByteView plaintext, std::size_t piece = 0) {
    Bytes out;
    auto enc = AgeEncryptor::create(recipients, [&out](ByteView v) {
        out.insert(out.end(), v.begin(), v.end());
        return CStatus::success();
    });
    REQUIRE(enc.ok());
    if (piece == 0) {
        REQUIRE(enc->write(plaintext).ok());
    } else {
        for (std::size_t off = 0; off < plaintext.size(); off += piece) {
            REQUIRE(enc->write(plaintext.subspan(off, std::min(piece, plaintext.size() - off))).ok());
        }
    }
    REQUIRE(enc->finish().ok());
    return out;
}

Bytes patternBytes(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    Bytes out(n);
    for (auto& b : out) b = static_cast<std::uint8_t>(rng());
    return out;
}

std::string asString(const SecretBytes& s) {
    return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

std::size_t headerSize(ByteView file) {
    const std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
    const std::size_t mac = text.find("\n--- ");
    REQUIRE(mac != std::string_view::npos);
    const std::size_t end = text.find('\n', mac + 1);
    REQUIRE(end != std::string_view::npos);
    return end + 1;
}

// ---- CCTV vectors -------------------------------------------------------------------------------

struct AgeVector {
    std::string name;
    std::string expect;
    std::vector<std::string> identities;
    std::size_t passphrases = 0;
    std::optional<std::string> payload;
    bool armored = false;
    bool compressed = false;
    std::vector<std::string> unknownKeys;
    Bytes body;  // the age file, inflated if it was compressed
};

struct VectorSet {
    std::vector<AgeVector> vectors;
    std::string error;  // non-empty if the set could not be loaded
};

std::optional<Bytes> inflateZlib(ByteView in) {
    z_stream zs{};
    if (inflateInit(&zs) != Z_OK) return std::nullopt;
    Bytes out;
    std::array<std::uint8_t, 1 << 16> buf{};
    zs.next_in = const_cast<Bytef*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    int rc = Z_OK;
    while (rc == Z_OK) {
        zs.next_out = buf.data();
        zs.avail_out = static_cast<uInt>(buf.size());
        rc = inflate(&zs, Z_NO_FLUSH);
        out.insert(out.end(), buf.data(), buf.data() + (buf.size() - zs.avail_out));
    }
    const bool ok = rc == Z_STREAM_END && zs.avail_in == 0;
    inflateEnd(&zs);
    if (!ok) return std::nullopt;
    return out;
}

// Loads every vector file (no extension, no dot in the name) of `dir`. The set is an error if the
// folder is missing or holds no vectors, or a file cannot be read or parsed.
VectorSet loadAgeVectors(const std::filesystem::path& dir) {
    VectorSet set;
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
        set.error = "age vector directory is missing: " + dir.string();
        return set;
    }
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (!entry.is_regular_file() || name.find('.') != std::string::npos) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        const std::string data = ss.str();
        const std::size_t split = data.find("\n\n");
        if (!in || split == std::string::npos) {
            set.error = "cannot read or split vector " + name;
            return set;
        }
        AgeVector v;
        v.name = name;
        std::istringstream lines(data.substr(0, split));
        for (std::string line; std::getline(lines, line);) {
            const std::size_t colon = line.find(": ");
            if (colon == std::string::npos) {
                set.error = "bad header line in vector " + name;
                set.error += ": " + line;
                return set;
            }
            const std::string key = line.substr(0, colon);
            const std::string value = line.substr(colon + 2);
            if (key == "expect") {
                v.expect = value;
            } else if (key == "identity") {
                v.identities.push_back(value);
            } else if (key == "passphrase") {
                ++v.passphrases;
            } else if (key == "payload") {
                v.payload = value;
            } else if (key == "armored") {
                v.armored = value == "yes";
            } else if (key == "compressed") {
                if (value != "zlib") v.unknownKeys.push_back("compressed: " + value);
                v.compressed = true;
            } else if (key == "file key" || key == "comment") {
                // debugging aids
            } else {
                v.unknownKeys.push_back(key);
            }
        }
        const std::string raw = data.substr(split + 2);
        if (v.compressed) {
            auto inflated = inflateZlib(asBytes(raw));
            if (!inflated) {
                set.error = "cannot inflate vector " + name;
                return set;
            }
            v.body = std::move(*inflated);
        } else {
            v.body = toBytes(asBytes(raw));
        }
        set.vectors.push_back(std::move(v));
    }
    if (ec) set.error = "cannot list " + dir.string() + ": " + ec.message();
    if (set.error.empty() && set.vectors.empty()) set.error = "no age vectors in " + dir.string();
    std::sort(set.vectors.begin(), set.vectors.end(),
              [](const AgeVector& a, const AgeVector& b) { return a.name < b.name; });
    return set;
}

std::optional<AgeFailure> expectedFailure(const std::string& expect, bool& known) {
    known = true;
    if (expect == "success") return std::nullopt;
    if (expect == "no match") return AgeFailure::NoMatch;
    if (expect == "HMAC failure") return AgeFailure::HeaderMac;
    if (expect == "header failure") return AgeFailure::Header;
    if (expect == "payload failure") return AgeFailure::Payload;
    if (expect == "armor failure") return AgeFailure::Armor;
    known = false;
    return std::nullopt;
}

// Scrypt (passphrase) and hybrid ML-KEM vectors need recipient types this module does not have.
bool applicable(const AgeVector& v) {
    if (v.passphrases > 0 || !v.unknownKeys.empty()) return false;
    for (const auto& id : v.identities) {
        if (id.rfind("AGE-SECRET-KEY-PQ-", 0) == 0) return false;
    }
    return true;
}

// A Bech32 string over raw 5-bit values (with a correct checksum), to test padding rules.
std::string rawBech32(const std::string& hrp, const std::vector<std::uint8_t>& values) {
    static const char* kCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    static const std::uint32_t kGen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    std::uint32_t chk = 1;
    auto feed = [&](std::uint32_t v) {
        const std::uint32_t top = chk >> 25;
        chk = ((chk & 0x1ffffff) << 5) ^ v;
        for (int i = 0; i < 5; ++i) {
            if ((top >> i) & 1) chk ^= kGen[i];
        }
    };
    for (char c : hrp) feed(static_cast<unsigned char>(c) >> 5);
    feed(0);
    for (char c : hrp) feed(static_cast<unsigned char>(c) & 31);
    std::string out = hrp + "1";
    for (auto v : values) {
        feed(v);
        out += kCharset[v];
    }
    for (int i = 0; i < 6; ++i) feed(0);
    chk ^= 1;
    for (int i = 0; i < 6; ++i) out += kCharset[(chk >> (5 * (5 - i))) & 31];
    return out;
}

struct Tally {
    int run = 0;
    int passed = 0;
};

}  // namespace

TEST_CASE("age: every applicable C2SP/CCTV vector gives its expected outcome and payload") {
    const std::filesystem::path dir = vectorPath("age");

    // The loader fails loudly rather than running an empty loop.
    CHECK_FALSE(loadAgeVectors(dir / "no-such-directory").error.empty());

    const VectorSet set = loadAgeVectors(dir);
    REQUIRE_MESSAGE(set.error.empty(), set.error);

    std::map<std::string, Tally> tally;
    int run = 0;
    int skipped = 0;
    int oneByteRuns = 0;
    for (const AgeVector& v : set.vectors) {
        if (!applicable(v)) {
            ++skipped;
            continue;
        }
        ++run;
        CAPTURE(v.name);
        bool known = false;
        const std::optional<AgeFailure> want = expectedFailure(v.expect, known);
        CHECK_MESSAGE(known, v.name << ": unknown expect value " << v.expect);
        const bool wantPayload = v.expect == "success" || v.expect == "payload failure";
        CHECK_MESSAGE(v.payload.has_value() == wantPayload, v.name << ": payload line presence");

        std::vector<SecretBytes> ids;
        for (const auto& text : v.identities) {
            auto id = ageIdentityFromString(text);
            REQUIRE_MESSAGE(id.ok(), v.name << ": identity does not parse: " << describe(id));
            // The string form round-trips exactly.
            auto back = ageIdentityToString(*id);
            REQUIRE(back.ok());
            CHECK(asString(*back) == text);
            ids.push_back(std::move(id).value());
        }

        auto matches = [&](const Outcome& o) {
            if (o.ok != !want.has_value() || (!o.ok && o.failure != want)) return false;
            if (v.payload && toHex(o.digest) != *v.payload) return false;
            return true;
        };
        struct Variant {
            const char* what;
            AgeInputFormat format;
            Split split;
            std::uint64_t seed;
        };
        std::vector<Variant> variants = {
            {"whole, auto-detected", AgeInputFormat::Auto, Split::Whole, 0},
            {"whole, declared format", v.armored ? AgeInputFormat::Armored : AgeInputFormat::Binary, Split::Whole, 0},
            {"random splits A", AgeInputFormat::Auto, Split::Random, 1},
            {"random splits B", AgeInputFormat::Auto, Split::Random, 0xfeedULL + v.body.size()},
        };
        if (v.body.size() <= (std::size_t{1} << 20)) {  // all but the three 16.8 MB stream vectors
            variants.push_back({"1-byte writes", AgeInputFormat::Auto, Split::OneByte, 0});
            ++oneByteRuns;
        }
        bool allOk = true;
        for (const Variant& var : variants) {
            const Outcome o = decrypt(ids, v.body, var.format, var.split, var.seed);
            const bool ok = matches(o);
            CHECK_MESSAGE(ok, v.name << " (" << var.what << "): expected " << v.expect << ", got "
                                     << failureName(o.failure) << " [" << o.message << "], payload sha256 "
                                     << toHex(o.digest) << " want " << v.payload.value_or("-"));
            allOk = allOk && ok;
        }
        Tally& t = tally[v.expect];
        ++t.run;
        if (allOk) ++t.passed;
    }

    std::ostringstream summary;
    int passed = 0;
    for (const auto& [expect, t] : tally) {
        summary << "  " << expect << ": " << t.passed << "/" << t.run << "\n";
        passed += t.passed;
    }
    MESSAGE("age vectors: " << run << " run, " << passed << " passed, " << skipped
                            << " skipped (scrypt/hybrid); 1-byte splits on " << oneByteRuns << "\n"
                            << summary.str());
    CHECK(run == 98);
    CHECK(passed == run);
    CHECK(skipped == 45);
    CHECK(set.vectors.size() == 143);
    CHECK(tally["success"].run == 19);
    CHECK(tally["header failure"].run == 33);
    CHECK(tally["armor failure"].run == 22);
    CHECK(tally["payload failure"].run == 19);
    CHECK(tally["no match"].run == 4);
    CHECK(tally["HMAC failure"].run == 1);
}

TEST_CASE("age: Bech32 follows BIP 173 and age's key strings") {
    SUBCASE("BIP 173 valid strings decode") {
        for (const char* s :
             {"A12UEL5L", "a12uel5l", "?1ezyfcl",
              "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
              "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j"}) {
            CAPTURE(s);
            CHECK(bech32Decode(s).ok());
        }
        auto d = bech32Decode("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw");
        REQUIRE(d.ok());
        CHECK(d->hrp == "abcdef");
        CHECK(toHex(d->data) == "00443214c74254b635cf84653a56d7c675be77df");
        auto e = bech32Encode("abcdef", d->data);
        REQUIRE(e.ok());
        CHECK(*e == "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw");
        auto upper = bech32Encode("A", {});
        REQUIRE(upper.ok());
        CHECK(*upper == "A12UEL5L");
        auto zeros =
            bech32Decode("11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j");
        REQUIRE(zeros.ok());
        CHECK(zeros->data.size() == 51);  // 82 values: 410 bits, 2 of them padding
    }
    SUBCASE("BIP 173 invalid strings and bech32m are rejected") {
        for (std::string s :
             {std::string("\x20"
                          "1nwldj5"),
              std::string("\x7f"
                          "1axkwrx"),
              std::string("\x80"
                          "1eym55h"),
              std::string(
                  "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx"),
              std::string("pzry9x0s0muk"), std::string("1pzry9x0s0muk"), std::string("x1b4n0q5v"),
              std::string("li1dgmt3"), std::string("de1lg7wt\xff"), std::string("A1G7SGD8"), std::string("10a06t8"),
              std::string("1qzzfhee"), std::string("A12uEL5L"), std::string("a1lqfn3a") /* valid bech32m, not bech32 */,
              std::string("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxx") /* checksum */}) {
            CAPTURE(s);
            CHECK(errorOf(bech32Decode(s)) == CryptoError::Malformed);
        }
        // Padding: zero bits up to 4 are fine; non-zero bits, or 5 or more bits, are rejected.
        CHECK(bech32Decode(rawBech32("x", {0, 0})).ok());
        CHECK(toHex(bech32Decode(rawBech32("x", {31, 28})).value().data) == "ff");
        CHECK(errorOf(bech32Decode(rawBech32("x", {0, 1}))) == CryptoError::Malformed);
        CHECK(errorOf(bech32Decode(rawBech32("x", {0, 0, 0}))) == CryptoError::Malformed);
        CHECK(errorOf(bech32Decode(rawBech32("x", {0}))) == CryptoError::Malformed);
        CHECK(errorOf(bech32Encode("", {})) == CryptoError::InvalidArgument);
        CHECK(errorOf(bech32Encode("Ab", {})) == CryptoError::InvalidArgument);
        CHECK(errorOf(bech32Encode("x", Bytes(60))) == CryptoError::InvalidArgument);  // over 90
    }
    SUBCASE("age keys") {
        const std::string identity = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";
        const std::string recipient = "age1xmwwc06ly3ee5rytxm9mflaz2u56jjj36s0mypdrwsvlul66mv4q47ryef";
        auto priv = ageIdentityFromString(identity);
        REQUIRE(priv.ok());
        auto pub = x25519PublicFromPrivate(*priv);
        REQUIRE(pub.ok());
        auto pubText = ageRecipientToString(*pub);
        REQUIRE(pubText.ok());
        CHECK(*pubText == recipient);  // as age-keygen -y prints it
        auto pubBack = ageRecipientFromString(recipient);
        REQUIRE(pubBack.ok());
        CHECK(*pubBack == *pub);

        std::string lowerIdentity = identity;
        std::transform(lowerIdentity.begin(), lowerIdentity.end(), lowerIdentity.begin(),
                       [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
        std::string upperRecipient = recipient;
        std::transform(upperRecipient.begin(), upperRecipient.end(), upperRecipient.begin(),
                       [](char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); });
        CHECK(errorOf(ageIdentityFromString(lowerIdentity)) == CryptoError::Malformed);
        CHECK(errorOf(ageRecipientFromString(upperRecipient)) == CryptoError::Malformed);
        CHECK(errorOf(ageIdentityFromString(recipient)) == CryptoError::Malformed);
        CHECK(errorOf(ageRecipientFromString(identity)) == CryptoError::Malformed);
        std::string flipped = recipient;
        flipped[10] = flipped[10] == 'q' ? 'p' : 'q';
        CHECK(errorOf(ageRecipientFromString(flipped)) == CryptoError::Malformed);
        // Mixed case inside an otherwise valid identity.
        std::string mixed = identity;
        mixed[20] = static_cast<char>(std::tolower(static_cast<unsigned char>(mixed[20])));
        CHECK(errorOf(ageIdentityFromString(mixed)) == CryptoError::Malformed);
        // A 31-byte payload under the right HRP.
        auto shortKey = bech32Encode("age", Bytes(31, 7));
        REQUIRE(shortKey.ok());
        CHECK(errorOf(ageRecipientFromString(*shortKey)) == CryptoError::Malformed);
        CHECK(errorOf(ageRecipientToString(Bytes(31))) == CryptoError::InvalidArgument);
        CHECK(errorOf(ageIdentityToString(Bytes(33))) == CryptoError::InvalidArgument);

        for (int i = 0; i < 20; ++i) {
            auto kp = x25519Generate();
            REQUIRE(kp.ok());
            auto text = ageIdentityToString(kp->privateKey);
            REQUIRE(text.ok());
            CHECK(text->size() == 74);
            auto back = ageIdentityFromString(asString(*text));
            REQUIRE(back.ok());
            CHECK(constantTimeEqual(*back, kp->privateKey));
            auto rtext = ageRecipientToString(kp->publicKey);
            REQUIRE(rtext.ok());
            CHECK(rtext->size() == 62);
            CHECK(*ageRecipientFromString(*rtext) == kp->publicKey);
        }
    }
}

TEST_CASE("age: round trips to 1 to 3 recipients and wrong identities or tampering fail") {
    std::vector<X25519KeyPair> pairs;
    for (int i = 0; i < 4; ++i) {
        auto kp = x25519Generate();
        REQUIRE(kp.ok());
        pairs.push_back(std::move(kp).value());
    }
    const std::vector<std::size_t> sizes = {0, 1, 65535, 65536, 65537, (std::size_t{1} << 20) + 7};
    for (std::size_t count = 1; count <= 3; ++count) {
        std::vector<Bytes> recipients;
        for (std::size_t i = 0; i < count; ++i) recipients.push_back(pairs[i].publicKey);
        for (std::size_t size : sizes) {
            CAPTURE(count);
            CAPTURE(size);
            const Bytes plaintext = patternBytes(size, size * 31 + count);
            const Bytes file = encrypt(recipients, plaintext, size % 2 == 0 ? 0 : 4093);
            const std::size_t chunks = size == 0 ? 1 : (size + kAgeChunkSize - 1) / kAgeChunkSize;
            CHECK(file.size() == headerSize(file) + kAgeNonceSize + size + chunks * kAeadTagSize);

            for (std::size_t i = 0; i < count; ++i) {
                const SecretBytes id[] = {pairs[i].privateKey.clone()};
                const Outcome o = decrypt(id, file, AgeInputFormat::Auto, i == 0 ? Split::Whole : Split::Random,
                                          size + i, /*keep=*/true);
                CHECK_MESSAGE(o.ok, o.message);
                CHECK(o.plaintext == plaintext);
            }
            // All identities at once, the matching one last.
            std::vector<SecretBytes> all;
            all.push_back(pairs[3].privateKey.clone());
            for (std::size_t i = count; i-- > 0;) all.push_back(pairs[i].privateKey.clone());
            const Outcome many = decrypt(all, file, AgeInputFormat::Binary, Split::Whole, 0, true);
            CHECK(many.ok);
            CHECK(many.plaintext == plaintext);

            // An identity that is not a recipient.
            const SecretBytes wrong[] = {pairs[3].privateKey.clone()};
            const Outcome nm = decrypt(wrong, file);
            CHECK(nm.failure == AgeFailure::NoMatch);
            CHECK(nm.released == 0);
            const Outcome none = decrypt({}, file);
            CHECK(none.failure == AgeFailure::NoMatch);

            // Payload tampering: the nonce, the first and the last byte of the STREAM.
            const SecretBytes id0[] = {pairs[0].privateKey.clone()};
            const std::size_t hsize = headerSize(file);
            for (std::size_t pos : {hsize, hsize + kAgeNonceSize, file.size() - 1}) {
                Bytes bad = file;
                bad[pos] ^= 0x40;
                const Outcome o = decrypt(id0, bad);
                CHECK_MESSAGE(o.failure == AgeFailure::Payload, "flip at " << pos << ": " << o.message);
            }
            // Truncation and extension of the payload.
            CHECK(decrypt(id0, ByteView(file).first(file.size() - 1)).failure == AgeFailure::Payload);
            Bytes longer = file;
            longer.push_back(0);
            CHECK(decrypt(id0, longer).failure == AgeFailure::Payload);
            // Cut inside the nonce: a header failure, as in the CCTV stream_short_nonce vector.
            CHECK(decrypt(id0, ByteView(file).first(hsize + 5)).failure == AgeFailure::Header);
        }
    }

    // Header tampering, every byte of a 2-recipient header, decrypting as the first recipient:
    // never a success, never plaintext. Bytes of the matching stanza give NoMatch; everything else
    // is a header (parse) or HMAC failure.
    const std::vector<Bytes> two = {pairs[0].publicKey, pairs[1].publicKey};
    const Bytes plaintext = patternBytes(1000, 5);
    const Bytes file = encrypt(two, plaintext);
    const std::string_view text(reinterpret_cast<const char*>(file.data()), headerSize(file));
    const std::size_t stanza1 = text.find("-> X25519");
    const std::size_t stanza2 = text.find("-> X25519", stanza1 + 1);
    const SecretBytes id0[] = {pairs[0].privateKey.clone()};
    std::map<std::string, int> kinds;
    for (std::size_t pos = 0; pos < text.size(); ++pos) {
        CAPTURE(pos);
        Bytes bad = file;
        bad[pos] ^= 0x01;
        // Binary: with Auto, a damaged "age-encryption.org/" would be taken for (bad) armor.
        const Outcome o = decrypt(id0, bad, AgeInputFormat::Binary);
        REQUIRE_FALSE(o.ok);
        CHECK(o.released == 0);
        ++kinds[failureName(o.failure)];
        const bool inOwnStanza = pos > stanza1 + 2 && pos < stanza2 - 1;  // type, share and body
        if (inOwnStanza) {
            CHECK((o.failure == AgeFailure::NoMatch || o.failure == AgeFailure::Header));
        } else {
            CHECK_MESSAGE((o.failure == AgeFailure::HeaderMac || o.failure == AgeFailure::Header),
                          failureName(o.failure) << ": " << o.message);
        }
    }
    CHECK(kinds["HMAC"] > 0);
    CHECK(kinds["header"] > 0);
    CHECK(kinds["no match"] > 0);
    // Flipping the MAC itself (first character): an HMAC failure.
    {
        Bytes bad = file;
        const std::size_t macPos = text.rfind("--- ") + 4;
        bad[macPos] = bad[macPos] == 'A' ? 'B' : 'A';
        CHECK(decrypt(id0, bad).failure == AgeFailure::HeaderMac);
    }
}

TEST_CASE("age: the header digest names the file and both ends agree on it") {
    auto kp = x25519Generate();
    REQUIRE(kp.ok());
    const std::vector<Bytes> recipients = {kp->publicKey};
    const Bytes plaintext = patternBytes(200000, 7);
    auto seal = [&](Digest& digest) {
        Bytes out;
        auto enc = AgeEncryptor::create(recipients, [&out](ByteView v) {
            out.insert(out.end(), v.begin(), v.end());
            return CStatus::success();
        });
        REQUIRE(enc.ok());
        REQUIRE(enc->write(plaintext).ok());
        REQUIRE(enc->finish().ok());
        digest = enc->headerDigest();
        return out;
    };
    Digest d1{}, d2{};
    const Bytes file = seal(d1);
    const Bytes again = seal(d2);
    const std::size_t prefix = headerSize(file) + kAgeNonceSize;
    // The bytes before the first payload chunk, hashed independently.
    CHECK(d1 == sha256(ByteView(file).first(prefix)));
    CHECK(d1 != d2);  // the same plaintext to the same recipient: another file, another digest

    // The decryptor has it once the nonce is in (not before), fed one byte at a time.
    const SecretBytes id[] = {kp->privateKey.clone()};
    auto dec = AgeDecryptor::create(id, [](ByteView) { return CStatus::success(); });
    REQUIRE(dec.ok());
    for (std::size_t i = 0; i < prefix; ++i) {
        CHECK_FALSE(dec->headerDigest().has_value());
        REQUIRE(dec->write(ByteView(file).subspan(i, 1)).ok());
    }
    REQUIRE(dec->headerDigest().has_value());
    CHECK(*dec->headerDigest() == d1);
    REQUIRE(dec->write(ByteView(file).subspan(prefix)).ok());
    REQUIRE(dec->finish().ok());
    CHECK(*dec->headerDigest() == d1);

    // No digest from a header that does not open (wrong identity) or does not authenticate.
    auto other = x25519Generate();
    REQUIRE(other.ok());
    const SecretBytes wrong[] = {other->privateKey.clone()};
    auto miss = AgeDecryptor::create(wrong, [](ByteView) { return CStatus::success(); });
    REQUIRE(miss.ok());
    CHECK_FALSE(miss->write(file).ok());
    CHECK_FALSE(miss->headerDigest().has_value());
    Bytes altered = file;
    altered[headerSize(file) - 3] ^= 0x01;  // inside the MAC
    auto bad = AgeDecryptor::create(id, [](ByteView) { return CStatus::success(); });
    REQUIRE(bad.ok());
    CHECK_FALSE(bad->write(altered).ok());
    CHECK_FALSE(bad->headerDigest().has_value());
}

TEST_CASE("age: decryptor limits and input formats and misuse and sink errors") {
    auto kp = x25519Generate();
    REQUIRE(kp.ok());
    const SecretBytes ids[] = {kp->privateKey.clone()};
    const std::vector<Bytes> recipients = {kp->publicKey};
    const Bytes file = encrypt(recipients, patternBytes(100, 1));

    SUBCASE("a header over 1 MiB is refused as soon as it passes the limit") {
        std::string hostile = "age-encryption.org/v1\n-> grease\n";
        const std::string fullLine(64, 'A');
        std::size_t written = 0;
        auto dec = AgeDecryptor::create(ids, [](ByteView) { return CStatus::success(); });
        REQUIRE(dec.ok());
        CStatus st = dec->write(asBytes(hostile));
        while (st && written < 4 * kAgeMaxHeaderSize) {
            st = dec->write(asBytes(fullLine + "\n"));
            written += fullLine.size() + 1;
        }
        REQUIRE_FALSE(st.ok());
        CHECK(dec->failure() == AgeFailure::Header);
        CHECK(written <= kAgeMaxHeaderSize + 65);
    }
    SUBCASE("a header without stanzas parses, and matches no identity") {
        CHECK(decrypt(ids, asBytes("age-encryption.org/v1\n--- "
                                   "vGM0m4ZBpSmvRa8SNgX3wBHnkE3DVO3PGIJnRT5xM/M\n0123456789abcdef"))
                  .failure == AgeFailure::NoMatch);
    }
    SUBCASE("input formats") {
        // Non-age input: Auto calls it bad armor, Binary a bad header (rejected on the first line).
        CHECK(decrypt(ids, asBytes("hello world\n")).failure == AgeFailure::Armor);
        CHECK(decrypt(ids, asBytes("hello world\n"), AgeInputFormat::Binary).failure == AgeFailure::Header);
        CHECK(decrypt(ids, {}).failure == AgeFailure::Header);
        CHECK(decrypt(ids, {}, AgeInputFormat::Armored).failure == AgeFailure::Armor);
        CHECK(decrypt(ids, asBytes("age-enc")).failure == AgeFailure::Header);
        // A binary file declared as armored.
        CHECK(decrypt(ids, file, AgeInputFormat::Armored).failure == AgeFailure::Armor);
        // A hand-armored copy of our own file (64-column lines, padded base64) decrypts.
        std::string armored = "-----BEGIN AGE ENCRYPTED FILE-----\r\n";
        const std::string b64 = toBase64(file);
        for (std::size_t i = 0; i < b64.size(); i += 64) armored += b64.substr(i, 64) + "\r\n";
        armored += "-----END AGE ENCRYPTED FILE-----\r\n\n";
        CHECK(decrypt(ids, asBytes(armored)).ok);
        CHECK(decrypt(ids, asBytes(armored), AgeInputFormat::Armored, Split::OneByte).ok);
        CHECK(decrypt(ids, asBytes(armored), AgeInputFormat::Binary).failure == AgeFailure::Header);
        CHECK(decrypt(ids, asBytes(std::string(2000, ' ') + "\n" + armored)).failure == AgeFailure::Armor);
        CHECK(decrypt(ids, asBytes(armored + std::string(2000, '\n'))).failure == AgeFailure::Armor);
    }
    SUBCASE("misuse and sticky errors") {
        auto dec = AgeDecryptor::create(ids, [](ByteView) { return CStatus::success(); });
        REQUIRE(dec.ok());
        REQUIRE(dec->write(file).ok());
        REQUIRE(dec->finish().ok());
        CHECK_FALSE(dec->failure().has_value());
        CHECK(errorOf(dec->write(file)) == CryptoError::InvalidArgument);
        CHECK(errorOf(dec->finish()) == CryptoError::InvalidArgument);
        CHECK_FALSE(dec->failure().has_value());

        auto bad = AgeDecryptor::create(ids, [](ByteView) { return CStatus::success(); });
        REQUIRE(bad.ok());
        CHECK_FALSE(bad->write(asBytes("age-encryption.org/v2\n")).ok());
        CHECK(bad->failure() == AgeFailure::Header);
        CHECK_FALSE(bad->write(file).ok());  // sticky
        CHECK_FALSE(bad->finish().ok());
        CHECK(bad->failure() == AgeFailure::Header);

        const SecretBytes shortKey[] = {SecretBytes(31)};
        CHECK(errorOf(AgeDecryptor::create(shortKey, [](ByteView) { return CStatus::success(); })) ==
              CryptoError::InvalidArgument);
        CHECK(errorOf(AgeDecryptor::create(ids, nullptr)) == CryptoError::InvalidArgument);
        CHECK(errorOf(AgeEncryptor::create({}, [](ByteView) { return CStatus::success(); })) ==
              CryptoError::InvalidArgument);
        const std::vector<Bytes> shortRecipient = {Bytes(31)};
        CHECK(errorOf(AgeEncryptor::create(shortRecipient, [](ByteView) { return CStatus::success(); })) ==
              CryptoError::InvalidArgument);
        const std::vector<Bytes> lowOrder = {Bytes(32, 0)};
        CHECK(errorOf(AgeEncryptor::create(lowOrder, [](ByteView) { return CStatus::success(); })) ==
              CryptoError::InvalidArgument);
    }
    SUBCASE("a failing sink is an Output failure, not a payload one") {
        auto dec =
            AgeDecryptor::create(ids, [](ByteView) { return CStatus(xs::fail(CryptoError::Internal, "disk full")); });
        REQUIRE(dec.ok());
        CStatus st = dec->write(file);
        if (st) st = dec->finish();
        CHECK(errorOf(st) == CryptoError::Internal);
        CHECK(dec->failure() == AgeFailure::Output);
    }
}

TEST_CASE("age: 256 MiB streams through encryptor and decryptor in bounded memory") {
    // Each TEST_CASE runs in its own process (xs_add_test), so the peak RSS here is this test's.
    auto kp = x25519Generate();
    REQUIRE(kp.ok());
    const std::vector<Bytes> recipients = {kp->publicKey};
    const SecretBytes ids[] = {kp->privateKey.clone()};
    constexpr std::size_t kTotal = std::size_t{256} << 20;
    const Bytes block = patternBytes(100003, 9);  // odd size: writes straddle chunk boundaries

    Sha256 inHash;
    Sha256 outHash;
    std::size_t released = 0;
    std::size_t ciphertext = 0;
    auto dec = AgeDecryptor::create(ids, [&](ByteView v) {
        outHash.update(v);
        released += v.size();
        return CStatus::success();
    });
    REQUIRE(dec.ok());
    AgeDecryptor& d = *dec;
    auto enc = AgeEncryptor::create(recipients, [&](ByteView v) {
        ciphertext += v.size();
        return d.write(v);
    });
    REQUIRE(enc.ok());
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t done = 0; done < kTotal;) {
        const std::size_t n = std::min(block.size(), kTotal - done);
        inHash.update(ByteView(block).first(n));
        REQUIRE(enc->write(ByteView(block).first(n)).ok());
        done += n;
    }
    REQUIRE(enc->finish().ok());
    REQUIRE(d.finish().ok());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(released == kTotal);
    CHECK(inHash.finish() == outHash.finish());
    CHECK(ciphertext > kTotal);
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    const long peakMiB = usage.ru_maxrss / 1024;
    MESSAGE("256 MiB encrypt+decrypt pipeline: " << seconds << " s ("
                                                 << static_cast<double>(kTotal) / (1 << 20) / seconds
                                                 << " MiB/s), peak RSS " << peakMiB << " MiB");
#if defined(__SANITIZE_ADDRESS__)
    (void)peakMiB;  // ASan's shadow memory and quarantine make RSS meaningless here
#else
    CHECK(peakMiB < 64);  // the data alone is 256 MiB; the pipeline holds a few chunks
#endif
}

TEST_CASE("age: cross-check with /usr/bin/age when it is installed") {
    const std::filesystem::path ageBin = "/usr/bin/age";
    if (!std::filesystem::exists(ageBin)) {
        MESSAGE("skipped: /usr/bin/age is not installed");
        return;
    }
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("xs-age-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto writeFile = [](const std::filesystem::path& p, ByteView data) {
        std::ofstream out(p, std::ios::binary);
        out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
        REQUIRE(out.good());
    };
    auto readFile = [](const std::filesystem::path& p) {
        std::ifstream in(p, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return toBytes(asBytes(ss.str()));
    };
    auto run = [](const std::string& cmd) { return std::system((cmd + " 2>/dev/null").c_str()); };

    auto kp = x25519Generate();
    REQUIRE(kp.ok());
    auto identity = ageIdentityToString(kp->privateKey);
    REQUIRE(identity.ok());
    auto recipient = ageRecipientToString(kp->publicKey);
    REQUIRE(recipient.ok());
    const std::filesystem::path idFile = dir / "identity.txt";
    writeFile(idFile, asBytes(asString(*identity) + "\n"));
    std::filesystem::permissions(idFile, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    const SecretBytes ids[] = {kp->privateKey.clone()};
    const std::vector<Bytes> recipients = {kp->publicKey};

    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{65536}, std::size_t{200001}}) {
        CAPTURE(size);
        const Bytes plaintext = patternBytes(size, size + 77);
        // Ours -> age.
        writeFile(dir / "ours.age", encrypt(recipients, plaintext));
        REQUIRE(run("/usr/bin/age -d -i " + idFile.string() + " -o " + (dir / "ours.out").string() + " " +
                    (dir / "ours.age").string()) == 0);
        CHECK(readFile(dir / "ours.out") == plaintext);
        // age -> ours, binary and armored.
        writeFile(dir / "plain", plaintext);
        for (const char* armor : {"", "-a "}) {
            CAPTURE(armor);
            REQUIRE(run("/usr/bin/age " + std::string(armor) + "-r " + *recipient + " -o " +
                        (dir / "theirs.age").string() + " " + (dir / "plain").string()) == 0);
            const Outcome o =
                decrypt(ids, readFile(dir / "theirs.age"), AgeInputFormat::Auto, Split::Random, size, /*keep=*/true);
            CHECK_MESSAGE(o.ok, o.message);
            CHECK(o.plaintext == plaintext);
        }
    }
    std::filesystem::remove_all(dir);
}
