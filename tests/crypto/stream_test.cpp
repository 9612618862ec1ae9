#include <doctest/doctest.h>

#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <random>

#include "crypto/hash.h"
#include "crypto/stream.h"
#include "tests/crypto/test_util.h"

using namespace xs::crypto;
using namespace xs::crypto::test;

namespace {

constexpr std::size_t kSmallChunk = 64;
constexpr std::size_t kDefaultChunk = 64 * 1024;
constexpr AeadAlg kAlgs[] = {AeadAlg::AesGcm, AeadAlg::ChaCha20Poly1305};

Bytes randomData(std::mt19937_64& rng, std::size_t n) {
    Bytes out(n);
    for (auto& b : out) b = static_cast<std::uint8_t>(rng());
    return out;
}

// Feeds `data` to `write` whole, or in random pieces (including empty ones) when rng is given.
template <typename Write>
CStatus feed(ByteView data, std::size_t chunkSize, std::mt19937_64* rng, Write&& write) {
    if (rng == nullptr) return write(data);
    std::size_t off = 0;
    while (off < data.size()) {
        const std::size_t n = std::min<std::size_t>((*rng)() % (3 * chunkSize + 2), data.size() - off);
        if (auto st = write(data.subspan(off, n)); !st) return st;
        off += n;
    }
    return write(ByteView{});
}

Bytes sealStream(AeadAlg alg, ByteView key, ByteView plaintext, std::size_t chunkSize,
                 std::mt19937_64* rng = nullptr, ByteView lastAad = {}) {
    Bytes out;
    auto sealer = StreamSealer::create(
        alg, key,
        [&out](ByteView v) {
            out.insert(out.end(), v.begin(), v.end());
            return CStatus::success();
        },
        chunkSize);
    REQUIRE(sealer.ok());
    auto st = feed(plaintext, chunkSize, rng, [&](ByteView v) { return sealer->write(v); });
    REQUIRE(st.ok());
    REQUIRE(sealer->finish(lastAad).ok());
    return out;
}

struct Opened {
    std::optional<CryptoError> error;  // first failure, from write() or finish()
    Bytes plaintext;                   // everything released to the sink
};

Opened openStream(AeadAlg alg, ByteView key, ByteView ciphertext, std::size_t chunkSize,
                  std::mt19937_64* rng = nullptr, ByteView lastAad = {}) {
    Opened r;
    auto opener = StreamOpener::create(
        alg, key,
        [&r](ByteView v) {
            r.plaintext.insert(r.plaintext.end(), v.begin(), v.end());
            return CStatus::success();
        },
        chunkSize, lastAad);
    REQUIRE(opener.ok());
    auto st = feed(ciphertext, chunkSize, rng, [&](ByteView v) { return opener->write(v); });
    if (st) st = opener->finish();
    if (!st) r.error = st.code();
    return r;
}

std::array<std::uint8_t, 12> referenceNonce(std::uint64_t counter, bool last) {
    std::array<std::uint8_t, 12> n{};
    for (int i = 10; i >= 0 && counter != 0; --i, counter >>= 8) {
        n[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(counter & 0xff);
    }
    n[11] = last ? 1 : 0;
    return n;
}

Bytes referenceChunk(AeadAlg alg, ByteView key, std::uint64_t counter, bool last, ByteView pt,
                     ByteView aad = {}) {
    auto c = aeadSeal(alg, key, referenceNonce(counter, last), aad, pt);
    REQUIRE(c.ok());
    return *c;
}

// The age STREAM construction written out directly from the spec (lastAad: ours, on the final
// chunk only; age has none).
Bytes referenceStream(AeadAlg alg, ByteView key, ByteView pt, std::size_t chunkSize, ByteView lastAad = {}) {
    const std::size_t chunks = pt.empty() ? 1 : (pt.size() + chunkSize - 1) / chunkSize;
    Bytes out;
    for (std::size_t i = 0; i < chunks; ++i) {
        const std::size_t off = i * chunkSize;
        const std::size_t n = std::min(chunkSize, pt.size() - off);
        const bool last = i + 1 == chunks;
        const Bytes c = referenceChunk(alg, key, i, last, pt.subspan(off, n), last ? lastAad : ByteView());
        out.insert(out.end(), c.begin(), c.end());
    }
    return out;
}

Bytes prefix(ByteView v, std::size_t n) { return Bytes(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n)); }

void expectError(const Opened& r, CryptoError expected, std::size_t releasedBytes, ByteView pt) {
    REQUIRE(r.error.has_value());
    CHECK(*r.error == expected);
    CHECK(r.plaintext.size() == releasedBytes);
    if (r.plaintext.size() <= pt.size()) CHECK(r.plaintext == prefix(pt, r.plaintext.size()));
}

const Bytes kKey(32, 0x42);
const Bytes kOtherKey(32, 0x43);

}  // namespace

TEST_CASE("stream output matches the spec construction") {
    std::mt19937_64 rng(21);
    for (AeadAlg alg : kAlgs) {
        for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, kSmallChunk}) {
            for (std::size_t n : {0u, 1u, 6u, 7u, 8u, 63u, 64u, 65u, 128u, 200u, 300u}) {
                INFO("alg " << static_cast<int>(alg) << " chunk " << chunk << " size " << n);
                const Bytes pt = randomData(rng, n);
                const Bytes expected = referenceStream(alg, kKey, pt, chunk);
                CHECK(sealStream(alg, kKey, pt, chunk) == expected);
                CHECK(sealStream(alg, kKey, pt, chunk, &rng) == expected);
                const Opened r = openStream(alg, kKey, expected, chunk, &rng);
                CHECK_FALSE(r.error.has_value());
                CHECK(r.plaintext == pt);
            }
        }
    }
}

TEST_CASE("stream final-chunk associated data binds the stream to it") {
    std::mt19937_64 rng(22);
    const Bytes aad = randomData(rng, 32);
    Bytes otherAad = aad;
    otherAad[31] ^= 0x01;
    for (AeadAlg alg : kAlgs) {
        for (std::size_t n : {0u, 1u, 63u, 64u, 65u, 128u, 200u}) {
            INFO("alg " << static_cast<int>(alg) << " size " << n);
            const Bytes pt = randomData(rng, n);
            const Bytes expected = referenceStream(alg, kKey, pt, kSmallChunk, aad);
            CHECK(sealStream(alg, kKey, pt, kSmallChunk, &rng, aad) == expected);
            CHECK(expected != referenceStream(alg, kKey, pt, kSmallChunk));
            const Opened ok = openStream(alg, kKey, expected, kSmallChunk, &rng, aad);
            CHECK_FALSE(ok.error.has_value());
            CHECK(ok.plaintext == pt);
            // Every chunk but the last opens as before; the last needs the very same data.
            const std::size_t middle = n == 0 ? 0 : (n - 1) / kSmallChunk * kSmallChunk;
            expectError(openStream(alg, kKey, expected, kSmallChunk, nullptr, otherAad), CryptoError::AuthenticationFailed,
                        middle, pt);
            expectError(openStream(alg, kKey, expected, kSmallChunk, nullptr, {}), CryptoError::AuthenticationFailed, middle, pt);
            expectError(openStream(alg, kKey, referenceStream(alg, kKey, pt, kSmallChunk), kSmallChunk, nullptr, aad),
                        CryptoError::AuthenticationFailed, middle, pt);
            if (n > kSmallChunk) {  // cut at a chunk boundary: still told apart from a wrong final tag
                const std::size_t cut = (n - 1) / kSmallChunk * (kSmallChunk + 16);
                expectError(openStream(alg, kKey, prefix(expected, cut), kSmallChunk, nullptr, aad), CryptoError::Truncated,
                            middle - kSmallChunk, pt);
            }
        }
    }
}

TEST_CASE("stream round trips with a small chunk size") {
    std::mt19937_64 rng(22);
    const std::size_t c = kSmallChunk;
    for (AeadAlg alg : kAlgs) {
        for (std::size_t n : {std::size_t{0}, std::size_t{1}, c - 1, c, c + 1, 2 * c, 3 * c - 1, 3 * c,
                              3 * c + 1, 1000 * c + 17}) {
            for (int round = 0; round < 4; ++round) {
                INFO("alg " << static_cast<int>(alg) << " size " << n << " round " << round);
                const Bytes key = randomData(rng, 32);
                const Bytes pt = randomData(rng, n);
                const Bytes ct = sealStream(alg, key, pt, c, round == 0 ? nullptr : &rng);
                const std::size_t chunks = n == 0 ? 1 : (n + c - 1) / c;
                CHECK(ct.size() == n + chunks * kAeadTagSize);
                const Opened r = openStream(alg, key, ct, c, round == 1 ? nullptr : &rng);
                CHECK_FALSE(r.error.has_value());
                CHECK(r.plaintext == pt);
                // Byte-at-a-time writes.
                if (n <= 3 * c + 1) {
                    Opened byByte;
                    auto opener = StreamOpener::create(
                        alg, key,
                        [&byByte](ByteView v) {
                            byByte.plaintext.insert(byByte.plaintext.end(), v.begin(), v.end());
                            return CStatus::success();
                        },
                        c);
                    REQUIRE(opener.ok());
                    for (std::uint8_t b : ct) REQUIRE(opener->write(ByteView(&b, 1)).ok());
                    REQUIRE(opener->finish().ok());
                    CHECK(byByte.plaintext == pt);
                }
            }
        }
    }
}

TEST_CASE("stream round trips with the default 64 KiB chunk size") {
    std::mt19937_64 rng(23);
    const std::size_t c = kDefaultChunk;
    for (AeadAlg alg : kAlgs) {
        for (std::size_t n : {std::size_t{0}, std::size_t{1}, c - 1, c, c + 1, 3 * c, 16 * c + 12345}) {
            INFO("alg " << static_cast<int>(alg) << " size " << n);
            const Bytes pt = randomData(rng, n);
            const Bytes ct = sealStream(alg, kKey, pt, c, &rng);
            CHECK(ct == referenceStream(alg, kKey, pt, c));
            const Opened r = openStream(alg, kKey, ct, c, &rng);
            CHECK_FALSE(r.error.has_value());
            CHECK(r.plaintext == pt);
            // Default-argument chunk size is 64 KiB.
            Bytes out;
            auto sealer = StreamSealer::create(alg, kKey, [&out](ByteView v) {
                out.insert(out.end(), v.begin(), v.end());
                return CStatus::success();
            });
            REQUIRE(sealer.ok());
            REQUIRE(sealer->write(pt).ok());
            REQUIRE(sealer->finish().ok());
            CHECK(out == ct);
        }
        // A damaged middle chunk at the default size.
        const Bytes pt = randomData(rng, 3 * c + 5);
        Bytes ct = sealStream(alg, kKey, pt, c);
        ct[(c + kAeadTagSize) + 100] ^= 0x01;
        expectError(openStream(alg, kKey, ct, c, &rng), CryptoError::AuthenticationFailed, c, pt);
    }
}

TEST_CASE("stream rejects a flipped byte in each chunk") {
    std::mt19937_64 rng(24);
    const std::size_t c = kSmallChunk;
    const std::size_t sealed = c + kAeadTagSize;
    for (AeadAlg alg : kAlgs) {
        for (std::size_t n : {4 * c + 10, 4 * c}) {  // short and full last chunk
            const Bytes pt = randomData(rng, n);
            const Bytes ct = sealStream(alg, kKey, pt, c);
            const std::size_t chunks = (n + c - 1) / c;
            for (std::size_t i = 0; i < chunks; ++i) {
                const std::size_t begin = i * sealed;
                const std::size_t end = std::min(ct.size(), begin + sealed);
                for (std::size_t pos : {begin, begin + 1, end - kAeadTagSize - 1, end - kAeadTagSize, end - 1}) {
                    INFO("alg " << static_cast<int>(alg) << " size " << n << " chunk " << i << " pos " << pos);
                    Bytes bad = ct;
                    bad[pos] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
                    expectError(openStream(alg, kKey, bad, c, &rng), CryptoError::AuthenticationFailed,
                                i * c, pt);
                }
            }
        }
    }
}

TEST_CASE("stream rejects truncation at every chunk boundary") {
    std::mt19937_64 rng(25);
    const std::size_t c = kSmallChunk;
    const std::size_t sealed = c + kAeadTagSize;
    for (AeadAlg alg : kAlgs) {
        for (std::size_t n : {4 * c + 10, 4 * c}) {
            const Bytes pt = randomData(rng, n);
            const Bytes ct = sealStream(alg, kKey, pt, c);
            const std::size_t chunks = (n + c - 1) / c;
            for (std::size_t kept = 0; kept < chunks; ++kept) {
                INFO("alg " << static_cast<int>(alg) << " size " << n << " chunks kept " << kept);
                const Bytes cut = prefix(ct, kept * sealed);
                // The held-back final full chunk is never released: it is not known to be last.
                expectError(openStream(alg, kKey, cut, c, &rng), CryptoError::Truncated,
                            kept == 0 ? 0 : (kept - 1) * c, pt);
            }
        }
    }
}

TEST_CASE("stream rejects a dropped last chunk") {
    std::mt19937_64 rng(26);
    const std::size_t c = kSmallChunk;
    const std::size_t sealed = c + kAeadTagSize;
    for (AeadAlg alg : kAlgs) {
        // Short last chunk dropped, full last chunk dropped, and the single-chunk case.
        for (std::size_t n : {3 * c + 1, 3 * c, c}) {
            const Bytes pt = randomData(rng, n);
            const Bytes ct = sealStream(alg, kKey, pt, c);
            const std::size_t chunks = (n + c - 1) / c;
            const Bytes dropped = prefix(ct, (chunks - 1) * sealed);
            expectError(openStream(alg, kKey, dropped, c), CryptoError::Truncated,
                        chunks >= 2 ? (chunks - 2) * c : 0, pt);
        }
    }
}

TEST_CASE("stream rejects truncation inside a chunk") {
    std::mt19937_64 rng(27);
    const std::size_t c = kSmallChunk;
    const std::size_t sealed = c + kAeadTagSize;
    for (AeadAlg alg : kAlgs) {
        const Bytes pt = randomData(rng, 3 * c);
        const Bytes ct = sealStream(alg, kKey, pt, c);
        // Cut inside the tag region of a fresh chunk: too short to be any chunk.
        for (std::size_t extra : {1u, 5u, 15u}) {
            expectError(openStream(alg, kKey, prefix(ct, sealed + extra), c), CryptoError::Truncated, c, pt);
        }
        // Cut further in: the partial chunk cannot authenticate.
        for (std::size_t extra : {std::size_t{16}, std::size_t{40}, sealed - 1}) {
            expectError(openStream(alg, kKey, prefix(ct, sealed + extra), c),
                        CryptoError::AuthenticationFailed, c, pt);
        }
        expectError(openStream(alg, kKey, prefix(ct, 10), c), CryptoError::Truncated, 0, pt);
        expectError(openStream(alg, kKey, Bytes{}, c), CryptoError::Truncated, 0, pt);
    }
}

TEST_CASE("stream rejects swapped chunks") {
    std::mt19937_64 rng(28);
    const std::size_t c = kSmallChunk;
    const std::size_t sealed = c + kAeadTagSize;
    for (AeadAlg alg : kAlgs) {
        for (std::size_t n : {4 * c, 4 * c + 9}) {
            const Bytes pt = randomData(rng, n);
            const Bytes ct = sealStream(alg, kKey, pt, c);
            for (auto [a, b] : {std::pair<std::size_t, std::size_t>{0, 1}, {1, 2}, {0, 2}, {2, 3}}) {
                INFO("alg " << static_cast<int>(alg) << " size " << n << " swap " << a << "," << b);
                Bytes bad = ct;
                std::swap_ranges(bad.begin() + static_cast<std::ptrdiff_t>(a * sealed),
                                 bad.begin() + static_cast<std::ptrdiff_t>((a + 1) * sealed),
                                 bad.begin() + static_cast<std::ptrdiff_t>(b * sealed));
                expectError(openStream(alg, kKey, bad, c, &rng), CryptoError::AuthenticationFailed,
                            a * c, pt);
            }
        }
    }
}

TEST_CASE("stream rejects an appended chunk") {
    std::mt19937_64 rng(29);
    const std::size_t c = kSmallChunk;
    for (AeadAlg alg : kAlgs) {
        // After a full-size last chunk the extension is recognised as such.
        const Bytes pt = randomData(rng, 3 * c);
        const Bytes ct = sealStream(alg, kKey, pt, c);
        for (bool lastFlag : {false, true}) {
            for (std::size_t extraLen : {std::size_t{0}, std::size_t{5}, c}) {
                const Bytes extra = referenceChunk(alg, kKey, 3, lastFlag, randomData(rng, extraLen));
                expectError(openStream(alg, kKey, concat(ct, extra), c, &rng), CryptoError::Malformed,
                            2 * c, pt);
            }
        }
        // Re-appending an earlier chunk.
        expectError(openStream(alg, kKey, concat(ct, prefix(ct, c + kAeadTagSize)), c),
                    CryptoError::Malformed, 2 * c, pt);

        // After a short last chunk the framing is lost: authentication fails (documented).
        const Bytes shortPt = randomData(rng, 3 * c + 7);
        const Bytes shortCt = sealStream(alg, kKey, shortPt, c);
        const Bytes extra = referenceChunk(alg, kKey, 4, true, randomData(rng, 3));
        expectError(openStream(alg, kKey, concat(shortCt, extra), c), CryptoError::AuthenticationFailed,
                    3 * c, shortPt);
    }
}

TEST_CASE("stream rejects appended garbage") {
    std::mt19937_64 rng(30);
    const std::size_t c = kSmallChunk;
    for (AeadAlg alg : kAlgs) {
        const Bytes fullPt = randomData(rng, 2 * c);
        const Bytes fullCt = sealStream(alg, kKey, fullPt, c);
        const Bytes shortPt = randomData(rng, 2 * c + 20);
        const Bytes shortCt = sealStream(alg, kKey, shortPt, c);
        for (std::size_t g : {std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{17}, c,
                              c + kAeadTagSize, 3 * c}) {
            INFO("alg " << static_cast<int>(alg) << " garbage " << g);
            const Bytes garbage = randomData(rng, g);
            expectError(openStream(alg, kKey, concat(fullCt, garbage), c, &rng), CryptoError::Malformed,
                        c, fullPt);
            expectError(openStream(alg, kKey, concat(shortCt, garbage), c, &rng),
                        CryptoError::AuthenticationFailed, 2 * c, shortPt);
        }
        // The empty payload's single chunk followed by anything.
        const Bytes emptyCt = sealStream(alg, kKey, {}, c);
        CHECK(emptyCt.size() == kAeadTagSize);
        expectError(openStream(alg, kKey, concat(emptyCt, Bytes{0}), c), CryptoError::AuthenticationFailed,
                    0, {});
    }
}

TEST_CASE("stream rejects misplaced last chunks") {
    std::mt19937_64 rng(31);
    const std::size_t c = kSmallChunk;
    for (AeadAlg alg : kAlgs) {
        const Bytes full = randomData(rng, c);
        // An empty last chunk after a full one: only an empty payload may end in an empty chunk.
        const Bytes emptyLast =
            concat(referenceChunk(alg, kKey, 0, false, full), referenceChunk(alg, kKey, 1, true, {}));
        expectError(openStream(alg, kKey, emptyLast, c), CryptoError::Malformed, c, full);
        // Two last chunks.
        const Bytes twoLast = concat(referenceChunk(alg, kKey, 0, true, full),
                                     referenceChunk(alg, kKey, 1, true, randomData(rng, 5)));
        expectError(openStream(alg, kKey, twoLast, c, &rng), CryptoError::Malformed, 0, full);
        // A short chunk flagged non-last is never valid.
        const Bytes shortMiddle = referenceChunk(alg, kKey, 0, false, randomData(rng, 5));
        expectError(openStream(alg, kKey, shortMiddle, c), CryptoError::AuthenticationFailed, 0, {});
        // Wrong counter for the first chunk.
        const Bytes wrongCounter = referenceChunk(alg, kKey, 1, true, randomData(rng, 5));
        expectError(openStream(alg, kKey, wrongCounter, c), CryptoError::AuthenticationFailed, 0, {});
        // Wrong key, wrong algorithm, wrong chunk size.
        const Bytes pt = randomData(rng, 3 * c + 3);
        const Bytes ct = sealStream(alg, kKey, pt, c);
        expectError(openStream(alg, kOtherKey, ct, c), CryptoError::AuthenticationFailed, 0, pt);
        const AeadAlg other = alg == AeadAlg::AesGcm ? AeadAlg::ChaCha20Poly1305 : AeadAlg::AesGcm;
        expectError(openStream(other, kKey, ct, c), CryptoError::AuthenticationFailed, 0, pt);
        CHECK(openStream(alg, kKey, ct, c * 2).error == CryptoError::AuthenticationFailed);
    }
}

TEST_CASE("stream errors are sticky and misuse is reported") {
    const std::size_t c = kSmallChunk;
    ByteSink discard = [](ByteView) { return CStatus::success(); };
    CHECK(errorOf(StreamSealer::create(AeadAlg::AesGcm, Bytes(16, 1), discard, c)) ==
          CryptoError::InvalidArgument);
    CHECK(errorOf(StreamSealer::create(AeadAlg::AesGcm, kKey, discard, 0)) == CryptoError::InvalidArgument);
    CHECK(errorOf(StreamSealer::create(AeadAlg::AesGcm, kKey, ByteSink{}, c)) ==
          CryptoError::InvalidArgument);
    CHECK(errorOf(StreamOpener::create(AeadAlg::ChaCha20Poly1305, Bytes(31, 1), discard, c)) ==
          CryptoError::InvalidArgument);
    CHECK(errorOf(StreamOpener::create(AeadAlg::AesGcm, kKey, discard, 0)) == CryptoError::InvalidArgument);

    // A sink failure stops the sealer and is returned again on later calls.
    int calls = 0;
    auto sealer = StreamSealer::create(
        AeadAlg::AesGcm, kKey,
        [&calls](ByteView) -> CStatus {
            if (++calls == 2) return xs::fail(CryptoError::Internal, "disk full");
            return CStatus::success();
        },
        c);
    REQUIRE(sealer.ok());
    const Bytes pt(5 * c, 0x33);
    auto st = sealer->write(pt);
    REQUIRE_FALSE(st.ok());
    CHECK(errorOf(st) == CryptoError::Internal);
    CHECK(describe(st) == "Internal: disk full");
    CHECK(errorOf(sealer->write(pt)) == CryptoError::Internal);
    CHECK(errorOf(sealer->finish()) == CryptoError::Internal);
    CHECK(calls == 2);

    // Finished objects refuse more work.
    auto sealer2 = StreamSealer::create(AeadAlg::AesGcm, kKey, discard, c);
    REQUIRE(sealer2.ok());
    REQUIRE(sealer2->finish().ok());
    CHECK(errorOf(sealer2->write(pt)) == CryptoError::InvalidArgument);
    CHECK(errorOf(sealer2->finish()) == CryptoError::InvalidArgument);

    const Bytes ct = sealStream(AeadAlg::AesGcm, kKey, pt, c);
    auto opener = StreamOpener::create(AeadAlg::AesGcm, kKey, discard, c);
    REQUIRE(opener.ok());
    REQUIRE(opener->write(ct).ok());
    REQUIRE(opener->finish().ok());
    CHECK(errorOf(opener->write(Bytes{1})) == CryptoError::InvalidArgument);
    CHECK(errorOf(opener->finish()) == CryptoError::InvalidArgument);

    // An opener failure is sticky too.
    Bytes bad = ct;
    bad[3] ^= 1;
    auto opener2 = StreamOpener::create(AeadAlg::AesGcm, kKey, discard, c);
    REQUIRE(opener2.ok());
    CHECK(errorOf(opener2->write(bad)) == CryptoError::AuthenticationFailed);
    CHECK(errorOf(opener2->write(ct)) == CryptoError::AuthenticationFailed);
    CHECK(errorOf(opener2->finish()) == CryptoError::AuthenticationFailed);

    // Moved-from objects report an error instead of crashing.
    StreamSealer moved = std::move(sealer2).value();
    CHECK(errorOf(sealer2->write(pt)) == CryptoError::InvalidArgument);  // NOLINT(bugprone-use-after-move)
}

// age's own STREAM vectors (C2SP/CCTV): the payload key is HKDF-SHA256(file key, nonce, "payload")
// and the payload is ChaCha20-Poly1305 STREAM with 64 KiB chunks. The recipient stanzas are not
// parsed: the vectors give the file key. zlib-compressed and armored files are left out (no zlib or
// armor here), as are files whose header must fail.
TEST_CASE("stream age testkit payload vectors") {
    const std::map<std::string, std::optional<CryptoError>> expected = {
        {"stream_empty_payload", std::nullopt},
        {"x25519", std::nullopt},
        {"x25519_grease", std::nullopt},
        {"x25519_multiple_recipients", std::nullopt},
        {"stanza_empty_body", std::nullopt},
        {"stanza_empty_last_line", std::nullopt},
        {"stanza_valid_characters", std::nullopt},
        {"scrypt", std::nullopt},
        {"hybrid", std::nullopt},
        {"hybrid_and_x25519", std::nullopt},
        {"hybrid_grease", std::nullopt},
        {"stream_bad_tag", CryptoError::AuthenticationFailed},
        {"stream_missing_tag", CryptoError::Truncated},
        {"stream_no_chunks", CryptoError::Truncated},
        {"stream_no_final", CryptoError::AuthenticationFailed},
        {"stream_short_chunk", CryptoError::Truncated},
        {"stream_two_final_chunks_short", CryptoError::AuthenticationFailed},
    };
    int checked = 0;
    for (const auto& [name, want] : expected) {
        INFO("age vector " << name);
        const std::string file = readVectorFile("age/" + name);
        const std::size_t split = file.find("\n\n");
        REQUIRE(split != std::string::npos);
        const std::string header = file.substr(0, split + 1);
        const std::string body = file.substr(split + 2);
        auto field = [&header](const std::string& key) -> std::string {
            const std::string tag = key + ": ";
            const std::size_t at = header.find(tag);
            if (at == std::string::npos || (at != 0 && header[at - 1] != '\n')) return {};
            const std::size_t eol = header.find('\n', at);
            return header.substr(at + tag.size(), eol - at - tag.size());
        };
        REQUIRE(field("compressed").empty());
        REQUIRE(field("armored").empty());
        const std::string expect = field("expect");
        CHECK(expect == (want ? "payload failure" : "success"));

        // The age header ends with the MAC line "--- <mac>\n"; the 16-byte payload nonce follows.
        const std::size_t macLine = body.find("\n--- ");
        REQUIRE(macLine != std::string::npos);
        const std::size_t headerEnd = body.find('\n', macLine + 1);
        REQUIRE(headerEnd != std::string::npos);
        REQUIRE(body.size() >= headerEnd + 1 + 16);
        const ByteView rest = asBytes(body).subspan(headerEnd + 1);
        const Bytes fileKey = hexBytes(field("file key"));
        auto payloadKey = hkdfSha256(fileKey, rest.first(16), asBytes("payload"), 32);
        REQUIRE(payloadKey.ok());

        const Opened r = openStream(AeadAlg::ChaCha20Poly1305, *payloadKey, rest.subspan(16), kDefaultChunk);
        CHECK(toHex(sha256(r.plaintext)) == field("payload"));
        if (want) {
            REQUIRE(r.error.has_value());
            CHECK(*r.error == *want);
        } else {
            CHECK_FALSE(r.error.has_value());
        }
        ++checked;
    }
    CHECK(checked == 17);
}
