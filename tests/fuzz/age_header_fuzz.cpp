// Fuzzes the age v1 decryptor (crypto/age.h): header and armor parsing, stanza unwrapping, header
// MAC and the STREAM payload. The identity is the one most C2SP/CCTV age vectors are made for, so
// those vectors seed the corpus. Invariant: the decryptor's input may be split anywhere, so the
// whole input at once and the same input in small pieces end alike (status, failure stage,
// released plaintext, header digest).
#include "crypto/age.h"
#include "tests/fuzz/fuzz_util.h"

#include <optional>
#include <vector>

namespace {

using namespace xs;

struct Outcome {
    bool ok = false;
    std::optional<crypto::AgeFailure> failure;
    crypto::Bytes plaintext;
    std::optional<crypto::Digest> headerDigest;
};

const std::vector<crypto::SecretBytes>& identities() {
    static const std::vector<crypto::SecretBytes> ids = [] {
        std::vector<crypto::SecretBytes> v;
        auto id = crypto::ageIdentityFromString("AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0");
        XS_FUZZ_CHECK(id.ok());
        v.push_back(std::move(*id));
        return v;
    }();
    return ids;
}

// Decrypts `in` written in pieces of `piece` bytes (0: all at once).
Outcome decrypt(crypto::ByteView in, std::size_t piece) {
    Outcome out;
    auto dec = crypto::AgeDecryptor::create(identities(), [&out](crypto::ByteView p) -> crypto::CStatus {
        out.plaintext.insert(out.plaintext.end(), p.begin(), p.end());
        return {};
    });
    XS_FUZZ_CHECK(dec.ok());
    bool failed = false;
    if (piece == 0) piece = in.size() + 1;
    for (std::size_t at = 0; at < in.size() && !failed; at += piece)
        failed = !dec->write(in.subspan(at, std::min(piece, in.size() - at)));
    if (!failed) out.ok = dec->finish().ok();
    out.failure = dec->failure();
    out.headerDigest = dec->headerDigest();
    XS_FUZZ_CHECK(out.ok || out.failure.has_value());
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    crypto::ByteView in(data, size);
    Outcome whole = decrypt(in, 0);
    Outcome pieces = decrypt(in, 1 + size % 13);
    XS_FUZZ_CHECK(whole.ok == pieces.ok);
    XS_FUZZ_CHECK(whole.failure == pieces.failure);
    XS_FUZZ_CHECK(whole.headerDigest == pieces.headerDigest);
    XS_FUZZ_CHECK(whole.plaintext == pieces.plaintext);
    return 0;
}
