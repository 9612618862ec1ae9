// The age v1 file format (C2SP age spec, https://c2sp.org/age), X25519 recipients only.
//
// A file is a text header followed by a binary payload:
//
//   age-encryption.org/v1
//   -> X25519 <base64 ephemeral share>
//   <base64 of the wrapped file key>
//   --- <base64 header MAC>
//   <16-byte nonce><STREAM payload>
//
// The 16-byte file key is wrapped once per recipient: wrap key = HKDF-SHA256(ikm = X25519(eph,
// recipient), salt = share || recipient, info = "age-encryption.org/v1/X25519"), sealed with
// ChaCha20-Poly1305 under an all-zero nonce. The MAC is HMAC-SHA256 under HKDF(file key, "",
// "header") over the header up to and including "---". The payload key is HKDF(file key, nonce,
// "payload") and the payload is STREAM with 64 KiB chunks (the encryptor uses crypto/stream.h's
// StreamSealer). Base64 in the header is the standard alphabet, unpadded and canonical; stanza
// bodies wrap at 64 columns and end with a line shorter than 64 (possibly empty).
//
// Both directions stream with bounded memory: the encryptor holds one chunk, the decryptor holds
// the header (refused beyond kAgeMaxHeaderSize) and then one chunk. The decryptor opens the payload
// itself, with age's release rules (which the CCTV payload hashes pin down, and which differ from
// StreamOpener's in two edge cases): each chunk's plaintext is released as soon as it authenticates
// (a full-size chunk is tried as a middle chunk, then as the last), and damage after it (data after
// the last chunk, or a file cut at a chunk boundary) fails the decryption afterwards. Unauthenticated
// plaintext is never released. The decryptor also reads the ASCII armor (strict PEM, label "AGE
// ENCRYPTED FILE", 64-column lines, canonical padded base64, LF or CRLF line ends, whitespace
// allowed only before and after the armor); the encryptor writes binary files only.
//
// Errors are values; the first one is sticky (later calls return it again). Calls after a
// successful finish() are InvalidArgument.
#pragma once
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include "crypto/bytes.h"
#include "crypto/error.h"
#include "crypto/hash.h"
#include "crypto/stream.h"

namespace xs::crypto {

constexpr std::size_t kAgeFileKeySize = 16;
constexpr std::size_t kAgeNonceSize = 16;
constexpr std::size_t kAgeChunkSize = 64 * 1024;
// Largest header (version line to the MAC line's LF, after removing any armor) the decryptor
// accepts. Real headers are ~200 bytes per recipient.
constexpr std::size_t kAgeMaxHeaderSize = std::size_t{1} << 20;

// Which stage of decryption rejected the input, matching the kinds of the C2SP/CCTV age vectors.
enum class AgeFailure {
    Armor,      // the ASCII armor is invalid (CryptoError::Malformed)
    Header,     // the header does not parse or breaks a rule (bad stanza syntax, non-canonical
                // base64, X25519 share not 32 bytes, all-zero shared secret, file key not 16 bytes,
                // bad version or MAC line, CR in the header, over kAgeMaxHeaderSize), or the input
                // ends before the payload nonce is complete (Malformed, or Truncated when cut short)
    NoMatch,    // the header parses but no identity unwraps any stanza (AuthenticationFailed)
    HeaderMac,  // a file key was unwrapped but the header MAC is wrong (AuthenticationFailed)
    Payload,    // STREAM decryption failed before a clean end: a chunk does not authenticate
                // (AuthenticationFailed), the payload has no chunks, ends inside one or without
                // its last one (Truncated), data follows the last chunk or the last chunk is
                // empty after others (Malformed)
    Output,     // the plaintext sink returned an error (that error, unchanged)
};

const char* ageFailureName(AgeFailure failure);  // "armor", "header", "no match", ...

// How the decryptor reads its input. Auto takes input that starts with "age-encryption.org/" (or
// is a prefix of it, such as empty input) as binary and anything else as armored, so non-age input
// is reported as an Armor failure.
enum class AgeInputFormat { Auto, Binary, Armored };

// ---- Key strings ----------------------------------------------------------------------------

// "age1…" for a 32-byte X25519 public key; InvalidArgument for another size.
CResult<std::string> ageRecipientToString(ByteView publicKey);
// The 32-byte public key of an "age1…" string (lowercase only, as age requires). Malformed otherwise.
CResult<Bytes> ageRecipientFromString(std::string_view text);
// "AGE-SECRET-KEY-1…" (uppercase) for a 32-byte X25519 private key, as ASCII characters without a
// terminator, in SecretBytes because the string is the key. InvalidArgument for another size.
CResult<SecretBytes> ageIdentityToString(ByteView privateKey);
// The 32-byte private key of an "AGE-SECRET-KEY-1…" string (uppercase only). Malformed otherwise.
CResult<SecretBytes> ageIdentityFromString(std::string_view text);

// ---- Encryption -----------------------------------------------------------------------------

class AgeEncryptor {
public:
    // recipients: one or more 32-byte X25519 public keys (else InvalidArgument; a low-order key is
    // InvalidArgument too). Writes the whole header and the payload nonce to `out` before
    // returning; ciphertext chunks follow as write() fills them. Output is binary (not armored).
    static CResult<AgeEncryptor> create(std::span<const Bytes> recipients, ByteSink out);
    ~AgeEncryptor();
    AgeEncryptor(AgeEncryptor&&) noexcept;
    AgeEncryptor& operator=(AgeEncryptor&&) noexcept;

    CStatus write(ByteView plaintext);  // any number of times, any sizes
    CStatus finish();                   // seals the final chunk; required

    // SHA-256 of the file's bytes before its first payload chunk (the header through the MAC
    // line's LF, then the 16-byte payload nonce). Random per file, so it names the file; with the
    // header MAC it pins the file key, and so the payload that key authenticates.
    Digest headerDigest() const;

private:
    AgeEncryptor() = default;
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// ---- Decryption -----------------------------------------------------------------------------

class AgeDecryptor {
public:
    // identities: 32-byte X25519 private keys (copied; any count, including none, which can only
    // end in a failure). Plaintext goes to `plaintextOut` one authenticated chunk at a time.
    // InvalidArgument for a key of another size or a missing sink.
    static CResult<AgeDecryptor> create(std::span<const SecretBytes> identities, ByteSink plaintextOut,
                                        AgeInputFormat format = AgeInputFormat::Auto);
    ~AgeDecryptor();
    AgeDecryptor(AgeDecryptor&&) noexcept;
    AgeDecryptor& operator=(AgeDecryptor&&) noexcept;

    CStatus write(ByteView input);  // the encrypted file, split anywhere
    CStatus finish();               // end of input: fails unless the whole file was valid

    // The stage that rejected the input, once write() or finish() has failed because of it; nullopt
    // while all is well and for API misuse (InvalidArgument after finish, use after move).
    std::optional<AgeFailure> failure() const;
    // AgeEncryptor::headerDigest() of the input, once its header MAC verified and its nonce was
    // read; nullopt before that.
    std::optional<Digest> headerDigest() const;

private:
    AgeDecryptor() = default;
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace xs::crypto
