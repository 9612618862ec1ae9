#include "sync/net/protocol.h"

#include <cstring>

#include "sync/suite.h"

namespace xs::sync::net {
namespace {

void putU32(crypto::Bytes& out, std::uint32_t v) {
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void putText(crypto::Bytes& out, std::string_view s) {
    const std::size_t at = out.size();
    out.resize(at + s.size());
    if (!s.empty()) std::memcpy(out.data() + at, s.data(), s.size());
}
void putLp(crypto::Bytes& out, std::string_view s) {
    putU32(out, static_cast<std::uint32_t>(s.size()));
    putText(out, s);
}

}  // namespace

crypto::Bytes requestSigningInput(std::string_view method, std::string_view target, std::int64_t timestampMs,
                                  std::string_view device, std::string_view nonce, const crypto::Digest& bodyHash) {
    crypto::Bytes b;
    putText(b, "xs-request-v1");
    b.push_back(0);
    b.push_back(kSuiteXs1);
    putLp(b, method);
    putLp(b, target);
    auto ts = static_cast<std::uint64_t>(timestampMs);
    for (int i = 7; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(ts >> (8 * i)));
    putLp(b, device);
    putLp(b, nonce);
    b.insert(b.end(), bodyHash.begin(), bodyHash.end());
    return b;
}

}  // namespace xs::sync::net
