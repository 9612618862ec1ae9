#include "sync/net/protocol.h"

#include <cstring>

#include "sync/changeset_codec.h"
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

namespace {

SResult<std::vector<ChangeSet>> changeSetList(const Json& list, std::size_t max, const char* what) {
    if (list.size() > max) return fail(SyncError::Invalid, std::string(what) + " holds more than " + std::to_string(max) + " change sets");
    std::vector<ChangeSet> out;
    out.reserve(list.size());
    for (std::size_t i = 0; i < list.size(); ++i) {
        auto cs = changeSetFromJson(list[i]);
        if (!cs) return fail(SyncError::Invalid, "change set " + std::to_string(i) + ": " + cs.error().message);
        out.push_back(std::move(*cs));
    }
    return out;
}

}  // namespace

SResult<std::vector<ChangeSet>> parsePushBody(std::string_view body) {
    auto j = parseBoundedJson(body, kMaxRequestBytes, "push body");
    if (!j) return j.error();
    if (!j->is_object() || j->size() != 1 || !j->contains("changesets") || !(*j)["changesets"].is_array())
        return fail(SyncError::Invalid, "a push body is {\"changesets\": [...]}");
    return changeSetList((*j)["changesets"], kMaxPushChangeSets, "a push");
}

SResult<PullAnswer> parsePullAnswer(std::string_view body) {
    auto j = parseBoundedJson(body, kMaxResponseBytes, "pull answer");
    if (!j) return j.error();
    if (!j->is_object() || j->size() != 3 || !j->contains("changesets") || !(*j)["changesets"].is_array() ||
        !j->contains("cursor") || !(*j)["cursor"].is_number_integer() || (*j)["cursor"].get<std::int64_t>() < 0 ||
        !j->contains("more") || !(*j)["more"].is_boolean())
        return fail(SyncError::Invalid, "the server's pull answer is malformed");
    auto list = changeSetList((*j)["changesets"], kMaxPullChangeSets, "a pull answer");
    if (!list) return list.error();
    return PullAnswer{std::move(*list), (*j)["cursor"].get<std::int64_t>(), (*j)["more"].get<bool>()};
}

}  // namespace xs::sync::net
