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

TEST_CASE("invite: a code is 20 base32 symbols, read forgivingly - its id and two keys are distinct and deterministic") {
    const std::string code = newInviteCode();
    REQUIRE(code.size() == 23);
    CHECK(code[5] == '-');
    CHECK(code != newInviteCode());
    auto canonical = normaliseInviteCode(code);
    REQUIRE(canonical.ok());
    CHECK(canonical->size() == kInviteCodeSymbols);
    // Lower case, spaces, no dashes, and the look-alikes O, I, L.
    std::string typed;
    for (char c : *canonical) typed += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    CHECK(*normaliseInviteCode(" " + typed.substr(0, 10) + " " + typed.substr(10) + " ") == *canonical);
    CHECK(*normaliseInviteCode("OOOOO-IIIII-LLLLL-00000") == "00000111111111100000");
    CHECK(!normaliseInviteCode("ABCDE").ok());
    CHECK(!normaliseInviteCode("ABCDE-ABCDE-ABCDE-ABCDU").ok());  // U is not a symbol
    CHECK(!normaliseInviteCode(std::string(100, 'A')).ok());
    auto a = inviteKeys(*canonical), b = inviteKeys(*canonical);
    CHECK(a.id == b.id);
    CHECK(a.id.size() == 64);
    CHECK(crypto::toHex(a.server.view()) == crypto::toHex(b.server.view()));
    CHECK(crypto::toHex(a.server.view()) != crypto::toHex(a.office.view()));
    CHECK(crypto::toHex(a.server.view()) != a.id);
    CHECK(inviteKeys(*normaliseInviteCode(newInviteCode())).id != a.id);
}

TEST_CASE("invite: a presentation and an answer open only under the office key, and only unchanged") {
    auto keys = inviteKeys(*normaliseInviteCode(newInviteCode()));
    auto other = inviteKeys(*normaliseInviteCode(newInviteCode()));
    const std::string device = R"({"format":"xunshen-device","device_id":"x"})";
    const std::string body = presentationBody(keys.office, keys.id, device);
    auto p = parsePresentation(body);
    REQUIRE(p.ok());
    CHECK(p->deviceFileText == device);
    CHECK(presentationAuthentic(keys.office, keys.id, *p));
    CHECK_FALSE(presentationAuthentic(other.office, keys.id, *p));
    CHECK_FALSE(presentationAuthentic(keys.server, keys.id, *p));  // the server's key makes no office mac
    CHECK_FALSE(presentationAuthentic(keys.office, other.id, *p));
    auto altered = *p;
    altered.deviceFileText += " ";
    CHECK_FALSE(presentationAuthentic(keys.office, keys.id, altered));
    CHECK(!parsePresentation("{}").ok());
    CHECK(!parsePresentation(R"({"device":"x","mac":"zz"})").ok());
    CHECK(!parsePresentation(std::string(kMaxPresentationBytes + 1, ' ')).ok());

    const std::string enrolment = "{\"format\":\"xunshen-enrolment-signed\"}\n";
    const std::string answer = joinAnswer(keys.office, keys.id, body, enrolment);
    auto opened = openJoinAnswer(keys.office, keys.id, body, answer);
    REQUIRE(opened.ok());
    CHECK(*opened == enrolment);
    std::string changed = answer;
    changed[changed.size() - 3] ^= 1;
    CHECK(openJoinAnswer(keys.office, keys.id, body, changed).code() == SyncError::Corrupt);
    CHECK(openJoinAnswer(keys.office, keys.id, body + " ", answer).code() == SyncError::Corrupt);  // another presentation
    CHECK(openJoinAnswer(other.office, keys.id, body, answer).code() == SyncError::Corrupt);
    CHECK(openJoinAnswer(keys.office, keys.id, body, "short").code() == SyncError::Invalid);
    CHECK(openJoinAnswer(keys.office, keys.id, body, std::string(64, 'g') + "\nx").code() == SyncError::Invalid);

    // The request macs depend on every input.
    CHECK(joinPresentMac(keys.server, keys.id, body) != joinPresentMac(keys.server, keys.id, body + " "));
    CHECK(joinFetchMac(keys.server, keys.id, 1) != joinFetchMac(keys.server, keys.id, 2));
    CHECK(joinFetchMac(keys.server, keys.id, 1) != joinFetchMac(other.server, keys.id, 1));
}

TEST_CASE("invite: the office's filing is parsed strictly") {
    const std::string id(64, 'a'), key(64, 'b');
    auto ok = parseInviteFiling(R"({"id":")" + id + R"(","verifier":")" + key + R"(","expires_ms":5})");
    REQUIRE(ok.ok());
    CHECK(ok->id == id);
    CHECK(ok->serverKey.size() == 32);
    CHECK(ok->expiresMs == 5);
    for (const std::string& bad : std::vector<std::string>{
             "{}", "[]", "x", R"({"id":"A","verifier":")" + key + R"(","expires_ms":5})",
             R"({"id":")" + id + R"(","verifier":"00","expires_ms":5})",
             R"({"id":")" + id + R"(","verifier":")" + key + R"(","expires_ms":"5"})",
             R"({"id":")" + id + R"(","verifier":")" + key + R"(","expires_ms":5,"more":1})", std::string(5000, ' ')}) {
        CAPTURE(bad);
        auto r = parseInviteFiling(bad);
        CHECK_FALSE(r.ok());
        CHECK_FALSE(r.message().empty());
    }
}

TEST_CASE("invite: the office's list of waiting presentations is parsed strictly and within bounds") {
    const std::string id(64, 'a');
    auto ok = parseWaitingPresentations(R"({"waiting":[{"id":")" + id + R"(","presentation":"{}"}]})");
    REQUIRE(ok.ok());
    CHECK(ok->size() == 1);
    CHECK(!parseWaitingPresentations(R"({"waiting":[{"id":"A","presentation":"{}"}]})").ok());
    CHECK(!parseWaitingPresentations(R"({"waiting":[{"id":")" + id + R"(","presentation":1}]})").ok());
    CHECK(!parseWaitingPresentations(R"({"waiting":{}})").ok());
    std::string many = R"({"waiting":[)";
    for (std::size_t i = 0; i <= kMaxWaitingInvites; ++i) many += std::string(i ? "," : "") + R"({"id":")" + id + R"(","presentation":""})";
    CHECK(!parseWaitingPresentations(many + "]}").ok());
}

}  // namespace xs::sync::net
