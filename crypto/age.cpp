#include "crypto/age.h"

#include <openssl/crypto.h>

#include <array>
#include <cstring>
#include <limits>
#include <vector>

#include "crypto/aead.h"
#include "crypto/bech32.h"
#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "crypto/random.h"

namespace xs::crypto {
namespace {

constexpr std::string_view kVersionLine = "age-encryption.org/v1";
constexpr std::string_view kBinaryMagic = "age-encryption.org/";  // what Auto takes as binary
constexpr std::string_view kX25519Type = "X25519";
constexpr std::string_view kX25519Label = "age-encryption.org/v1/X25519";
constexpr std::string_view kHeaderLabel = "header";
constexpr std::string_view kPayloadLabel = "payload";
constexpr std::string_view kStanzaPrefix = "->";
constexpr std::string_view kMacPrefix = "---";
constexpr std::string_view kArmorBegin = "-----BEGIN AGE ENCRYPTED FILE-----";
constexpr std::string_view kArmorEnd = "-----END AGE ENCRYPTED FILE-----";
constexpr std::string_view kRecipientHrp = "age";
constexpr std::string_view kIdentityHrp = "AGE-SECRET-KEY-";

constexpr std::size_t kColumns = 64;       // base64 characters per full line (header and armor)
constexpr std::size_t kBytesPerLine = 48;  // bytes a full line encodes
constexpr std::size_t kKeySize = 32;       // wrap, MAC and payload keys
constexpr std::size_t kMacSize = 32;
constexpr std::size_t kWrappedFileKeySize = kAgeFileKeySize + kAeadTagSize;
constexpr std::size_t kSealedChunkSize = kAgeChunkSize + kAeadTagSize;
// Whitespace allowed before and after the armor, as in age's armor reader.
constexpr std::size_t kMaxArmorWhitespace = 1024;

constexpr std::array<std::uint8_t, kAeadNonceSize> kZeroNonce{};

std::string_view asText(ByteView b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

bool startsWith(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

// Go's bytes.TrimSpace set, restricted to ASCII (what age's armor reader skips around the armor).
bool isArmorSpace(std::uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

CResult<SecretBytes> deriveKey(ByteView ikm, ByteView salt, std::string_view info) {
    return hkdfSha256(ikm, salt, asBytes(info), kKeySize);
}

CResult<SecretBytes> x25519WrapKey(ByteView shared, ByteView share, ByteView recipient) {
    Bytes salt(share.begin(), share.end());
    salt.insert(salt.end(), recipient.begin(), recipient.end());
    return deriveKey(shared, salt, kX25519Label);
}

CResult<Digest> headerMac(ByteView fileKey, std::string_view headerUpToDashes) {
    auto macKey = deriveKey(fileKey, {}, kHeaderLabel);
    if (!macKey) return macKey.error();
    return hmacSha256(*macKey, asBytes(headerUpToDashes));
}

// A stanza body: unpadded base64 in 64-column lines, always ending with a shorter (maybe empty) one.
void appendBody(std::string& out, ByteView body) {
    const std::string b64 = toBase64(body, /*pad=*/false);
    for (std::size_t i = 0;; i += kColumns) {
        const std::size_t n = std::min(kColumns, b64.size() - i);
        out.append(b64, i, n);
        out.push_back('\n');
        if (n < kColumns) break;
    }
}

// Splits on single spaces, keeping empty pieces (as Go's strings.Split), so double spaces and
// leading/trailing spaces show up as empty arguments.
std::vector<std::string_view> splitSpaces(std::string_view line) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (;;) {
        const std::size_t sp = line.find(' ', start);
        if (sp == std::string_view::npos) {
            parts.push_back(line.substr(start));
            return parts;
        }
        parts.push_back(line.substr(start, sp - start));
        start = sp + 1;
    }
}

// An argument is 1+ visible ASCII characters (VCHAR, 33..126).
bool validArgument(std::string_view arg) {
    if (arg.empty()) return false;
    for (char c : arg) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 33 || u > 126) return false;
    }
    return true;
}

struct Identity {
    SecretBytes privateKey;
    Bytes publicKey;
};

struct Stanza {
    std::string type;
    std::vector<std::string> args;
    Bytes body;
};

}  // namespace

const char* ageFailureName(AgeFailure failure) {
    switch (failure) {
        case AgeFailure::Armor:
            return "armor";
        case AgeFailure::Header:
            return "header";
        case AgeFailure::NoMatch:
            return "no match";
        case AgeFailure::HeaderMac:
            return "HMAC";
        case AgeFailure::Payload:
            return "payload";
        case AgeFailure::Output:
            return "output";
    }
    return "?";
}

// ---- Key strings ----------------------------------------------------------------------------

CResult<std::string> ageRecipientToString(ByteView publicKey) {
    if (publicKey.size() != kX25519KeySize) {
        return fail(CryptoError::InvalidArgument, "age recipients are 32-byte X25519 public keys");
    }
    return bech32Encode(kRecipientHrp, publicKey);
}

CResult<Bytes> ageRecipientFromString(std::string_view text) {
    auto decoded = bech32Decode(text);
    if (!decoded) return fail(CryptoError::Malformed, "age recipient: " + decoded.message());
    if (decoded->hrp != kRecipientHrp) {
        return fail(CryptoError::Malformed, "age recipient must start with \"age1\" (lowercase)");
    }
    if (decoded->data.size() != kX25519KeySize) {
        return fail(CryptoError::Malformed, "age recipient does not hold a 32-byte key");
    }
    return Bytes(decoded->data.data(), decoded->data.data() + decoded->data.size());
}

CResult<SecretBytes> ageIdentityToString(ByteView privateKey) {
    if (privateKey.size() != kX25519KeySize) {
        return fail(CryptoError::InvalidArgument, "age identities are 32-byte X25519 private keys");
    }
    SecretBytes out(bech32EncodedSize(kIdentityHrp.size(), privateKey.size()));
    auto st = bech32EncodeTo(kIdentityHrp, privateKey, std::span<std::uint8_t>(out.data(), out.size()));
    if (!st) return st.error();
    return out;
}

CResult<SecretBytes> ageIdentityFromString(std::string_view text) {
    auto decoded = bech32Decode(text);
    if (!decoded) return fail(CryptoError::Malformed, "age identity: " + decoded.message());
    if (decoded->hrp != kIdentityHrp) {
        return fail(CryptoError::Malformed, "age identity must start with \"AGE-SECRET-KEY-1\" (uppercase)");
    }
    if (decoded->data.size() != kX25519KeySize) {
        return fail(CryptoError::Malformed, "age identity does not hold a 32-byte key");
    }
    return std::move(decoded->data);
}

// ---- Encryption -----------------------------------------------------------------------------

struct AgeEncryptor::Impl {
    ByteSink out;
    std::optional<StreamSealer> sealer;
    Digest headerDigest{};
};

CResult<AgeEncryptor> AgeEncryptor::create(std::span<const Bytes> recipients, ByteSink out) {
    if (recipients.empty()) return fail(CryptoError::InvalidArgument, "age needs at least one recipient");
    if (!out) return fail(CryptoError::InvalidArgument, "age encryption needs an output sink");
    for (const Bytes& r : recipients) {
        if (r.size() != kX25519KeySize) {
            return fail(CryptoError::InvalidArgument, "age recipients are 32-byte X25519 public keys");
        }
    }
    auto fileKey = randomSecret(kAgeFileKeySize);
    if (!fileKey) return fileKey.error();

    std::string header(kVersionLine);
    header.push_back('\n');
    for (const Bytes& recipient : recipients) {
        auto eph = x25519Generate();
        if (!eph) return eph.error();
        auto shared = x25519(eph->privateKey, recipient);
        if (!shared) return shared.error();  // InvalidArgument for a low-order recipient key
        auto wrapKey = x25519WrapKey(*shared, eph->publicKey, recipient);
        if (!wrapKey) return wrapKey.error();
        auto wrapped = aeadSeal(AeadAlg::ChaCha20Poly1305, *wrapKey, kZeroNonce, {}, *fileKey);
        if (!wrapped) return wrapped.error();
        header.append(kStanzaPrefix).append(" ").append(kX25519Type).append(" ");
        header.append(toBase64(eph->publicKey, /*pad=*/false)).push_back('\n');
        appendBody(header, *wrapped);
    }
    header.append(kMacPrefix);
    auto mac = headerMac(*fileKey, header);
    if (!mac) return mac.error();
    header.append(" ").append(toBase64(*mac, /*pad=*/false)).push_back('\n');

    auto nonce = randomBytes(kAgeNonceSize);
    if (!nonce) return nonce.error();
    auto payloadKey = deriveKey(*fileKey, *nonce, kPayloadLabel);
    if (!payloadKey) return payloadKey.error();

    AgeEncryptor enc;
    enc.m_impl = std::make_unique<Impl>();
    enc.m_impl->out = std::move(out);
    Impl* impl = enc.m_impl.get();  // stable: Impl lives on the heap
    auto sealer = StreamSealer::create(
        AeadAlg::ChaCha20Poly1305, *payloadKey, [impl](ByteView v) { return impl->out(v); }, kAgeChunkSize);
    if (!sealer) return sealer.error();
    enc.m_impl->sealer.emplace(std::move(sealer).value());

    Sha256 digest;
    digest.update(asBytes(header));
    digest.update(*nonce);
    impl->headerDigest = digest.finish();
    if (auto st = impl->out(asBytes(header)); !st) return st.error();
    if (auto st = impl->out(*nonce); !st) return st.error();
    return enc;
}

Digest AgeEncryptor::headerDigest() const { return m_impl ? m_impl->headerDigest : Digest{}; }

AgeEncryptor::~AgeEncryptor() = default;
AgeEncryptor::AgeEncryptor(AgeEncryptor&&) noexcept = default;
AgeEncryptor& AgeEncryptor::operator=(AgeEncryptor&&) noexcept = default;

CStatus AgeEncryptor::write(ByteView plaintext) {
    if (!m_impl) return fail(CryptoError::InvalidArgument, "AgeEncryptor used after move");
    return m_impl->sealer->write(plaintext);
}

CStatus AgeEncryptor::finish() {
    if (!m_impl) return fail(CryptoError::InvalidArgument, "AgeEncryptor used after move");
    return m_impl->sealer->finish();
}

// ---- Decryption -----------------------------------------------------------------------------

struct AgeDecryptor::Impl {
    enum class ArmorStage { Leading, Body, End, Trailing };
    enum class HeaderStage { Version, StanzaStart, StanzaBody };
    enum class Stage { Header, Nonce, Payload };

    std::vector<Identity> identities;
    ByteSink sink;
    AgeInputFormat format = AgeInputFormat::Auto;  // Auto until the first bytes decide
    std::string detected;                          // Auto: bytes that still match kBinaryMagic

    // Armor layer.
    ArmorStage armorStage = ArmorStage::Leading;
    std::string armorLine;  // the current line, without its LF
    std::size_t armorWhitespace = 0;

    // Binary layer.
    Stage stage = Stage::Header;
    HeaderStage headerStage = HeaderStage::Version;
    std::string header;         // the header so far; its lines are parsed as they complete
    std::size_t lineStart = 0;  // offset of the current line in `header`
    std::vector<Stanza> stanzas;
    Stanza current;
    SecretBytes fileKey;
    Bytes nonce;
    Sha256 headerHash;                 // the header, once its MAC verified; then the nonce
    std::optional<Digest> headerDigest;  // once the nonce is read

    // Payload layer: STREAM opened chunk by chunk (see openChunk for the release rules).
    std::optional<Aead> payload;
    Bytes sealedChunk;  // a chunk being collected, up to kSealedChunkSize bytes
    std::size_t sealedFill = 0;
    SecretBytes plainChunk;  // one opened chunk
    std::uint64_t counter = 0;
    bool sawLastChunk = false;

    // Outcome.
    std::optional<Error<CryptoError>> error;
    std::optional<AgeFailure> kind;
    bool finished = false;

    Error<CryptoError> reject(AgeFailure k, CryptoError code, const std::string& message) {
        kind = k;
        return fail(code, std::string("age ") + ageFailureName(k) + ": " + message);
    }
    Error<CryptoError> badArmor(const std::string& message) {
        return reject(AgeFailure::Armor, CryptoError::Malformed, message);
    }
    Error<CryptoError> badHeader(const std::string& message, CryptoError code = CryptoError::Malformed) {
        return reject(AgeFailure::Header, code, message);
    }

    CStatus usable() const {
        if (error) return *error;
        if (finished) return fail(CryptoError::InvalidArgument, "AgeDecryptor already finished");
        return CStatus::success();
    }

    CStatus record(CStatus st) {
        if (!st) {
            error = st.error();
            if (!kind) kind = stage == Stage::Payload ? AgeFailure::Payload : AgeFailure::Header;
        }
        return st;
    }

    // ---- Input dispatch ----

    CStatus feed(ByteView data) {
        while (format == AgeInputFormat::Auto && !data.empty()) {
            detected.push_back(static_cast<char>(data[0]));
            data = data.subspan(1);
            if (detected.back() != kBinaryMagic[detected.size() - 1]) {
                format = AgeInputFormat::Armored;
            } else if (detected.size() == kBinaryMagic.size()) {
                format = AgeInputFormat::Binary;
            } else {
                continue;
            }
            XS_TRY(feedDecided(asBytes(detected)));
            detected.clear();
        }
        if (data.empty()) return CStatus::success();
        return feedDecided(data);
    }

    CStatus feedDecided(ByteView data) {
        return format == AgeInputFormat::Armored ? feedArmor(data) : feedBinary(data);
    }

    CStatus finishInput() {
        if (format == AgeInputFormat::Auto) {  // empty input, or a prefix of the binary magic
            format = AgeInputFormat::Binary;
            XS_TRY(feedBinary(asBytes(detected)));
        }
        if (format == AgeInputFormat::Armored) XS_TRY(finishArmor());
        return finishBinary();
    }

    // ---- Armor layer: strict PEM around the binary file ----

    CStatus feedArmor(ByteView data) {
        while (!data.empty()) {
            if (armorStage == ArmorStage::Trailing) {
                for (std::uint8_t c : data) {
                    if (!isArmorSpace(c)) return badArmor("data after the END line");
                    if (++armorWhitespace >= kMaxArmorWhitespace) {
                        return badArmor("too much whitespace after the END line");
                    }
                }
                return CStatus::success();
            }
            const auto* lf = static_cast<const std::uint8_t*>(std::memchr(data.data(), '\n', data.size()));
            const std::size_t take = lf != nullptr ? static_cast<std::size_t>(lf - data.data()) : data.size();
            armorLine.append(asText(data.first(take)));
            // Leading whitespace lines may be long; armor lines are 64 columns plus an optional CR.
            const std::size_t limit = armorStage == ArmorStage::Leading ? kMaxArmorWhitespace + 1 : kColumns + 1;
            if (armorLine.size() > limit) {
                return badArmor(armorStage == ArmorStage::Leading
                                    ? "too much whitespace, or a bad line, before the BEGIN line"
                                    : "line longer than 64 columns");
            }
            if (lf == nullptr) return CStatus::success();
            data = data.subspan(take + 1);
            XS_TRY(armorLineDone(/*terminated=*/true));
        }
        return CStatus::success();
    }

    CStatus armorLineDone(bool terminated) {
        std::string_view line = armorLine;
        const std::size_t rawSize = line.size() + (terminated ? 1 : 0);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF line end
        CStatus st;
        switch (armorStage) {
            case ArmorStage::Leading: {
                bool blank = true;
                for (char c : line) blank = blank && isArmorSpace(static_cast<std::uint8_t>(c));
                if (blank) {
                    armorWhitespace += rawSize;
                    if (armorWhitespace > kMaxArmorWhitespace) {
                        st = badArmor("too much whitespace before the BEGIN line");
                    }
                } else if (line == kArmorBegin) {
                    armorStage = ArmorStage::Body;
                } else {
                    st = badArmor("the first line is not \"" + std::string(kArmorBegin) + "\"");
                }
                break;
            }
            case ArmorStage::Body: {
                if (line == kArmorEnd) {
                    armorStage = ArmorStage::Trailing;
                    armorWhitespace = 0;
                    break;
                }
                if (line.empty()) {
                    st = badArmor("empty line inside the armor");
                    break;
                }
                if (line.size() > kColumns) {
                    st = badArmor("line longer than 64 columns");
                    break;
                }
                auto bytes = fromBase64(line, /*requirePad=*/true);
                if (!bytes) {
                    st = badArmor("line is not canonical padded base64");
                    break;
                }
                // Only the last line may be short (a full 64-column last line is also allowed).
                if (bytes->size() < kBytesPerLine) armorStage = ArmorStage::End;
                armorLine.clear();
                return feedBinary(*bytes);
            }
            case ArmorStage::End:
                if (line == kArmorEnd) {
                    armorStage = ArmorStage::Trailing;
                    armorWhitespace = 0;
                } else {
                    st = badArmor("a line shorter than 64 columns is not followed by the END line");
                }
                break;
            case ArmorStage::Trailing:
                break;  // handled byte by byte in feedArmor
        }
        armorLine.clear();
        return st;
    }

    CStatus finishArmor() {
        if (!armorLine.empty()) XS_TRY(armorLineDone(/*terminated=*/false));
        if (armorStage == ArmorStage::Leading) return badArmor("no \"" + std::string(kArmorBegin) + "\" line");
        if (armorStage != ArmorStage::Trailing) return badArmor("the input ends before the END line");
        return CStatus::success();
    }

    // ---- Binary layer ----

    CStatus feedBinary(ByteView data) {
        while (!data.empty()) {
            switch (stage) {
                case Stage::Header: {
                    const auto* lf = static_cast<const std::uint8_t*>(std::memchr(data.data(), '\n', data.size()));
                    const std::size_t take =
                        lf != nullptr ? static_cast<std::size_t>(lf - data.data()) + 1 : data.size();
                    if (header.size() + take > kAgeMaxHeaderSize) {
                        return badHeader("header is larger than " + std::to_string(kAgeMaxHeaderSize) + " bytes");
                    }
                    header.append(asText(data.first(take)));
                    data = data.subspan(take);
                    if (lf == nullptr) {
                        // Reject a wrong version line early rather than buffering junk.
                        if (headerStage == HeaderStage::Version &&
                            !startsWith(kVersionLine, std::string_view(header).substr(0, kVersionLine.size() + 1))) {
                            return badHeader("not an age v1 file (the first line is not \"" +
                                             std::string(kVersionLine) + "\")");
                        }
                        return CStatus::success();
                    }
                    XS_TRY(headerLine(std::string_view(header).substr(lineStart, header.size() - 1 - lineStart)));
                    lineStart = header.size();
                    break;
                }
                case Stage::Nonce: {
                    const std::size_t n = std::min(kAgeNonceSize - nonce.size(), data.size());
                    nonce.insert(nonce.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
                    data = data.subspan(n);
                    if (nonce.size() == kAgeNonceSize) {
                        headerHash.update(nonce);
                        headerDigest = headerHash.finish();
                        XS_TRY(startPayload());
                    }
                    break;
                }
                case Stage::Payload:
                    return feedPayload(data);
            }
        }
        return CStatus::success();
    }

    CStatus finishBinary() {
        switch (stage) {
            case Stage::Header:
                if (header.empty()) return badHeader("the input is empty", CryptoError::Truncated);
                return badHeader("the input ends inside the header", CryptoError::Truncated);
            case Stage::Nonce:
                return badHeader("the input ends before the 16-byte payload nonce", CryptoError::Truncated);
            case Stage::Payload:
                return finishPayload();
        }
        return CStatus::success();
    }

    // ---- Payload layer ----
    //
    // STREAM as age reads it (and as the CCTV payload hashes require): a complete full-size chunk
    // is opened at once, first as a non-last chunk and, if that fails, as the last one; its
    // plaintext is released as soon as it authenticates. Anything after a chunk that opened as the
    // last one is an error, as is an input that ends on a chunk boundary without a last chunk
    // (including no chunk at all). A shorter chunk can only be the last: it is opened when the
    // input ends, and may be empty only if it is the first. So a truncated or extended file still
    // releases every chunk that authenticated before the damage, then fails.

    Error<CryptoError> badPayload(CryptoError code, const std::string& message) {
        return reject(AgeFailure::Payload, code, message);
    }

    CStatus deliver(std::size_t size) {
        if (size == 0) return CStatus::success();
        auto st = sink(ByteView(plainChunk.data(), size));
        if (!st) kind = AgeFailure::Output;
        return st;
    }

    CStatus openChunk(ByteView chunk, bool knownLast) {
        if (counter == std::numeric_limits<std::uint64_t>::max()) {
            return badPayload(CryptoError::Malformed, "too many chunks");
        }
        const std::string which = "chunk " + std::to_string(counter);
        if (chunk.size() < kAeadTagSize) {
            return badPayload(CryptoError::Truncated, "the payload ends inside " + which);
        }
        bool last = knownLast;
        CStatus st = payload->open(chunkNonce(last), {}, chunk, plainChunk.data());
        if (!st && !last && st.code() == CryptoError::AuthenticationFailed) {
            last = true;  // a full-size chunk may be the last one
            st = payload->open(chunkNonce(last), {}, chunk, plainChunk.data());
        }
        if (st && last) sawLastChunk = true;
        if (!st) {
            if (st.code() == CryptoError::AuthenticationFailed) {
                return badPayload(CryptoError::AuthenticationFailed, which + " does not authenticate");
            }
            return badPayload(st.code(), st.message());
        }
        if (sawLastChunk && counter > 0 && chunk.size() == kAeadTagSize) {
            OPENSSL_cleanse(plainChunk.data(), plainChunk.size());
            return badPayload(CryptoError::Malformed, "the last chunk is empty but is not the first");
        }
        ++counter;
        return deliver(chunk.size() - kAeadTagSize);
    }

    // 11-byte big-endian chunk counter || last-chunk flag.
    std::array<std::uint8_t, kAeadNonceSize> chunkNonce(bool last) const {
        std::array<std::uint8_t, kAeadNonceSize> n{};
        for (int i = 0; i < 8; ++i) n[10 - i] = static_cast<std::uint8_t>(counter >> (8 * i));
        n[11] = last ? 0x01 : 0x00;
        return n;
    }

    CStatus feedPayload(ByteView data) {
        while (!data.empty()) {
            if (sawLastChunk) return badPayload(CryptoError::Malformed, "data after the last chunk");
            if (sealedFill == 0 && data.size() >= kSealedChunkSize) {  // a whole chunk in the input
                XS_TRY(openChunk(data.first(kSealedChunkSize), /*knownLast=*/false));
                data = data.subspan(kSealedChunkSize);
                continue;
            }
            const std::size_t n = std::min(kSealedChunkSize - sealedFill, data.size());
            std::memcpy(sealedChunk.data() + sealedFill, data.data(), n);
            sealedFill += n;
            data = data.subspan(n);
            if (sealedFill == kSealedChunkSize) {
                sealedFill = 0;
                XS_TRY(openChunk(sealedChunk, /*knownLast=*/false));
            }
        }
        return CStatus::success();
    }

    CStatus finishPayload() {
        if (sawLastChunk) return CStatus::success();
        if (sealedFill == 0) {
            return badPayload(CryptoError::Truncated,
                              counter == 0 ? "the payload has no chunks" : "the payload ends without its last chunk");
        }
        const std::size_t size = sealedFill;
        sealedFill = 0;
        return openChunk(ByteView(sealedChunk.data(), size), /*knownLast=*/true);
    }

    // One complete header line, without its LF. A CR is not a line end: it is rejected wherever it
    // appears, by the version-line comparison, the argument character set or the base64 alphabet.
    CStatus headerLine(std::string_view line) {
        switch (headerStage) {
            case HeaderStage::Version:
                if (line != kVersionLine) {
                    return badHeader("not an age v1 file (the first line is not \"" + std::string(kVersionLine) +
                                     "\")");
                }
                headerStage = HeaderStage::StanzaStart;
                return CStatus::success();
            case HeaderStage::StanzaStart: {
                if (startsWith(line, kMacPrefix)) return macLine(line);
                if (!startsWith(line, kStanzaPrefix)) return badHeader("a line starts neither a stanza nor the MAC");
                const auto parts = splitSpaces(line);
                if (parts[0] != kStanzaPrefix || parts.size() < 2) {
                    return badHeader("malformed stanza line (it needs \"-> TYPE [ARGS]\")");
                }
                current = Stanza{};
                for (std::size_t i = 1; i < parts.size(); ++i) {
                    if (!validArgument(parts[i])) {
                        return badHeader("stanza argument is empty or has a character outside 33..126");
                    }
                    if (i == 1) {
                        current.type = std::string(parts[i]);
                    } else {
                        current.args.emplace_back(parts[i]);
                    }
                }
                headerStage = HeaderStage::StanzaBody;
                return CStatus::success();
            }
            case HeaderStage::StanzaBody: {
                auto bytes = fromBase64(line, /*requirePad=*/false);
                if (!bytes) {
                    return badHeader(startsWith(line, kMacPrefix) || startsWith(line, kStanzaPrefix)
                                         ? "stanza body does not end with a line shorter than 64 columns"
                                         : "stanza body line is not canonical unpadded base64");
                }
                if (bytes->size() > kBytesPerLine) return badHeader("stanza body line longer than 64 columns");
                current.body.insert(current.body.end(), bytes->begin(), bytes->end());
                if (bytes->size() < kBytesPerLine) {  // the short line ends the body
                    stanzas.push_back(std::move(current));
                    current = Stanza{};
                    headerStage = HeaderStage::StanzaStart;
                }
                return CStatus::success();
            }
        }
        return CStatus::success();
    }

    CStatus macLine(std::string_view line) {
        const auto parts = splitSpaces(line);
        if (parts[0] != kMacPrefix || parts.size() != 2) {
            return badHeader("malformed MAC line (it needs \"--- \" and one base64 MAC)");
        }
        auto mac = fromBase64(parts[1], /*requirePad=*/false);
        if (!mac || mac->size() != kMacSize) {
            return badHeader("the MAC is not 32 bytes of canonical unpadded base64");
        }
        const std::size_t macEnd = lineStart + kMacPrefix.size();  // the MAC covers up to "---"
        XS_TRY(unwrapFileKey());
        auto expected = headerMac(fileKey, std::string_view(header).substr(0, macEnd));
        if (!expected) return badHeader(expected.message(), expected.code());
        if (!constantTimeEqual(*expected, *mac)) {
            fileKey.wipe();
            return reject(AgeFailure::HeaderMac, CryptoError::AuthenticationFailed,
                          "the header MAC does not verify (the header was altered)");
        }
        // The header is done with: release it (it may have been up to 1 MiB).
        headerHash.update(asBytes(header));
        std::string().swap(header);
        std::vector<Stanza>().swap(stanzas);
        lineStart = 0;
        stage = Stage::Nonce;
        return CStatus::success();
    }

    CStatus unwrapFileKey() {
        // Check every X25519 stanza's shape first, so that a malformed one is a header failure
        // whatever the identities.
        std::vector<std::pair<Bytes, const Bytes*>> candidates;  // (share, wrapped file key)
        for (const Stanza& s : stanzas) {
            if (s.type != kX25519Type) continue;  // other types are parsed, then skipped
            if (s.args.size() != 1) return badHeader("X25519 stanza needs exactly one argument");
            auto share = fromBase64(s.args[0], /*requirePad=*/false);
            if (!share) return badHeader("X25519 share is not canonical unpadded base64");
            if (share->size() != kX25519KeySize) return badHeader("X25519 share is not 32 bytes");
            if (s.body.size() != kWrappedFileKeySize) {
                return badHeader("X25519 stanza body is not a wrapped 16-byte file key");
            }
            candidates.emplace_back(std::move(share).value(), &s.body);
        }
        for (const Identity& id : identities) {
            for (const auto& [share, body] : candidates) {
                auto shared = x25519(id.privateKey, share);
                if (!shared) {
                    if (shared.code() == CryptoError::InvalidArgument) {
                        return badHeader("X25519 share is a low-order point (all-zero shared secret)");
                    }
                    return badHeader(shared.message(), shared.code());
                }
                auto wrapKey = x25519WrapKey(*shared, share, id.publicKey);
                if (!wrapKey) return badHeader(wrapKey.message(), wrapKey.code());
                auto aead = Aead::create(AeadAlg::ChaCha20Poly1305, *wrapKey);
                if (!aead) return badHeader(aead.message(), aead.code());
                SecretBytes key(kAgeFileKeySize);
                auto st = aead->open(kZeroNonce, {}, *body, key.data());
                if (st) {
                    fileKey = std::move(key);
                    return CStatus::success();
                }
                if (st.code() != CryptoError::AuthenticationFailed) return badHeader(st.message(), st.code());
            }
        }
        return reject(AgeFailure::NoMatch, CryptoError::AuthenticationFailed,
                      "no identity matches any of the " + std::to_string(candidates.size()) +
                          " X25519 stanza(s) among " + std::to_string(stanzas.size()));
    }

    CStatus startPayload() {
        auto payloadKey = deriveKey(fileKey, nonce, kPayloadLabel);
        fileKey.wipe();
        if (!payloadKey) return badHeader(payloadKey.message(), payloadKey.code());
        auto aead = Aead::create(AeadAlg::ChaCha20Poly1305, *payloadKey);
        if (!aead) return badHeader(aead.message(), aead.code());
        payload.emplace(std::move(aead).value());
        sealedChunk.resize(kSealedChunkSize);
        plainChunk = SecretBytes(kAgeChunkSize);
        stage = Stage::Payload;
        return CStatus::success();
    }
};

CResult<AgeDecryptor> AgeDecryptor::create(std::span<const SecretBytes> identities, ByteSink plaintextOut,
                                           AgeInputFormat format) {
    if (!plaintextOut) return fail(CryptoError::InvalidArgument, "age decryption needs an output sink");
    std::vector<Identity> ids;
    ids.reserve(identities.size());
    for (const SecretBytes& key : identities) {
        if (key.size() != kX25519KeySize) {
            return fail(CryptoError::InvalidArgument, "age identities are 32-byte X25519 private keys");
        }
        auto pub = x25519PublicFromPrivate(key);
        if (!pub) return pub.error();
        ids.push_back(Identity{key.clone(), std::move(pub).value()});
    }
    AgeDecryptor dec;
    dec.m_impl = std::make_unique<Impl>();
    dec.m_impl->identities = std::move(ids);
    dec.m_impl->sink = std::move(plaintextOut);
    dec.m_impl->format = format;
    return dec;
}

AgeDecryptor::~AgeDecryptor() = default;
AgeDecryptor::AgeDecryptor(AgeDecryptor&&) noexcept = default;
AgeDecryptor& AgeDecryptor::operator=(AgeDecryptor&&) noexcept = default;

CStatus AgeDecryptor::write(ByteView input) {
    if (!m_impl) return fail(CryptoError::InvalidArgument, "AgeDecryptor used after move");
    Impl& d = *m_impl;
    if (auto st = d.usable(); !st) return st;
    return d.record(d.feed(input));
}

CStatus AgeDecryptor::finish() {
    if (!m_impl) return fail(CryptoError::InvalidArgument, "AgeDecryptor used after move");
    Impl& d = *m_impl;
    if (auto st = d.usable(); !st) return st;
    auto st = d.record(d.finishInput());
    if (st) d.finished = true;
    return st;
}

std::optional<AgeFailure> AgeDecryptor::failure() const {
    if (!m_impl || !m_impl->error) return std::nullopt;
    return m_impl->kind;
}

std::optional<Digest> AgeDecryptor::headerDigest() const { return m_impl ? m_impl->headerDigest : std::nullopt; }

}  // namespace xs::crypto
