// Clues for transfer to the discipline commission (线索移交): the audit office drafts and
// transfers, the commission receives, nobody else reads or writes them — through the Workspace
// API, and by change sets forged with the author's own keys, refused on every replica.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "sync/uuid.h"
#include "tests/app/app_test_util.h"
#include "tests/app/bureau.h"
#include "tests/sync/forge.h"

namespace xs::app {
namespace {

namespace fs = std::filesystem;
using sync::test::Forge;
using test::Bureau;
using test::describe;
using test::errorOf;
using test::mentions;
using test::messageOf;
using test::TempDir;

// The audit office plans an inspection of E03 (so its device administers the clue channel), with
// 冯磊 on the team and 郑华 as lead; 高峰 heads E03, 韩冰 is of the discipline commission.
struct ClueWorld {
    TempDir tmp;
    sync::ManualClock clock{test::kBaseMs};
    std::unique_ptr<Workspace> office = test::officeWorkspace(tmp / "office", clock);
    std::unique_ptr<Workspace> lead = test::enrolledWorkspace(*office, tmp / "lead", "郑华", Role::WorkingGroupLead, clock);
    std::unique_ptr<Workspace> member = test::enrolledWorkspace(*office, tmp / "member", "冯磊", Role::WorkingGroupMember, clock);
    std::unique_ptr<Workspace> head = test::enrolledWorkspace(*office, tmp / "head", "高峰", Role::UnitHead, clock);
    std::unique_ptr<Workspace> commission =
        test::enrolledWorkspace(*office, tmp / "commission", "韩冰", Role::DisciplineCommission, clock);
    std::string inspection, finding;

    ClueWorld() {
        InspectionInput in;
        in.unit = "E03";
        in.start = formatDate(office->today());
        in.team = {member->self().personId};
        in.lead = lead->self().personId;
        auto id = office->createInspection(in);
        REQUIRE_MESSAGE(id.ok(), describe(id));
        inspection = *id;
        share();
        // The working group signs the confidentiality agreement before first opening it (article 7(4)).
        for (Workspace* w : {lead.get(), member.get()}) {
            auto signedIt = w->signAgreement(inspection);
            REQUIRE_MESSAGE(signedIt.ok(), describe(signedIt));
        }
        share();
        FindingInput f;
        f.inspection = inspection;
        f.title = "工程款支付异常";
        f.category = FindingCategory::FinancialDiscipline;
        auto fid = member->addFinding(f);
        REQUIRE_MESSAGE(fid.ok(), describe(fid));
        finding = *fid;
        share();
    }
    std::vector<Workspace*> others() { return {lead.get(), member.get(), head.get(), commission.get()}; }
    // Everyone gets every change set whole (as a bundle carries them; the server would withhold).
    void share() {
        for (int round = 0; round < 2; ++round) {
            for (Workspace* w : others()) test::syncInto(*w, *office);
            for (Workspace* w : others()) test::syncInto(*office, *w);
        }
    }
    static std::int64_t clueKeys(Workspace& w, const std::string& inspectionId) {
        auto s = w.store().db().prepare("SELECT COUNT(*) FROM channel_keys WHERE channel = ?");
        REQUIRE(s.ok());
        s->bind(1, clueChannel(inspectionId));
        auto row = s->step();
        REQUIRE(row.ok());
        REQUIRE(*row);
        return s->int64(0);
    }
    static std::string refusalOf(Workspace& w, const std::string& changeSet) {
        auto r = w.log().refused();
        REQUIRE(r.ok());
        for (const auto& x : *r)
            if (x.id == changeSet) return x.reason;
        return "(not refused)";
    }
    static Json clues(Workspace& w) {
        auto c = w.clues();
        REQUIRE_MESSAGE(c.ok(), describe(c));
        return *c;
    }
};

}  // namespace

TEST_CASE("clues: the audit office drafts and transfers a clue, the discipline commission receives it - nobody else reads or writes one") {
    ClueWorld w;
    const std::string summary = "MARKER-线索-工程款疑似利益输送-91c4";
    // Only the office drafts one.
    for (Workspace* x : {w.lead.get(), w.member.get(), w.head.get(), w.commission.get()}) {
        auto r = x->addClue(w.inspection, w.finding, summary, "区纪委监委");
        CHECK(errorOf(r) == AppError::Refused);
        CHECK(mentions(messageOf(r), "only the audit office"));
    }
    // The drafting device checks the finding behind it, and what the clue says.
    CHECK(errorOf(w.office->addClue(w.inspection, "0190f1c2-7e4b-7a3c-9d21-5b6e8f0a1c2d", summary, "")) == AppError::NotFound);
    CHECK(errorOf(w.office->addClue(w.inspection, w.finding, "  ", "")) == AppError::Refused);
    CHECK(errorOf(w.office->addClue(w.inspection, w.finding, std::string(rules::kMaxClueSummary + 1, 'x'), "")) == AppError::Refused);
    auto id = w.office->addClue(w.inspection, w.finding, summary, "区纪委监委第一纪检监察室");
    REQUIRE_MESSAGE(id.ok(), describe(id));
    w.clock.advance(1000);
    auto bare = w.office->addClue(w.inspection, "", "另一条线索，无对应问题", "");
    REQUIRE_MESSAGE(bare.ok(), describe(bare));
    w.share();

    // The commission reads both; the team, the lead and the unit's head hold no key of the clue
    // channel and read nothing, though their stores hold its sealed ops (shared whole here).
    Json seen = ClueWorld::clues(*w.commission);
    REQUIRE(seen.size() == 2);
    CHECK(seen[0]["id"] == *id);
    CHECK(seen[0]["finding_id"] == w.finding);
    CHECK(seen[0]["summary"] == summary);
    CHECK(seen[0]["status"] == "drafted");
    CHECK(seen[0]["created_by"] == w.office->self().personId);
    CHECK(seen[1]["finding_id"].is_null());
    CHECK(ClueWorld::clueKeys(*w.commission, w.inspection) == 1);
    for (Workspace* x : {w.lead.get(), w.member.get(), w.head.get()}) {
        CHECK(ClueWorld::clues(*x).empty());
        CHECK(ClueWorld::clueKeys(*x, w.inspection) == 0);
        CHECK(test::countRows(*x, ("SELECT COUNT(*) FROM ops WHERE channel = '" + clueChannel(w.inspection) + "'").c_str()) >= 2);
        CHECK(test::countRows(*x, "SELECT COUNT(*) FROM field_versions WHERE kind = 'clue'") == 0);
        CHECK(errorOf(x->transferClue(*id)) == AppError::NotFound);
        CHECK(errorOf(x->receiveClue(*id)) == AppError::NotFound);
    }
    // Received only after the transfer, transferred only by the office.
    auto early = w.commission->receiveClue(*id);
    CHECK(errorOf(early) == AppError::Refused);
    CHECK(mentions(messageOf(early), "only after"));
    CHECK(errorOf(w.commission->transferClue(*id)) == AppError::Refused);
    REQUIRE_MESSAGE(w.office->transferClue(*id).ok(), "transfer");
    CHECK(errorOf(w.office->transferClue(*id)) == AppError::Refused);  // once
    CHECK(errorOf(w.office->receiveClue(*id)) == AppError::Refused);   // the commission's to say
    w.share();
    auto received = w.commission->receiveClue(*id);
    REQUIRE_MESSAGE(received.ok(), describe(received));
    w.share();
    Json after = ClueWorld::clues(*w.office);
    REQUIRE(after.size() == 2);
    CHECK(after[0]["status"] == "received");
    CHECK(after[0]["transferred_by"] == w.office->self().personId);
    CHECK(after[0]["received_by"] == w.commission->self().personId);
    CHECK(after[0]["received_at"].is_number_integer());
    CHECK(after[1]["status"] == "drafted");
    CHECK(ClueWorld::clues(*w.commission) == after);
    // Final once received.
    CHECK(errorOf(w.commission->receiveClue(*id)) == AppError::Refused);
    for (Workspace* x : {w.office.get(), w.lead.get(), w.member.get(), w.head.get(), w.commission.get()}) {
        auto refused = x->log().refused();
        REQUIRE(refused.ok());
        CHECK(refused->empty());
        auto v = x->verify();
        REQUIRE(v.ok());
        CHECK_MESSAGE(v->ok, (v->problems.empty() ? std::string() : v->problems.front()));
    }
}

TEST_CASE("clues: forged by the commission, moved out of order, rewritten or written by a non-member - refused on apply") {
    ClueWorld w;
    const std::string ch = clueChannel(w.inspection);
    const std::int64_t now = 1'790'000'000'000;
    const Json draft = {{"inspection_id", w.inspection}, {"finding_id", w.finding}, {"summary", "s"},
                        {"status", "drafted"},           {"created_by", w.commission->self().personId}, {"created_at", now}};
    // The commission drafting a clue itself (it may write the kind, not draft one).
    auto cid = sync::newOwnedId(w.commission->log().deviceId());
    REQUIRE(cid.ok());
    Forge cf(w.commission->log(), w.commission->store());
    sync::ChangeSet forged = cf.make({cf.sealed(ch, "clue", *cid, draft)});
    for (Workspace* x : {w.commission.get(), w.office.get()}) {
        CHECK(Bureau::deliver(*x, forged) == sync::ApplyOutcome::Refused);
        CHECK(mentions(ClueWorld::refusalOf(*x, forged.id), "only the audit office drafts"));
    }
    // The office's own clue with a finding id that is no id, and with the transfer inside the draft.
    for (const Json& bad : {Json{{"finding_id", "not-an-id"}}, Json{{"transferred_by", w.office->self().personId}}}) {
        Json fields = draft;
        fields["created_by"] = w.office->self().personId;
        fields.update(bad);
        auto oid = sync::newOwnedId(w.office->log().deviceId());
        REQUIRE(oid.ok());
        Forge of(w.office->log(), w.office->store());
        sync::ChangeSet cs = of.make({of.sealed(ch, "clue", *oid, fields)});
        CHECK(Bureau::deliver(*w.office, cs) == sync::ApplyOutcome::Refused);
        CHECK(Bureau::deliver(*w.commission, cs) == sync::ApplyOutcome::Refused);
        CHECK(mentions(ClueWorld::refusalOf(*w.commission, cs.id), "a clue names its inspection"));
    }
    // An honest clue; the commission marking it received before the transfer; the office
    // rewriting its summary; the commission writing another kind in the channel.
    auto id = w.office->addClue(w.inspection, w.finding, "原文", "");
    REQUIRE_MESSAGE(id.ok(), describe(id));
    test::syncInto(*w.office, *w.commission);
    Forge cf2(w.commission->log(), w.commission->store());
    sync::ChangeSet early = cf2.make({cf2.sealed(ch, "clue", *id,
                                                 {{"status", "received"}, {"received_by", w.commission->self().personId}, {"received_at", now}})});
    for (Workspace* x : {w.commission.get(), w.office.get()}) {
        CHECK(Bureau::deliver(*x, early) == sync::ApplyOutcome::Refused);
        CHECK(mentions(ClueWorld::refusalOf(*x, early.id), "only after"));
    }
    Forge of(w.office->log(), w.office->store());
    sync::ChangeSet rewrite = of.make({of.sealed(ch, "clue", *id, {{"summary", "改过的"}})});
    for (Workspace* x : {w.office.get(), w.commission.get()}) {
        CHECK(Bureau::deliver(*x, rewrite) == sync::ApplyOutcome::Refused);
        CHECK(mentions(ClueWorld::refusalOf(*x, rewrite.id), "fixed once written"));
    }
    Forge cf3(w.commission->log(), w.commission->store());
    sync::ChangeSet otherKind = cf3.make({cf3.sealed(ch, "notice", *cid, {{"inspection_id", w.inspection}})});
    for (Workspace* x : {w.commission.get(), w.office.get()}) {
        CHECK(Bureau::deliver(*x, otherKind) == sync::ApplyOutcome::Refused);
        CHECK(mentions(ClueWorld::refusalOf(*x, otherKind.id), "does not cover that kind"));
    }
    // An inspector who got hold of the clue key (copied here from the office's store) is still no
    // member of the channel: refused before anyone reads the op.
    {
        auto k = w.office->store().db().prepare("SELECT epoch, key FROM channel_keys WHERE channel = ?");
        REQUIRE(k.ok());
        k->bind(1, ch);
        auto row = k->step();
        REQUIRE(row.ok());
        REQUIRE(*row);
        auto put = w.member->store().db().prepare("INSERT INTO channel_keys (channel, epoch, key) VALUES (?, ?, ?)");
        REQUIRE(put.ok());
        put->bind(1, ch).bind(2, k->int64(0)).bindBlob(3, k->blob(1));
        REQUIRE(put->run().ok());
    }
    Json mine = draft;
    mine["created_by"] = w.member->self().personId;
    auto mid = sync::newOwnedId(w.member->log().deviceId());
    REQUIRE(mid.ok());
    Forge mf(w.member->log(), w.member->store());
    sync::ChangeSet inspectorClue = mf.make({mf.sealed(ch, "clue", *mid, mine)});
    for (Workspace* x : {w.member.get(), w.office.get(), w.commission.get()}) {
        CHECK(Bureau::deliver(*x, inspectorClue) == sync::ApplyOutcome::Refused);
        CHECK(mentions(ClueWorld::refusalOf(*x, inspectorClue.id), "not a member"));
    }
    // What stands: the honest clue, unchanged.
    for (Workspace* x : {w.office.get(), w.commission.get()}) {
        Json list = ClueWorld::clues(*x);
        REQUIRE(list.size() == 1);
        CHECK(list[0]["id"] == *id);
        CHECK(list[0]["summary"] == "原文");
        CHECK(list[0]["status"] == "drafted");
    }
}

TEST_CASE("clues: where a working-group lead planned the inspection its device holds the clue key - the office drafts no clue there and the lead's forged clue is refused") {
    Bureau b;  // the lead planned it: its device administers the three channels
    auto r = b.office->addClue(b.inspection, "", "线索", "");
    CHECK(errorOf(r) == AppError::Refused);
    CHECK(mentions(messageOf(r), "administered by the device that planned it"));
    CHECK(ClueWorld::clueKeys(*b.lead, b.inspection) >= 1);  // why: the admin made the key
    // The lead writes in the clue channel as its admin may, and every replica refuses it by role.
    const std::string ch = clueChannel(b.inspection);
    auto id = sync::newOwnedId(b.lead->log().deviceId());
    REQUIRE(id.ok());
    Forge forge(b.lead->log(), b.lead->store());
    sync::ChangeSet forged = forge.make({forge.sealed(ch, "clue", *id,
                                                      {{"inspection_id", b.inspection}, {"summary", "s"}, {"status", "drafted"},
                                                       {"created_by", b.lead->self().personId}, {"created_at", 1'790'000'000'000}})});
    for (Workspace* x : {b.lead.get(), b.office.get()}) {
        CHECK(Bureau::deliver(*x, forged) == sync::ApplyOutcome::Refused);
        CHECK(mentions(ClueWorld::refusalOf(*x, forged.id), "only the audit office and the discipline commission write in a clue channel"));
        CHECK(ClueWorld::clues(*x).empty());
    }
}

}  // namespace xs::app
