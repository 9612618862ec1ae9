// Read calls: a finding's JSON, lists, history with every version, exported evidence.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

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
        in.title = "区生态环境监测站全面巡审";
        auto id = ws->createInspection(in);
        REQUIRE_MESSAGE(id.ok(), test::describe(id));
        inspection = *id;
        REQUIRE(ws->signAgreement(inspection).ok());  // on its team: the agreement first (article 7(4))
    }
};

}  // namespace

TEST_CASE("queries: finding() returns the finding with its evidence hashes") {
    Fixture fx;
    const std::string a = "接待清单\n2025-01-02,超标准\n";
    const std::string b = "资金拨付凭证 42万元";
    FindingInput in;
    in.inspection = "区生态环境监测站全面巡审";  // by title
    in.title = "公务接待未严格执行审批制度";
    in.description = "2025年度12批次公务接待无事前审批单。";
    in.category = FindingCategory::EightPointRules;
    in.severity = Severity::High;
    in.tags = {FindingTag::Trending};
    in.immediateFix = true;
    in.responsiblePerson = "办公室负责人";
    in.evidence = {test::writeFile(fx.tmp / "src", "接待清单.csv", a), test::writeFile(fx.tmp / "src", "凭证.txt", b)};
    auto id = fx.ws->addFinding(in);
    REQUIRE_MESSAGE(id.ok(), test::describe(id));

    auto f = fx.ws->finding(*id);
    REQUIRE_MESSAGE(f.ok(), test::describe(f));
    const Json& j = *f;
    for (const char* key : {"id", "title", "description", "status", "category", "severity", "immediate_fix", "evidence",
                            "inspection"}) {
        CAPTURE(std::string(key));
        CHECK(j.contains(key));
    }
    CHECK(j["id"] == *id);
    CHECK(j["title"] == in.title);
    CHECK(j["description"] == in.description);
    CHECK(j["status"] == "draft");
    CHECK(j["category"] == "eight_point_rules");
    CHECK(j["severity"] == "high");
    CHECK(j["immediate_fix"] == true);
    CHECK(j["inspection"] == fx.inspection);
    CHECK(j["responsible_person"] == "办公室负责人");
    CHECK(j["tags"] == Json::array({"trending"}));
    CHECK(j["author"] == fx.ws->self().personId);
    REQUIRE(j["evidence"].is_array());
    std::set<std::string> hashes;
    for (const auto& h : j["evidence"]) hashes.insert(h.get<std::string>());
    CHECK(hashes == std::set<std::string>{sync::test::sha256Hex(crypto::asBytes(a)),
                                          sync::test::sha256Hex(crypto::asBytes(b))});

    // Verification material is an attachment, not evidence.
    auto v = fx.ws->attachEvidence(*id, test::writeFile(fx.tmp / "src", "核查.txt", "核查记录"),
                                   EvidencePurpose::Verification);
    REQUIRE(v.ok());
    auto f2 = fx.ws->finding(*id);
    REQUIRE(f2.ok());
    CHECK((*f2)["evidence"].size() == 2);
    CHECK((*f2)["attachments"].size() == 3);

    // Evidence exports back to the original bytes.
    const fs::path out = fx.tmp / "out" / "export.csv";
    fs::create_directories(out.parent_path());
    REQUIRE(fx.ws->exportEvidence(sync::test::sha256Hex(crypto::asBytes(a)), out).ok());
    const auto bytes = sync::test::readAll(out);
    CHECK(std::string(bytes.begin(), bytes.end()) == a);
    CHECK(errorOf(fx.ws->exportEvidence(std::string(64, '0'), fx.tmp / "out" / "none")) == AppError::NotFound);
    CHECK_FALSE(fs::exists(fx.tmp / "out" / "none"));

    // Lists and lookups.
    auto list = fx.ws->findings(fx.inspection);
    REQUIRE(list.ok());
    REQUIRE(list->size() == 1);
    CHECK((*list)[0]["id"] == *id);
    CHECK(errorOf(fx.ws->finding("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")) == AppError::NotFound);

    auto report = fx.ws->verify();
    REQUIRE(report.ok());
    CHECK_MESSAGE(report->ok, (report->problems.empty() ? std::string() : report->problems.front()));
    CHECK(report->findings == 1);
    CHECK(report->evidenceFiles == 3);
}

TEST_CASE("queries: history lists every field change - both versions of an edited description included") {
    Fixture fx;
    FindingInput in;
    in.inspection = fx.inspection;
    in.title = "党组织会议记录不完整";
    in.description = "第一版描述";
    in.category = FindingCategory::MainResponsibility;
    in.severity = Severity::Medium;
    in.tags = {FindingTag::Common};
    auto id = fx.ws->addFinding(in);
    REQUIRE_MESSAGE(id.ok(), test::describe(id));
    REQUIRE(fx.ws->editFinding(*id, {{"description", "第二版描述"}}).ok());
    REQUIRE(fx.ws->editFinding(*id, {{"severity", "high"}, {"title", "党组织会议记录严重不完整"}}).ok());
    REQUIRE(fx.ws->transitionFinding(*id, FindingStatus::Submitted).ok());

    auto h = fx.ws->history(*id);
    REQUIRE_MESSAGE(h.ok(), test::describe(h));
    std::multimap<std::string, Json> byField;
    for (const auto& e : *h) {
        for (const char* key : {"op_id", "change_set", "time", "hlc", "device", "field", "value"}) {
            CAPTURE(std::string(key));
            CHECK(e.contains(key));
        }
        CHECK(e["device"] == fx.ws->log().deviceId());
        CHECK(e["time"] == "2026-03-10T12:00:00Z");  // the manual clock's time
        byField.emplace(e["field"].get<std::string>(), e["value"]);
    }
    // Created with 10 fields (no audit_category, no responsible_person), then 1 + 2 edits and 1 status change.
    for (const char* field : {"inspection_id", "title", "description", "category", "severity", "tags",
                              "immediate_fix", "status", "author", "created_at"}) {
        CAPTURE(std::string(field));
        CHECK(byField.count(field) >= 1);
    }
    CHECK(h->size() == 10 + 1 + 2 + 1);

    std::vector<Json> descriptions;
    std::vector<Json> titles;
    for (const auto& e : *h) {
        if (e["field"] == "description") descriptions.push_back(e["value"]);
        if (e["field"] == "title") titles.push_back(e["value"]);
    }
    CHECK(descriptions == std::vector<Json>{"第一版描述", "第二版描述"});
    CHECK(titles == std::vector<Json>{"党组织会议记录不完整", "党组织会议记录严重不完整"});

    // History is in the order things happened.
    std::uint64_t prev = 0;
    for (const auto& e : *h) {
        CHECK(e["hlc"].get<std::uint64_t>() >= prev);
        prev = e["hlc"].get<std::uint64_t>();
    }

    auto f = fx.ws->finding(*id);
    REQUIRE(f.ok());
    CHECK((*f)["description"] == "第二版描述");
    CHECK((*f)["severity"] == "high");
    CHECK((*f)["status"] == "submitted");

    CHECK(errorOf(fx.ws->history("no-such-record")) == AppError::NotFound);
}

}  // namespace xs::app
