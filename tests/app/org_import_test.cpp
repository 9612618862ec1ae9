// Importing the organisation (units, people, rounds): counts, idempotent re-import, all-or-nothing
// refusal of malformed documents.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/app/app_test_util.h"

namespace xs::app {
namespace {

using test::errorOf;
using test::TempDir;

std::string unitName(Workspace& ws, const std::string& code) {
    auto units = ws.units();
    REQUIRE(units.ok());
    for (const auto& u : *units)
        if (u["code"] == code) return u["name"].get<std::string>();
    return {};
}

}  // namespace

TEST_CASE("org import: the demo organisation has 15 units and 29 people - and re-import does not duplicate") {
    TempDir tmp;
    sync::ManualClock clock(test::kBaseMs);
    // The owner is 吴敏, the audit office listed in the file: the import keeps their record.
    auto ws = test::initWorkspace(tmp / "store", "吴敏", Role::AuditOffice, clock);
    const Json org = test::loadOrg();

    auto r = ws->importOrg(org);
    REQUIRE_MESSAGE(r.ok(), test::describe(r));
    CHECK((*r)["units"] == 15);
    CHECK((*r)["people"] == 29);
    CHECK((*r)["rounds"] == 2);

    auto units = ws->units();
    REQUIRE(units.ok());
    REQUIRE(units->size() == 15);
    CHECK((*units)[0]["code"] == "E01");
    CHECK((*units)[0]["name"] == "区生态环境监测站");
    CHECK((*units)[14]["code"] == "E15");
    auto people = ws->people();
    REQUIRE(people.ok());
    CHECK(people->size() == 29);
    for (const auto& p : *people) {
        if (p["code"] == "A01") {
            CHECK(p["id"] == ws->self().personId);
            CHECK(p["role"] == "audit_office");
        }
        if (p["code"] == "H01") CHECK(p["unit_id"] == (*units)[0]["id"]);
    }
    CHECK(test::countRows(*ws, "SELECT count(*) FROM rounds") == 2);
    CHECK(test::countRows(*ws, "SELECT count(*) FROM rounds WHERE end_year = start_year + 2") == 2);

    // Re-import: same counts, same ids.
    const Json unitsBefore = *units;
    auto again = ws->importOrg(org);
    REQUIRE_MESSAGE(again.ok(), test::describe(again));
    auto units2 = ws->units();
    REQUIRE(units2.ok());
    CHECK(*units2 == unitsBefore);
    auto people2 = ws->people();
    REQUIRE(people2.ok());
    CHECK(people2->size() == 29);
    CHECK(test::countRows(*ws, "SELECT count(*) FROM rounds") == 2);

    // A changed name updates the unit in place.
    Json renamed = org;
    renamed["units"][0]["name"] = "区生态环境监测站（更名）";
    REQUIRE(ws->importOrg(renamed).ok());
    CHECK(test::countRows(*ws, "SELECT count(*) FROM units") == 15);
    CHECK(unitName(*ws, "E01") == "区生态环境监测站（更名）");

    auto report = ws->verify();
    REQUIRE(report.ok());
    CHECK(report->ok);
}

TEST_CASE("org import: an owner not listed in the file is kept beside the 29 people") {
    TempDir tmp;
    sync::ManualClock clock(test::kBaseMs);
    auto ws = test::initWorkspace(tmp / "store", "新来的审计员", Role::AuditOffice, clock);
    REQUIRE(ws->importOrg(test::loadOrg()).ok());
    auto people = ws->people();
    REQUIRE(people.ok());
    CHECK(people->size() == 30);
    CHECK(test::countRows(*ws, "SELECT count(*) FROM units") == 15);
}

TEST_CASE("org import: malformed documents are refused and change nothing") {
    TempDir tmp;
    sync::ManualClock clock(test::kBaseMs);
    auto ws = test::initWorkspace(tmp / "store", "吴敏", Role::AuditOffice, clock);
    const Json org = test::loadOrg();
    REQUIRE(ws->importOrg(org).ok());
    const auto ops = test::opCount(*ws);
    auto unitsBefore = ws->units();
    REQUIRE(unitsBefore.ok());
    auto peopleBefore = ws->people();
    REQUIRE(peopleBefore.ok());

    struct Case {
        const char* name;
        std::function<void(Json&)> damage;
    };
    const std::vector<Case> cases = {
        {"unknown top-level key", [](Json& j) { j["departments"] = Json::array(); }},
        {"units is not a list", [](Json& j) { j["units"] = Json::object(); }},
        {"unit without name", [](Json& j) { j["units"][3].erase("name"); }},
        {"unit with an empty name", [](Json& j) { j["units"][3]["name"] = ""; }},
        {"unit without code", [](Json& j) { j["units"][4].erase("code"); }},
        {"unit that is not an object", [](Json& j) { j["units"][2] = "E03"; }},
        {"person with a bad role", [](Json& j) { j["people"][5]["role"] = "boss"; }},
        {"person with a capitalised role", [](Json& j) { j["people"][5]["role"] = "Leader"; }},
        {"person without a role", [](Json& j) { j["people"][6].erase("role"); }},
        {"duplicate unit code", [](Json& j) { j["units"][1]["code"] = "E01"; }},
        {"duplicate person code", [](Json& j) { j["people"][2]["code"] = "L01"; }},
        {"person referring to an unknown unit", [](Json& j) { j["people"][14]["unit"] = "E99"; }},
        {"round without start_year", [](Json& j) { j["rounds"][0].erase("start_year"); }},
        {"round with a text start_year", [](Json& j) { j["rounds"][0]["start_year"] = "2023"; }},
        {"round starting before 1949", [](Json& j) { j["rounds"][0]["start_year"] = 1948; }},
        {"round starting after 2200", [](Json& j) { j["rounds"][0]["start_year"] = 2201; }},
        {"not an object", [](Json& j) { j = Json::array(); }},
    };
    for (const auto& c : cases) {
        CAPTURE(std::string(c.name));
        Json doc = org;
        // Every damaged document also renames a unit, so a partial import would show.
        if (doc.is_object() && doc.contains("units") && doc["units"].is_array())
            doc["units"][0]["name"] = "不应写入的名称";
        c.damage(doc);
        auto r = ws->importOrg(doc);
        CHECK(errorOf(r) == AppError::Refused);
        CHECK(test::opCount(*ws) == ops);
        auto units = ws->units();
        REQUIRE(units.ok());
        CHECK(*units == *unitsBefore);
        auto people = ws->people();
        REQUIRE(people.ok());
        CHECK(*people == *peopleBefore);
    }

    // Nothing to import is refused too.
    CHECK(errorOf(ws->importOrg(Json::object())) == AppError::Refused);
    CHECK(test::opCount(*ws) == ops);
}


// Found while writing the org_file fuzz target and confirmed by its UBSan report (the inputs are
// tests/fuzz/corpus/org_file/crash-start-year-*.json):
// start_year was read as an int, so 2147483647 overflowed start_year + 2 (undefined behaviour) and
// 4294969322 was recorded as the round of 2026.
TEST_CASE("org import: a start_year beyond int is refused, neither overflowed nor truncated") {
    TempDir tmp;
    sync::ManualClock clock(test::kBaseMs);
    auto ws = test::initWorkspace(tmp / "store", "吴敏", Role::AuditOffice, clock);
    const auto ops = test::opCount(*ws);
    for (const char* text : {R"({"rounds": [{"name": "r", "start_year": 2147483647}]})",
                             R"({"rounds": [{"name": "r", "start_year": 4294969322}]})",
                             R"({"rounds": [{"name": "r", "start_year": 18446744073709551615}]})",
                             R"({"rounds": [{"name": "r", "start_year": -2147483648}]})"}) {
        CAPTURE(std::string(text));
        const Json doc = Json::parse(text);
        auto parsed = parseOrgFile(doc, [](const std::string&) { return false; });
        CHECK(errorOf(parsed) == AppError::Refused);
        CHECK(test::mentions(test::messageOf(parsed), "start_year must be a year from 1949 to 2200"));
        CHECK(errorOf(ws->importOrg(doc)) == AppError::Refused);
    }
    CHECK(test::opCount(*ws) == ops);
    auto ok = parseOrgFile(Json::parse(R"({"rounds": [{"name": "r", "start_year": 2200}]})"), [](const std::string&) { return false; });
    REQUIRE_MESSAGE(ok.ok(), test::describe(ok));
    CHECK(ok->rounds.at(0).endYear == 2202);
}

}  // namespace xs::app

namespace xs::app {

TEST_CASE("org import: 12,000 units (more than one change set holds) go in whole - a re-import writes nothing") {
    TempDir tmp;
    sync::ManualClock clock(test::kBaseMs);
    auto ws = test::initWorkspace(tmp / "store", "吴敏", Role::AuditOffice, clock);
    Json org = {{"organisation", {{"name", "大组织"}, {"time_zone", "Asia/Urumqi"}}}, {"units", Json::array()}};
    const std::size_t n = 2 * Workspace::kOrgRecordsPerChangeSet + 2000;
    for (std::size_t i = 0; i < n; ++i) org["units"].push_back({{"code", "U" + std::to_string(i)}, {"name", "单位" + std::to_string(i)}});
    auto r = ws->importOrg(org);
    REQUIRE_MESSAGE(r.ok(), test::describe(r));
    CHECK((*r)["change_sets"].size() == 3);
    auto units = ws->units();
    REQUIRE(units.ok());
    CHECK(units->size() == n);
    CHECK(ws->timeZone() == "Asia/Urumqi");
    auto again = ws->importOrg(org);
    REQUIRE(again.ok());
    CHECK((*again)["change_set"].is_null());
    // A unit with an unknown key anywhere refuses the whole file; nothing of it is written.
    org["units"].push_back({{"code", "X1"}, {"name", "新单位"}});
    org["units"][n - 1]["colour"] = "red";
    auto bad = ws->importOrg(org);
    CHECK(errorOf(bad) == AppError::Refused);
    CHECK(bad.message().find("colour") != std::string::npos);
    CHECK(unitName(*ws, "X1").empty());
    // An unknown time zone is refused, not guessed.
    auto zone = ws->importOrg({{"organisation", {{"time_zone", "Mars/Olympus"}}}});
    CHECK(errorOf(zone) == AppError::Refused);
    CHECK(ws->timeZone() == "Asia/Urumqi");
}

}  // namespace xs::app
