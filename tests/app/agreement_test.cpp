// The confidentiality agreement (保密协议, article 7(4)): its text, the gate in the workspace and
// the session (nothing of an inspection reaches a person of its working group before they sign,
// and nothing they do changes it), signing once, and the rule every replica checks on a forged
// signature, an edit or a wrong hash.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "app/agreement.h"
#include "app/session.h"
#include "crypto/encoding.h"
#include "crypto/hash.h"
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

constexpr const char* kPass = "口令 passphrase";

Forge forgeFor(Workspace& ws) { return Forge(ws.log(), ws.store()); }

// What a gated command must answer: Refused, naming the inspection and the two commands to run.
template <typename R>
void checkGated(const R& r, const std::string& inspection, const char* what) {
    CHECK_MESSAGE(errorOf(r) == AppError::Refused, (std::string(what) + ": " + describe(r)));
    CHECK_MESSAGE(mentions(messageOf(r), "sign the confidentiality agreement of inspection"), (std::string(what) + ": " + messageOf(r)));
    CHECK_MESSAGE(mentions(messageOf(r), "xunshenctl agreement show " + inspection), (std::string(what) + ": " + messageOf(r)));
    CHECK_MESSAGE(mentions(messageOf(r), "xunshenctl agreement sign " + inspection), (std::string(what) + ": " + messageOf(r)));
}

// The lead signs and works: a confirmed immediate-fix finding with evidence, a notice to the
// unit, an extension request. The member and the auditor have not signed.
struct Gate {
    Bureau b{false};
    std::string finding, hash, notice, extension;

    Gate() {
        REQUIRE(b.lead->signAgreement(b.inspection).ok());
        FindingInput in;
        in.inspection = b.inspection;
        in.title = "危废暂存间台账缺失";
        in.category = FindingCategory::FinancialDiscipline;
        in.immediateFix = true;
        in.evidence = {b.file("台账照片")};
        auto id = b.lead->addFinding(in);
        REQUIRE_MESSAGE(id.ok(), describe(id));
        finding = *id;
        auto f = b.lead->finding(finding);
        REQUIRE(f.ok());
        hash = (*f)["evidence"][0].get<std::string>();
        REQUIRE(b.lead->transitionFinding(finding, FindingStatus::Submitted).ok());
        REQUIRE(b.lead->transitionFinding(finding, FindingStatus::Confirmed).ok());
        auto n = b.lead->issueNotice(finding, "危险废物暂存间未建立台账", "立即建立台账", formatDate(b.lead->today() + 7));
        REQUIRE_MESSAGE(n.ok(), describe(n));
        notice = *n;
        auto e = b.lead->requestExtension(b.inspection, 2, "资料未齐");
        REQUIRE_MESSAGE(e.ok(), describe(e));
        extension = *e;
        b.share();
        fs::create_directories(b.tmp / "out");
    }
    std::unique_ptr<Session> session(const char* who) {
        auto s = Session::open(b.tmp / who, kPass, b.clock);
        REQUIRE_MESSAGE(s.ok(), describe(s));
        return std::move(*s);
    }
};

}  // namespace

TEST_CASE("agreement: the v1 text is Chinese with an English translation, and its hash is fixed (released texts are never edited)") {
    const AgreementText* v1 = agreementText("v1");
    const bool known = v1 != nullptr, unknown = agreementText("v0") == nullptr;
    REQUIRE(known);
    CHECK(unknown);
    CHECK(currentAgreementText().version == "v1");
    CHECK(agreementVersions() == std::vector<std::string>{"v1"});
    CHECK(mentions(v1->textZh, "保密协议"));
    CHECK(mentions(v1->textZh, "被巡审单位"));
    CHECK(mentions(v1->textEn, "Confidentiality agreement"));
    CHECK(v1->sha256 == crypto::toHex(crypto::sha256(crypto::asBytes(v1->textZh))));
    // Signatures name this hash: a change to the text must be a new version.
    CHECK(v1->sha256 == "b6772a679dbb9ba698e679f9af10d32f06569942f9ed995257977e20b2fea3bb");
    CHECK(agreementRecordId("i", "p") == "i|p");
}

TEST_CASE("agreement: a member sees nothing of an unsigned inspection and every inspection command refuses with what to run") {
    Gate g;
    Bureau& b = g.b;
    const std::string& insp = g.b.inspection;
    auto s = g.session("member");

    auto list = s->inspections();
    REQUIRE(list.ok());
    REQUIRE(list->size() == 1);
    CHECK((*list)[0].agreementRequired);
    CHECK_FALSE((*list)[0].agreementSigned);
    auto one = s->inspection(insp);
    REQUIRE(one.ok());
    CHECK(one->extensions.empty());  // the team's records: not before signing

    auto all = s->findings();
    REQUIRE(all.ok());
    CHECK(all->empty());
    FindingFilter byInspection;
    byInspection.inspection = insp;
    checkGated(s->findings(byInspection), insp, "findings of the inspection");
    checkGated(s->finding(g.finding), insp, "finding");
    checkGated(s->history(g.finding), insp, "history of a finding");
    checkGated(s->history(g.notice), insp, "history of a notice");
    FindingInput in;
    in.inspection = insp;
    in.title = "未签协议的记录";
    checkGated(s->addFinding(in), insp, "addFinding");
    FindingEdit edit;
    edit.title = "改写";
    checkGated(s->editFinding(g.finding, edit), insp, "editFinding");
    checkGated(s->transitionFinding(g.finding, FindingStatus::FedBack), insp, "transitionFinding");
    checkGated(s->attachEvidence(g.finding, b.file("新证据"), EvidencePurpose::Evidence), insp, "attachEvidence");
    checkGated(s->exportEvidence(g.hash, b.tmp / "out" / "evidence.bin"), insp, "exportEvidence");
    CHECK_FALSE(fs::exists(b.tmp / "out" / "evidence.bin"));
    checkGated(s->issueNotice(g.finding, "问题", "整改", formatDate(b.lead->today() + 7)), insp, "issueNotice");
    checkGated(s->requestExtension(insp, 1, "再延一天"), insp, "requestExtension");
    auto notices = s->notices();
    REQUIRE(notices.ok());
    CHECK(notices->empty());
    checkGated(s->notice(g.notice), insp, "notice");
    auto exports = s->exports();
    REQUIRE(exports.ok());
    CHECK(exports->empty());
    auto handover = s->exportHandover(insp, b.tmp / "out" / "member.xsbundle");
    REQUIRE(handover.ok());
    checkGated((*handover)->wait(), insp, "exportHandover");
    CHECK_FALSE(fs::exists(b.tmp / "out" / "member.xsbundle"));
    auto signatures = s->agreements(insp);
    REQUIRE(signatures.ok());
    CHECK(signatures->empty());  // the lead's signature is the team's record too
    // Nothing the member tried was written.
    auto refused = s->refusedChangeSets();
    REQUIRE(refused.ok());
    CHECK(refused->empty());

    // The text to read, then the signature.
    auto text = s->agreementText(insp);
    REQUIRE_MESSAGE(text.ok(), describe(text));
    CHECK(text->inspectionId == insp);
    CHECK_FALSE(text->inspectionTitle.empty());
    CHECK(text->version == "v1");
    CHECK(text->textZh == currentAgreementText().textZh);
    CHECK(text->textEn == currentAgreementText().textEn);
    CHECK(text->sha256 == currentAgreementText().sha256);
    CHECK_FALSE(text->signedByMe);
    CHECK(text->signedAtMs == 0);
    const auto before = s->changeCount();
    b.clock.advance(5000);
    auto signedIt = s->signAgreement(insp);
    REQUIRE_MESSAGE(signedIt.ok(), describe(signedIt));
    CHECK(s->changeCount() > before);
    text = s->agreementText(insp);
    REQUIRE(text.ok());
    CHECK(text->signedByMe);
    CHECK(text->signedAtMs == b.clock.nowMs());

    // Now the inspection opens to the member.
    list = s->inspections();
    REQUIRE(list.ok());
    CHECK((*list)[0].agreementSigned);
    one = s->inspection(insp);
    REQUIRE(one.ok());
    CHECK(one->extensions.size() == 1);
    all = s->findings();
    REQUIRE(all.ok());
    REQUIRE(all->size() == 1);
    CHECK((*all)[0].id == g.finding);
    CHECK(s->findings(byInspection).ok());
    CHECK(s->finding(g.finding).ok());
    CHECK(s->history(g.finding).ok());
    CHECK(s->history(g.notice).ok());
    notices = s->notices();
    REQUIRE(notices.ok());
    CHECK(notices->size() == 1);
    CHECK(s->notice(g.notice).ok());
    in.evidence = {b.file("成员的证据")};
    auto mine = s->addFinding(in);
    REQUIRE_MESSAGE(mine.ok(), describe(mine));
    auto held = s->finding(*mine);
    REQUIRE(held.ok());
    REQUIRE(held->attachments.size() == 1);
    // The lead's file has not reached this store (evidence travels by the server or a handover): the member's own.
    auto exported = s->exportEvidence(held->attachments[0].hash, b.tmp / "out" / "evidence.bin");
    CHECK_MESSAGE(exported.ok(), describe(exported));
    CHECK(fs::exists(b.tmp / "out" / "evidence.bin"));
    exports = s->exports();
    REQUIRE(exports.ok());
    CHECK(exports->size() == 1);
    auto handed = s->exportHandover(insp, b.tmp / "out" / "member.xsbundle");
    REQUIRE(handed.ok());
    auto bundle = (*handed)->wait();
    CHECK_MESSAGE(bundle.ok(), describe(bundle));
    signatures = s->agreements(insp);
    REQUIRE(signatures.ok());
    REQUIRE(signatures->size() == 2);  // the lead's and the member's, oldest first
    CHECK((*signatures)[0].personName == "郑华");
    CHECK((*signatures)[1].personName == "冯磊");
    CHECK((*signatures)[1].personId == b.member->self().personId);
    CHECK((*signatures)[1].version == "v1");
    CHECK((*signatures)[1].sha256 == currentAgreementText().sha256);
    CHECK((*signatures)[1].signedAtMs == b.clock.nowMs());
    refused = s->refusedChangeSets();
    REQUIRE(refused.ok());
    CHECK(refused->empty());
}

TEST_CASE("agreement: signing twice is ok and writes nothing - the first signature stands") {
    Bureau b(false);
    const std::string& insp = b.inspection;
    auto s = Session::open(b.tmp / "auditor", kPass, b.clock);
    REQUIRE(s.ok());
    REQUIRE((*s)->signAgreement(insp).ok());
    auto first = (*s)->agreementText(insp);
    REQUIRE(first.ok());
    const auto ops = test::opCount(*b.auditor);
    b.clock.advance(60'000);
    auto again = (*s)->signAgreement(insp);
    CHECK_MESSAGE(again.ok(), describe(again));
    CHECK(test::opCount(*b.auditor) == ops);
    auto second = (*s)->agreementText(insp);
    REQUIRE(second.ok());
    CHECK(second->signedAtMs == first->signedAtMs);
    // By title too, which resolves to the same inspection.
    CHECK((*s)->signAgreement(first->inspectionTitle).ok());
    CHECK(test::opCount(*b.auditor) == ops);
}

TEST_CASE("agreement: the audit office and a leading-group member off the team are not gated and do not sign - the office sees who signed when") {
    Gate g;
    Bureau& b = g.b;
    const std::string& insp = b.inspection;
    for (Workspace* w : {b.office.get(), b.leading.get()}) {
        auto f = w->finding(g.finding);
        CHECK_MESSAGE(f.ok(), describe(f));
        auto list = w->findings();
        REQUIRE(list.ok());
        CHECK(list->size() == 1);
        auto st = w->agreementState(insp);
        REQUIRE(st.ok());
        CHECK_FALSE(st->required);
        auto sign = w->signAgreement(insp);
        CHECK(errorOf(sign) == AppError::Refused);
        CHECK(mentions(messageOf(sign), "signed by its working group"));
    }
    auto office = Session::open(b.tmp / "office", kPass, b.clock);
    REQUIRE(office.ok());
    auto views = (*office)->inspections();
    REQUIRE(views.ok());
    CHECK_FALSE((*views)[0].agreementRequired);
    b.clock.advance(1000);
    REQUIRE(b.member->signAgreement(insp).ok());
    const std::int64_t memberAt = b.clock.nowMs();
    b.share();
    auto signatures = (*office)->agreements();
    REQUIRE(signatures.ok());
    REQUIRE(signatures->size() == 2);
    CHECK((*signatures)[0].personName == "郑华");
    CHECK((*signatures)[1].personName == "冯磊");
    CHECK((*signatures)[1].signedAtMs == memberAt);
    CHECK((*signatures)[1].inspectionId == insp);
    // The auditor has not signed: the office sees that too (nobody listed for them).
    for (const auto& a : *signatures) CHECK(a.personId != b.auditor->self().personId);
}

TEST_CASE("agreement: a hostile device signing in another's name, editing a signature, a wrong or unknown text, another record id - refused on every replica") {
    Bureau b(false);
    const std::string insp = b.inspection;
    const std::string team = teamChannel(insp);
    const std::string memberId = b.member->self().personId, auditorId = b.auditor->self().personId;
    const AgreementText& v1 = currentAgreementText();
    auto fields = [&](const std::string& person) {
        return Json{{"inspection_id", insp}, {"person_id", person}, {"text_version", "v1"}, {"text_sha256", v1.sha256},
                    {"signed_at", b.clock.nowMs()}};
    };
    auto refusedEverywhere = [&](const sync::ChangeSet& cs, const std::string& why) {
        // The forger's own store judges it too (and keeps it in its chain, so the next forgery is the next link).
        for (Workspace* w : {b.member.get(), b.office.get(), b.lead.get(), b.auditor.get()}) {
            CHECK(Bureau::deliver(*w, cs) == sync::ApplyOutcome::Refused);
            auto refused = w->log().refused();
            REQUIRE(refused.ok());
            std::string reason;
            for (const auto& r : *refused)
                if (r.id == cs.id) reason = r.reason;
            CHECK_MESSAGE(mentions(reason, why), (why + " / " + reason));
        }
    };
    // The member's device signs in the auditor's name.
    {
        Forge forge = forgeFor(*b.member);
        refusedEverywhere(forge.make({forge.sealed(team, "agreement", agreementRecordId(insp, auditorId), fields(auditorId))}),
                          "signed by the person it names");
        auto st = b.auditor->agreementState(insp);
        REQUIRE(st.ok());
        CHECK_FALSE(st->signedByMe);
        CHECK(errorOf(b.auditor->findings(insp)) == AppError::Refused);
    }
    // A hash that is not of the text, a version this build does not know, a record id of its own.
    {
        Forge forge = forgeFor(*b.member);
        Json wrong = fields(memberId);
        wrong["text_sha256"] = std::string(64, 'a');
        refusedEverywhere(forge.make({forge.sealed(team, "agreement", agreementRecordId(insp, memberId), wrong)}),
                          "not the hash of the text");
    }
    {
        Forge forge = forgeFor(*b.member);
        Json unknown = fields(memberId);
        unknown["text_version"] = "v9";
        refusedEverywhere(forge.make({forge.sealed(team, "agreement", agreementRecordId(insp, memberId), unknown)}),
                          "not a text this version knows");
    }
    {
        Forge forge = forgeFor(*b.member);
        refusedEverywhere(forge.make({forge.sealed(team, "agreement", "some-other-id", fields(memberId))}), "is the record");
    }
    // A leading-group member off the team signing is refused too.
    {
        Forge forge = forgeFor(*b.leading);
        const std::string leadingId = b.leading->self().personId;
        refusedEverywhere(forge.make({forge.sealed(team, "agreement", agreementRecordId(insp, leadingId), fields(leadingId))}),
                          "signed by its working group");
    }
    // Signed honestly, then edited: a later time, another hash, a cleared field - all refused.
    REQUIRE(b.member->signAgreement(insp).ok());
    b.share();
    for (const Json& change : {Json{{"signed_at", b.clock.nowMs() + 1}}, Json{{"text_sha256", std::string(64, 'b')}},
                               Json{{"person_id", nullptr}}}) {
        Forge forge = forgeFor(*b.member);
        refusedEverywhere(forge.make({forge.sealed(team, "agreement", agreementRecordId(insp, memberId), change)}),
                          "fixed");
    }
    // The lead has not signed: the member's signature is the team's record, not shown to them yet.
    auto hidden = b.lead->agreements(insp);
    REQUIRE(hidden.ok());
    CHECK(hidden->empty());
    for (Workspace* w : {b.office.get(), b.member.get()}) {
        auto list = w->agreements(insp);
        REQUIRE(list.ok());
        REQUIRE(list->size() == 1);
        CHECK((*list)[0]["person_id"] == memberId);
        CHECK((*list)[0]["text_sha256"] == v1.sha256);
    }
}

}  // namespace xs::app
