// Online enrolment by one-time code through a real xunshen-server and real clients: the office
// invites a person, the new device presents itself with the code, the office's sync enrols it
// and answers; and what a guesser, a second device, a server altering the answer or forging a
// presentation gets.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "sync/net/protocol.h"
#include "tests/e2e/raw_http.h"
#include "tests/e2e/sync_fixture.h"

using namespace xs::test;
namespace net = xs::sync::net;

namespace {

struct Invited {
    json invite;  // org invite --json
    std::string code;
};

Invited invite(SyncWorld& w, const std::string& person) {
    Invited i;
    i.invite = w.office.jsonOf({"org", "invite", "--person", person});
    i.code = i.invite["code"];
    return i;
}

RunResult join(const Cli& c, const SyncWorld& w, const std::string& code, int waitSeconds = 0) {
    return c({"--json", "org", "join", "--server", w.server->url(), "--pin", w.server->pin(), "--code", code, "--wait",
              std::to_string(waitSeconds)});
}

json invitesOf(const SyncWorld& w) { return w.office.jsonOf({"org", "invites"}); }

}  // namespace

TEST_CASE("online enrolment: a new device joins with the office's one-time code - the fingerprints agree and it syncs") {
    SyncWorld w;
    Invited inv = invite(w, "W02");  // 冯磊
    CHECK(inv.invite["state"] == "sent");
    CHECK(inv.invite["person"] == "冯磊");
    CHECK(inv.invite["server_url"] == w.server->url());
    CHECK(inv.invite["pin"] == w.server->pin());
    // The office's own person is never invited online (a device with every channel key).
    auto own = w.office({"org", "invite", "--person", "A01"});
    CHECK(own.exitCode == 5);
    CHECK(own.err.find("own person") != std::string::npos);
    REQUIRE(inv.code.size() == 23);  // four groups of five, dashed
    CHECK(net::normaliseInviteCode(inv.code));
    // The office keeps no copy of the code.
    CHECK(w.office({"org", "invites"}).out.find(inv.code) == std::string::npos);

    Cli device;
    device.init("冯磊", "working_group_member");
    // Presented; the office has not synced, so there is no answer yet: exit 10, run it again.
    auto r = join(device, w, inv.code);
    REQUIRE_MESSAGE(r.exitCode == 10, (r.out + r.err));
    const json waiting = json::parse(r.out);
    CHECK(waiting["enrolled"] == false);
    const std::string fingerprint = waiting["device_fingerprint"];
    CHECK(invitesOf(w)[0]["state"] == "sent");

    // The office's next round enrols the device for W02 and answers.
    json round = SyncWorld::sync(w.office);
    CHECK(round["invites"]["enrolled"] == 1);
    CHECK(round["invites"]["answered"] == 1);
    json listed = invitesOf(w);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["state"] == "answered");
    CHECK(listed[0]["fingerprint"] == fingerprint);  // compared aloud

    // The same command again: enrolled, with the office's fingerprint to compare.
    r = join(device, w, inv.code);
    REQUIRE_MESSAGE(r.exitCode == 0, (r.out + r.err));
    json joined = json::parse(r.out);
    CHECK(joined["enrolled"] == true);
    CHECK(joined["person"] == "冯磊");
    CHECK(joined["device_fingerprint"] == fingerprint);
    CHECK_FALSE(joined["office_fingerprint"].get<std::string>().empty());
    // The device now syncs like one enrolled by file: the server learnt it from the office's push.
    json mine = SyncWorld::sync(device);
    CHECK(mine["server"] == w.server->url());
    auto v = device({"verify"});
    CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));
    // It works with a lead's inspection like any member.
    Cli& lead = w.enrol("郑华", "working_group_lead");
    const std::string inspection = SyncWorld::inspectionFor(lead, {&device});
    r = device({"finding", "add", "--inspection", inspection, "--title", "线上入网后的第一条问题"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    SyncWorld::sync(device);
    SyncWorld::sync(lead);
    CHECK(lead.jsonOf({"finding", "list"}).size() == 1);

    // Once is all: the device again, a second device with the same code, a guessed code.
    r = join(device, w, inv.code);
    CHECK(r.exitCode == 5);
    CHECK(r.err.find("enrolled already") != std::string::npos);
    Cli thief;
    thief.init("冯磊", "working_group_member");
    r = join(thief, w, inv.code);
    CHECK(r.exitCode == 5);
    CHECK_MESSAGE(r.err.find("used by another device") != std::string::npos, r.err);
    r = join(thief, w, net::newInviteCode());
    CHECK(r.exitCode == 4);
    CHECK_MESSAGE(r.err.find("no such invitation") != std::string::npos, r.err);
    r = join(thief, w, "1234");
    CHECK(r.exitCode == 5);
    CHECK(r.err.find("20 letters and digits") != std::string::npos);
    CHECK(thief({"sync"}).exitCode == 4);  // never enrolled: no server known, nothing accepted

    // Who saw what: the device's fetch of its enrolment file is in the access log.
    json log = w.office.jsonOf({"access-log"});
    int joins = 0;
    for (const auto& e : log["entries"]) joins += e["action"] == "join";
    CHECK(joins == 1);
}

TEST_CASE("online enrolment: with the office's sync --watch running, the join completes within its wait") {
    SyncWorld w;
    Invited inv = invite(w, "W03");  // 何芳
    Child watch({"--store", w.office.store.string(), "sync", "--watch"}, w.office.env);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // into its long-poll
    Cli device;
    device.init("何芳", "working_group_member");
    const auto started = std::chrono::steady_clock::now();
    auto r = join(device, w, inv.code, 60);
    const auto took = std::chrono::steady_clock::now() - started;
    watch.kill9();
    watch.wait();
    REQUIRE_MESSAGE(r.exitCode == 0, (r.out + r.err));
    CHECK(json::parse(r.out)["person"] == "何芳");
    // Woken by the presentation, not by the end of its 25 s long-poll (not a timing assertion
    // on speed: a bound far above any machine's round, far below the poll).
    CHECK(took < std::chrono::seconds(20));
    CHECK(SyncWorld::sync(device)["server"] == w.server->url());
}

TEST_CASE("online enrolment: an answer altered on the server is refused - a presentation forged without the code is refused by the office") {
    SyncWorld w;
    Invited inv = invite(w, "W02");
    Cli device;
    device.init("冯磊", "working_group_member");
    REQUIRE(join(device, w, inv.code).exitCode == 10);
    SyncWorld::sync(w.office);

    // Someone with the server's disk and key file rewrites the enrolment file in the answer.
    REQUIRE(w.server->terminate() == 0);
    tamperServerStore(*w.server, [](xs::sync::Db& db) {
        execSql(db, "UPDATE server_invites SET answer = replace(answer, 'xunshen-enrolment', 'xunshen-enrolmenT') WHERE answer IS NOT NULL");
    });
    w.server->start();
    auto r = join(device, w, inv.code);
    CHECK(r.exitCode == 6);
    CHECK_MESSAGE(r.err.find("not from the office that made this code") != std::string::npos, r.err);
    CHECK(device({"sync"}).exitCode == 4);  // still not enrolled: nothing of the answer was taken

    // The server holds the code's server key, not its office key: a presentation it makes (or
    // alters) passes the server and is refused by the office.
    Invited second = invite(w, "W03");
    auto canonical = net::normaliseInviteCode(second.code);
    REQUIRE(canonical);
    auto keys = net::inviteKeys(*canonical);
    Cli forger;
    forger.init("何芳", "working_group_member");
    fs::path deviceFile = forger.dir / "device.json";
    REQUIRE(forger({"identity", "export", "--out", deviceFile.string()}).exitCode == 0);
    xs::crypto::SecretBytes wrongOffice(32);
    const std::string forged = net::presentationBody(wrongOffice, keys.id, readAll(deviceFile));
    const std::string target = std::string(net::kRouteJoin) + keys.id;
    // Sent by hand it is refused at once: a presentation is signed by the presented device's key.
    auto raw = rawRequest(*w.server, "POST", target,
                          {std::string(net::kHeaderProtocol) + ": 1",
                           std::string(net::kHeaderInviteMac) + ": " + net::joinPresentMac(keys.server, keys.id, forged)},
                          forged);
    CHECK(raw.status == 401);
    // The server itself writes it into its store (it holds the id and the server key).
    REQUIRE(w.server->terminate() == 0);
    tamperServerStore(*w.server, [&](xs::sync::Db& db) {
        auto u = db.prepare("UPDATE server_invites SET presentation = ?, presented_ms = 1 WHERE id = ?");
        REQUIRE(u);
        REQUIRE(u->bind(1, forged).bind(2, keys.id).run());
    });
    w.server->start();
    json round = SyncWorld::sync(w.office);
    CHECK(round["invites"]["enrolled"] == 0);
    json listed = invitesOf(w);
    REQUIRE(listed.size() == 2);
    CHECK(listed[1]["state"] == "refused-answered");
    CHECK_MESSAGE(listed[1]["problem"].get<std::string>().find("not made with the code") != std::string::npos, listed[1].dump());
    CHECK(listed[1]["device_id"] == "");
    // The real holder of that code then finds it used, and says so.
    r = join(forger, w, second.code);
    CHECK(r.exitCode == 5);
}

TEST_CASE("online enrolment: the join and invite routes refuse a wrong mac, a stale fetch, an expired code, bad bodies and callers who are not the office") {
    SyncWorld w;
    Cli& inspector = w.enrol("冯磊", "working_group_member");
    Invited inv = invite(w, "W03");
    auto keys = net::inviteKeys(*net::normaliseInviteCode(inv.code));
    const std::string target = std::string(net::kRouteJoin) + keys.id;
    const std::string proto = std::string(net::kHeaderProtocol) + ": 1";
    auto macHeader = [](const std::string& mac) { return std::string(net::kHeaderInviteMac) + ": " + mac; };
    const std::string body = net::presentationBody(keys.office, keys.id, R"({"format":"xunshen-device"})");

    // Presenting: the mac must be the code's, the body bounded and well-formed.
    CHECK(rawRequest(*w.server, "POST", target, {proto, macHeader(std::string(64, '0'))}, body).status == 401);
    CHECK(rawRequest(*w.server, "POST", target, {macHeader(net::joinPresentMac(keys.server, keys.id, body))}, body).status == 400);
    std::string big(net::kMaxPresentationBytes + 1, 'x');
    CHECK(rawRequest(*w.server, "POST", target, {proto, macHeader(net::joinPresentMac(keys.server, keys.id, big))}, big).status == 413);
    for (const std::string& bad : std::vector<std::string>{"", "not json", "{}", R"({"device":1,"mac":"00"})", std::string(50, '[')}) {
        CAPTURE(bad);
        auto r = rawRequest(*w.server, "POST", target, {proto, macHeader(net::joinPresentMac(keys.server, keys.id, bad))}, bad);
        CHECK(r.status == 400);
        CHECK_FALSE(json::parse(r.body).value("message", "").empty());
    }
    // Fetching: before any presentation, with a stale time, with a wrong mac.
    auto fetch = [&](std::int64_t ts, const std::string& mac) {
        return rawRequest(*w.server, "GET", target,
                          {proto, std::string(net::kHeaderTimestamp) + ": " + std::to_string(ts), macHeader(mac)}, "");
    };
    // One timestamp for the header and its mac (two nowMs() calls can straddle a millisecond).
    const std::int64_t before = nowMs();
    CHECK(fetch(before, net::joinFetchMac(keys.server, keys.id, before)).status == 409);
    const std::int64_t stale = nowMs() - 10 * 60 * 1000;
    CHECK(fetch(stale, net::joinFetchMac(keys.server, keys.id, stale)).status == 401);
    CHECK(fetch(nowMs(), std::string(64, 'a')).status == 401);
    // No invitation under an id nobody filed.
    const std::string other = std::string(net::kRouteJoin) + std::string(64, 'b');
    CHECK(rawRequest(*w.server, "POST", other, {proto, macHeader(std::string(64, '0'))}, body).status == 404);

    // Only the office files, lists and answers invitations.
    DeviceKeys mine(inspector);
    const std::string filing = json{{"id", std::string(64, 'c')}, {"verifier", std::string(64, 'd')}, {"expires_ms", nowMs() + 60000}}.dump();
    auto r = rawRequest(*w.server, "POST", net::kRouteInvites, mine.headers("POST", net::kRouteInvites, filing, nowMs(), freshNonce()), filing);
    CHECK(r.status == 403);
    r = rawRequest(*w.server, "GET", net::kRouteInvites, mine.headers("GET", net::kRouteInvites, "", nowMs(), freshNonce()), "");
    CHECK(r.status == 403);
    const std::string answerTarget = std::string(net::kRouteInvites) + "/" + keys.id + "/answer";
    const std::string answer = std::string(64, 'e') + "\n{}";
    r = rawRequest(*w.server, "POST", answerTarget, mine.headers("POST", answerTarget, answer, nowMs(), freshNonce()), answer);
    CHECK(r.status == 403);

    // The office's own filing is bounded too; and a code filed to expire in a moment is refused
    // once it has.
    DeviceKeys office(w.office);
    for (const std::string& bad : std::vector<std::string>{std::string("{}"),
                                  json{{"id", "x"}, {"verifier", std::string(64, 'd')}, {"expires_ms", nowMs() + 60000}}.dump(),
                                  json{{"id", std::string(64, 'c')}, {"verifier", std::string(64, 'd')}, {"expires_ms", nowMs() - 1}}.dump(),
                                  json{{"id", std::string(64, 'c')}, {"verifier", std::string(64, 'd')},
                                       {"expires_ms", nowMs() + 8LL * 24 * 3600 * 1000}}.dump()}) {
        CAPTURE(bad);
        r = rawRequest(*w.server, "POST", net::kRouteInvites, office.headers("POST", net::kRouteInvites, bad, nowMs(), freshNonce()), bad);
        CHECK(r.status == 400);
    }
    auto brief = net::inviteKeys(*net::normaliseInviteCode(net::newInviteCode()));
    const std::string soon = json{{"id", brief.id}, {"verifier", xs::crypto::toHex(brief.server.view())}, {"expires_ms", nowMs() + 1500}}.dump();
    r = rawRequest(*w.server, "POST", net::kRouteInvites, office.headers("POST", net::kRouteInvites, soon, nowMs(), freshNonce()), soon);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));
    const std::string late = net::presentationBody(brief.office, brief.id, R"({"format":"xunshen-device"})");
    r = rawRequest(*w.server, "POST", std::string(net::kRouteJoin) + brief.id,
                   {proto, macHeader(net::joinPresentMac(brief.server, brief.id, late))}, late);
    CHECK(r.status == 404);
    CHECK(errorOf(r) == "no_such_invitation");

    // After all that, the real invitation still works.
    Cli device;
    device.init("何芳", "working_group_member");
    REQUIRE(join(device, w, inv.code).exitCode == 10);
    SyncWorld::sync(w.office);
    // Answered now; but only the device that presented fetches it, not another holder of the code.
    auto stolen = fetch(nowMs(), "");
    {
        const std::int64_t ts = nowMs();
        stolen = fetch(ts, net::joinFetchMac(keys.server, keys.id, ts));
    }
    CHECK(stolen.status == 401);
    CHECK(errorOf(stolen) == "not_the_presenter");
    auto done = join(device, w, inv.code);
    CHECK_MESSAGE(done.exitCode == 0, (done.out + done.err));
}
