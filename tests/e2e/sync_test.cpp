// End-to-end tests of online sync: a real xunshen-server process on 127.0.0.1 and real
// xunshenctl clients, each on its own encrypted store.
#include <doctest/doctest.h>

#include <memory>

#include "tests/e2e/cli_fixture.h"
#include "tests/e2e/process.h"

using namespace xs::test;

namespace {

// An audit office, a server trusting it, and people enrolled online-ready (the enrolment file
// carries the server's URL and pin).
struct SyncWorld {
    Cli office;
    TempDir serverDir;
    std::unique_ptr<ServerProcess> server;
    std::map<std::string, std::unique_ptr<Cli>> people;

    SyncWorld() {
        office.makeOffice();
        fs::path officeId = office.dir / "office-identity.json";
        REQUIRE(office({"identity", "export", "--out", officeId.string()}).exitCode == 0);
        server = std::make_unique<ServerProcess>(serverDir / "server", officeId);
        server->start();
        auto r = office({"sync", "--server", server->url(), "--pin", server->pin()});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    }
    // Enrols `name` (of the demo organisation) in `role`; the office syncs the registration.
    Cli& enrol(const std::string& name, const std::string& role) {
        auto& c = people[name];
        c = std::make_unique<Cli>();
        c->init(name, role);
        fs::path device = c->dir / "device.json";
        REQUIRE(c->operator()({"identity", "export", "--out", device.string()}).exitCode == 0);
        auto r = office({"org", "enrol-device", device.string()});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        fs::path enrolment = c->dir / "enrolment.json";
        r = office({"org", "export-enrolment", "--out", enrolment.string(), "--server-url", server->url(), "--tls-pin",
                    server->pin()});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        r = (*c)({"org", "enrol", enrolment.string()});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        sync(office);
        return *c;
    }
    static json sync(const Cli& c) {
        auto r = c({"sync", "--json"});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        return json::parse(r.out.substr(r.out.rfind("\n{") == std::string::npos ? 0 : r.out.rfind("\n{") + 1));
    }
};

std::string today() {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    return xs::app::formatDate(xs::app::dayAt(now.count(), 480) - 1);
}

}  // namespace

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
