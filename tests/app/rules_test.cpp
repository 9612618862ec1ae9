// The procedure's rules as Workspace enforces them: who may create inspections, the on-site
// capture window and its extension (article 7(2)), the finding lifecycle and its roles, close-out
// only with verification evidence (8(2)), third-party auditors (article 5), strict input.
// Roles are per store, so several workspaces share one op log by applying each other's change sets.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/app/app_test_util.h"

namespace xs::app {
namespace {

namespace fs = std::filesystem;
using test::errorOf;
using test::mentions;
using test::messageOf;
using test::TempDir;

// The audit office (the registrar, which imported the demo organisation) and five people with
// their own enrolled stores, one clock. The inspections it creates are shared, and signed by
// their working group.
struct World {
    TempDir tmp;
    sync::ManualClock clock{test::kBaseMs};
    std::unique_ptr<Workspace> office;   // 吴敏, audit office
    std::unique_ptr<Workspace> lead;     // 郑华, working-group lead
    std::unique_ptr<Workspace> member;   // 冯磊, working-group member
    std::unique_ptr<Workspace> leading;  // 刘洋, leading-group member
    std::unique_ptr<Workspace> head;     // 马晓东, head of unit E01
    std::unique_ptr<Workspace> auditor;  // 钱伟, third-party auditor
    int files = 0;

    World() {
        office = test::officeWorkspace(tmp / "office", clock);
        lead = test::initWorkspace(tmp / "lead", "郑华", Role::WorkingGroupLead, clock);
        member = test::initWorkspace(tmp / "member", "冯磊", Role::WorkingGroupMember, clock);
        leading = test::initWorkspace(tmp / "leading", "刘洋", Role::LeadingGroupMember, clock);
        head = test::initWorkspace(tmp / "head", "马晓东", Role::UnitHead, clock);
        auditor = test::initWorkspace(tmp / "auditor", "钱伟", Role::ThirdPartyAuditor, clock);
        for (Workspace* w : all()) {
            auto device = devicePublicJson(*w);
            REQUIRE(device.ok());
            auto enrolled = enrolDevice(*office, *device);
            REQUIRE_MESSAGE(enrolled.ok(), test::describe(enrolled));
        }
        auto file = exportEnrolment(*office, "", "");
        REQUIRE(file.ok());
        for (Workspace* w : all()) {
            auto accepted = acceptEnrolment(*w, *file);
            REQUIRE_MESSAGE(accepted.ok(), test::describe(accepted));
        }
    }

    std::vector<Workspace*> all() { return {lead.get(), member.get(), leading.get(), head.get(), auditor.get()}; }
    std::vector<Workspace*> others() { return {member.get(), leading.get(), head.get(), auditor.get()}; }

    // Everyone ends up with every change set; the lead, who creates the inspections and so
    // administers their channels, gives each member's device the keys it should hold.
    void share() {
        for (Workspace* w : others()) test::syncInto(*w, *lead);
        test::syncInto(*office, *lead);
        auto granted = lead->updateChannelMembers();
        REQUIRE_MESSAGE(granted.ok(), test::describe(granted));
        for (Workspace* w : others()) test::syncInto(*lead, *w);
        test::syncInto(*lead, *office);
    }

    int today() const { return lead->today(); }
    void setDay(int day) { clock.set(test::kBaseMs + static_cast<std::int64_t>(day - todayAtBase()) * test::kDayMs); }
    int todayAtBase() const { return dayAt(test::kBaseMs, 480); }

    std::string createInspection(int startDay, int days = 7, std::vector<std::string> team = {}) {
        InspectionInput in;
        in.unit = "E01";
        in.start = formatDate(startDay);
        in.days = days;
        in.team = team.empty() ? std::vector<std::string>{member->self().personId, auditor->self().personId} : team;
        in.lead = lead->self().personId;
        auto id = lead->createInspection(in);
        REQUIRE_MESSAGE(id.ok(), test::describe(id));
        signAgreements(*id);
        return *id;
    }
    // Everyone on the inspection's working group signs its confidentiality agreement (article
    // 7(4)), as they would before first opening it; everyone gets the signatures.
    void signAgreements(const std::string& inspection) {
        share();
        for (Workspace* w : all()) {
            auto st = w->agreementState(inspection);
            REQUIRE_MESSAGE(st.ok(), test::describe(st));
            if (!st->required) continue;
            auto signedIt = w->signAgreement(inspection);
            REQUIRE_MESSAGE(signedIt.ok(), test::describe(signedIt));
        }
        share();
    }

    fs::path file(const std::string& content) {
        return test::writeFile(tmp / "files", "file-" + std::to_string(files++) + ".txt", content);
    }

    static FindingInput finding(const std::string& inspection, const std::string& title = "公务接待超标准") {
        FindingInput in;
        in.inspection = inspection;
        in.title = title;
        in.description = "三批次接待超标准。";
        in.category = FindingCategory::EightPointRules;
        in.severity = Severity::High;
        return in;
    }

    std::string status(Workspace& ws, const std::string& findingId) {
        auto f = ws.finding(findingId);
        REQUIRE_MESSAGE(f.ok(), test::describe(f));
        return (*f)["status"].get<std::string>();
    }
};

}  // namespace

TEST_CASE("rules: who reads an inspection's channels - team and lead, office, leading group, the unit's head only the unit channel, replying, the clue channel only the office and the commission") {
    const std::vector<rules::PersonRole> people = {
        {"p-office", Role::AuditOffice, ""},          {"p-leader", Role::Leader, ""},
        {"p-member", Role::WorkingGroupMember, ""},   {"p-other", Role::WorkingGroupMember, ""},
        {"p-head", Role::UnitHead, "u-1"},            {"p-head2", Role::UnitHead, "u-2"},
        {"p-discipline", Role::DisciplineCommission, ""}, {"p-lead", Role::WorkingGroupLead, ""}};
    auto r = rules::inspectionReaders({"p-member"}, "p-lead", "u-1", people);
    auto names = [](const std::vector<rules::ChannelReader>& who) {
        std::vector<std::string> out;
        for (const auto& w : who) out.push_back(w.person);
        return out;
    };
    const std::vector<std::string> readers = {"p-lead", "p-leader", "p-member", "p-office"};
    CHECK(names(r.team) == readers);
    for (const auto& w : r.team) CHECK(w.kinds == std::vector<std::string>{"*"});
    CHECK(names(r.unit) == std::vector<std::string>{"p-head", "p-lead", "p-leader", "p-member", "p-office"});
    for (const auto& w : r.unit)
        CHECK(w.kinds == (w.person == "p-head" ? std::vector<std::string>{"unit_reply", "notice_ack"} : std::vector<std::string>{"*"}));
    // The clue channel: the office (every kind) and the discipline commission (clues only) — not
    // the team, the lead, the leading group or the unit's head.
    CHECK(names(r.clue) == std::vector<std::string>{"p-discipline", "p-office"});
    for (const auto& w : r.clue)
        CHECK(w.kinds == (w.person == "p-discipline" ? std::vector<std::string>{"clue"} : std::vector<std::string>{"*"}));
    // The inspected unit's head named on the team, or as its lead, still reads only the unit channel.
    for (const auto& [team, lead] : {std::pair<std::vector<std::string>, std::string>{{"p-head", "p-member"}, "p-lead"},
                                     std::pair<std::vector<std::string>, std::string>{{"p-member"}, "p-head"}}) {
        auto named = rules::inspectionReaders(team, lead, "u-1", people);
        for (const auto& w : named.team) CHECK(w.person != "p-head");
        auto head = std::find_if(named.unit.begin(), named.unit.end(), [](const rules::ChannelReader& w) { return w.person == "p-head"; });
        REQUIRE((head != named.unit.end()));
        CHECK(head->kinds == std::vector<std::string>{"unit_reply", "notice_ack"});
        CHECK(std::count_if(named.unit.begin(), named.unit.end(), [](const rules::ChannelReader& w) { return w.person == "p-head"; }) == 1);
        CHECK(names(named.clue) == std::vector<std::string>{"p-discipline", "p-office"});
    }
    // Named on the team or as its lead, a commission person still writes only clues there, and
    // the others the plan names gain nothing in the clue channel.
    auto onTeam = rules::inspectionReaders({"p-discipline", "p-member"}, "p-leader", "u-1", people);
    CHECK(names(onTeam.clue) == std::vector<std::string>{"p-discipline", "p-office"});
    for (const auto& w : onTeam.clue)
        if (w.person == "p-discipline") CHECK(w.kinds == std::vector<std::string>{"clue"});
    // Without a unit nobody heads it; without a team only the office side reads.
    auto bare = rules::inspectionReaders({}, "", "", people);
    CHECK(names(bare.team) == std::vector<std::string>{"p-leader", "p-office"});
    CHECK(names(bare.unit) == names(bare.team));
    CHECK(names(bare.clue) == std::vector<std::string>{"p-discipline", "p-office"});
}

TEST_CASE("rules: who signs an inspection's confidentiality agreement - the team and the lead, not the audit office, a unit head or a leading-group member off the team") {
    const Json plan = {{"team", Json::array({"m1", "a1"})}, {"lead_id", "l1"}};
    CHECK(rules::agreementRequired(Role::WorkingGroupMember, "m1", plan));
    CHECK(rules::agreementRequired(Role::ThirdPartyAuditor, "a1", plan));
    CHECK(rules::agreementRequired(Role::WorkingGroupLead, "l1", plan));
    CHECK(rules::agreementRequired(Role::LeadingGroupMember, "m1", plan));  // whoever the plan puts on the team
    CHECK_FALSE(rules::agreementRequired(Role::WorkingGroupMember, "m2", plan));  // not on this team
    CHECK_FALSE(rules::agreementRequired(Role::LeadingGroupMember, "x", plan));
    CHECK_FALSE(rules::agreementRequired(Role::AuditOffice, "m1", plan));
    CHECK_FALSE(rules::agreementRequired(Role::UnitHead, "m1", plan));
    CHECK_FALSE(rules::agreementRequired(Role::WorkingGroupMember, "", plan));
    CHECK(rules::maySignAgreement(Role::WorkingGroupMember, "m1", plan).ok());
    CHECK_FALSE(rules::maySignAgreement(Role::AuditOffice, "o1", plan).ok());
    CHECK(mentions(rules::maySignAgreement(Role::WorkingGroupMember, "m2", plan).refusal, "working group"));
}

TEST_CASE("rules: a clue is drafted and transferred by the audit office and received by the discipline commission only after its transfer") {
    using C = ClueStatus;
    CHECK(rules::mayDraftClue(Role::AuditOffice).ok());
    for (Role r : {Role::WorkingGroupMember, Role::WorkingGroupLead, Role::UnitHead, Role::DisciplineCommission, Role::Leader,
                   Role::LeadingGroupMember, Role::ThirdPartyAuditor}) {
        CAPTURE(toString(r));
        auto v = rules::mayDraftClue(r);
        CHECK_FALSE(v.ok());
        CHECK(v.refusal.find("only the audit office") != std::string::npos);
        CHECK_FALSE(rules::clueTransition(C::Drafted, C::Transferred, r).ok());
    }
    CHECK(rules::clueTransition(C::Drafted, C::Transferred, Role::AuditOffice).ok());
    CHECK(rules::clueTransition(C::Transferred, C::Received, Role::DisciplineCommission).ok());
    // Received only after the transfer, and only by the commission.
    auto early = rules::clueTransition(C::Drafted, C::Received, Role::DisciplineCommission);
    CHECK_FALSE(early.ok());
    CHECK(early.refusal.find("only after") != std::string::npos);
    for (Role r : {Role::AuditOffice, Role::WorkingGroupLead, Role::UnitHead, Role::WorkingGroupMember})
        CHECK_FALSE(rules::clueTransition(C::Transferred, C::Received, r).ok());
    // Nothing moves back, nothing after received, nothing twice.
    CHECK_FALSE(rules::clueTransition(C::Transferred, C::Drafted, Role::AuditOffice).ok());
    CHECK_FALSE(rules::clueTransition(C::Received, C::Transferred, Role::AuditOffice).ok());
    CHECK_FALSE(rules::clueTransition(C::Received, C::Received, Role::DisciplineCommission).ok());
    CHECK_FALSE(rules::clueTransition(C::Transferred, C::Transferred, Role::AuditOffice).ok());
}

TEST_CASE("rules: the working-group lead creates inspections of at most 7 days") {
    World w;
    const int start = w.today();
    const auto ops = test::opCount(*w.lead);

    InspectionInput in;
    in.unit = "E01";
    in.start = formatDate(start);
    in.days = 8;
    auto tooLong = w.lead->createInspection(in);
    CHECK(errorOf(tooLong) == AppError::Refused);
    CHECK(mentions(messageOf(tooLong), "7(2)"));
    in.days = 0;
    CHECK(errorOf(w.lead->createInspection(in)) == AppError::Refused);
    in.days = 7;
    in.start = "2026-02-30";
    CHECK(errorOf(w.lead->createInspection(in)) == AppError::Refused);
    in.start = formatDate(start);
    in.unit = "E99";
    CHECK_FALSE(w.lead->createInspection(in).ok());
    CHECK(test::opCount(*w.lead) == ops);

    const std::string id = w.createInspection(start, 7);
    auto window = w.lead->captureWindow(id);
    REQUIRE(window.ok());
    CHECK(window->first == start);
    CHECK(window->second == start + 6);
    auto insp = w.lead->inspection(id);
    REQUIRE_MESSAGE(insp.ok(), test::describe(insp));
    CHECK((*insp)["window_start"] == formatDate(start));
    CHECK((*insp)["window_end"] == formatDate(start + 6));
    CHECK((*insp)["onsite_days"] == 7);
    const Json team = (*insp)["team"];
    CHECK(std::find(team.begin(), team.end(), Json(w.member->self().personId)) != team.end());
    CHECK(std::find(team.begin(), team.end(), Json(w.lead->self().personId)) != team.end());
}

TEST_CASE("rules: only the office side and the leader create inspections") {
    World w;
    InspectionInput in;
    in.unit = "E01";
    in.start = formatDate(w.today());
    in.days = 7;
    for (Workspace* ws : {w.member.get(), w.leading.get(), w.head.get(), w.auditor.get()}) {
        CAPTURE(toString(ws->self().role));
        const auto ops = test::opCount(*ws);
        CHECK(errorOf(ws->createInspection(in)) == AppError::Refused);
        CHECK(test::opCount(*ws) == ops);
    }
}

TEST_CASE("rules: capture is allowed only inside the on-site window") {
    World w;
    const int start = w.today() + 1;  // the stay starts tomorrow
    const std::string id = w.createInspection(start, 7);
    w.share();

    auto early = w.lead->addFinding(World::finding(id));
    CHECK(errorOf(early) == AppError::Refused);
    CHECK(mentions(messageOf(early), "window"));
    CHECK(mentions(messageOf(early), formatDate(start)));

    w.setDay(start);
    auto first = w.lead->addFinding(World::finding(id));
    CHECK_MESSAGE(first.ok(), test::describe(first));
    auto byMember = w.member->addFinding(World::finding(id, "成员记录的问题"));
    CHECK_MESSAGE(byMember.ok(), test::describe(byMember));
    // Roles that do not capture, and inspectors not on the team, are refused inside the window too.
    CHECK(errorOf(w.head->addFinding(World::finding(id))) == AppError::Refused);
    CHECK(errorOf(w.leading->addFinding(World::finding(id))) == AppError::Refused);
    const std::string other = w.createInspection(start, 7, {w.auditor->self().personId});
    w.share();
    auto notOnTeam = w.member->addFinding(World::finding(other));
    CHECK(errorOf(notOnTeam) == AppError::Refused);
    CHECK(mentions(messageOf(notOnTeam), "team"));

    w.setDay(start + 6);  // the last of 7 days
    CHECK(w.lead->addFinding(World::finding(id)).ok());

    w.setDay(start + 7);
    auto late = w.lead->addFinding(World::finding(id));
    CHECK(errorOf(late) == AppError::Refused);
    CHECK(mentions(messageOf(late), "window"));
    CHECK(mentions(messageOf(late), "7(2)"));
    REQUIRE(first.ok());
    CHECK(errorOf(w.lead->attachEvidence(*first, w.file("late photo"), EvidencePurpose::Evidence)) == AppError::Refused);
}

TEST_CASE("rules: an extension approved by the leading group lengthens the window") {
    World w;
    const int start = w.today();
    const std::string id = w.createInspection(start, 7);
    w.share();

    w.setDay(start + 7);
    CHECK(errorOf(w.lead->addFinding(World::finding(id))) == AppError::Refused);

    CHECK(errorOf(w.lead->requestExtension(id, 0, "理由")) == AppError::Refused);
    CHECK(errorOf(w.lead->requestExtension(id, 31, "理由")) == AppError::Refused);
    CHECK(errorOf(w.lead->requestExtension(id, 3, "")) == AppError::Refused);
    CHECK(errorOf(w.head->requestExtension(id, 3, "理由")) == AppError::Refused);
    auto ext = w.lead->requestExtension(id, 3, "资金往来核查需延长驻点");
    REQUIRE_MESSAGE(ext.ok(), test::describe(ext));

    // The team cannot approve its own extension; neither can a member.
    auto self = w.lead->decideExtension(*ext, true);
    CHECK(errorOf(self) == AppError::Refused);
    CHECK(mentions(messageOf(self), "leading group"));
    w.share();
    CHECK(errorOf(w.member->decideExtension(*ext, true)) == AppError::Refused);
    CHECK(errorOf(w.head->decideExtension(*ext, true)) == AppError::Refused);

    auto approved = w.leading->decideExtension(*ext, true);
    REQUIRE_MESSAGE(approved.ok(), test::describe(approved));
    CHECK(errorOf(w.leading->decideExtension(*ext, false)) == AppError::Refused);  // already decided

    // Until the approval reaches the lead's store, the window there is unchanged.
    CHECK(errorOf(w.lead->addFinding(World::finding(id))) == AppError::Refused);
    test::syncInto(*w.leading, *w.lead);
    auto window = w.lead->captureWindow(id);
    REQUIRE(window.ok());
    CHECK(window->second == start + 9);
    auto extended = w.lead->addFinding(World::finding(id));
    CHECK_MESSAGE(extended.ok(), test::describe(extended));
    w.setDay(start + 9);
    CHECK(w.lead->addFinding(World::finding(id)).ok());
    w.setDay(start + 10);
    CHECK(errorOf(w.lead->addFinding(World::finding(id))) == AppError::Refused);

    // A rejected extension does not lengthen it.
    auto second = w.lead->requestExtension(id, 5, "再延长");
    REQUIRE(second.ok());
    test::syncInto(*w.lead, *w.leading);
    REQUIRE(w.leading->decideExtension(*second, false).ok());
    test::syncInto(*w.leading, *w.lead);
    window = w.lead->captureWindow(id);
    REQUIRE(window.ok());
    CHECK(window->second == start + 9);
    CHECK(errorOf(w.lead->addFinding(World::finding(id))) == AppError::Refused);
}

TEST_CASE("rules: the finding lifecycle from draft to closed") {
    World w;
    const std::string id = w.createInspection(w.today(), 7);
    auto created = w.lead->addFinding(World::finding(id));
    REQUIRE_MESSAGE(created.ok(), test::describe(created));
    const std::string f = *created;
    CHECK(w.status(*w.lead, f) == "draft");

    // Skipping a step is refused, naming the allowed next status.
    auto skip = w.lead->transitionFinding(f, FindingStatus::Confirmed);
    CHECK(errorOf(skip) == AppError::Refused);
    CHECK(mentions(messageOf(skip), "submitted"));
    CHECK(w.status(*w.lead, f) == "draft");

    REQUIRE(w.lead->transitionFinding(f, FindingStatus::Submitted).ok());
    auto skip2 = w.lead->transitionFinding(f, FindingStatus::FedBack);
    CHECK(errorOf(skip2) == AppError::Refused);
    CHECK(mentions(messageOf(skip2), "confirmed"));
    CHECK(mentions(messageOf(skip2), "returned"));

    // A working-group member cannot confirm.
    w.share();
    CHECK(w.status(*w.member, f) == "submitted");
    const auto memberOps = test::opCount(*w.member);
    auto byMember = w.member->transitionFinding(f, FindingStatus::Confirmed);
    CHECK(errorOf(byMember) == AppError::Refused);
    CHECK(test::opCount(*w.member) == memberOps);

    REQUIRE(w.lead->transitionFinding(f, FindingStatus::Confirmed).ok());

    // Content is fixed once confirmed.
    auto edit = w.lead->editFinding(f, {{"description", "改写"}});
    CHECK(errorOf(edit) == AppError::Refused);
    w.share();
    CHECK(errorOf(w.member->editFinding(f, {{"title", "改写"}})) == AppError::Refused);

    REQUIRE(w.lead->transitionFinding(f, FindingStatus::FedBack).ok());

    // The unit head holds the unit channel's key only: the finding (team channel) never opens on
    // its device, so it can neither read nor move it. The office records the rectification on the
    // unit's behalf; the unit's own replies travel in the unit channel.
    w.share();
    CHECK(errorOf(w.head->finding(f)) == AppError::NotFound);
    CHECK(errorOf(w.head->transitionFinding(f, FindingStatus::Rectifying)) == AppError::NotFound);
    CHECK(errorOf(w.head->attachEvidence(f, w.file("核查结果"), EvidencePurpose::Verification)).has_value());
    auto rectifying = w.lead->transitionFinding(f, FindingStatus::Rectifying);
    REQUIRE_MESSAGE(rectifying.ok(), test::describe(rectifying));
    auto rectified = w.lead->transitionFinding(f, FindingStatus::Rectified);
    REQUIRE_MESSAGE(rectified.ok(), test::describe(rectified));

    // The office closes it, but only with verification evidence (article 8(2)).
    w.share();
    CHECK(w.status(*w.lead, f) == "rectified");
    auto noProof = w.lead->transitionFinding(f, FindingStatus::Closed);
    CHECK(errorOf(noProof) == AppError::Refused);
    CHECK(mentions(messageOf(noProof), "8(2)"));
    CHECK(w.status(*w.lead, f) == "rectified");
    // Ordinary evidence is not verification evidence.
    REQUIRE(w.lead->attachEvidence(f, w.file("现场照片"), EvidencePurpose::Evidence).ok());
    CHECK(errorOf(w.lead->transitionFinding(f, FindingStatus::Closed)) == AppError::Refused);
    auto hash = w.lead->attachEvidence(f, w.file("整改核查记录"), EvidencePurpose::Verification);
    REQUIRE_MESSAGE(hash.ok(), test::describe(hash));
    auto closed = w.lead->transitionFinding(f, FindingStatus::Closed);
    REQUIRE_MESSAGE(closed.ok(), test::describe(closed));
    CHECK(w.status(*w.lead, f) == "closed");

    auto after = w.lead->transitionFinding(f, FindingStatus::Rectifying);
    CHECK(errorOf(after) == AppError::Refused);
    CHECK(mentions(messageOf(after), "final"));

    // Every step is in the record's history.
    auto history = w.lead->history(f);
    REQUIRE(history.ok());
    std::vector<std::string> statuses;
    for (const auto& h : *history)
        if (h["field"] == "status") statuses.push_back(h["value"].get<std::string>());
    CHECK(statuses == std::vector<std::string>{"draft", "submitted", "confirmed", "fed_back", "rectifying", "rectified",
                                               "closed"});

    // Once everyone has every change set, every store that holds the team key holds the same
    // projections; the unit head holds the change sets too (signed, chained) but cannot open them.
    w.share();
    auto digest = w.lead->log().projectionDigest();
    REQUIRE(digest.ok());
    CHECK(test::opCount(*w.head) == test::opCount(*w.lead));
    CHECK(errorOf(w.head->finding(f)) == AppError::NotFound);
    for (Workspace* ws : w.others()) {
        if (ws == w.head.get()) continue;
        CAPTURE(toString(ws->self().role));
        auto d = ws->log().projectionDigest();
        REQUIRE(d.ok());
        CHECK(*d == *digest);
        CHECK(w.status(*ws, f) == "closed");
    }
}

TEST_CASE("rules: a returned finding goes back to its author and can be edited") {
    World w;
    const std::string id = w.createInspection(w.today(), 7);
    auto f = w.lead->addFinding(World::finding(id));
    REQUIRE(f.ok());
    REQUIRE(w.lead->transitionFinding(*f, FindingStatus::Submitted).ok());
    REQUIRE(w.lead->transitionFinding(*f, FindingStatus::Returned).ok());
    REQUIRE(w.lead->editFinding(*f, {{"description", "补充了材料"}}).ok());
    REQUIRE(w.lead->transitionFinding(*f, FindingStatus::Submitted).ok());
    CHECK(w.status(*w.lead, *f) == "submitted");
}

TEST_CASE("rules: a refused edit changes nothing") {
    // "commits one change set (durably) or refuses": a refused call must not leave part of itself behind.
    World w;
    const std::string id = w.createInspection(w.today(), 7);
    auto f = w.lead->addFinding(World::finding(id));
    REQUIRE(f.ok());
    const auto ops = test::opCount(*w.lead);
    auto r = w.lead->editFinding(*f, {{"description", "不应保存的描述"}, {"status", "closed"}});
    CHECK(errorOf(r) == AppError::Refused);
    auto after = w.lead->finding(*f);
    REQUIRE(after.ok());
    CHECK((*after)["description"] == "三批次接待超标准。");
    CHECK(test::opCount(*w.lead) == ops);
}

TEST_CASE("rules: a third-party auditor records audit matters only") {
    World w;
    const std::string id = w.createInspection(w.today(), 7);
    w.share();

    FindingInput plain = World::finding(id);
    const auto ops = test::opCount(*w.auditor);
    auto refused = w.auditor->addFinding(plain);
    CHECK(errorOf(refused) == AppError::Refused);
    CHECK(mentions(messageOf(refused), "audit_category"));
    CHECK(test::opCount(*w.auditor) == ops);

    FindingInput audit = World::finding(id, "政府采购未履行程序");
    audit.auditCategory = "procurement";
    auto ok = w.auditor->addFinding(audit);
    REQUIRE_MESSAGE(ok.ok(), test::describe(ok));
    auto json = w.auditor->finding(*ok);
    REQUIRE(json.ok());
    CHECK((*json)["audit_category"] == "procurement");
    CHECK(w.auditor->editFinding(*ok, {{"description", "补充说明"}}).ok());

    // An inspection finding of someone else's is not the auditor's to edit.
    auto lf = w.lead->addFinding(World::finding(id, "班子成员问题"));
    REQUIRE(lf.ok());
    w.share();
    CHECK(errorOf(w.auditor->editFinding(*lf, {{"description", "改写"}})) == AppError::Refused);
}

TEST_CASE("rules: editFinding changes content fields only") {
    World w;
    const std::string id = w.createInspection(w.today(), 7);
    auto f = w.lead->addFinding(World::finding(id));
    REQUIRE(f.ok());
    const auto ops = test::opCount(*w.lead);
    for (const Json& fields : {Json{{"author", w.member->self().personId}}, Json{{"created_at", 0}},
                               Json{{"inspection", id}}, Json{{"inspection_id", id}}, Json{{"evidence", Json::array()}},
                               Json{{"status", "Submitted"}}, Json{{"title", ""}}, Json{{"severity", "extreme"}},
                               Json::object(), Json::array()}) {
        CAPTURE(fields.dump());
        CHECK(errorOf(w.lead->editFinding(*f, fields)) == AppError::Refused);
    }
    CHECK(test::opCount(*w.lead) == ops);
    CHECK(errorOf(w.lead->editFinding("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", {{"title", "x"}})) == AppError::NotFound);
}

TEST_CASE("rules: a cleared audit category does not break the third-party auditor's later edits") {
    // Clearing an optional field with null is accepted; reading the record afterwards must not throw.
    World w;
    const std::string id = w.createInspection(w.today(), 7);
    w.share();
    FindingInput audit = World::finding(id, "政府采购未履行程序");
    audit.auditCategory = "procurement";
    auto f = w.auditor->addFinding(audit);
    REQUIRE_MESSAGE(f.ok(), test::describe(f));
    AStatus cleared;
    CHECK_NOTHROW(cleared = w.auditor->editFinding(*f, {{"audit_category", nullptr}}));
    AStatus next;
    CHECK_NOTHROW(next = w.auditor->editFinding(*f, {{"description", "再补充"}}));
    // Without an audit category the finding is no longer an audit matter for the auditor.
    if (cleared.ok()) CHECK(errorOf(next) == AppError::Refused);
}

TEST_CASE("rules: FindingInput::fromJson is strict") {
    const Json good = {{"inspection", "insp-1"},
                       {"title", "问题标题"},
                       {"description", "描述"},
                       {"category", "financial_discipline"},
                       {"audit_category", "special_funds"},
                       {"severity", "high"},
                       {"tags", {"common", "emerging"}},
                       {"immediate_fix", true},
                       {"responsible_person", "张三"},
                       {"evidence", {"/tmp/a.pdf"}}};
    auto in = FindingInput::fromJson(good);
    REQUIRE_MESSAGE(in.ok(), test::describe(in));
    CHECK(in->inspection == "insp-1");
    CHECK(in->title == "问题标题");
    CHECK((in->category == FindingCategory::FinancialDiscipline));
    CHECK(in->auditCategory == "special_funds");
    CHECK((in->severity == Severity::High));
    CHECK((in->tags == std::vector<FindingTag>{FindingTag::Common, FindingTag::Emerging}));
    CHECK(in->immediateFix);
    CHECK(in->evidence.size() == 1);

    // Defaults when optional keys are absent.
    auto minimal = FindingInput::fromJson({{"inspection", "i"}, {"title", "t"}});
    REQUIRE(minimal.ok());
    CHECK((minimal->category == FindingCategory::Other));
    CHECK((minimal->severity == Severity::Medium));
    CHECK_FALSE(minimal->immediateFix);

    struct Case {
        const char* name;
        std::function<void(Json&)> damage;
    };
    const std::vector<Case> cases = {
        {"unknown key", [](Json& j) { j["colour"] = "red"; }},
        {"misspelt key", [](Json& j) { j["immediateFix"] = true; }},
        {"title is a number", [](Json& j) { j["title"] = 5; }},
        {"description is a list", [](Json& j) { j["description"] = Json::array({"a"}); }},
        {"immediate_fix is text", [](Json& j) { j["immediate_fix"] = "yes"; }},
        {"immediate_fix is a number", [](Json& j) { j["immediate_fix"] = 1; }},
        {"tags is text", [](Json& j) { j["tags"] = "common"; }},
        {"tag not a string", [](Json& j) { j["tags"] = Json::array({1}); }},
        {"evidence is text", [](Json& j) { j["evidence"] = "/tmp/a.pdf"; }},
        {"evidence with an empty path", [](Json& j) { j["evidence"] = Json::array({""}); }},
        {"category spelt with a hyphen", [](Json& j) { j["category"] = "eight-point-rules"; }},
        {"category in capitals", [](Json& j) { j["category"] = "OTHER"; }},
        {"category as a number", [](Json& j) { j["category"] = 1; }},
        {"severity spelt wrong", [](Json& j) { j["severity"] = "critical"; }},
        {"severity in Chinese", [](Json& j) { j["severity"] = "严重"; }},
        {"tag spelt wrong", [](Json& j) { j["tags"] = Json::array({"Common"}); }},
        {"unknown audit category", [](Json& j) { j["audit_category"] = "bribes"; }},
        {"empty title", [](Json& j) { j["title"] = ""; }},
        {"blank title", [](Json& j) { j["title"] = " \t\n"; }},
        {"missing title", [](Json& j) { j.erase("title"); }},
        {"missing inspection", [](Json& j) { j.erase("inspection"); }},
        {"title too long", [](Json& j) { j["title"] = std::string(301, 'x'); }},
        {"not an object", [](Json& j) { j = Json::array({1, 2}); }},
    };
    for (const auto& c : cases) {
        CAPTURE(std::string(c.name));
        Json j = good;
        c.damage(j);
        CHECK(errorOf(FindingInput::fromJson(j)) == AppError::Refused);
    }
}

TEST_CASE("rules: a revoked device keeps what it had but never gets the next key epoch") {
    World w;
    const std::string id = w.createInspection(w.today(), 7);
    w.share();
    auto before = w.member->addFinding(World::finding(id, "撤销前的问题"));
    REQUIRE_MESSAGE(before.ok(), test::describe(before));
    w.share();

    // Only the audit office (the registrar) revokes; the lead administers this inspection's
    // channels and rotates them once it learns of the revocation.
    CHECK(errorOf(w.lead->revokeDevice(w.member->log().deviceId())) == AppError::Refused);
    CHECK(errorOf(w.office->revokeDevice("01890000-0000-7000-8000-000000000000")) == AppError::NotFound);
    auto revoked = w.office->revokeDevice(w.member->log().deviceId());
    REQUIRE_MESSAGE(revoked.ok(), test::describe(revoked));
    CHECK(*revoked == 0);  // the office administers no channel of this inspection
    test::syncInto(*w.office, *w.lead);
    auto rotated = w.lead->updateChannelMembers();
    REQUIRE_MESSAGE(rotated.ok(), test::describe(rotated));
    CHECK(*rotated == 2);  // team and unit
    auto epoch = w.lead->log().currentEpoch(teamChannel(id));
    REQUIRE(epoch.ok());
    CHECK(*epoch == 2);

    auto after = w.lead->addFinding(World::finding(id, "撤销后的问题"));
    REQUIRE_MESSAGE(after.ok(), test::describe(after));
    w.share();
    // The revoked device still reads what it had, not what came after, and cannot write any more.
    CHECK(w.member->finding(*before).ok());
    CHECK(errorOf(w.member->finding(*after)) == AppError::NotFound);
    auto late = w.member->addFinding(World::finding(id, "撤销后仍在写"));
    CHECK(errorOf(late) == AppError::Refused);
    // Everyone else on the team reads both.
    CHECK(w.auditor->finding(*after).ok());
    CHECK(w.leading->finding(*after).ok());
    // A later membership update does not give the key back.
    auto again = w.lead->updateChannelMembers();
    REQUIRE(again.ok());
    CHECK(*again == 0);
}

}  // namespace xs::app
