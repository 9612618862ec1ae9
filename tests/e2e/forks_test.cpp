// A copied device online: both copies write the next link of one chain; the server stores the
// first, refuses the second as a fork and reports it to the audit office's device, whose own
// judge confirms and records it (verify lists it). Nobody else is told of it.
#include <doctest/doctest.h>

#include "tests/e2e/raw_http.h"
#include "tests/e2e/sync_fixture.h"

using namespace xs::test;

TEST_CASE("forks: a copied device's second branch is refused by the server and reported to the audit office's device, which records it") {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    const std::string inspection = SyncWorld::inspectionFor(lead, {&a});
    // The copy: the whole store directory, keys and all (a stolen laptop image).
    Cli copy;
    fs::remove_all(copy.store);
    fs::copy(a.store, copy.store, fs::copy_options::recursive);

    auto r = a({"finding", "add", "--inspection", inspection, "--title", "原设备记录的问题"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    SyncWorld::sync(a);
    r = copy({"finding", "add", "--inspection", inspection, "--title", "复制设备记录的问题"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    r = copy({"sync"});
    CHECK(r.exitCode == 6);
    CHECK_MESSAGE(r.err.find("fork") != std::string::npos, r.err);

    // The office's next round brings the report; its own judge confirms the fork and keeps it.
    auto v = w.office({"verify"});
    CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));  // not yet known here
    json round = SyncWorld::sync(w.office);
    REQUIRE(round["forks"].size() == 1);
    CHECK(round["unconfirmed_forks"].empty());
    v = w.office({"verify"});
    CHECK(v.exitCode != 0);
    CHECK_MESSAGE((v.out + v.err).find("fork in the chain of device") != std::string::npos, (v.out + v.err));
    // Only the copy's branch is refused: the office holds the original finding, not the copy's.
    json findings = w.office.jsonOf({"finding", "list"});
    REQUIRE(findings.size() == 1);
    CHECK(findings[0]["title"] == "原设备记录的问题");
    // Told once: the next round brings nothing new.
    CHECK(SyncWorld::sync(w.office)["forks"].empty());
    // The lead's device is not told, and its store is unchanged by it.
    json leads = SyncWorld::sync(lead);
    CHECK(leads["forks"].empty());
    CHECK(lead({"verify"}).exitCode == 0);
    // The fork report route is the office's alone.
    DeviceKeys keys(lead);
    auto raw = rawRequest(*w.server, "GET", "/v1/forks", keys.headers("GET", "/v1/forks", "", nowMs(), freshNonce()), "");
    CHECK(raw.status == 403);
    DeviceKeys office(w.office);
    raw = rawRequest(*w.server, "GET", "/v1/forks?after=x", office.headers("GET", "/v1/forks?after=x", "", nowMs(), freshNonce()), "");
    CHECK(raw.status == 400);
    raw = rawRequest(*w.server, "GET", "/v1/forks", office.headers("GET", "/v1/forks", "", nowMs(), freshNonce()), "");
    REQUIRE(raw.status == 200);
    const json reports = json::parse(raw.body);
    REQUIRE(reports["forks"].size() == 1);
    CHECK(reports["forks"][0]["changeset"]["device"] == reports["forks"][0]["device"]);
    CHECK(raw.body.find("复制设备记录的问题") == std::string::npos);  // sealed: the server cannot read it either
}
