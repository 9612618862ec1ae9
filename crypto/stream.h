// STREAM chunked AEAD as in age (C2SP age spec, "payload"): the payload is split into chunks of
// `chunkSize` plaintext bytes (64 KiB in age); chunk i is sealed with nonce = 11-byte big-endian
// i || 1 byte last-flag (0x01 on the final chunk, else 0x00), no associated data. Only the final
// chunk may be shorter than chunkSize; it may be empty only if it is also the first chunk.
// Reordering, truncation, extension and bit flips are all detected.
//
// Both directions keep one chunk buffered: a full chunk is only sealed (or opened) as non-last once
// more data shows it is not the final one, so a payload that is a multiple of chunkSize ends in a
// full-size last chunk, never in an extra empty one. Sinks get views that are valid only for the
// duration of the call. The first error (including one returned by the sink) is sticky: later
// calls return it again. Calls after a successful finish() are InvalidArgument.
//
// Beyond age: the final chunk may carry associated data (`lastAad`, empty in age), so that a
// value known only at the end of the stream (the content's hash, for evidence files) is bound to
// the whole stream by the one tag that also marks it complete. Middle chunks never carry any.
#pragma once
#include <functional>
#include <memory>
#include "crypto/aead.h"

namespace xs::crypto {

using ByteSink = std::function<CStatus(ByteView)>;

class StreamSealer {
public:
    // key: 32 bytes; chunkSize: 1 byte to 1 GiB (else InvalidArgument). Output (ciphertext
    // chunks) goes to sink as produced.
    static CResult<StreamSealer> create(AeadAlg alg, ByteView key, ByteSink sink,
                                        std::size_t chunkSize = 64 * 1024);
    ~StreamSealer();
    StreamSealer(StreamSealer&&) noexcept;
    StreamSealer& operator=(StreamSealer&&) noexcept;
    CStatus write(ByteView plaintext);  // may be called any number of times
    CStatus finish(ByteView lastAad = {});  // seals the final chunk; required
private:
    StreamSealer() = default;
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

class StreamOpener {
public:
    // Plaintext goes to sink only after its chunk authenticated. chunkSize must match the sealer's.
    // Errors:
    //  - AuthenticationFailed: a chunk does not verify (bit flip, reordering, wrong key, garbage);
    //  - Truncated (from finish()): no chunk at all, the data ends less than a tag (16 bytes) into
    //    a chunk, or the last chunk seen is a valid non-last chunk (cut at a chunk boundary);
    //  - Malformed: a full-size chunk that verifies as the last chunk is followed by more data (that
    //    chunk's plaintext is not released), or an empty last chunk follows other chunks.
    // Data appended after a *short* last chunk cannot be told apart from a damaged chunk (the
    // chunk boundaries are unknown) and is reported as AuthenticationFailed, as in age.
    // lastAad: the final chunk's associated data, as given to the sealer's finish() (a final
    // chunk sealed with other associated data is AuthenticationFailed).
    static CResult<StreamOpener> create(AeadAlg alg, ByteView key, ByteSink sink,
                                        std::size_t chunkSize = 64 * 1024, ByteView lastAad = {});
    ~StreamOpener();
    StreamOpener(StreamOpener&&) noexcept;
    StreamOpener& operator=(StreamOpener&&) noexcept;
    CStatus write(ByteView ciphertext);  // any split of the ciphertext
    CStatus finish();                    // Truncated if the last chunk was never seen
private:
    StreamOpener() = default;
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace xs::crypto
