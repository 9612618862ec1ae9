#include "crypto/stream.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <optional>

namespace xs::crypto {
namespace {

constexpr std::size_t kStreamKeySize = 32;
constexpr std::size_t kMaxChunkSize = std::size_t{1} << 30;

using Nonce = std::array<std::uint8_t, kAeadNonceSize>;

// 11-byte big-endian counter (the top three bytes stay zero for a 64-bit counter) || last flag.
Nonce chunkNonce(std::uint64_t counter, bool last) {
    Nonce nonce{};
    for (int i = 0; i < 8; ++i) {
        nonce[10 - i] = static_cast<std::uint8_t>(counter >> (8 * i));
    }
    nonce[11] = last ? 0x01 : 0x00;
    return nonce;
}

CStatus checkCreateArgs(ByteView key, const ByteSink& sink, std::size_t chunkSize) {
    if (key.size() != kStreamKeySize) {
        return fail(CryptoError::InvalidArgument, "STREAM needs a 32-byte key");
    }
    if (!sink) return fail(CryptoError::InvalidArgument, "STREAM needs an output sink");
    if (chunkSize == 0 || chunkSize > kMaxChunkSize) {
        return fail(CryptoError::InvalidArgument, "STREAM chunk size must be 1 byte to 1 GiB");
    }
    return CStatus::success();
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct StreamSealer::Impl {
    Aead aead;
    ByteSink sink;
    std::size_t chunkSize;
    std::uint64_t counter = 0;
    Bytes pending;  // plaintext of the chunk being filled, chunkSize bytes
    std::size_t pendingSize = 0;
    Bytes sealed;   // one sealed chunk, chunkSize + tag
    std::optional<Error<CryptoError>> failure;
    bool finished = false;

    Impl(Aead a, ByteSink s, std::size_t size)
        : aead(std::move(a)), sink(std::move(s)), chunkSize(size), pending(size),
          sealed(size + kAeadTagSize) {}
    ~Impl() { OPENSSL_cleanse(pending.data(), pending.size()); }

    CStatus sealChunk(ByteView plaintext, bool last, ByteView lastAad = {}) {
        if (counter == std::numeric_limits<std::uint64_t>::max()) {
            return fail(CryptoError::InvalidArgument, "STREAM chunk counter exhausted");
        }
        const Nonce nonce = chunkNonce(counter, last);
        if (auto st = aead.seal(nonce, last ? lastAad : ByteView(), plaintext, sealed.data()); !st) return st;
        ++counter;
        return sink(ByteView(sealed.data(), plaintext.size() + kAeadTagSize));
    }

    CStatus record(CStatus st) {
        if (!st) failure = st.error();
        return st;
    }

    CStatus usable() const {
        if (failure) return *failure;
        if (finished) return fail(CryptoError::InvalidArgument, "STREAM sealer already finished");
        return CStatus::success();
    }
};

CResult<StreamSealer> StreamSealer::create(AeadAlg alg, ByteView key, ByteSink sink,
                                           std::size_t chunkSize) {
    if (auto st = checkCreateArgs(key, sink, chunkSize); !st) return st.error();
    auto aead = Aead::create(alg, key);
    if (!aead) return aead.error();
    StreamSealer sealer;
    sealer.m_impl = std::make_unique<Impl>(std::move(aead).value(), std::move(sink), chunkSize);
    return sealer;
}

StreamSealer::~StreamSealer() = default;
StreamSealer::StreamSealer(StreamSealer&&) noexcept = default;
StreamSealer& StreamSealer::operator=(StreamSealer&&) noexcept = default;

CStatus StreamSealer::write(ByteView plaintext) {
    if (!m_impl) return fail(CryptoError::InvalidArgument, "StreamSealer used after move");
    Impl& s = *m_impl;
    if (auto st = s.usable(); !st) return st;
    while (!plaintext.empty()) {
        // A full chunk is only sealed once more data shows it is not the last one.
        if (s.pendingSize == s.chunkSize) {
            if (auto st = s.record(s.sealChunk(s.pending, false)); !st) return st;
            s.pendingSize = 0;
        }
        if (s.pendingSize == 0 && plaintext.size() > s.chunkSize) {
            if (auto st = s.record(s.sealChunk(plaintext.first(s.chunkSize), false)); !st) return st;
            plaintext = plaintext.subspan(s.chunkSize);
            continue;
        }
        const std::size_t n = std::min(s.chunkSize - s.pendingSize, plaintext.size());
        std::memcpy(s.pending.data() + s.pendingSize, plaintext.data(), n);
        s.pendingSize += n;
        plaintext = plaintext.subspan(n);
    }
    return CStatus::success();
}

CStatus StreamSealer::finish(ByteView lastAad) {
    if (!m_impl) return fail(CryptoError::InvalidArgument, "StreamSealer used after move");
    Impl& s = *m_impl;
    if (auto st = s.usable(); !st) return st;
    // pendingSize is 0 here only when nothing was written: the one empty chunk an empty payload has.
    auto st = s.record(s.sealChunk(ByteView(s.pending.data(), s.pendingSize), true, lastAad));
    OPENSSL_cleanse(s.pending.data(), s.pendingSize);
    s.pendingSize = 0;
    if (st) s.finished = true;
    return st;
}

// ---------------------------------------------------------------------------------------------

struct StreamOpener::Impl {
    Aead aead;
    ByteSink sink;
    std::size_t chunkSize;
    std::size_t sealedChunkSize;
    std::uint64_t counter = 0;
    Bytes pending;  // ciphertext of the chunk being collected, sealedChunkSize bytes
    std::size_t pendingSize = 0;
    Bytes plain;    // one opened chunk, chunkSize bytes
    Bytes lastAad;  // the final chunk's associated data
    std::optional<Error<CryptoError>> failure;
    bool finished = false;

    Impl(Aead a, ByteSink s, std::size_t size, ByteView aad)
        : aead(std::move(a)), sink(std::move(s)), chunkSize(size), sealedChunkSize(size + kAeadTagSize),
          pending(sealedChunkSize), plain(size), lastAad(aad.begin(), aad.end()) {}
    ~Impl() { OPENSSL_cleanse(plain.data(), plain.size()); }

    CStatus tryOpen(ByteView chunk, bool last) {
        const Nonce nonce = chunkNonce(counter, last);
        return aead.open(nonce, last ? ByteView(lastAad) : ByteView(), chunk, plain.data());
    }

    CStatus deliver(std::size_t size) {
        ++counter;
        if (size == 0) return CStatus::success();
        return sink(ByteView(plain.data(), size));
    }

    // A full-size chunk with more data after it.
    CStatus openMiddle(ByteView chunk) {
        if (counter == std::numeric_limits<std::uint64_t>::max()) {
            return fail(CryptoError::Malformed, "STREAM chunk counter exhausted");
        }
        auto st = tryOpen(chunk, false);
        if (!st) {
            if (st.code() == CryptoError::AuthenticationFailed && tryOpen(chunk, true)) {
                OPENSSL_cleanse(plain.data(), plain.size());
                return fail(CryptoError::Malformed, "STREAM has data after its last chunk");
            }
            return st;
        }
        return deliver(chunk.size() - kAeadTagSize);
    }

    CStatus openLast() {
        const ByteView chunk(pending.data(), pendingSize);
        if (pendingSize == 0 && counter == 0) {
            return fail(CryptoError::Truncated, "STREAM is empty: it has no chunks");
        }
        if (pendingSize < kAeadTagSize) {
            return fail(CryptoError::Truncated, "STREAM ends inside a chunk");
        }
        auto st = tryOpen(chunk, true);
        if (st && pendingSize == kAeadTagSize && counter > 0) {
            return fail(CryptoError::Malformed, "STREAM has an empty last chunk after other chunks");
        }
        if (!st) {
            if (st.code() == CryptoError::AuthenticationFailed && pendingSize == sealedChunkSize &&
                tryOpen(chunk, false)) {
                OPENSSL_cleanse(plain.data(), plain.size());
                return fail(CryptoError::Truncated, "STREAM ends before its last chunk");
            }
            return st;
        }
        return deliver(pendingSize - kAeadTagSize);
    }

    CStatus record(CStatus st) {
        if (!st) failure = st.error();
        return st;
    }

    CStatus usable() const {
        if (failure) return *failure;
        if (finished) return fail(CryptoError::InvalidArgument, "STREAM opener already finished");
        return CStatus::success();
    }
};

CResult<StreamOpener> StreamOpener::create(AeadAlg alg, ByteView key, ByteSink sink,
                                           std::size_t chunkSize, ByteView lastAad) {
    if (auto st = checkCreateArgs(key, sink, chunkSize); !st) return st.error();
    auto aead = Aead::create(alg, key);
    if (!aead) return aead.error();
    StreamOpener opener;
    opener.m_impl = std::make_unique<Impl>(std::move(aead).value(), std::move(sink), chunkSize, lastAad);
    return opener;
}

StreamOpener::~StreamOpener() = default;
StreamOpener::StreamOpener(StreamOpener&&) noexcept = default;
StreamOpener& StreamOpener::operator=(StreamOpener&&) noexcept = default;

CStatus StreamOpener::write(ByteView ciphertext) {
    if (!m_impl) return fail(CryptoError::InvalidArgument, "StreamOpener used after move");
    Impl& o = *m_impl;
    if (auto st = o.usable(); !st) return st;
    while (!ciphertext.empty()) {
        // A full chunk is held back until more data shows that it is not the last one.
        if (o.pendingSize == o.sealedChunkSize) {
            if (auto st = o.record(o.openMiddle(o.pending)); !st) return st;
            o.pendingSize = 0;
        }
        if (o.pendingSize == 0 && ciphertext.size() > o.sealedChunkSize) {
            if (auto st = o.record(o.openMiddle(ciphertext.first(o.sealedChunkSize))); !st) return st;
            ciphertext = ciphertext.subspan(o.sealedChunkSize);
            continue;
        }
        const std::size_t n = std::min(o.sealedChunkSize - o.pendingSize, ciphertext.size());
        std::memcpy(o.pending.data() + o.pendingSize, ciphertext.data(), n);
        o.pendingSize += n;
        ciphertext = ciphertext.subspan(n);
    }
    return CStatus::success();
}

CStatus StreamOpener::finish() {
    if (!m_impl) return fail(CryptoError::InvalidArgument, "StreamOpener used after move");
    Impl& o = *m_impl;
    if (auto st = o.usable(); !st) return st;
    auto st = o.record(o.openLast());
    if (st) o.finished = true;
    return st;
}

}  // namespace xs::crypto
