// Workspace life cycle: reopening, wrong passphrase, rebuild, rekey.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "sync/suite.h"
#include "tests/app/app_test_util.h"

namespace xs::app {
namespace {

namespace fs = std::filesystem;
using test::errorOf;
using test::TempDir;

struct Fixture {
    TempDir tmp;
    sync::ManualClock clock{test::kBaseMs};
    std::unique_ptr<Workspace> office;  // the registrar, which imported the organisation
    std::unique_ptr<Workspace> ws;
    std::string inspection;

    Fixture() {
        office = test::officeWorkspace(tmp / "office", clock);
        ws = test::enrolledWorkspace(*office, tmp / "store", "郑华", Role::WorkingGroupLead, clock);
        InspectionInput in;
        in.unit = "E01";
        in.start = formatDate(ws->today());
        in.days = 7;
        auto id = ws->createInspection(in);
        REQUIRE_MESSAGE(id.ok(), test::describe(id));
        inspection = *id;
        REQUIRE(ws->signAgreement(inspection).ok());  // on its team: the agreement first (article 7(4))
    }
};

}  // namespace

TEST_CASE("workspace: reopens with its owner - records and a rebuild that changes nothing") {
    Fixture fx;
    FindingInput in;
    in.inspection = fx.inspection;
    in.title = "标题";
    auto id = fx.ws->addFinding(in);
    REQUIRE(id.ok());
    const std::string personId = fx.ws->self().personId;
    auto before = fx.ws->verify();
    REQUIRE(before.ok());
    CHECK(before->ok);
    fx.ws.reset();

    sync::test::SleepRecorder sleeper;
    CHECK(errorOf(Workspace::open(fx.tmp / "store", "wrong", fx.clock)) == AppError::Locked);
    auto ws = Workspace::open(fx.tmp / "store", "口令 passphrase", fx.clock);
    REQUIRE_MESSAGE(ws.ok(), test::describe(ws));
    CHECK((*ws)->self().personId == personId);
    CHECK(((*ws)->self().role == Role::WorkingGroupLead));
    CHECK((*ws)->self().name == "郑华");
    auto f = (*ws)->finding(*id);
    REQUIRE(f.ok());
    CHECK((*f)["title"] == "标题");
    REQUIRE((*ws)->rebuild().ok());
    auto after = (*ws)->verify();
    REQUIRE(after.ok());
    CHECK(after->ok);
    CHECK(after->projectionDigest == before->projectionDigest);
}

TEST_CASE("workspace: rekey refuses Argon2 parameters the key file would reject") {
    Fixture fx;
    const crypto::Argon2Params weak{.iterations = 1, .memoryKiB = 1024, .parallelism = 1};
    auto r = fx.ws->rekey("新口令", weak);
    CHECK(errorOf(r) == AppError::Refused);
    fx.ws.reset();
    sync::test::SleepRecorder sleeper;
    auto old = Workspace::open(fx.tmp / "store", "口令 passphrase", fx.clock);
    auto fresh = Workspace::open(fx.tmp / "store", "新口令", fx.clock);
    CHECK_MESSAGE((old.ok() || fresh.ok()),
                  "workspace cannot be opened any more: " << test::describe(old) << "; " << test::describe(fresh));
}

TEST_CASE("workspace: init refuses Argon2 parameters the key file would reject") {
    // Whatever init accepts must open again.
    TempDir tmp;
    sync::ManualClock clock(test::kBaseMs);
    const crypto::Argon2Params manyLanes{.iterations = 1, .memoryKiB = 8192, .parallelism = 17};
    auto ws = Workspace::init(tmp / "store", "口令", "郑华", Role::WorkingGroupLead, manyLanes, clock);
    if (!ws.ok()) {
        CHECK(errorOf(ws) == AppError::Refused);
        return;
    }
    ws.value().reset();
    auto opened = Workspace::open(tmp / "store", "口令", clock);
    CHECK_MESSAGE(opened.ok(), "init accepted parameters open rejects: " << test::describe(opened));
}

}  // namespace xs::app

namespace xs::app {

TEST_CASE("device identity file: names its crypto suite - one without it, or with a suite this version lacks, is refused") {
    test::TempDir tmp;
    sync::ManualClock clock(test::kBaseMs);
    auto ws = test::initWorkspace(tmp / "store", "冯磊", Role::WorkingGroupMember, clock);
    auto file = devicePublicJson(*ws);
    REQUIRE(file.ok());
    CHECK((*file)["suite"] == sync::kSuiteXs1);
    // Through text, as the file travels.
    const Json travelled = Json::parse(file->dump());
    REQUIRE_MESSAGE(parseDeviceFile(travelled).ok(), test::describe(parseDeviceFile(travelled)));
    for (const Json& suite : {Json(), Json(2), Json("1"), Json(-1), Json(1.0)}) {
        CAPTURE(suite.dump());
        Json bad = travelled;
        if (suite.is_null()) bad.erase("suite");
        else bad["suite"] = suite;
        auto parsed = parseDeviceFile(bad);
        CHECK(test::errorOf(parsed) == AppError::Refused);
        CHECK(test::mentions(test::messageOf(parsed), "crypto suite"));
    }
    Json older = travelled;
    older.erase("suite");
    older["version"] = 2;
    CHECK(test::mentions(test::messageOf(parseDeviceFile(older)), "another version"));
}

}  // namespace xs::app

namespace xs::app {

// verify's replay runs on an in-memory copy of the store: it must still see a projection that
// no longer matches the log, and leave the store as it was.
TEST_CASE("verify: a projection row changed behind the log's back is reported - the replay changes nothing") {
    test::TempDir tmp;
    sync::ManualClock clock(test::kBaseMs);
    auto office = test::officeWorkspace(tmp / "office", clock);
    auto ws = test::enrolledWorkspace(*office, tmp / "store", "郑华", Role::WorkingGroupLead, clock);
    InspectionInput in;
    in.unit = "E01";
    in.start = formatDate(ws->today());
    auto inspection = ws->createInspection(in);
    REQUIRE(inspection.ok());
    REQUIRE(ws->signAgreement(*inspection).ok());
    FindingInput f;
    f.inspection = *inspection;
    f.title = "原标题";
    REQUIRE(ws->addFinding(f).ok());
    auto clean = ws->verify();
    REQUIRE(clean.ok());
    CHECK(clean->ok);
    REQUIRE(ws->store().db().exec("UPDATE findings SET title = '改过的标题'").ok());
    auto report = ws->verify();
    REQUIRE(report.ok());
    CHECK(!report->ok);
    bool named = false;
    for (const auto& p : report->problems) named = named || test::mentions(p, "projections differ from a replay");
    CHECK(named);
    // The replay wrote to its copy only: the changed row is still there.
    auto title = ws->store().db().prepare("SELECT title FROM findings");
    REQUIRE(title.ok());
    auto row = title->step();
    REQUIRE(row.ok());
    REQUIRE(*row);
    CHECK(title->text(0) == "改过的标题");
}

}  // namespace xs::app
