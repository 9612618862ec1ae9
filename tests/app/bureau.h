// The bureau the app tests play in: the audit office and four enrolled people, and an inspection
// of unit E01 open today with the member and the auditor on its team, whose working group (the
// lead, the member, the auditor) signed its confidentiality agreement (article 7(4)).
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "app/enrolment.h"
#include "sync/apply.h"
#include "tests/app/app_test_util.h"

namespace xs::app::test {

// The audit office and four enrolled people; the lead plans an inspection of unit E01 with the
// member and the auditor on its team, open today.
struct Bureau {
    TempDir tmp;
    sync::ManualClock clock{kBaseMs};
    std::unique_ptr<Workspace> office;   // 吴敏, audit office (the registrar)
    std::unique_ptr<Workspace> lead;     // 郑华, working-group lead
    std::unique_ptr<Workspace> member;   // 冯磊, working-group member
    std::unique_ptr<Workspace> leading;  // 刘洋, leading-group member
    std::unique_ptr<Workspace> auditor;  // 钱伟, third-party auditor
    std::string inspection;
    int files = 0;

    // signAgreements false: nobody has signed the inspection's agreement yet (the gate's own tests).
    explicit Bureau(bool signAgreements = true) {
        office = officeWorkspace(tmp / "office", clock);
        lead = initWorkspace(tmp / "lead", "郑华", Role::WorkingGroupLead, clock);
        member = initWorkspace(tmp / "member", "冯磊", Role::WorkingGroupMember, clock);
        leading = initWorkspace(tmp / "leading", "刘洋", Role::LeadingGroupMember, clock);
        auditor = initWorkspace(tmp / "auditor", "钱伟", Role::ThirdPartyAuditor, clock);
        for (Workspace* w : people()) {
            auto device = devicePublicJson(*w);
            REQUIRE(device.ok());
            REQUIRE_MESSAGE(enrolDevice(*office, *device).ok(), "enrol");
        }
        enrolAll();
        InspectionInput in;
        in.unit = "E01";
        in.start = formatDate(lead->today());
        in.team = {member->self().personId, auditor->self().personId};
        in.lead = lead->self().personId;
        auto id = lead->createInspection(in);
        REQUIRE_MESSAGE(id.ok(), describe(id));
        inspection = *id;
        share();
        if (!signAgreements) return;
        // Each of the working group signs the agreement before first opening it, as a person would.
        for (Workspace* w : {lead.get(), member.get(), auditor.get()}) {
            auto signedIt = w->signAgreement(inspection);
            REQUIRE_MESSAGE(signedIt.ok(), describe(signedIt));
        }
        share();
    }
    std::vector<Workspace*> people() { return {lead.get(), member.get(), leading.get(), auditor.get()}; }
    // A current enrolment file, accepted by everyone.
    void enrolAll() {
        auto file = exportEnrolment(*office, "", "");
        REQUIRE(file.ok());
        for (Workspace* w : people()) {
            auto accepted = acceptEnrolment(*w, *file);
            REQUIRE_MESSAGE(accepted.ok(), describe(accepted));
        }
    }
    // Everyone gets everything (as bundles and enrolment files carry it).
    void share() {
        for (int round = 0; round < 2; ++round) {
            for (Workspace* w : people()) syncInto(*w, *office);
            for (Workspace* w : people()) syncInto(*office, *w);
        }
    }
    fs::path file(const std::string& content) {
        return writeFile(tmp / "files", "file-" + std::to_string(files++) + ".txt", content);
    }
    std::string capture(Workspace& ws, const std::string& title, bool withEvidence = false) {
        FindingInput in;
        in.inspection = inspection;
        in.title = title;
        in.category = FindingCategory::FinancialDiscipline;
        if (&ws == auditor.get()) in.auditCategory = "procurement";
        if (withEvidence) in.evidence = {file(title + " 的证据 " + std::to_string(files))};
        auto id = ws.addFinding(in);
        REQUIRE_MESSAGE(id.ok(), describe(id));
        return *id;
    }
    // The change set the forger signs, received by `to` through the one apply path.
    static sync::ApplyOutcome deliver(Workspace& to, const sync::ChangeSet& cs) {
        auto session = sync::ApplySession::begin(to.log());
        REQUIRE(session.ok());
        auto outcome = (*session)->add(cs);
        REQUIRE_MESSAGE(outcome.ok(), outcome.message());
        REQUIRE((*session)->commit().ok());
        return *outcome;
    }
    static std::string lastRefusal(Workspace& ws) {
        auto r = ws.log().refused();
        REQUIRE(r.ok());
        REQUIRE(!r->empty());
        return r->back().reason;
    }
    static std::string roleOf(Workspace& ws, const std::string& person) {
        auto rec = ws.log().record("person", person);
        REQUIRE(rec.ok());
        return (*rec)["role"].get<std::string>();
    }
};

}  // namespace xs::app::test
