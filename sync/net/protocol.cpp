#include "sync/net/protocol.h"

#include <cstring>

#include "crypto/encoding.h"
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

namespace xs::sync::net {

std::string accessLogGenesis() { return std::string(64, '0'); }

SResult<AccessLogAnswer> parseAccessLogAnswer(std::string_view body) {
    auto j = parseBoundedJson(body, kMaxResponseBytes, "access-log answer");
    if (!j) return j.error();
    auto bad = [] { return fail(SyncError::Invalid, "the server's access-log answer is malformed"); };
    if (!j->is_object() || j->size() != 2 || !j->contains("entries") || !(*j)["entries"].is_array() ||
        !j->contains("more") || !(*j)["more"].is_boolean())
        return bad();
    const Json& list = (*j)["entries"];
    if (list.size() > kMaxAccessEntries) return bad();
    AccessLogAnswer out;
    out.more = (*j)["more"].get<bool>();
    for (const auto& e : list) {
        if (!e.is_object() || e.size() != 3 || !e.contains("seq") || !e["seq"].is_number_integer() ||
            !e.contains("text") || !e["text"].is_string() || !e.contains("hash") || !e["hash"].is_string())
            return bad();
        out.entries.push_back({e["seq"].get<std::int64_t>(), e["text"].get<std::string>(), e["hash"].get<std::string>()});
    }
    return out;
}

SStatus verifyAccessLog(const std::vector<AccessLogEntry>& entries, std::int64_t afterSeq, const std::string& afterHash) {
    std::int64_t seq = afterSeq;
    std::string prev = afterHash;
    for (const auto& e : entries) {
        const std::string at = "access-log entry " + std::to_string(seq + 1);
        if (e.seq != seq + 1) return fail(SyncError::Corrupt, at + " is missing (the next one is " + std::to_string(e.seq) + ")");
        if (crypto::toHex(crypto::sha256(crypto::asBytes(e.text))) != e.hash)
            return fail(SyncError::Corrupt, at + " was altered: its text does not hash to its hash");
        auto j = parseBoundedJson(e.text, 64 * 1024, "access-log entry");
        if (!j || !j->is_object() || !j->contains("seq") || (*j)["seq"] != e.seq || !j->contains("prev") ||
            !(*j)["prev"].is_string())
            return fail(SyncError::Corrupt, at + " is malformed");
        if ((*j)["prev"].get<std::string>() != prev)
            return fail(SyncError::Corrupt, at + " does not follow the entry before it (removed, reordered or rewritten)");
        prev = e.hash;
        ++seq;
    }
    return {};
}

SResult<ForksAnswer> parseForksAnswer(std::string_view body) {
    auto j = parseBoundedJson(body, kMaxResponseBytes, "forks answer");
    if (!j) return j.error();
    auto bad = [](const std::string& why) { return fail(SyncError::Invalid, "the server's fork reports are malformed: " + why); };
    if (!j->is_object() || j->size() != 2 || !j->contains("forks") || !(*j)["forks"].is_array() || !j->contains("more") ||
        !(*j)["more"].is_boolean())
        return bad("not {\"forks\": [...], \"more\": bool}");
    const Json& list = (*j)["forks"];
    if (list.size() > kMaxForkReports) return bad("too many");
    ForksAnswer out;
    out.more = (*j)["more"].get<bool>();
    for (const auto& e : list) {
        if (!e.is_object() || e.size() != 5 || !e.contains("seq") || !e["seq"].is_number_integer() || !e.contains("device") ||
            !e["device"].is_string() || !e.contains("changeset") || !e.contains("detail") || !e["detail"].is_string() ||
            !e.contains("time_ms") || !e["time_ms"].is_number_integer())
            return bad("an entry lacks seq, device, changeset, detail or time_ms");
        auto cs = changeSetFromJson(e["changeset"]);
        if (!cs) return bad(cs.error().message);
        if (cs->device != e["device"].get<std::string>()) return bad("an entry's device is not its change set's");
        out.forks.push_back({e["seq"].get<std::int64_t>(), std::move(*cs), e["detail"].get<std::string>(), e["time_ms"].get<std::int64_t>()});
    }
    return out;
}

}  // namespace xs::sync::net
