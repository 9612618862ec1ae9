// The sync protocol's access-log chain (sync/net/protocol.h): what the audit office's device
// checks before it believes the server's record of who pulled what.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "sync/changeset_codec.h"
#include "sync/net/protocol.h"

namespace xs::sync::net {
namespace {

std::string sha(const std::string& t) { return crypto::toHex(crypto::sha256(crypto::asBytes(t))); }

// A chain of n entries as a server writes it.
std::vector<AccessLogEntry> chain(int n) {
    std::vector<AccessLogEntry> out;
    std::string prev = accessLogGenesis();
    for (int seq = 1; seq <= n; ++seq) {
        AccessLogEntry e;
        e.seq = seq;
        e.text = Json{{"seq", seq}, {"time_ms", 1764000000000 + seq}, {"device", "device-" + std::to_string(seq % 3)},
                      {"action", "pull"}, {"channels", {"i.team"}}, {"range", "0.." + std::to_string(seq)}, {"prev", prev}}
                     .dump();
        e.hash = sha(e.text);
        prev = e.hash;
        out.push_back(e);
    }
    return out;
}

}  // namespace

TEST_CASE("access log: a chain verifies from the start and from any entry - each kind of tampering names the entry") {
    auto log = chain(6);
    CHECK(verifyAccessLog(log, 0, accessLogGenesis()).ok());
    CHECK(verifyAccessLog({log.begin() + 3, log.end()}, 3, log[2].hash).ok());
    CHECK(verifyAccessLog({}, 6, log[5].hash).ok());

    auto edited = log;
    edited[2].text.replace(edited[2].text.find("pull"), 4, "push");
    auto v = verifyAccessLog(edited, 0, accessLogGenesis());
    CHECK(v.code() == SyncError::Corrupt);
    CHECK(v.message().find("entry 3 was altered") != std::string::npos);

    auto rehashed = edited;  // the edit with its hash recomputed: the next entry no longer follows
    rehashed[2].hash = sha(rehashed[2].text);
    v = verifyAccessLog(rehashed, 0, accessLogGenesis());
    CHECK(v.code() == SyncError::Corrupt);
    CHECK(v.message().find("entry 4 does not follow") != std::string::npos);

    auto removed = log;
    removed.erase(removed.begin() + 1);
    v = verifyAccessLog(removed, 0, accessLogGenesis());
    CHECK(v.message().find("entry 2 is missing") != std::string::npos);

    auto swapped = log;
    std::swap(swapped[1], swapped[2]);
    CHECK(verifyAccessLog(swapped, 0, accessLogGenesis()).code() == SyncError::Corrupt);
    std::swap(swapped[1].seq, swapped[2].seq);  // renumbered too: the texts still say otherwise
    CHECK(verifyAccessLog(swapped, 0, accessLogGenesis()).code() == SyncError::Corrupt);

    // Continuing from a head it does not extend.
    CHECK(verifyAccessLog({log.begin() + 3, log.end()}, 3, log[1].hash).code() == SyncError::Corrupt);
}

TEST_CASE("access log: an answer is parsed strictly and within bounds") {
    CHECK(parseAccessLogAnswer(R"({"entries":[],"more":false})").ok());
    CHECK(!parseAccessLogAnswer(R"({"entries":[]})").ok());
    CHECK(!parseAccessLogAnswer(R"({"entries":[{"seq":"1","text":"{}","hash":""}],"more":false})").ok());
    CHECK(!parseAccessLogAnswer(R"({"entries":[{"seq":1,"text":"{}","hash":"","extra":1}],"more":false})").ok());
    CHECK(!parseAccessLogAnswer("[").ok());
    std::string many = R"({"more":false,"entries":[)";
    for (std::size_t i = 0; i <= kMaxAccessEntries; ++i) many += std::string(i ? "," : "") + R"({"seq":1,"text":"","hash":""})";
    many += "]}";
    auto r = parseAccessLogAnswer(many);
    CHECK(!r.ok());
    CHECK(!r.error().message.empty());
}

}  // namespace xs::sync::net
