// End-to-end tests of online sync: a real xunshen-server process on 127.0.0.1 and real
// xunshenctl clients, each on its own encrypted store.
#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/e2e/cli_fixture.h"
#include "tests/e2e/process.h"
#include "tests/e2e/sync_fixture.h"

using namespace xs::test;

TEST_CASE("sync: two inspectors editing one finding offline converge through the server - the text edit is a conflict everywhere") {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    Cli& b = w.enrol("何芳", "working_group_member");
    SyncWorld::sync(lead);
    auto r = lead({"inspection", "create", "--unit", "E03", "--start", today(), "--team", "W02,W03"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    const std::string inspection = r.out.substr(0, 36);
    SyncWorld::sync(lead);
    SyncWorld::sync(a);
    SyncWorld::sync(b);
    SyncWorld::signAll(inspection, {&lead, &a, &b});
    r = a({"finding", "add", "--inspection", inspection, "--title", "食堂账目不清", "--description", "初稿"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    const std::string finding = r.out.substr(0, 36);
    json pushed = SyncWorld::sync(a);
    CHECK(pushed["pushed"] == 1);
    json got = SyncWorld::sync(b);
    CHECK(got["applied"] == 1);
    REQUIRE(b.jsonOf({"finding", "show", finding})["title"] == "食堂账目不清");

    // Offline, both change the description; then each syncs (b twice, to get a's edit back).
    REQUIRE(a({"finding", "edit", finding, "--description", "冯磊的说法"}).exitCode == 0);
    REQUIRE(b({"finding", "edit", finding, "--description", "何芳的说法", "--severity", "high"}).exitCode == 0);
    SyncWorld::sync(a);
    SyncWorld::sync(b);
    SyncWorld::sync(a);
    SyncWorld::sync(lead);
    SyncWorld::sync(w.office);

    json reference = a.jsonOf({"finding", "show", finding});
    CHECK(reference["severity"] == "high");
    for (const Cli* c : {&a, &b, &lead, &w.office}) {
        CAPTURE(c->store.string());
        json f = c->jsonOf({"finding", "show", finding});
        CHECK(f == reference);
        json conflicts = c->jsonOf({"conflicts"});
        REQUIRE(conflicts.size() == 1);
        CHECK(conflicts[0]["field"] == "description");
        CHECK(conflicts[0]["versions"].size() == 2);
        auto v = (*c)({"verify"});
        CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));
    }
    // A round with nothing new moves nothing.
    json idle = SyncWorld::sync(a);
    CHECK(idle["pushed"] == 0);
    CHECK(idle["pulled"] == 0);
}

// ---- hostile and careless requests, sent by hand to the real server

#include "app/error.h"
#include "tests/e2e/raw_http.h"
#include "app/session.h"

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "sync/env.h"
#include "sync/identity.h"
#include "sync/net/client.h"
#include "sync/net/protocol.h"
#include "sync/store.h"

namespace {

// The server's feed position, as the office's device sees it.
std::int64_t serverCursor(const ServerProcess& s, const DeviceKeys& k) {
    std::string nonce = freshNonce();
    auto r = rawRequest(s, "GET", "/v1/hello", k.headers("GET", "/v1/hello", "", nowMs(), nonce), "");
    REQUIRE(r.status == 200);
    return json::parse(r.body)["cursor"].get<std::int64_t>();
}

}  // namespace

TEST_CASE("sync: a replayed request, a stale timestamp, a forged body, a wrong pin, an unknown and a revoked device are refused - nothing stored") {
    SyncWorld w;
    Cli& a = w.enrol("冯磊", "working_group_member");
    SyncWorld::sync(a);
    REQUIRE(a({"identity", "show"}).exitCode == 0);
    DeviceKeys keys(a);
    const std::int64_t before = serverCursor(*w.server, keys);

    // Replay: the same signed request twice.
    std::string nonce = freshNonce();
    auto h = keys.headers("GET", "/v1/hello", "", nowMs(), nonce);
    CHECK(rawRequest(*w.server, "GET", "/v1/hello", h, "").status == 200);
    auto replay = rawRequest(*w.server, "GET", "/v1/hello", h, "");
    CHECK(replay.status == 409);
    CHECK(errorOf(replay) == "replayed_request");

    // Stale (and future) timestamps.
    for (std::int64_t skew : {-6LL * 60 * 1000, 6LL * 60 * 1000}) {
        auto stale = rawRequest(*w.server, "GET", "/v1/hello", keys.headers("GET", "/v1/hello", "", nowMs() + skew, freshNonce()), "");
        CHECK(stale.status == 401);
        CHECK(errorOf(stale) == "stale_timestamp");
    }

    // A body other than the one signed (a push the device never made).
    const std::string signedBody = R"({"changesets":[]})";
    const std::string sentBody = R"({"changesets":[{"id":"x"}]})";
    auto forged = rawRequest(*w.server, "POST", "/v1/push", keys.headers("POST", "/v1/push", signedBody, nowMs(), freshNonce()), sentBody);
    CHECK(forged.status == 401);
    CHECK(errorOf(forged) == "bad_signature");
    // Signed for another path.
    auto moved = rawRequest(*w.server, "GET", "/v1/pull?after=0", keys.headers("GET", "/v1/pull?after=5", "", nowMs(), freshNonce()), "");
    CHECK(moved.status == 401);
    // Unsigned, and an old protocol version.
    CHECK(rawRequest(*w.server, "GET", "/v1/pull", {"X-Xs-Protocol: 1"}, "").status == 401);
    auto old = keys.headers("GET", "/v1/hello", "", nowMs(), freshNonce());
    old[0] = "X-Xs-Protocol: 0";
    auto outdated = rawRequest(*w.server, "GET", "/v1/hello", old, "");
    CHECK(outdated.status == 426);
    CHECK(errorOf(outdated) == "client_outdated");

    // A server with another certificate than the pin: the client will not talk to it.
    {
        auto conn = xs::sync::net::Connection::open({w.server->url(), xs::crypto::toBase64(xs::crypto::Bytes(32, 7))}, *keys.identity);
        REQUIRE(conn);
        auto r = (*conn)->call("GET", "/v1/hello", "", 10);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == xs::sync::SyncError::Corrupt);
    }

    // A device the office never enrolled.
    Cli stranger;
    stranger.init("何芳", "working_group_member");
    DeviceKeys strangerKeys(stranger);
    auto unknown = rawRequest(*w.server, "GET", "/v1/hello", strangerKeys.headers("GET", "/v1/hello", "", nowMs(), freshNonce()), "");
    CHECK(unknown.status == 403);
    CHECK(errorOf(unknown) == "unknown_device");

    CHECK(serverCursor(*w.server, keys) == before);  // none of it stored anything

    // Revoked: once the office's revocation reaches the server, the device is refused there.
    auto r = w.office({"org", "revoke-device", keys.id()});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    SyncWorld::sync(w.office);
    auto revoked = rawRequest(*w.server, "GET", "/v1/hello", keys.headers("GET", "/v1/hello", "", nowMs(), freshNonce()), "");
    CHECK(revoked.status == 403);
    CHECK(errorOf(revoked) == "revoked_device");
    r = a({"sync"});
    CHECK(r.exitCode == static_cast<int>(xs::app::AppError::Refused));
    CHECK(r.err.find("revoked") != std::string::npos);
}

TEST_CASE("sync: malformed and oversized bodies on every endpoint get a 4xx naming the problem - nothing stored, the server keeps serving") {
    SyncWorld w;
    Cli& a = w.enrol("冯磊", "working_group_member");
    DeviceKeys keys(a);
    const std::int64_t before = serverCursor(*w.server, keys);
    std::string deep(100, '[');
    const std::vector<std::string> bodies = {
        "", "not json", "[]", "{}", R"({"changesets":"x"})", R"({"changesets":[{}]})", R"({"changesets":[],"extra":1})",
        R"({"changesets":[{"id":"01a2","device":"x","seq":1}]})", "{\"changesets\":" + deep, std::string(3, '\xff'),
    };
    for (const auto& body : bodies) {
        CAPTURE(body.substr(0, 40));
        auto r = rawRequest(*w.server, "POST", "/v1/push", keys.headers("POST", "/v1/push", body, nowMs(), freshNonce()), body);
        CHECK(r.status >= 400);
        CHECK(r.status < 500);
        CHECK_FALSE(json::parse(r.body).value("message", "").empty());
    }
    for (const std::string target : {"/v1/pull?after=-1", "/v1/pull?after=x", "/v1/pull?limit=0", "/v1/pull?after=1&zzz=2",
                                     "/v1/pull?after=99999999999999999999"}) {
        CAPTURE(target);
        auto r = rawRequest(*w.server, "GET", target, keys.headers("GET", target, "", nowMs(), freshNonce()), "");
        CHECK(r.status == 400);
    }
    // Longer than the server reads: refused before it is parsed or signed.
    std::string huge(xs::sync::net::kMaxRequestBytes + 1, ' ');
    auto big = rawRequest(*w.server, "POST", "/v1/push", keys.headers("POST", "/v1/push", huge, nowMs(), freshNonce()), huge);
    CHECK(big.status == 413);
    CHECK(rawRequest(*w.server, "GET", "/v1/nothing", {}, "").status == 404);
    CHECK(rawRequest(*w.server, "GET", "/v1/health", {}, "").status == 200);
    CHECK(serverCursor(*w.server, keys) == before);
    CHECK(SyncWorld::sync(a)["pulled"].get<int>() >= 0);  // and a real client still syncs
}

TEST_CASE("sync: need-to-know - a unit head's device gets the team's change sets withheld (links, no op) and its store still verifies") {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    Cli& head = w.enrol("高峰", "unit_head");        // head of E03, the inspected unit
    Cli& other = w.enrol("林雪", "unit_head");       // head of E02: nothing of this inspection
    const std::string inspection = SyncWorld::inspectionFor(lead, {&a});
    const std::string marker = "MARKER-团队工作底稿-7f3a";
    auto r = a({"finding", "add", "--inspection", inspection, "--title", marker, "--description", marker});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    SyncWorld::sync(a);

    for (Cli* c : {&head, &other}) {
        SyncWorld::sync(*c);
        CHECK(c->jsonOf({"finding", "list"}).empty());
        auto v = (*c)({"verify"});
        CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));
        // What the server sends this device, read raw: the team's change sets carry no op.
        DeviceKeys keys(*c);
        const Pulled pulled = rawPull(*w.server, keys);
        CHECK(pulled.body.find(marker) == std::string::npos);
        int withheld = 0;
        const json& answer = pulled.answer;
        for (const auto& cs : answer["changesets"]) {
            if (cs.contains("withheld")) {
                ++withheld;
                CHECK_FALSE(cs.contains("ops"));
                continue;
            }
            for (const auto& op : cs["ops"]) {
                const std::string ch = op["channel"];
                CHECK_MESSAGE((ch == "org" || ch == "sys" || (c == &head && ch == inspection + ".unit")), ch);
            }
        }
        CHECK(withheld >= 1);  // at least the finding
    }
    // The team's members get it whole.
    json f = lead.jsonOf({"finding", "list"});
    SyncWorld::sync(lead);
    CHECK(lead.jsonOf({"finding", "list"}).size() == 1);
    CHECK(w.office.jsonOf({"finding", "list"}).empty());  // until the office syncs
    SyncWorld::sync(w.office);
    CHECK(w.office.jsonOf({"finding", "list"}).size() == 1);
}

// ---- immediate-fix notices (article 7(2)), end to end

namespace {

// The lead, an inspector and the inspected unit's head, with an inspection of E03 open today and
// an immediate-fix finding the inspector captured and the lead confirmed. Returns the finding.
struct NoticeScene {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& inspector = w.enrol("冯磊", "working_group_member");
    Cli& head = w.enrol("高峰", "unit_head");
    std::string inspection, finding;
    NoticeScene() {
        SyncWorld::sync(lead);
        auto r = lead({"inspection", "create", "--unit", "E03", "--start", today(), "--team", "W02", "--lead", "W01"});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        inspection = r.out.substr(0, 36);
        SyncWorld::sync(lead);
        SyncWorld::sync(inspector);
        SyncWorld::signAll(inspection, {&lead, &inspector, &head});
        r = inspector({"finding", "add", "--inspection", inspection, "--title", "危废暂存间台账缺失", "--description",
                       "现场检查发现危险废物暂存间无出入库台账", "--immediate-fix"});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        finding = r.out.substr(0, 36);
        REQUIRE(inspector({"finding", "transition", finding, "--to", "submitted"}).exitCode == 0);
        SyncWorld::sync(inspector);
        SyncWorld::sync(lead);
        r = lead({"finding", "transition", finding, "--to", "confirmed"});  // 研判
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    }
    std::string issue() {
        auto r = lead({"notice", "issue", "--finding", finding, "--problem", "危险废物暂存间未建立出入库台账",
                       "--action", "立即建立台账并补录本年度记录", "--deadline", "2099-12-31"});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        return r.out.substr(0, 36);
    }
};

}  // namespace

TEST_CASE("notices: issued by the lead, printed at once by the unit head's sync --watch, acknowledged, shown received on the lead's device") {
    NoticeScene s;
    SyncWorld::sync(s.head);
    Child watch({"--store", s.head.store.string(), "--json", "sync", "--watch"}, s.head.env);
    // Let the watcher reach its long-poll before the notice exists.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const std::string notice = s.issue();
    SyncWorld::sync(s.lead);
    json printed;
    std::vector<std::string> lines;
    for (int i = 0; i < 200 && printed.is_null(); ++i) {
        REQUIRE(watch.readLines(lines, 100));
        for (const auto& l : lines) {
            auto j = json::parse(l, nullptr, false);
            if (j.is_object() && j.value("event", "") == "notice_issued") printed = j;
        }
        lines.clear();
    }
    watch.kill9();
    watch.wait();
    REQUIRE_FALSE(printed.is_null());
    CHECK(printed["id"] == notice);
    CHECK(printed["problem"] == "危险废物暂存间未建立出入库台账");
    CHECK(printed["deadline"] == "2099-12-31");
    CHECK(printed["issued_by_name"] == "郑华");
    CHECK(printed["acknowledged"] == false);
    // The unit head reads the notice, never the finding behind it.
    CHECK(s.head.jsonOf({"finding", "list"}).empty());

    auto r = s.head({"notice", "ack", notice, "--json"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    r = s.head({"notice", "reply", notice, "--text", "已建立台账，附照片"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    SyncWorld::sync(s.head);
    SyncWorld::sync(s.lead);
    json seen = s.lead.jsonOf({"notice", "show", notice});
    CHECK(seen["acknowledged"] == true);
    CHECK(seen["acknowledged_by_name"] == "高峰");
    CHECK_FALSE(seen["acknowledged_at"].get<std::string>().empty());
    REQUIRE(seen["replies"].size() == 1);
    CHECK(seen["replies"][0]["text"] == "已建立台账，附照片");
    SyncWorld::sync(s.w.office);
    CHECK(s.w.office.jsonOf({"notice", "show", notice}) == seen);
    CHECK(s.inspector.jsonOf({"notice", "list"}).empty());  // until it syncs
    SyncWorld::sync(s.inspector);
    CHECK(s.inspector.jsonOf({"notice", "show", notice}) == seen);
    for (const Cli* c : {&s.lead, &s.head, &s.inspector, &s.w.office}) {
        auto v = (*c)({"verify"});
        CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));
    }
}

TEST_CASE("notices: with the unit head offline until the end, the path completes when it connects") {
    NoticeScene s;  // the head enrolled but never synced
    const std::string notice = s.issue();
    SyncWorld::sync(s.lead);
    // The lead's device shows it not yet received.
    CHECK(s.lead.jsonOf({"notice", "show", notice})["acknowledged"] == false);
    // The unit head comes online: one sync brings the organisation, the plan, the keys and the notice.
    json round = SyncWorld::sync(s.head);
    CHECK(round["applied"].get<int>() > 0);
    CHECK(s.head.jsonOf({"notice", "show", notice})["action"] == "立即建立台账并补录本年度记录");
    REQUIRE(s.head({"notice", "ack", notice}).exitCode == 0);
    SyncWorld::sync(s.head);
    SyncWorld::sync(s.lead);
    CHECK(s.lead.jsonOf({"notice", "show", notice})["acknowledged"] == true);
}

TEST_CASE("notices: the unit head replies with a rectification file - the lead, the team and the office receive it, another unit's head cannot") {
    NoticeScene s;
    Cli& otherHead = s.w.enrol("林雪", "unit_head");
    const std::string notice = s.issue();
    SyncWorld::sync(s.lead);
    SyncWorld::sync(s.head);
    REQUIRE(s.head({"notice", "ack", notice}).exitCode == 0);
    const std::string content = "危险废物出入库台账（2026年）\n" + std::string(300'000, 'x');
    const fs::path file = s.head.dir / "整改台账.pdf";
    writeAll(file, content);
    // A file that is not there: refused, nothing written.
    auto r = s.head({"notice", "reply", notice, "--text", "已建立台账", "--file", (s.head.dir / "none.pdf").string()});
    CHECK(r.exitCode != 0);
    CHECK(s.head.jsonOf({"notice", "show", notice})["replies"].empty());
    r = s.head({"notice", "reply", notice, "--text", "已建立台账并补录全年记录", "--file", file.string()});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    json mine = s.head.jsonOf({"notice", "show", notice});
    REQUIRE(mine["replies"].size() == 1);
    CHECK(mine["replies"][0]["file"]["name"] == "整改台账.pdf");
    CHECK(mine["replies"][0]["file"]["state"] == "held");
    CHECK(mine["replies"][0]["file"]["size"] == content.size());
    SyncWorld::sync(s.head);  // the reply and its blob go up
    for (Cli* reader : {&s.lead, &s.inspector, &s.w.office}) {
        SyncWorld::sync(*reader);
        json n = reader->jsonOf({"notice", "show", notice});
        REQUIRE(n["replies"].size() == 1);
        CHECK(n["replies"][0]["text"] == "已建立台账并补录全年记录");
        CHECK(n["replies"][0]["file"]["state"] == "held");  // fetched, opened with the key the reply carried
        CHECK(n["replies"][0]["file"]["hash"] == mine["replies"][0]["file"]["hash"]);
        auto v = (*reader)({"verify"});
        CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));
    }
    // Another unit's head reads neither the reply nor the file.
    SyncWorld::sync(otherHead);
    CHECK(otherHead({"notice", "show", notice}).exitCode == 4);
}

TEST_CASE("notices: refused for an unconfirmed or not-immediate finding, by anyone but the lead, and answered only by the inspected unit's head") {
    NoticeScene s;
    Cli& otherHead = s.w.enrol("林雪", "unit_head");
    // Not confirmed yet: a second finding.
    auto r = s.inspector({"finding", "add", "--inspection", s.inspection, "--title", "未确认的问题", "--immediate-fix"});
    REQUIRE(r.exitCode == 0);
    const std::string unconfirmed = r.out.substr(0, 36);
    SyncWorld::sync(s.inspector);
    SyncWorld::sync(s.lead);
    auto issue = [&](const Cli& who, const std::string& f) {
        return who({"notice", "issue", "--finding", f, "--problem", "p", "--action", "a", "--deadline", "2099-01-01"});
    };
    r = issue(s.lead, unconfirmed);
    CHECK(r.exitCode == 5);
    CHECK(r.err.find("confirm") != std::string::npos);
    r = issue(s.inspector, s.finding);  // an inspector is not the lead
    CHECK(r.exitCode == 5);
    r = s.lead({"notice", "issue", "--finding", s.finding, "--problem", "p", "--action", "a", "--deadline", "2001-01-01"});
    CHECK(r.exitCode == 5);  // a deadline in the past
    const std::string notice = s.issue();
    SyncWorld::sync(s.lead);
    SyncWorld::sync(otherHead);
    r = otherHead({"notice", "ack", notice});
    CHECK(r.exitCode == 4);  // not even readable there: another unit's channel
    SyncWorld::sync(s.inspector);
    r = s.inspector({"notice", "ack", notice});
    CHECK(r.exitCode == 5);  // only the unit's head acknowledges
    SyncWorld::sync(s.head);
    REQUIRE(s.head({"notice", "ack", notice}).exitCode == 0);
    CHECK(s.head({"notice", "ack", notice}).exitCode == 5);  // once
}

// ---- bad days: kill -9 of the server mid-push, of a client mid-pull; a marker on the server's disk

namespace {

// `count` findings of `inspection` as a finding-import file (one change set each).
fs::path importFile(const Cli& c, const std::string& inspection, int count, const std::string& tag, std::size_t bytes = 4000) {
    fs::path file = c.dir / ("import-" + tag + ".jsonl");
    std::string text;
    for (int i = 0; i < count; ++i)
        text += json{{"inspection", inspection}, {"title", "问题 " + tag + "-" + std::to_string(i)},
                     {"description", std::string(bytes, 'd') + "说明"}}
                    .dump() +
                "\n";
    writeAll(file, text);
    return file;
}

// Runs `sync` on c until it succeeds (the server may be coming back).
void syncUntilDone(const Cli& c) {
    for (int i = 0; i < 50; ++i) {
        if (c({"sync"}).exitCode == 0) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("sync did not succeed after the server came back");
}

}  // namespace

TEST_CASE("sync: kill -9 of the server during pushes, 20 times - after each restart everything arrives once and every store verifies") {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    const std::string inspection = SyncWorld::inspectionFor(lead, {&a});
    std::mt19937 rng(20261202);
    std::uniform_int_distribution<int> delay(0, 400);
    int expected = 0, interrupted = 0;
    for (int trial = 0; trial < 20; ++trial) {
        CAPTURE(trial);
        auto r = a({"finding", "import", importFile(a, inspection, 40, std::to_string(trial)).string()});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        expected += 40;
        {
            Child push({"--store", a.store.string(), "sync"}, a.env);
            std::this_thread::sleep_for(std::chrono::milliseconds(delay(rng)));
            w.server->kill9();
            if (push.wait() != 0) ++interrupted;
        }
        w.server->start();
        syncUntilDone(a);
    }
    MESSAGE("pushes cut by the kill: " << interrupted << " of 20");
    SyncWorld::sync(w.office);
    json list = w.office.jsonOf({"finding", "list"});
    CHECK(list.size() == static_cast<std::size_t>(expected));
    std::set<std::string> titles;
    for (const auto& f : list) titles.insert(f["title"].get<std::string>());
    CHECK(titles.size() == static_cast<std::size_t>(expected));  // nothing twice
    for (const Cli* c : {&a, &w.office}) {
        auto v = (*c)({"verify"});
        CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));
    }
    // The server's own store is whole too: a new device pulls everything from it.
    SyncWorld::sync(lead);
    CHECK(lead.jsonOf({"finding", "list"}).size() == static_cast<std::size_t>(expected));
}

TEST_CASE("sync: kill -9 of a client during a pull - the next round completes, nothing twice, verify passes") {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    const std::string inspection = SyncWorld::inspectionFor(lead, {&a});
    REQUIRE(a({"finding", "import", importFile(a, inspection, 600, "bulk", 20000).string()}).exitCode == 0);
    SyncWorld::sync(a);
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> delay(30, 700);  // the whole pull (12 MB, three batches) takes about a second
    int killed = 0, midway = 0;
    for (int trial = 0; trial < 5; ++trial) {
        Child pull({"--store", w.office.store.string(), "sync"}, w.office.env);
        std::this_thread::sleep_for(std::chrono::milliseconds(delay(rng)));
        pull.kill9();
        if (pull.wait() == -9) ++killed;
        // What a killed pull left: whole batches only (each committed with its cursor).
        std::size_t held = w.office.jsonOf({"finding", "list"}).size();
        if (held > 0 && held < 600) ++midway;
    }
    MESSAGE("pulls killed: " << killed << " of 5, " << midway << " of them with part of the findings applied");
    auto t0 = std::chrono::steady_clock::now();
    SyncWorld::sync(w.office);
    MESSAGE("the full pull took " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s");
    CHECK(w.office.jsonOf({"finding", "list"}).size() == 600);
    auto v = w.office({"verify"});
    CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));
}

TEST_CASE("sync: a marker captured in a finding and in its evidence is found nowhere in the server's data directory") {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    const std::string inspection = SyncWorld::inspectionFor(lead, {&a});
    const std::string marker = "MARKER-违规发放补贴-9c41";
    // The marker in the finding's text and in its evidence file.
    const fs::path doc = a.dir / "marker.txt";
    std::string text;
    for (int i = 0; i < 2000; ++i) text += marker + " 现场记录 " + std::to_string(i) + "\n";
    writeAll(doc, text);
    auto r = a({"finding", "add", "--inspection", inspection, "--title", marker, "--description", marker + " 详细说明", "--evidence",
                doc.string()});
    REQUIRE(r.exitCode == 0);
    CHECK(SyncWorld::sync(a)["evidence"]["uploaded"] == 1);
    CHECK(SyncWorld::sync(w.office)["evidence"]["downloaded"] == 1);
    REQUIRE(w.office.jsonOf({"finding", "list"}).size() == 1);
    REQUIRE(w.server->terminate() == 0);  // a clean stop: the write-ahead log checkpointed or not, all on disk
    int files = 0;
    for (const auto& e : fs::recursive_directory_iterator(w.server->data())) {
        if (!e.is_regular_file()) continue;
        ++files;
        std::string data = readAll(e.path());
        CHECK_MESSAGE(data.find(marker) == std::string::npos, e.path().string());
        CHECK_MESSAGE(data.find("违规发放补贴") == std::string::npos, e.path().string());
        CHECK_MESSAGE(data.find("冯磊") == std::string::npos, e.path().string());  // even org names: the store is encrypted
    }
    CHECK(files >= 4);
    std::string log = readAll(w.server->log());
    CHECK(log.find(marker) == std::string::npos);
    CHECK(log.find("\"route\":\"/v1/push\"") != std::string::npos);
}

// ---- evidence online: resumable transfer, the server's limit, the access log

namespace {

// A file of `bytes` pseudo-random bytes (incompressible, like a photo); its sha256 hex.
std::string writeNoise(const fs::path& file, std::size_t bytes, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string data(bytes, '\0');
    for (std::size_t i = 0; i + 8 <= bytes; i += 8) {
        std::uint64_t v = rng();
        std::memcpy(&data[i], &v, 8);
    }
    writeAll(file, data);
    return xs::crypto::toHex(xs::crypto::sha256(xs::crypto::asBytes(data)));
}

// Lines of the server's request log for this route prefix and method.
std::vector<json> logLines(const ServerProcess& s, const std::string& routePrefix, const std::string& method) {
    std::vector<json> out;
    std::istringstream in(readAll(s.log()));
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] != '{') continue;
        auto j = json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.contains("route")) continue;
        if (j["route"].get<std::string>().rfind(routePrefix, 0) == 0 && j["method"] == method) out.push_back(j);
    }
    return out;
}

std::vector<fs::path> filesUnder(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    if (!fs::exists(dir, ec)) return out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) out.push_back(e.path());
    return out;
}

// Sets one line of the server's config (restart to apply).
void setServerConfig(const ServerProcess& s, const std::string& key, const std::string& value) {
    const fs::path conf = s.data() / "server.conf";
    std::istringstream in(readAll(conf));
    std::string line, text;
    bool set = false;
    while (std::getline(in, line)) {
        if (line.rfind(key + " =", 0) == 0) {
            line = key + " = " + value;
            set = true;
        }
        text += line + "\n";
    }
    REQUIRE(set);
    writeAll(conf, text);
}

}  // namespace

TEST_CASE("evidence: a 200 MB upload interrupted three times completes with one copy on the server, and the lead's device fetches it intact") {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    const std::string inspection = SyncWorld::inspectionFor(lead, {&a});
    const fs::path photo = a.dir / "现场照片.bin";
    const std::size_t size = 200u << 20;
    const std::string hash = writeNoise(photo, size, 42);
    auto r = a({"finding", "add", "--inspection", inspection, "--title", "食堂采购无验收", "--evidence", photo.string()});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    const std::string finding = r.out.substr(0, 36);
    fs::remove(photo);  // only the encrypted copy in the store is left

    // Three syncs killed mid-upload, each after a few more chunks have reached the server.
    const fs::path partialDir = w.server->data() / "store" / "blobs" / "partial";
    std::uint64_t heldBefore = 0;
    for (int cut = 0; cut < 3; ++cut) {
        CAPTURE(cut);
        const std::size_t chunksBefore = logLines(*w.server, "/v1/evidence/", "POST").size();
        Child sync({"--store", a.store.string(), "sync"}, a.env);
        for (int i = 0; i < 3000 && logLines(*w.server, "/v1/evidence/", "POST").size() < chunksBefore + 3; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        sync.kill9();
        CHECK(sync.wait() == -9);
        // The cut left a partial upload: one file, longer than before, not the whole.
        auto partial = filesUnder(partialDir);
        REQUIRE(partial.size() == 1);
        const std::uint64_t held = fs::file_size(partial[0]);
        CHECK(held > heldBefore);
        CHECK(held < size);
        heldBefore = held;
        if (cut == 0) {
            // The finding is on the server, its file not yet whole: on the lead's device it is
            // pending, which is no problem to report.
            auto early = SyncWorld::sync(lead);
            CHECK(early["evidence"]["downloaded"] == 0);
            CHECK(early["evidence"]["problems"].empty());
        }
    }
    auto done = SyncWorld::sync(a);
    CHECK(done["evidence"]["uploaded"] == 1);
    CHECK(done["evidence"]["waiting"] == 0);
    // Resumed, not restarted: the chunks sent add up to the file plus at most the three cut
    // in flight (8 MiB each).
    std::uint64_t sent = 0;
    for (const auto& l : logLines(*w.server, "/v1/evidence/", "POST")) sent += l["bytes_in"].get<std::uint64_t>();
    MESSAGE("bytes sent for a " << size << "-byte file over four runs: " << sent);
    CHECK(sent >= size);
    CHECK(sent <= size + 64 * 1024 + 3 * (8u << 20));
    // One copy: no partial left, one complete blob.
    CHECK(filesUnder(partialDir).empty());
    std::vector<fs::path> blobs;
    for (const auto& p : filesUnder(w.server->data() / "store" / "blobs"))
        if (p.parent_path() != partialDir) blobs.push_back(p);
    REQUIRE(blobs.size() == 1);
    CHECK(fs::file_size(blobs[0]) > size);  // ciphertext: the file, a header and a tag per 64 KiB
    // A second round sends nothing again.
    CHECK(SyncWorld::sync(a)["evidence"]["uploaded"] == 0);

    // The lead's device receives the finding, then its file, and it is the very content.
    auto got = SyncWorld::sync(lead);
    CHECK(got["evidence"]["downloaded"] == 1);
    json f = lead.jsonOf({"finding", "show", finding});
    REQUIRE(f["evidence"].size() == 1);
    CHECK(f["evidence"][0] == hash);
    const fs::path out = lead.dir / "导出.bin";
    r = lead({"evidence", "export", hash, "--out", out.string()});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    CHECK(fs::file_size(out) == size);
    CHECK(xs::crypto::toHex(xs::crypto::sha256(xs::crypto::asBytes(readAll(out)))) == hash);
    for (const Cli* c : {&a, &lead}) {
        auto v = (*c)({"verify"});
        CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));
    }
}

TEST_CASE("evidence: a file over the server's limit is refused before the finding is finalised - the server refuses it too") {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    const std::string inspection = SyncWorld::inspectionFor(lead, {&a});
    REQUIRE(w.server->terminate() == 0);
    setServerConfig(*w.server, "max_evidence_bytes", std::to_string(1 << 20));
    w.server->start();
    SyncWorld::sync(a);  // the hello announces the limit
    const fs::path big = a.dir / "扫描件.pdf";
    writeNoise(big, (1 << 20) + 1, 1);
    auto r = a({"finding", "add", "--inspection", inspection, "--title", "超限附件", "--evidence", big.string()});
    CHECK(r.exitCode == 5);
    CHECK_MESSAGE(r.err.find("accepts files up to 1 MiB") != std::string::npos, r.err);
    CHECK(a.jsonOf({"finding", "list"}).empty());  // nothing finalised
    // A file within it goes.
    const fs::path small = a.dir / "small.pdf";
    writeNoise(small, 300000, 2);
    r = a({"finding", "add", "--inspection", inspection, "--title", "限内附件", "--evidence", small.string()});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    CHECK(SyncWorld::sync(a)["evidence"]["uploaded"] == 1);
    CHECK(SyncWorld::sync(lead)["evidence"]["downloaded"] == 1);
    // A device that skips the check is refused by the server, and nothing is stored.
    DeviceKeys keys(a);
    const std::string id(64, 'a');
    const std::string target = "/v1/evidence/" + id + "?channel=" + inspection + ".team&size=" + std::to_string((1 << 20) + 100) + "&offset=0";
    auto post = [&](const std::string& t, const std::string& body) {
        auto h = keys.headers("POST", t, body, nowMs(), freshNonce());
        h.push_back("Content-Type: application/octet-stream");
        return rawRequest(*w.server, "POST", t, h, body);
    };
    auto over = post(target, "x");
    CHECK(over.status == 413);
    CHECK(errorOf(over) == "evidence_too_large");
    // Not a member of the channel: refused; someone else's blob: not there.
    const std::string other = "/v1/evidence/" + id + "?channel=0190a0a0-0000-7000-8000-000000000000.team&size=10&offset=0";
    auto notMember = post(other, "0123456789");
    CHECK(notMember.status == 403);
    // A chunk at the wrong offset appends nothing and names the right one.
    const std::string wrong = "/v1/evidence/" + id + "?channel=" + inspection + ".team&size=10&offset=5";
    auto mis = post(wrong, "01234");
    CHECK(mis.status == 409);
    CHECK(json::parse(mis.body)["offset"] == 0);
    // Content that does not hash to its id is dropped at its last byte.
    const std::string last = "/v1/evidence/" + id + "?channel=" + inspection + ".team&size=10&offset=0";
    auto bad = post(last, "0123456789");
    // A form-encoded body (which the HTTP layer would read as parameters) is refused as such.
    auto form = rawRequest(*w.server, "POST", last, keys.headers("POST", last, "a=b", nowMs(), freshNonce()), "a=b");
    CHECK(form.status == 415);
    CHECK(bad.status == 422);
    const std::string status = "/v1/evidence/" + id + "/status";
    CHECK(rawRequest(*w.server, "GET", status, keys.headers("GET", status, "", nowMs(), freshNonce()), "").status == 404);
}

TEST_CASE("access log: every pull and evidence download is recorded - entries edited, removed, reordered or cut off fail verification") {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    const std::string inspection = SyncWorld::inspectionFor(lead, {&a});
    const fs::path doc = a.dir / "凭证.pdf";
    writeNoise(doc, 100000, 3);
    REQUIRE(a({"finding", "add", "--inspection", inspection, "--title", "凭证缺失", "--evidence", doc.string()}).exitCode == 0);
    SyncWorld::sync(a);
    CHECK(SyncWorld::sync(lead)["evidence"]["downloaded"] == 1);
    SyncWorld::sync(w.office);

    json log = w.office.jsonOf({"access-log"});
    CHECK(log["verified"] == true);
    // Every pull the server answered is an entry, device by device (its request log says which).
    std::map<std::string, int> pullsLogged, pullsServed;
    for (const auto& l : logLines(*w.server, "/v1/pull", "GET"))
        if (l["status"] == 200) ++pullsServed[l["device"].get<std::string>()];
    std::map<std::string, int> downloads;  // person -> evidence downloads
    for (const auto& e : log["entries"]) {
        if (e["action"] == "pull") ++pullsLogged[e["device"].get<std::string>()];
        if (e["action"] == "evidence") {
            ++downloads[e["person"].get<std::string>()];
            CHECK(e["channels"] == json::array({inspection + ".team"}));
        }
    }
    CHECK(pullsLogged == pullsServed);
    CHECK(pullsServed.size() == 3);  // the office, the lead and the inspector
    // The file (one chunk) fetched once by the lead and once by the office; never by its author.
    CHECK(downloads == std::map<std::string, int>{{"吴敏", 1}, {"郑华", 1}});
    const std::size_t entries = log["entries"].size();
    REQUIRE(entries >= 6);

    // The same data directory, tampered with five ways; each is caught.
    REQUIRE(w.server->terminate() == 0);
    const fs::path pristine = w.serverDir / "pristine";
    fs::copy(w.server->data(), pristine, fs::copy_options::recursive);
    auto restore = [&] {
        fs::remove_all(w.server->data());
        fs::copy(pristine, w.server->data(), fs::copy_options::recursive);
    };
    const auto sha = [](const std::string& t) { return xs::crypto::toHex(xs::crypto::sha256(xs::crypto::asBytes(t))); };
    struct Case {
        const char* name;
        std::function<void(xs::sync::Db&)> edit;
    };
    const std::vector<Case> cases = {
        {"an entry's action edited", [](xs::sync::Db& db) { execSql(db, "UPDATE server_access SET entry = replace(entry, '\"pull\"', '\"push\"') WHERE seq = 2"); }},
        {"an entry edited and its hash recomputed",
         [&](xs::sync::Db& db) {
             auto s = db.prepare("SELECT entry FROM server_access WHERE seq = 2");
             REQUIRE(s);
             REQUIRE(*s->step());
             std::string edited = s->text(0);
             edited.replace(edited.find("\"range\""), 7, "\"range\" ");
             auto u = db.prepare("UPDATE server_access SET entry = ?, hash = ? WHERE seq = 2");
             REQUIRE(u);
             REQUIRE(u->bind(1, edited).bind(2, sha(edited)).run());
         }},
        {"an entry removed", [](xs::sync::Db& db) { execSql(db, "DELETE FROM server_access WHERE seq = 3"); }},
        {"two entries swapped",
         [](xs::sync::Db& db) {
             execSql(db, "UPDATE server_access SET seq = -1 WHERE seq = 2");
             execSql(db, "UPDATE server_access SET seq = 2 WHERE seq = 3");
             execSql(db, "UPDATE server_access SET seq = 3 WHERE seq = -1");
         }},
        {"the last entries cut off", [&](xs::sync::Db& db) { execSql(db, "DELETE FROM server_access WHERE seq > " + std::to_string(entries - 2)); }},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        restore();
        tamperServerStore(*w.server, c.edit);
        w.server->start();
        auto r = w.office({"access-log"});
        CHECK(r.exitCode == 6);
        CHECK_MESSAGE(r.err.find("access log") != std::string::npos, r.err);
        REQUIRE(w.server->terminate() == 0);
    }
    // Untouched, it verifies again and extends what the office saw.
    restore();
    w.server->start();
    auto again = w.office.jsonOf({"access-log"});
    CHECK(again["entries"].size() == entries);
    CHECK(again["head"] == log["head"]);
    // Only the office reads it.
    auto r = lead({"access-log"});
    CHECK(r.exitCode == 5);
}

TEST_CASE("exports: an evidence export and a handover export are signed records the office sees after the next sync") {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    const std::string inspection = SyncWorld::inspectionFor(lead, {&a});
    const fs::path doc = a.dir / "合同.pdf";
    const std::string hash = writeNoise(doc, 50000, 4);
    REQUIRE(a({"finding", "add", "--inspection", inspection, "--title", "合同未审", "--evidence", doc.string()}).exitCode == 0);
    auto r = a({"evidence", "export", hash, "--out", (a.dir / "取出.pdf").string()});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    r = a({"handover", "export", "--inspection", inspection, "--out", (a.dir / "移交.age").string()});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    // On the device itself, at once.
    json mine = a.jsonOf({"exports"});
    REQUIRE(mine.size() == 2);
    SyncWorld::sync(a);
    SyncWorld::sync(w.office);
    json seen = w.office.jsonOf({"exports", "--inspection", inspection});
    REQUIRE(seen.size() == 2);
    CHECK(seen[0]["what"] == "evidence");
    CHECK(seen[0]["subject"] == hash);
    CHECK(seen[0]["file_name"] == "取出.pdf");
    CHECK(seen[0]["bytes"] == 50000);
    CHECK(seen[0]["person"] == "冯磊");
    CHECK(seen[1]["what"] == "handover");
    CHECK(seen[1]["person"] == "冯磊");
    CHECK(seen[1]["file_name"] == "移交.age");
    // The lead reads the team channel too; the record is the same everywhere.
    SyncWorld::sync(lead);
    CHECK(lead.jsonOf({"exports", "--inspection", inspection}) == seen);
}

namespace {

// Polls the session's sync status until `done` holds (fails after `seconds`).
xs::app::SyncStatusView waitForStatus(xs::app::Session& s, const std::function<bool(const xs::app::SyncStatusView&)>& done,
                                      int seconds, const char* what) {
    xs::app::SyncStatusView last;
    for (int i = 0; i < seconds * 20; ++i) {
        auto st = s.syncStatus();
        REQUIRE_MESSAGE(st.ok(), st.message());
        last = *st;
        if (done(last)) return last;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL_CHECK("sync status never became: " << what << " (online " << last.online << ", waiting " << last.waitingChangeSets
                                            << ", error '" << last.lastError << "')");
    return last;
}

}  // namespace

TEST_CASE("sync worker: queues while the server is down, says so, and sends everything once it is back - status through the session") {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    const std::string inspection = SyncWorld::inspectionFor(lead, {&a});
    auto session = xs::app::Session::open(a.store, kPass);
    REQUIRE_MESSAGE(session.ok(), session.message());
    xs::app::Session& s = **session;
    std::atomic<int> wakes{0}, arrived{0};
    REQUIRE(s.startSyncWorker([&](const std::vector<xs::app::ArrivalView>& batch) { arrived += static_cast<int>(batch.size()); },
                              [&] { ++wakes; })
                .ok());
    waitForStatus(s, [](const auto& v) { return v.online && v.rounds >= 1; }, 30, "online");

    // Online: a capture reaches the office within the round syncNow starts (the long-poll is cut).
    REQUIRE(a({"finding", "add", "--inspection", inspection, "--title", "在线记录"}).exitCode == 0);
    auto st = s.syncStatus();
    REQUIRE(st.ok());
    CHECK(st->waitingChangeSets == 1);
    CHECK(st->waitingBytes > 0);
    s.syncNow();
    waitForStatus(s, [](const auto& v) { return v.waitingChangeSets == 0; }, 30, "nothing waiting");
    SyncWorld::sync(w.office);
    CHECK(w.office.jsonOf({"finding", "list"}).size() == 1);

    // The server goes away: the worker says offline, with the reason, and what waits.
    w.server->kill9();
    REQUIRE(a({"finding", "add", "--inspection", inspection, "--title", "离线记录一"}).exitCode == 0);
    REQUIRE(a({"finding", "add", "--inspection", inspection, "--title", "离线记录二"}).exitCode == 0);
    s.syncNow();
    auto down = waitForStatus(s, [](const auto& v) { return !v.online && !v.lastError.empty(); }, 30, "offline");
    CHECK(down.waitingChangeSets == 2);
    CHECK(down.nextAttemptMs > down.lastAttemptMs);
    CHECK(down.lastSuccessMs > 0);

    // Back: the next attempt (backoff) sends both, nothing twice.
    w.server->start();
    auto up = waitForStatus(s, [](const auto& v) { return v.online && v.waitingChangeSets == 0; }, 90, "online again");
    CHECK(up.lastError.empty());
    CHECK(up.lastSuccessMs >= down.lastAttemptMs);
    SyncWorld::sync(w.office);
    CHECK(w.office.jsonOf({"finding", "list"}).size() == 3);

    // What others send arrives through the worker's long-poll, and wakes the front end.
    const int before = arrived.load();
    REQUIRE(lead({"finding", "add", "--inspection", inspection, "--title", "组长记录"}).exitCode == 0);
    SyncWorld::sync(lead);
    for (int i = 0; i < 600 && arrived.load() == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(arrived.load() > before);
    CHECK(wakes.load() >= 3);
    s.stopSyncWorker();
    CHECK(!s.syncStatus()->running);
    auto list = s.findings();
    REQUIRE(list.ok());
    CHECK(list->size() == 4);
}

TEST_CASE("sync: need-to-know - a third-party auditor's device gets the inspection it is engaged on and nothing of another") {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    Cli& auditor = w.enrol("钱伟", "third_party_auditor");
    SyncWorld::sync(lead);
    auto r = lead({"inspection", "create", "--unit", "E03", "--start", today(), "--team", "W02,T01"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    const std::string engaged = r.out.substr(0, 36);
    r = lead({"inspection", "create", "--unit", "E02", "--start", today(), "--team", "W02"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    const std::string other = r.out.substr(0, 36);
    SyncWorld::sync(lead);
    SyncWorld::sync(a);
    SyncWorld::signAll(engaged, {&lead, &a, &auditor});
    SyncWorld::signAll(other, {&lead, &a});
    const std::string secret = "MARKER-另一项目-底稿-55e1";
    REQUIRE(a({"finding", "add", "--inspection", engaged, "--title", "工程款支付审计", "--audit-category",
               xs::app::auditCategories().front()})
                .exitCode == 0);
    REQUIRE(a({"finding", "add", "--inspection", other, "--title", secret, "--description", secret}).exitCode == 0);
    SyncWorld::sync(a);

    SyncWorld::sync(auditor);
    json list = auditor.jsonOf({"finding", "list"});
    REQUIRE(list.size() == 1);
    CHECK(list[0]["inspection_id"] == engaged);
    CHECK(auditor({"finding", "list", "--inspection", other}).out.find(secret) == std::string::npos);
    auto v = auditor({"verify"});
    CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));
    // Off the wire: the other inspection's team change sets come withheld, this one's whole.
    DeviceKeys keys(auditor);
    const Pulled pulled = rawPull(*w.server, keys);
    CHECK(pulled.body.find(secret) == std::string::npos);
    bool sawEngaged = false;
    const json& answer = pulled.answer;
    for (const auto& cs : answer["changesets"]) {
        if (cs.contains("withheld")) continue;
        for (const auto& op : cs["ops"]) {
            const std::string ch = op["channel"];
            CHECK_MESSAGE(ch.rfind(other, 0) != 0, ch);
            if (ch == engaged + ".team") sawEngaged = true;
        }
    }
    CHECK(sawEngaged);
    int withheld = 0;
    for (const auto& cs : answer["changesets"]) withheld += cs.contains("withheld") ? 1 : 0;
    CHECK(withheld >= 1);  // at least the other inspection's finding
}

// ---- clues for the discipline commission (线索移交): the audit office and the commission only

#include "app/workspace.h"
#include "sync/apply.h"
#include "sync/changeset_codec.h"
#include "tests/sync/forge.h"

namespace {

// A count from a device's store, read in this process (the store stays usable by the CLI).
std::int64_t countIn(const DeviceKeys& k, const std::string& sql, const std::string& channel) {
    auto s = k.store->db().prepare(sql.c_str());
    REQUIRE(s.ok());
    s->bind(1, channel);
    auto row = s->step();
    REQUIRE(row.ok());
    REQUIRE(*row);
    return s->int64(0);
}

}  // namespace

TEST_CASE("clues: the office's clue reaches only the discipline commission's device - an inspector's, the lead's and the unit head's get it withheld, the access log says so, a forged one is refused") {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    Cli& head = w.enrol("高峰", "unit_head");  // head of E03, the inspected unit
    // The office plans the inspection, so its device administers (and alone keys) the clue channel.
    SyncWorld::sync(w.office);
    auto r = w.office({"inspection", "create", "--unit", "E03", "--start", today(), "--team", "W02", "--lead", "W01"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    const std::string inspection = r.out.substr(0, 36);
    const std::string clueCh = inspection + ".clue";
    SyncWorld::sync(w.office);
    // Enrolled after the plan: the office adds the commission's device to the clue channel.
    Cli& commission = w.enrol("韩冰", "discipline_commission");
    SyncWorld::sync(a);
    SyncWorld::signAll(inspection, {&lead, &a});
    r = a({"finding", "add", "--inspection", inspection, "--title", "工程款支付异常", "--description", "向关联公司超额支付"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    const std::string finding = r.out.substr(0, 36);
    SyncWorld::sync(a);
    SyncWorld::sync(w.office);

    const std::string marker = "MARKER-问题线索-关联交易-4d2e";
    json added = w.office.jsonOf({"clue", "add", "--inspection", inspection, "--finding", finding, "--summary", marker, "--to",
                                  "区纪委监委第一纪检监察室"});
    const std::string clue = added["id"];
    json sent = w.office.jsonOf({"clue", "transfer", clue});
    CHECK(sent["status"] == "transferred");
    CHECK(sent["transferred_by_name"] == "吴敏");
    SyncWorld::sync(w.office);
    for (const Cli* c : {&lead, &a, &head, &commission}) SyncWorld::sync(*c);

    // The commission reads it and marks it received; the office sees that.
    json list = commission.jsonOf({"clue", "list"});
    REQUIRE(list.size() == 1);
    CHECK(list[0]["id"] == clue);
    CHECK(list[0]["summary"] == marker);
    CHECK(list[0]["finding_id"] == finding);
    CHECK(list[0]["status"] == "transferred");
    CHECK(commission.jsonOf({"finding", "list"}).empty());  // never the team's work
    json got = commission.jsonOf({"clue", "receive", clue});
    CHECK(got["status"] == "received");
    CHECK(got["received_by_name"] == "韩冰");
    SyncWorld::sync(commission);
    SyncWorld::sync(w.office);
    json seen = w.office.jsonOf({"clue", "list"});
    REQUIRE(seen.size() == 1);
    CHECK(seen[0]["status"] == "received");
    CHECK(seen[0]["received_by_name"] == "韩冰");
    CHECK(seen[0]["transferred_to"] == "区纪委监委第一纪检监察室");
    {
        DeviceKeys keys(commission);
        CHECK(countIn(keys, "SELECT COUNT(*) FROM channel_keys WHERE channel = ?", clueCh) >= 1);
        CHECK(countIn(keys, "SELECT COUNT(*) FROM ops WHERE channel = ?", clueCh) >= 2);
        int clueOps = 0;
        const json answer = rawPull(*w.server, keys).answer;
        for (const auto& cs : answer["changesets"])
            if (!cs.contains("withheld"))
                for (const auto& op : cs["ops"]) clueOps += op["channel"] == clueCh ? 1 : 0;
        CHECK(clueOps >= 2);  // the office's draft and transfer, whole
    }

    // The inspector, the lead and the unit head: nothing shown, nothing to act on, no key, no op
    // of the clue channel in their stores, and the server sends those change sets withheld.
    for (const Cli* c : {&a, &lead, &head}) {
        CAPTURE(c->store.string());
        SyncWorld::sync(*c);
        CHECK(c->jsonOf({"clue", "list"}).empty());
        CHECK((*c)({"clue", "receive", clue}).exitCode == static_cast<int>(xs::app::AppError::NotFound));
        auto v = (*c)({"verify"});
        CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));
        DeviceKeys keys(*c);
        CHECK(countIn(keys, "SELECT COUNT(*) FROM channel_keys WHERE channel = ?", clueCh) == 0);
        CHECK(countIn(keys, "SELECT COUNT(*) FROM ops WHERE channel = ?", clueCh) == 0);
        const Pulled pulled = rawPull(*w.server, keys);
        CHECK(pulled.body.find(marker) == std::string::npos);
        int withheld = 0;
        const json& answer = pulled.answer;
        for (const auto& cs : answer["changesets"]) {
            if (cs.contains("withheld")) {
                ++withheld;
                CHECK_FALSE(cs.contains("ops"));
                continue;
            }
            for (const auto& op : cs["ops"]) CHECK_MESSAGE(op["channel"] != clueCh, op["channel"].get<std::string>());
        }
        CHECK(withheld >= 3);  // the draft, the transfer, the receipt (and the team's work for the head)
    }

    // The access log (the office's): no pull of theirs delivered the clue channel; the
    // commission's did.
    json log = w.office.jsonOf({"access-log"});
    CHECK(log["verified"] == true);
    std::map<std::string, int> pulls, cluePulls;
    for (const auto& e : log["entries"]) {
        if (e["action"] != "pull") continue;
        const std::string who = e.value("person", "");
        ++pulls[who];
        for (const auto& ch : e["channels"]) cluePulls[who] += ch == clueCh ? 1 : 0;
    }
    for (const char* who : {"冯磊", "郑华", "高峰"}) {
        CAPTURE(who);
        CHECK(pulls[who] >= 2);
        CHECK(cluePulls[who] == 0);
    }
    CHECK(cluePulls["韩冰"] >= 1);

    // An inspector who got hold of the clue key (copied from the office's store) forges a clue:
    // the server, the office and the commission refuse it — it is not a member of the channel.
    std::string forgedId;
    {
        DeviceKeys officeKeys(w.office);
        auto k = officeKeys.store->db().prepare("SELECT epoch, key FROM channel_keys WHERE channel = ? ORDER BY epoch DESC");
        REQUIRE(k.ok());
        k->bind(1, clueCh);
        auto row = k->step();
        REQUIRE(row.ok());
        REQUIRE(*row);
        auto ws = xs::app::Workspace::open(a.store, kPass);
        REQUIRE(ws.ok());
        auto put = (*ws)->store().db().prepare("INSERT INTO channel_keys (channel, epoch, key) VALUES (?, ?, ?)");
        REQUIRE(put.ok());
        put->bind(1, clueCh).bind(2, k->int64(0)).bindBlob(3, k->blob(1));
        REQUIRE(put->run().ok());
        auto rid = xs::sync::newOwnedId((*ws)->log().deviceId());
        REQUIRE(rid.ok());
        xs::sync::test::Forge forge((*ws)->log(), (*ws)->store());
        xs::sync::ChangeSet cs = forge.make({forge.sealed(clueCh, "clue", *rid,
                                                          {{"inspection_id", inspection}, {"summary", "伪造的线索"}, {"status", "drafted"},
                                                           {"created_by", (*ws)->self().personId}, {"created_at", nowMs()}})});
        forgedId = cs.id;
        DeviceKeys keys(a);
        const std::string body = json{{"changesets", json::array({xs::sync::changeSetToJson(cs)})}}.dump();
        auto pushed = rawRequest(*w.server, "POST", "/v1/push", keys.headers("POST", "/v1/push", body, nowMs(), freshNonce()), body);
        REQUIRE_MESSAGE(pushed.status == 200, pushed.body);
        const json answer = json::parse(pushed.body);
        REQUIRE(answer["refused"].size() == 1);
        CHECK(answer["refused"][0]["id"] == forgedId);
        CHECK_MESSAGE(answer["refused"][0]["reason"].get<std::string>().find("not a member") != std::string::npos, pushed.body);
        // Its own store keeps the link too (the chain goes on from it).
        auto session = xs::sync::ApplySession::begin((*ws)->log());
        REQUIRE(session.ok());
        auto outcome = (*session)->add(cs);
        REQUIRE(outcome.ok());
        CHECK(*outcome == xs::sync::ApplyOutcome::Refused);
        REQUIRE((*session)->commit().ok());
    }
    for (const Cli* c : {&w.office, &commission}) {
        CAPTURE(c->store.string());
        SyncWorld::sync(*c);
        json refused = c->jsonOf({"refused"});
        bool found = false;
        for (const auto& x : refused) found = found || (x["id"] == forgedId && x["reason"].get<std::string>().find("not a member") != std::string::npos);
        CHECK_MESSAGE(found, refused.dump());
        json clues = c->jsonOf({"clue", "list"});
        REQUIRE(clues.size() == 1);
        CHECK(clues[0]["id"] == clue);
    }
    SyncWorld::sync(a);  // its chain goes on
    CHECK(a({"verify"}).exitCode == 0);
}

TEST_CASE("keys: a keys-only fetch hands a device the keys of its channels first - plaintext records whole, no channel's work, logged as a key fetch") {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    Cli& head = w.enrol("高峰", "unit_head");  // head of E03
    SyncWorld::sync(lead);
    auto r = lead({"inspection", "create", "--unit", "E03", "--start", today(), "--team", "W02"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    const std::string inspection = r.out.substr(0, 36);
    lead.signAgreement(inspection);
    REQUIRE(lead({"finding", "add", "--inspection", inspection, "--title", "MARKER-keys-底稿"}).exitCode == 0);
    SyncWorld::sync(lead);

    // What the server hands the unit head on /v1/keys: the plaintext records whole (its
    // membership among them), no encrypted channel's work.
    DeviceKeys keys(head);
    const std::string target = "/v1/keys?after=0&limit=2000";
    auto raw = rawRequest(*w.server, "GET", target, keys.headers("GET", target, "", nowMs(), freshNonce()), "");
    REQUIRE(raw.status == 200);
    CHECK(raw.body.find("MARKER-keys") == std::string::npos);
    const json answer = json::parse(raw.body);
    int whole = 0;
    for (const auto& cs : answer["changesets"]) {
        if (cs.contains("withheld")) continue;
        bool hands = false;
        for (const auto& op : cs["ops"]) {
            CHECK_MESSAGE((op["channel"] == "sys" || op["channel"] == "org"), op.dump());
            hands = hands || (op["kind"] == "channel_member" && op["record_id"] == inspection + ".unit|" + keys.id());
        }
        whole += hands;
    }
    CHECK(whole == 1);
    for (const std::string bad : {"/v1/keys?wait=5", "/v1/keys?after=x"}) {
        auto refused = rawRequest(*w.server, "GET", bad, keys.headers("GET", bad, "", nowMs(), freshNonce()), "");
        CHECK(refused.status == 400);
    }

    // Through the client: the head gains the unit channel's key, the inspector the team's and the unit's.
    json got = head.jsonOf({"sync", "--keys-only"});
    CHECK(got["keys_gained"].get<int>() >= 1);
    json mine = a.jsonOf({"sync", "--keys-only"});
    CHECK(mine["keys_gained"].get<int>() >= 2);
    a.signAgreement(inspection);  // with the team's key it can sign (article 7(4)), before the findings come
    CHECK(a.jsonOf({"finding", "list"}).empty());  // keys only: the finding comes with the next sync
    SyncWorld::sync(a);
    CHECK(a.jsonOf({"finding", "list"}).size() == 1);
    SyncWorld::sync(head);
    CHECK(head.jsonOf({"finding", "list"}).empty());
    for (const Cli* c : {&a, &head}) {
        auto v = (*c)({"verify"});
        CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));
    }
    // Who saw what: each keys fetch is an entry naming the channels whose keys it handed over.
    json log = w.office.jsonOf({"access-log"});
    std::map<std::string, std::set<std::string>> keyed;  // person -> channels
    for (const auto& e : log["entries"])
        if (e["action"] == "keys")
            for (const auto& c : e["channels"]) keyed[e["person"].get<std::string>()].insert(c.get<std::string>());
    CHECK(keyed["高峰"] == std::set<std::string>{inspection + ".unit"});
    CHECK(keyed["冯磊"] == std::set<std::string>{inspection + ".team", inspection + ".unit"});
}

TEST_CASE("agreement: the office lists who signed when across a sync - a member sees none of the inspection's findings until it signs") {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    const std::string inspection = SyncWorld::inspectionFor(lead, {});  // the lead signs; 冯磊 has not
    REQUIRE(lead({"finding", "add", "--inspection", inspection, "--title", "签署后记录的问题"}).exitCode == 0);
    SyncWorld::sync(lead);
    SyncWorld::sync(a);
    auto shown = a.jsonOf({"inspection", "show", inspection});
    CHECK(shown["agreement_required"] == true);
    CHECK(shown["agreement_signed"] == false);
    CHECK(a.jsonOf({"finding", "list"}).empty());  // held on the store, not shown
    auto gated = a({"finding", "list", "--inspection", inspection});
    CHECK(gated.exitCode == 5);
    CHECK(gated.err.find("xunshenctl agreement sign " + inspection) != std::string::npos);

    SyncWorld::sync(w.office);
    auto before = w.office.jsonOf({"agreement", "list", inspection});
    REQUIRE(before.size() == 1);
    CHECK(before[0]["person_name"] == "郑华");

    const auto signedAfter = nowMs();
    auto r = a({"agreement", "sign", inspection});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    CHECK(a.jsonOf({"finding", "list"}).size() == 1);
    const std::int64_t at = a.jsonOf({"agreement", "show", inspection})["signed_at_ms"];
    CHECK(at >= signedAfter);
    // Not on the office's store until the member syncs and the office does.
    SyncWorld::sync(w.office);
    CHECK(w.office.jsonOf({"agreement", "list", inspection}).size() == 1);
    SyncWorld::sync(a);
    SyncWorld::sync(w.office);
    auto after = w.office.jsonOf({"agreement", "list", inspection});
    REQUIRE(after.size() == 2);
    CHECK(after[1]["person_name"] == "冯磊");
    CHECK(after[1]["signed_at_ms"] == at);
    CHECK(after[1]["version"] == "v1");
    auto plain = w.office({"agreement", "list"});
    REQUIRE(plain.exitCode == 0);
    CHECK(plain.out.find("冯磊") != std::string::npos);
    // The lead's store sees it too, and the office's verify is clean.
    SyncWorld::sync(lead);
    CHECK(lead.jsonOf({"agreement", "list", inspection}).size() == 2);
    CHECK(w.office({"verify"}).exitCode == 0);
}
