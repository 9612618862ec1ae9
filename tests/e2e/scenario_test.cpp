// The "done when" scenario of online sync as one scripted run through real processes: two
// inspectors on site, one of them offline all week; the working-group lead and the unit head
// online; the audit office online, the offline inspector's material arriving by USB (a handover
// bundle). Every device converges: the same findings, the same histories, the same notices;
// the unit head reads the notices and nothing of the findings; every store verifies; and what
// came by USB and then by sync is the same as what came by sync alone.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "tests/e2e/cli_fixture.h"
#include "tests/e2e/process.h"
#include "tests/e2e/sync_fixture.h"

using namespace xs::test;

namespace {

std::string firstLine(const std::string& out) {
    return out.substr(0, out.find('\n'));
}

// An attachment's `state` says whether this store holds the evidence file ("held") or only its
// hash ("pending"): a fact of the store, not of the finding.
json withoutFileState(json finding) {
    for (auto& a : finding["attachments"]) a.erase("state");
    return finding;
}

// `finding list --json`, in id order (the order of a list is presentation, not state).
json findingListOn(const Cli& c) {
    json list = c.jsonOf({"finding", "list"});
    std::sort(list.begin(), list.end(), [](const json& x, const json& y) { return x["id"] < y["id"]; });
    for (auto& f : list) f = withoutFileState(f);
    return list;
}

std::string attachmentState(const Cli& c, const std::string& finding) {
    json f = c.jsonOf({"finding", "show", finding});
    REQUIRE(f["attachments"].size() == 1);
    return f["attachments"][0]["state"].get<std::string>();
}

std::string projectionDigest(const Cli& c) {
    auto r = c({"verify", "--json"});
    REQUIRE_MESSAGE(r.exitCode == 0, (r.out + r.err));
    return json::parse(r.out)["projection_digest"].get<std::string>();
}

// The week's cast and its start: the audit office and a server (SyncWorld), the lead, inspectors
// A (online) and B (never online during the week) and the head of E03, the inspected unit; the
// lead's plan of E03 with both inspectors, synced by everyone but B, who takes it on a fresh
// enrolment file from the office.
struct Week {
    SyncWorld w;
    Cli& lead = w.enrol("郑华", "working_group_lead");
    Cli& a = w.enrol("冯磊", "working_group_member");
    Cli& b = w.enrol("何芳", "working_group_member");
    Cli& head = w.enrol("高峰", "unit_head");
    std::string inspection;

    Week() {
        SyncWorld::sync(lead);
        auto r =
            lead({"inspection", "create", "--unit", "E03", "--start", today(), "--team", "W02,W03", "--lead", "W01"});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        inspection = firstLine(r.out);
        SyncWorld::sync(lead);
        SyncWorld::sync(w.office);
        const fs::path planFile = b.dir / "enrolment-with-plan.json";
        r = w.office({"org", "export-enrolment", "--out", planFile.string(), "--server-url", w.server->url(),
                      "--tls-pin", w.server->pin()});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        r = b({"org", "enrol", planFile.string()});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        REQUIRE(b.jsonOf({"inspection", "list"}).size() == 1);
        SyncWorld::sync(a);
        SyncWorld::sync(head);
        // The working group signs the confidentiality agreement before first opening it (article
        // 7(4)); b, offline all week, signs on its device and the signature travels in its handover.
        SyncWorld::signAll(inspection, {&lead, &a});
        b.signAgreement(inspection);
    }
    // `finding add` on c for this inspection: the new finding's id.
    std::string add(const Cli& c, std::vector<std::string> args) const {
        args.insert(args.begin(), {"finding", "add", "--inspection", inspection});
        auto r = c(args);
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        return firstLine(r.out);
    }
};

}  // namespace

TEST_CASE(
    "scenario: two inspectors on site (one offline all week, by USB) - lead, unit head and office online - every "
    "device converges") {
    Week week;
    SyncWorld& w = week.w;
    Cli& lead = week.lead;
    Cli& a = week.a;  // on site, online
    Cli& b = week.b;  // on site, never online during the week
    Cli& head = week.head;
    const std::string& inspection = week.inspection;
    RunResult r;

    // On site. A captures online: an immediate-fix finding, submitted for review, and another.
    r = a({"finding", "add", "--inspection", inspection, "--title", "危废暂存间台账缺失", "--description",
           "现场检查发现危险废物暂存间无出入库台账", "--severity", "high", "--immediate-fix"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    const std::string fA1 = firstLine(r.out);
    REQUIRE(a({"finding", "transition", fA1, "--to", "submitted"}).exitCode == 0);
    r = a({"finding", "add", "--inspection", inspection, "--title", "公务用车登记不全", "--description",
           "3月派车单缺审批人签字"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    const std::string fA2 = firstLine(r.out);
    json pushedA = SyncWorld::sync(a);
    CHECK(pushedA["pushed"].get<int>() >= 3);

    // B captures offline, one finding with a photo, edits the other, and exports the USB stick.
    const std::string photo = std::string(200000, 'p') + "食堂票据照片";
    writeAll(b.dir / "receipts.jpg", photo);
    r = b({"finding", "add", "--inspection", inspection, "--title", "食堂采购票据不全", "--description",
           "2026年食堂采购发票与入库单数量不一致", "--evidence", (b.dir / "receipts.jpg").string()});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    const std::string fB1 = firstLine(r.out);
    r = b({"finding", "add", "--inspection", inspection, "--title", "专项资金支出未公示", "--description", "初稿"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    const std::string fB2 = firstLine(r.out);
    REQUIRE(b({"finding", "edit", fB2, "--description", "2025年度专项资金支出明细未按规定公示", "--severity", "medium"})
                .exitCode == 0);
    const fs::path usb = b.dir / "usb-hefang.xsbundle";
    r = b({"handover", "export", "--inspection", inspection, "--out", usb.string(), "--json"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    const int bChangeSets = json::parse(r.out)["change_sets"].get<int>();
    CHECK(bChangeSets >= 3);
    // Nothing of B's reached anyone yet.
    SyncWorld::sync(lead);
    CHECK(lead.jsonOf({"finding", "list"}).size() == 2);

    // The USB stick at the office: imported, then the office's next sync relays B's change sets.
    const fs::path receipt = w.office.dir / "usb-hefang.receipt.json";
    r = w.office({"handover", "import", usb.string(), "--receipt", receipt.string(), "--json"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    json imported = json::parse(r.out);
    CHECK(imported["change_sets_new"].get<int>() >= 3);
    CHECK(imported["evidence_files"] == 1);
    CHECK(w.office.jsonOf({"finding", "show", fB1})["title"] == "食堂采购票据不全");
    json relay = SyncWorld::sync(w.office);
    CHECK_MESSAGE(relay["pushed"].get<int>() >= imported["change_sets_new"].get<int>(),
                  "the office's sync should push the bundle's change sets the server lacks: " << relay.dump());
    // Through the server, A and the lead now read B's findings.
    SyncWorld::sync(a);
    CHECK(a.jsonOf({"finding", "show", fB2})["description"] == "2025年度专项资金支出明细未按规定公示");

    // The lead reviews A's immediate-fix finding and issues the notice; the unit head acknowledges.
    SyncWorld::sync(lead);
    CHECK(lead.jsonOf({"finding", "list"}).size() == 4);
    r = lead({"finding", "transition", fA1, "--to", "confirmed"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    r = lead({"notice", "issue", "--finding", fA1, "--problem", "危险废物暂存间未建立出入库台账", "--action",
              "立即建立台账并补录本年度记录", "--deadline", "2099-12-31"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    const std::string notice = firstLine(r.out);
    SyncWorld::sync(lead);
    SyncWorld::sync(head);
    REQUIRE(head.jsonOf({"notice", "list"}).size() == 1);
    r = head({"notice", "ack", notice});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    SyncWorld::sync(head);
    SyncWorld::sync(lead);
    CHECK(lead.jsonOf({"notice", "show", notice})["acknowledged"] == true);

    // The end of the week: B is back on the network and syncs for the first time; then every
    // device syncs. B has nothing to send: the office relayed all of it.
    const std::string bDevice = b.jsonOf({"identity", "show"})["device_id"];
    CHECK_MESSAGE(readAll(w.server->log()).find("\"device\":\"" + bDevice + "\"") == std::string::npos,
                  "B's device reached the server during the week");
    json bRound = SyncWorld::sync(b);
    CHECK(readAll(w.server->log()).find("\"device\":\"" + bDevice + "\"") != std::string::npos);
    CHECK_MESSAGE(bRound["pushed"] == 0,
                  "B's change sets reached the server by USB and the office's relay: " << bRound.dump());
    CHECK(bRound["refused"] == 0);
    const std::vector<const Cli*> everyone = {&w.office, &lead, &a, &b, &head};
    for (const Cli* c : everyone) SyncWorld::sync(*c);
    for (const Cli* c : everyone) {  // converged: a round with nothing new moves nothing
        CAPTURE(c->store.string());
        json idle = SyncWorld::sync(*c);
        CHECK(idle["pushed"] == 0);
        CHECK(idle["pulled"] == 0);
    }

    // The same findings, field by field and change by change, on every device that reads team data.
    const std::vector<std::string> findings = {fA1, fA2, fB1, fB2};
    const std::vector<const Cli*> team = {&w.office, &lead, &a, &b};
    const json referenceList = findingListOn(w.office);
    CHECK(referenceList.size() == 4);
    for (const Cli* c : team) {
        CAPTURE(c->store.string());
        CHECK(findingListOn(*c) == referenceList);
        for (const auto& f : findings) {
            CAPTURE(f);
            CHECK(withoutFileState(c->jsonOf({"finding", "show", f})) ==
                  withoutFileState(w.office.jsonOf({"finding", "show", f})));
            CHECK(c->jsonOf({"history", f}) == w.office.jsonOf({"history", f}));
        }
    }
    CHECK(w.office.jsonOf({"finding", "show", fA1})["status"] == "confirmed");
    // B's photo reached the office on the stick, and the others online once B's device synced
    // (it uploads the encrypted file; each reader fetches and opens it): held everywhere.
    for (const Cli* c : team) {
        CAPTURE(c->store.string());
        CHECK(attachmentState(*c, fB1) == "held");
    }
    // The office holds it byte for byte.
    json fb1 = w.office.jsonOf({"finding", "show", fB1});
    REQUIRE(fb1["evidence"].size() == 1);
    REQUIRE(w.office({"evidence", "export", fb1["evidence"][0], "--out", (w.office.dir / "receipts.jpg").string()})
                .exitCode == 0);
    CHECK(readAll(w.office.dir / "receipts.jpg") == photo);

    // The same notice on all five devices, acknowledged.
    const json noticeRef = lead.jsonOf({"notice", "show", notice});
    CHECK(noticeRef["acknowledged_by_name"] == "高峰");
    for (const Cli* c : everyone) {
        CAPTURE(c->store.string());
        CHECK(c->jsonOf({"notice", "show", notice}) == noticeRef);
    }

    // The unit head reads the unit channel (the notice) and nothing of the findings.
    CHECK(head.jsonOf({"finding", "list"}).empty());
    std::string headSaw =
        head({"notice", "list"}).out + head({"notice", "show", notice}).out + head({"inspection", "list"}).out;
    for (const auto& f : findings) {
        CAPTURE(f);
        auto shown = head({"finding", "show", f});
        CHECK(shown.exitCode != 0);
        headSaw += shown.out + head({"history", f}).out;
    }
    for (const json& f : referenceList) {
        CHECK_MESSAGE(headSaw.find(f["title"].get<std::string>()) == std::string::npos, f["title"]);
        CHECK_MESSAGE(headSaw.find(f["description"].get<std::string>()) == std::string::npos, f["description"]);
    }

    // Every store verifies, nothing refused.
    for (const Cli* c : everyone) {
        CAPTURE(c->store.string());
        auto v = (*c)({"verify", "--json"});
        CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));
        json report = json::parse(v.out);
        CHECK(report["ok"] == true);
        CHECK(report["refused"].empty());
    }

    // USB then sync is sync alone: the office's state above already equals the devices that only
    // synced; and bundles of what already arrived by sync change nothing on the office.
    const std::string digest = projectionDigest(w.office);
    r = w.office(
        {"handover", "import", usb.string(), "--receipt", (w.office.dir / "again.receipt.json").string(), "--json"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    CHECK(json::parse(r.out)["change_sets_new"] == 0);
    const fs::path aUsb = a.dir / "usb-fenglei.xsbundle";
    r = a({"handover", "export", "--inspection", inspection, "--out", aUsb.string()});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    r = w.office(
        {"handover", "import", aUsb.string(), "--receipt", (w.office.dir / "a.receipt.json").string(), "--json"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    // The only thing new on A's stick is the signed record of that very export (article 7(4)).
    CHECK(json::parse(r.out)["change_sets_new"] == 1);
    CHECK(findingListOn(w.office) == referenceList);
    json exported = w.office.jsonOf({"exports", "--inspection", inspection});
    REQUIRE(!exported.empty());
    CHECK(exported.back()["what"] == "handover");
    CHECK(exported.back()["person"] == "冯磊");
    CHECK(projectionDigest(w.office) != digest);  // that record is projected, nothing else moved
    // The office sends A's record on, and its own (its evidence export of the photo above); A's
    // device receives only the office's.
    std::multiset<std::string> who;
    for (const auto& e : exported) who.insert(e["person"].get<std::string>() + " " + e["what"].get<std::string>());
    CHECK(who == std::multiset<std::string>{"何芳 handover", "吴敏 evidence", "冯磊 handover"});
    CHECK(SyncWorld::sync(w.office)["pushed"] == 2);
    CHECK(SyncWorld::sync(a)["pulled"] == 1);

    // Last, B's device destroys what the office's receipt covers (nothing was captured there
    // after the export): the inspection no longer opens on it, it still syncs and verifies, and
    // nothing changes anywhere else.
    r = b({"handover", "confirm", receipt.string(), "--ack-out", (b.dir / "ack.json").string(), "--json"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    CHECK(json::parse(r.out)["keys_destroyed"] == true);
    CHECK(b.jsonOf({"finding", "list"}).empty());
    SyncWorld::sync(b);
    CHECK(b.jsonOf({"finding", "list"}).empty());
    auto vb = b({"verify"});
    CHECK_MESSAGE(vb.exitCode == 0, (vb.out + vb.err));
    r = w.office({"handover", "acknowledge", (b.dir / "ack.json").string()});
    CHECK_MESSAGE(r.exitCode == 0, r.err);
    for (const Cli* c : {&w.office, &lead, &a}) {
        CAPTURE(c->store.string());
        SyncWorld::sync(*c);
        CHECK(findingListOn(*c) == referenceList);
    }
}

TEST_CASE(
    "scenario: B keeps working after her USB export - her first sync sends only what the stick did not carry, a "
    "concurrent edit is a conflict everywhere") {
    Week week;
    SyncWorld& w = week.w;
    Cli& b = week.b;
    const std::string fB = week.add(b, {"--title", "专项资金支出未公示", "--description", "初稿"});
    const fs::path usb = b.dir / "usb-1.xsbundle";
    auto r = b({"handover", "export", "--inspection", week.inspection, "--out", usb.string()});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    const fs::path receipt1 = w.office.dir / "usb-1.receipt.json";
    r = w.office({"handover", "import", usb.string(), "--receipt", receipt1.string()});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    CHECK(SyncWorld::sync(w.office)["pushed"].get<int>() >= 1);

    // Online, A sharpens B's finding; offline, B rewrites the same text and captures one more.
    SyncWorld::sync(week.a);
    REQUIRE(week.a({"finding", "edit", fB, "--description", "冯磊补充：2025年度明细未公示"}).exitCode == 0);
    SyncWorld::sync(week.a);
    REQUIRE(b({"finding", "edit", fB, "--description", "何芳补充：专项资金支出明细未按规定公示", "--severity", "high"})
                .exitCode == 0);
    const std::string fB2 = week.add(b, {"--title", "食堂采购票据不全"});

    // B's first sync: the server holds her chain up to the export (from the office), so exactly
    // the two later change sets go, and nothing of hers is refused anywhere.
    json first = SyncWorld::sync(b);
    CHECK_MESSAGE(first["pushed"] == 2, first.dump());
    CHECK(first["refused"] == 0);
    const std::vector<const Cli*> team = {&w.office, &week.lead, &week.a, &b};
    for (const Cli* c : team) SyncWorld::sync(*c);
    const json reference = w.office.jsonOf({"finding", "show", fB});
    CHECK(reference["severity"] == "high");
    for (const Cli* c : team) {
        CAPTURE(c->store.string());
        CHECK(c->jsonOf({"finding", "show", fB}) == reference);
        CHECK(c->jsonOf({"finding", "show", fB2})["title"] == "食堂采购票据不全");
        json conflicts = c->jsonOf({"conflicts"});
        REQUIRE(conflicts.size() == 1);
        CHECK(conflicts[0]["field"] == "description");
        CHECK(conflicts[0]["versions"].size() == 2);
        CHECK(c->jsonOf({"history", fB}) == w.office.jsonOf({"history", fB}));
        CHECK(c->jsonOf({"refused"}).empty());
        auto v = (*c)({"verify"});
        CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));
    }
    CHECK(SyncWorld::sync(week.head)["refused"] == 0);
    CHECK(week.head.jsonOf({"finding", "list"}).empty());

    // The first receipt does not cover what B did after it: her keys stay. A second stick holds
    // nothing the office lacks by now (it synced), and its receipt lets B's device destroy the
    // inspection.
    r = b({"handover", "confirm", receipt1.string(), "--ack-out", (b.dir / "ack1.json").string(), "--json"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    json partial = json::parse(r.out);
    CHECK(partial["keys_destroyed"] == false);
    CHECK(partial["captured_after_export"].get<int>() >= 2);
    CHECK(b.jsonOf({"finding", "list"}).size() == 2);
    CHECK(SyncWorld::sync(b)["pushed"] == 1);  // the signed acknowledgement of that confirm
    SyncWorld::sync(w.office);
    const fs::path usb2 = b.dir / "usb-2.xsbundle";
    REQUIRE(b({"handover", "export", "--inspection", week.inspection, "--out", usb2.string()}).exitCode == 0);
    const fs::path receipt2 = w.office.dir / "usb-2.receipt.json";
    r = w.office({"handover", "import", usb2.string(), "--receipt", receipt2.string(), "--json"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    CHECK(json::parse(r.out)["change_sets_new"] == 1);  // the record of this export, carried by the stick itself
    r = b({"handover", "confirm", receipt2.string(), "--ack-out", (b.dir / "ack2.json").string(), "--json"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    CHECK(json::parse(r.out)["keys_destroyed"] == true);
    CHECK(b.jsonOf({"finding", "list"}).empty());
    auto v = b({"verify"});
    CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));
}
