// What a replica accepts from an enrolled but hostile device (issue 9): each attack reproduced
// with the attacker's own keys — through the Workspace API where the attacker would use the
// application, and by crafting and signing change sets by hand where it would not — and refused,
// on the attacker's store when it commits and on every replica that receives it. The tests are
// named after what broke.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <chrono>
#include <functional>
#include <limits>
#include <random>
#include <thread>
#include <set>
#include <string>
#include <vector>

#include "app/enrolment.h"
#include "app/handover.h"
#include "crypto/age.h"
#include "crypto/encoding.h"
#include "crypto/hpke.h"
#include "sync/bundle.h"
#include "sync/changeset_codec.h"
#include "sync/uuid.h"
#include "tests/app/app_test_util.h"
#include "tests/app/bureau.h"
#include "tests/sync/forge.h"

namespace xs::app {
namespace {

namespace fs = std::filesystem;
using sync::test::Forge;
using test::errorOf;
using test::mentions;
using test::messageOf;
using test::TempDir;
using test::Bureau;

Forge forgeFor(Workspace& ws) { return Forge(ws.log(), ws.store()); }

}  // namespace

TEST_CASE("hostile: an enrolled inspector rewriting the organisation is refused on its store and on every other") {
    Bureau b;
    const std::string memberId = b.member->self().personId;
    const std::string officeId = b.office->self().personId;
    // Through the application: the inspector's own store refuses its org import.
    auto imported = b.member->importOrg(test::loadOrg());
    CHECK(errorOf(imported) == AppError::Refused);
    CHECK(mentions(messageOf(imported), "change the organisation"));
    // By hand: a signed change set promoting itself to leader and demoting the office.
    Forge forge = forgeFor(*b.member);
    sync::ChangeSet promote = forge.make({Forge::plain("org", "person", memberId, {{"role", "leader"}})});
    CHECK(Bureau::deliver(*b.office, promote) == sync::ApplyOutcome::Refused);
    CHECK(mentions(Bureau::lastRefusal(*b.office), "change the organisation"));
    CHECK(Bureau::roleOf(*b.office, memberId) == "working_group_member");
    for (Workspace* w : {b.lead.get(), b.leading.get()}) {
        CHECK(Bureau::deliver(*w, promote) == sync::ApplyOutcome::Refused);
        CHECK(Bureau::roleOf(*w, memberId) == "working_group_member");
    }
    // Even an owner of the organisation (a leading-group member) cannot demote the audit office.
    Forge leadingForge = forgeFor(*b.leading);
    sync::ChangeSet demote = leadingForge.make({Forge::plain("org", "person", officeId, {{"role", "working_group_member"}})});
    CHECK(Bureau::deliver(*b.office, demote) == sync::ApplyOutcome::Refused);
    CHECK(mentions(Bureau::lastRefusal(*b.office), "audit office's own record"));
    CHECK(Bureau::roleOf(*b.office, officeId) == "audit_office");
    // The office still imports bundles, and the promoted inspector still cannot approve extensions.
    b.share();
    CHECK((b.office->self().role == Role::AuditOffice));
    CHECK((b.member->self().role == Role::WorkingGroupMember));
    auto ext = b.member->requestExtension(b.inspection, 3, "需要延长");
    REQUIRE(ext.ok());
    CHECK(errorOf(b.member->decideExtension(*ext, true)) == AppError::Refused);
    // Its forged decision is refused at the office too.
    Forge again = forgeFor(*b.member);
    sync::ChangeSet approve = again.make({again.sealed(teamChannel(b.inspection), "extension", *ext,
                                                       {{"status", "approved"}, {"decided_by", memberId}})});
    test::syncInto(*b.member, *b.office);
    CHECK(Bureau::deliver(*b.office, approve) == sync::ApplyOutcome::Refused);
    CHECK(mentions(Bureau::lastRefusal(*b.office), "leading group"));
    auto window = b.office->captureWindow(b.inspection);
    REQUIRE(window.ok());
    CHECK(window->second - window->first == 6);
}

TEST_CASE("hostile: a signed rewrite of an inspection plan (on-site days 365) is refused") {
    Bureau b;
    for (Workspace* attacker : {b.member.get(), b.lead.get()}) {
        CAPTURE(attacker->self().name);
        Forge forge = forgeFor(*attacker);
        sync::ChangeSet stretch = forge.make({Forge::plain("org", "inspection", b.inspection, {{"onsite_days", 365}})});
        CHECK(Bureau::deliver(*b.office, stretch) == sync::ApplyOutcome::Refused);
        auto window = b.office->captureWindow(b.inspection);
        REQUIRE(window.ok());
        CHECK(window->second - window->first == 6);
    }
    auto reasons = b.office->log().refused();
    REQUIRE(reasons.ok());
    REQUIRE(reasons->size() == 2);
    std::string both = (*reasons)[0].reason + " | " + (*reasons)[1].reason;
    CHECK(mentions(both, "create an inspection"));  // the member is no planner
    CHECK(mentions(both, "7(2)"));                  // the lead is, but not for 365 days
}

TEST_CASE("hostile: closing a confirmed finding without verification evidence is refused on apply") {
    Bureau b;
    const std::string f = b.capture(*b.member, "公务接待超标准");
    REQUIRE(b.member->transitionFinding(f, FindingStatus::Submitted).ok());
    b.share();
    REQUIRE(b.lead->transitionFinding(f, FindingStatus::Confirmed).ok());
    b.share();
    const std::string team = teamChannel(b.inspection);
    Forge forge = forgeFor(*b.member);
    // What the member saw: the confirmation. It closes the finding and rewrites its title.
    sync::ChangeSet close = forge.make({forge.sealed(team, "finding", f, {{"status", "closed"}})});
    for (Workspace* w : {b.member.get(), b.office.get(), b.lead.get()}) {
        CHECK(Bureau::deliver(*w, close) == sync::ApplyOutcome::Refused);  // its own store judges it too
        CHECK(mentions(Bureau::lastRefusal(*w), "confirmed finding cannot become closed"));
    }
    Forge forge2 = forgeFor(*b.member);
    sync::ChangeSet retitle = forge2.make({forge2.sealed(team, "finding", f, {{"title", "被改写的标题"}})});
    for (Workspace* w : {b.member.get(), b.office.get(), b.lead.get()}) {
        CHECK(Bureau::deliver(*w, retitle) == sync::ApplyOutcome::Refused);
        CHECK(mentions(Bureau::lastRefusal(*w), "fixed once confirmed"));
    }
    for (Workspace* w : {b.office.get(), b.lead.get()}) {
        auto rec = w->finding(f);
        REQUIRE(rec.ok());
        CHECK((*rec)["status"] == "confirmed");
        CHECK((*rec)["title"] == "公务接待超标准");
    }
    // Even the lead may close only a rectified finding with verification evidence.
    Forge leadForge = forgeFor(*b.lead);
    sync::ChangeSet leadClose = leadForge.make({leadForge.sealed(team, "finding", f, {{"status", "closed"}})});
    CHECK(Bureau::deliver(*b.office, leadClose) == sync::ApplyOutcome::Refused);
}

TEST_CASE("hostile: a review note rewritten later, or written by the member with a submit, is refused on apply") {
    Bureau b;
    const std::string f = b.capture(*b.member, "差旅费报销超标准");
    // The member's own store refuses a note without the review's decision.
    auto own = b.member->editFinding(f, Json{{"review_note", "已审核通过"}, {"status", "submitted"}});
    REQUIRE_FALSE(own.ok());
    CHECK(mentions(own.message(), "review note"));
    REQUIRE(b.member->transitionFinding(f, FindingStatus::Submitted).ok());
    b.share();
    REQUIRE(b.lead->transitionFinding(f, FindingStatus::Returned, "请补充报销审批单").ok());
    b.share();
    auto seen = b.member->finding(f);
    REQUIRE(seen.ok());
    CHECK((*seen)["review_note"] == "请补充报销审批单");
    const std::string team = teamChannel(b.inspection);
    // The member, signed and enrolled, rewrites the note without a decision: refused everywhere.
    Forge forge = forgeFor(*b.member);
    sync::ChangeSet rewrite = forge.make({forge.sealed(team, "finding", f, {{"review_note", "无需补充"}})});
    for (Workspace* w : {b.member.get(), b.office.get(), b.lead.get()}) {
        CHECK(Bureau::deliver(*w, rewrite) == sync::ApplyOutcome::Refused);
        CHECK(mentions(Bureau::lastRefusal(*w), "review note is written only with the review's decision"));
    }
    // Nor may a note ride on a resubmission.
    Forge forge2 = forgeFor(*b.member);
    sync::ChangeSet resubmit =
        forge2.make({forge2.sealed(team, "finding", f, {{"status", "submitted"}, {"review_note", "组长已同意"}})});
    CHECK(Bureau::deliver(*b.office, resubmit) == sync::ApplyOutcome::Refused);
    auto office = b.office->finding(f);
    REQUIRE(office.ok());
    CHECK((*office)["review_note"] == "请补充报销审批单");
    CHECK((*office)["status"] == "returned");
}

TEST_CASE("hostile: a revoked device's later change sets are refused whatever clock they claim") {
    Bureau b;
    const std::string before = b.capture(*b.member, "撤销前的问题");
    b.share();
    auto revoked = b.office->revokeDevice(b.member->log().deviceId());
    REQUIRE_MESSAGE(revoked.ok(), test::describe(revoked));
    // The device, not told, captures on; its change set claims a time before the revocation.
    Forge forge = forgeFor(*b.member);
    auto last = b.member->log().changeSets();
    REQUIRE(last.ok());
    std::uint64_t ownLast = 0;
    for (const auto& cs : *last)
        if (cs.device == b.member->log().deviceId()) ownLast = std::max(ownLast, cs.hlc);
    sync::ChangeSet backdated = forge.make(
        {forge.sealed(teamChannel(b.inspection), "finding", "01a00000-0000-7000-8000-000000000001",
                      {{"inspection_id", b.inspection}, {"title", "撤销后补记"}, {"status", "draft"},
                       {"author", b.member->self().personId}, {"created_at", 1}})},
        ownLast + 1);
    for (Workspace* w : {b.office.get(), b.lead.get(), b.leading.get()}) {
        test::syncInto(*b.office, *w);
        // The office stores it refused; the others may have it from the office already.
        auto outcome = Bureau::deliver(*w, backdated);
        CHECK((outcome == sync::ApplyOutcome::Refused || outcome == sync::ApplyOutcome::AlreadyKnown));
        auto refused = w->log().refused();
        REQUIRE(refused.ok());
        bool found = false;
        for (const auto& x : *refused) found = found || (x.id == backdated.id && mentions(x.reason, "revoked"));
        CHECK(found);
        CHECK(errorOf(w->finding("01a00000-0000-7000-8000-000000000001")) == AppError::NotFound);
        CHECK(w->finding(before).ok());
    }
    // Once it learns, it writes nothing more.
    test::syncInto(*b.office, *b.member);
    CHECK(b.member->self().revoked);
    CHECK(errorOf(b.member->addFinding(FindingInput{b.inspection, "再写", "", {}, "", Severity::Low, {}, false, "", {}})) ==
          AppError::Refused);
}

TEST_CASE("hostile: enrolling a revoked device's keys again is refused - a replacement enrols with new keys") {
    Bureau b;
    auto oldFile = devicePublicJson(*b.member);
    REQUIRE(oldFile.ok());
    REQUIRE(b.office->revokeDevice(b.member->log().deviceId()).ok());
    auto again = enrolDevice(*b.office, *oldFile);
    CHECK(errorOf(again) == AppError::Refused);
    CHECK(mentions(messageOf(again), "revoked"));
    // The same keys under a fresh device id are refused too.
    Json renamed = *oldFile;
    renamed["device_id"] = "01a00000-0000-7000-8000-00000000abcd";
    renamed.erase("fingerprint");
    auto underNewId = enrolDevice(*b.office, renamed);
    CHECK(errorOf(underNewId) == AppError::Refused);
    // A replacement device (new store, new keys) for the same person is enrolled.
    auto replacement = test::initWorkspace(b.tmp / "member2", "冯磊", Role::WorkingGroupMember, b.clock);
    auto file = devicePublicJson(*replacement);
    REQUIRE(file.ok());
    auto enrolled = enrolDevice(*b.office, *file);
    REQUIRE_MESSAGE(enrolled.ok(), test::describe(enrolled));
    CHECK((*enrolled)["person_id"] == b.member->self().personId);
}

TEST_CASE("hostile: a second enrolment keeps the owner the person the office registered") {
    Bureau b;
    const std::string person = b.member->self().personId;
    b.enrolAll();
    b.enrolAll();
    CHECK(b.member->self().personId == person);
    CHECK(b.member->self().enrolled);
    CHECK(b.capture(*b.member, "二次登记后的记录").size() == 36);
    // An older enrolment file replayed is refused (it would roll the pinned server back).
    auto older = exportEnrolment(*b.office, "https://old.example", "");
    REQUIRE(older.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(3));  // issue times are wall-clock milliseconds
    auto newer = exportEnrolment(*b.office, "https://new.example", "");
    REQUIRE(newer.ok());
    REQUIRE(acceptEnrolment(*b.member, *newer).ok());
    auto replay = acceptEnrolment(*b.member, *older);
    CHECK(errorOf(replay) == AppError::Refused);
    CHECK(mentions(messageOf(replay), "older"));
    CHECK(*b.member->store().meta("server_url") == "https://new.example");
}

namespace {

// The inspector's handover round: export, office import, receipt.
struct Handover {
    Bureau& b;
    Workspace& inspector;
    fs::path bundle;
    Json exported, imported;
    Handover(Bureau& bureau, Workspace& who, const std::string& name) : b(bureau), inspector(who), bundle(b.tmp / name) {
        auto e = exportHandover(inspector, b.inspection, bundle);
        REQUIRE_MESSAGE(e.ok(), test::describe(e));
        exported = *e;
        auto i = importHandover(*b.office, bundle);
        REQUIRE_MESSAGE(i.ok(), test::describe(i));
        imported = *i;
    }
    AResult<Json> confirm() { return confirmHandover(inspector, imported["receipt"].get<std::string>()); }
};

}  // namespace

TEST_CASE("hostile: shredding holds against an adversary with the device's keys and every enrolment file") {
    Bureau b;
    const std::string marker = "机密-SHRED-4471";
    const std::string f = b.capture(*b.member, "问题 " + marker, true);
    auto oldEnrolment = exportEnrolment(*b.office, "", "");
    REQUIRE(oldEnrolment.ok());
    Handover h(b, *b.member, "member.xsbundle");
    auto wiped = h.confirm();
    REQUIRE_MESSAGE(wiped.ok(), test::describe(wiped));
    CHECK((*wiped)["keys_destroyed"] == true);
    CHECK((*wiped)["subkeys_destroyed"].size() == 2);  // team and unit
    auto newEnrolment = exportEnrolment(*b.office, "", "");  // issued after the shred
    REQUIRE(newEnrolment.ok());

    // The device's store as the adversary holds it: every secret it keeps, every envelope of the
    // inspection from every enrolment file ever issued, its evidence files.
    auto secrets = sync::test::secretColumn(b.member->store().db(),
                                            "SELECT secret FROM device_secrets UNION ALL SELECT key FROM channel_keys"
                                            " UNION ALL SELECT key FROM evidence_scopes");
    int envelopesTried = 0;
    for (const std::string& file : {*oldEnrolment, *newEnrolment}) {
        Json outer = Json::parse(file);
        Json body = Json::parse(outer["body"].get<std::string>());
        for (const auto& c : body["change_sets"]) {
            auto cs = sync::changeSetFromJson(c);
            REQUIRE(cs.ok());
            for (const auto& op : cs->ops) {
                if (op.kind != sync::kEpochKind || op.recordId.rfind(b.inspection, 0) != 0) continue;
                std::string channel = op.recordId.substr(0, op.recordId.find('|'));
                for (const auto& ch : op.changes) {
                    if (ch.field != "keys") continue;
                    for (const auto& k : ch.value) {
                        auto e = sync::envelopeFromJson(k);
                        REQUIRE(e.ok());
                        for (const auto& secret : secrets) {
                            auto ctx = crypto::hpke::setupBaseR(crypto::hpke::AeadId::Aes256Gcm, e->enc, secret.view(),
                                                                crypto::asBytes(sync::envelopeInfo(channel, 1, sync::recipientLabel(*e))));
                            if (ctx) CHECK_FALSE(ctx->open({}, e->wrapped).ok());
                            ++envelopesTried;
                        }
                    }
                }
            }
        }
    }
    CHECK(envelopesTried > 0);
    // The store reads none of it, now or after a rebuild, and applying the enrolment files again
    // brings nothing back.
    REQUIRE(acceptEnrolment(*b.member, *oldEnrolment).ok());
    REQUIRE(acceptEnrolment(*b.member, *newEnrolment).ok());
    REQUIRE(b.member->rebuild().ok());
    CHECK(errorOf(b.member->finding(f)) == AppError::NotFound);
    auto list = b.member->findings(b.inspection);
    REQUIRE(list.ok());
    CHECK(list->empty());
    // No file under the store holds the marker, and no evidence file is left.
    REQUIRE(b.member->store().db().exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
    for (const auto& path : sync::test::filesUnder(b.member->store().dir())) {
        INFO(path.string());
        auto bytes = sync::test::readAll(path);
        CHECK(std::search(bytes.begin(), bytes.end(), marker.begin(), marker.end()) == bytes.end());
        CHECK(path.string().find("/evidence/") == std::string::npos);
    }
    // The office lists the device's signed acknowledgement once it receives the ack file.
    auto acked = acceptShredAcknowledgement(*b.office, (*wiped)["ack"].get<std::string>());
    REQUIRE_MESSAGE(acked.ok(), test::describe(acked));
    REQUIRE((*acked)["acknowledgements"].size() == 1);
    CHECK((*acked)["acknowledgements"][0]["keys_destroyed"] == true);
    CHECK((*acked)["acknowledgements"][0]["evidence_removed"] == 1);
    CHECK((*acked)["acknowledgements"][0]["scope"] == b.inspection);
}

TEST_CASE("hostile: handover confirm keeps what was captured after the export and says so") {
    Bureau b;
    const std::string first = b.capture(*b.member, "导出前的问题", true);
    Handover h(b, *b.member, "first.xsbundle");
    // After the export, before the receipt comes back: a new finding with its evidence.
    const std::string later = b.capture(*b.member, "导出后的问题", true);
    auto partial = h.confirm();
    REQUIRE_MESSAGE(partial.ok(), test::describe(partial));
    CHECK((*partial)["keys_destroyed"] == false);
    CHECK((*partial)["captured_after_export"] == 2);  // its change set and its evidence file
    CHECK((*partial)["evidence_files_removed"] == 1);
    auto kept = b.member->finding(later);
    REQUIRE(kept.ok());
    CHECK((*kept)["attachments"][0]["state"] == "held");
    auto gone = b.member->finding(first);
    REQUIRE(gone.ok());
    CHECK((*gone)["attachments"][0]["state"] == "shredded");
    auto v = b.member->verify();
    REQUIRE(v.ok());
    CHECK(v->ok);
    // Export again: the later material reaches the office, and this receipt shreds everything.
    Handover again(b, *b.member, "second.xsbundle");
    auto whole = again.confirm();
    REQUIRE_MESSAGE(whole.ok(), test::describe(whole));
    CHECK((*whole)["keys_destroyed"] == true);
    CHECK((*whole)["captured_after_export"] == 0);
    auto officeView = b.office->finding(later);
    REQUIRE(officeView.ok());
    CHECK((*officeView)["attachments"][0]["state"] == "held");
    auto officeVerify = b.office->verify();
    REQUIRE(officeVerify.ok());
    CHECK(officeVerify->ok);
    CHECK(officeVerify->pending.empty());
}

TEST_CASE("hostile: evidence attached on the office blocks no inspector's export or verify - it is pending there") {
    Bureau b;
    const std::string f = b.capture(*b.member, "现场发现", true);
    Handover h(b, *b.member, "first.xsbundle");
    // The office attaches its verification material to the finding; the inspector receives the
    // attachment record (an enrolment file, a sync) but not the file.
    auto attached = b.office->attachEvidence(f, b.file("核查验证材料"), EvidencePurpose::Verification);
    REQUIRE_MESSAGE(attached.ok(), test::describe(attached));
    test::syncInto(*b.office, *b.member);
    auto v = b.member->verify();
    REQUIRE(v.ok());
    CHECK(v->ok);
    REQUIRE(v->pending.size() == 1);
    CHECK(v->pending[0].hash == *attached);
    auto rec = b.member->finding(f);
    REQUIRE(rec.ok());
    bool pending = false;
    for (const auto& a : (*rec)["attachments"]) pending = pending || (a["hash"] == *attached && a["state"] == "pending");
    CHECK(pending);
    CHECK(errorOf(b.member->exportEvidence(*attached, b.tmp / "x")) == AppError::NotFound);
    // Its next export goes through, without the file it never had.
    auto again = exportHandover(*b.member, b.inspection, b.tmp / "second.xsbundle");
    REQUIRE_MESSAGE(again.ok(), test::describe(again));
    auto imported = importHandover(*b.office, b.tmp / "second.xsbundle");
    REQUIRE_MESSAGE(imported.ok(), test::describe(imported));
    CHECK((*imported)["evidence_pending"].empty());  // the office holds its own file
    auto ov = b.office->verify();
    REQUIRE(ov.ok());
    CHECK(ov->ok);
}

TEST_CASE("hostile: relayed change sets without their evidence get a receipt that says pending - and verify does not fail") {
    Bureau b;
    // The auditor's finding with evidence reaches the member (a relay), but not its file.
    const std::string relayed = b.capture(*b.auditor, "第三方发现", true);
    test::syncInto(*b.auditor, *b.member);
    Handover h(b, *b.member, "member.xsbundle");
    REQUIRE(h.imported["evidence_pending"].size() == 1);
    Json receipt = Json::parse(Json::parse(h.imported["receipt"].get<std::string>())["body"].get<std::string>());
    CHECK(receipt["evidence_pending"].size() == 1);
    auto v = b.office->verify();
    REQUIRE(v.ok());
    CHECK(v->ok);
    CHECK(v->pending.size() == 1);
    CHECK(b.office->finding(relayed).ok());
    // The member's own shredding is not blocked by evidence it never held.
    auto wiped = h.confirm();
    REQUIRE_MESSAGE(wiped.ok(), test::describe(wiped));
    CHECK((*wiped)["keys_destroyed"] == true);
    // The auditor hands over its own: nothing is pending any more.
    Handover own(b, *b.auditor, "auditor.xsbundle");
    CHECK(own.imported["evidence_pending"].empty());
    auto v2 = b.office->verify();
    REQUIRE(v2.ok());
    CHECK(v2->pending.empty());
}

namespace {

// A bundle made by hand: `sets` as the author device's manifest lists them, signed with its key,
// sealed to the office key — what a tampering exporter could make (sync/bundle.cpp's format).
fs::path craftBundle(Workspace& author, Workspace& office, const std::string& inspection, const std::vector<sync::ChangeSet>& sets,
                     const fs::path& out, const std::function<void(Json&)>& editManifest = {}) {
    auto put32 = [](crypto::Bytes& b, std::uint32_t v) {
        for (int i = 3; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    };
    auto put64 = [](crypto::Bytes& b, std::uint64_t v) {
        for (int i = 7; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    };
    crypto::Bytes archive = {'X', 'S', 'H', 'B', sync::kBundleArchiveVersion, 1};
    auto record = [&](std::uint8_t type, const std::string& name, const std::string& data) {
        archive.push_back(type);
        put32(archive, static_cast<std::uint32_t>(name.size()));
        archive.insert(archive.end(), name.begin(), name.end());
        put64(archive, data.size());
        archive.insert(archive.end(), data.begin(), data.end());
    };
    Json list = Json::array();
    for (const auto& cs : sets) list.push_back({{"id", cs.id}, {"device", cs.device}, {"seq", cs.seq}, {"hash", crypto::toHex(cs.hash)}});
    Json manifest = {{"format", "xunshen-handover-manifest"}, {"version", sync::kManifestVersion}, {"suite", 1},
                     {"scope", inspection}, {"inspection", inspection}, {"author_device", author.log().deviceId()},
                     {"created_at", 1}, {"change_sets", list}, {"evidence", Json::array()}};
    if (editManifest) editManifest(manifest);
    std::string text = manifest.dump();
    auto sig = author.log().identity().sign(crypto::asBytes(text));
    REQUIRE(sig.ok());
    record(1, "manifest.json", text);
    record(2, "manifest.sig", std::string(sig->begin(), sig->end()));
    for (const auto& cs : sets) record(3, cs.id, sync::changeSetToJson(cs).dump());
    archive.push_back(0);
    put32(archive, 0);
    put64(archive, 0);
    auto officeKey = crypto::fromHex(*office.store().meta(sync::kOfficePublicKeyMeta));
    std::vector<crypto::Bytes> recipients = {*officeKey};
    crypto::Bytes file;
    auto enc = crypto::AgeEncryptor::create(recipients, [&](crypto::ByteView b) -> crypto::CStatus {
        file.insert(file.end(), b.begin(), b.end());
        return {};
    });
    REQUIRE(enc.ok());
    REQUIRE(enc->write(archive).ok());
    REQUIRE(enc->finish().ok());
    sync::test::writeAll(out, file);
    return out;
}

}  // namespace

TEST_CASE("hostile: a bundle with a gap in a chain gets no receipt and changes nothing") {
    Bureau b;
    b.capture(*b.member, "一");
    b.capture(*b.member, "二");
    b.capture(*b.member, "三");
    auto sets = b.member->log().changeSets();
    REQUIRE(sets.ok());
    // Leave out the member's second capture: its third is held for it.
    std::vector<sync::ChangeSet> withGap;
    int own = 0;
    for (const auto& cs : *sets) {
        if (cs.device == b.member->log().deviceId() && ++own == 2) continue;
        withGap.push_back(cs);
    }
    fs::path bundle = craftBundle(*b.member, *b.office, b.inspection, withGap, b.tmp / "gap.xsbundle");
    const std::string digest = *b.office->log().projectionDigest();
    auto r = importHandover(*b.office, bundle);
    CHECK(errorOf(r) == AppError::Refused);
    CHECK(mentions(messageOf(r), "incomplete"));
    CHECK(*b.office->log().projectionDigest() == digest);
    auto issues = b.office->log().chainIssues();
    REQUIRE(issues.ok());
    CHECK(issues->empty());  // the held change set went with the refused import
}

TEST_CASE("hostile: a fork in a bundle is refused and its record is kept on every path") {
    Bureau b;
    b.capture(*b.member, "原件上的记录");
    test::syncInto(*b.member, *b.office);
    // A copy of the member's store writes its own next link: a rival for the same sequence number.
    auto sets = b.member->log().changeSets();
    REQUIRE(sets.ok());
    Forge forge = forgeFor(*b.member);
    auto ownLast = std::count_if(sets->begin(), sets->end(), [&](const sync::ChangeSet& cs) { return cs.device == b.member->log().deviceId(); });
    sync::ChangeSet rival = forge.make({Forge::plain("sys", "shred_ack", b.member->log().deviceId() + "|x", {{"scope", "x"}})},
                                       std::nullopt, std::nullopt, ownLast);
    fs::path bundle = craftBundle(*b.member, *b.office, b.inspection, {rival}, b.tmp / "fork.xsbundle");
    auto r = importHandover(*b.office, bundle);
    CHECK(errorOf(r) == AppError::Refused);
    CHECK(mentions(messageOf(r), "fork"));
    auto issues = b.office->log().chainIssues();
    REQUIRE(issues.ok());
    REQUIRE(issues->size() == 1);
    CHECK((*issues)[0].kind == "fork");
    auto v = b.office->verify();
    REQUIRE(v.ok());
    CHECK_FALSE(v->ok);  // a fork is a problem for a person to look at
}

TEST_CASE("hostile: the same hostile and concurrent change sets give every replica the same projection and refused set") {
    Bureau b;
    // Honest and concurrent: captures, a concurrent edit, a confirmation.
    const std::string f1 = b.capture(*b.member, "成员的问题");
    const std::string f2 = b.capture(*b.auditor, "审计的问题");
    b.share();
    REQUIRE(b.member->editFinding(f1, {{"description", "成员补充"}}).ok());
    REQUIRE(b.lead->editFinding(f1, {{"description", "组长补充"}}).ok());
    REQUIRE(b.member->transitionFinding(f1, FindingStatus::Submitted).ok());
    test::syncInto(*b.member, *b.lead);
    REQUIRE(b.lead->transitionFinding(f1, FindingStatus::Confirmed).ok());
    // Hostile: the member promotes itself; the auditor closes its own finding; the member
    // rewrites the plan; an edit of the confirmed finding by a device that had seen it confirmed.
    std::vector<sync::ChangeSet> hostile;
    {
        Forge fm = forgeFor(*b.member);
        hostile.push_back(fm.make({Forge::plain("org", "person", b.member->self().personId, {{"role", "leader"}})}));
    }
    {
        Forge fa = forgeFor(*b.auditor);
        hostile.push_back(fa.make({fa.sealed(teamChannel(b.inspection), "finding", f2, {{"status", "closed"}})}));
    }
    test::syncInto(*b.lead, *b.leading);
    {
        Forge fl = forgeFor(*b.leading);
        hostile.push_back(fl.make({fl.sealed(teamChannel(b.inspection), "finding", f1, {{"title", "领导改写"}})}));
    }
    std::vector<sync::ChangeSet> all;
    auto add = [&](const sync::ChangeSet& cs) {
        if (std::none_of(all.begin(), all.end(), [&](const sync::ChangeSet& x) { return x.id == cs.id; })) all.push_back(cs);
    };
    for (Workspace* w : {b.office.get(), b.lead.get(), b.member.get(), b.leading.get(), b.auditor.get()}) {
        auto sets = w->log().changeSets();
        REQUIRE(sets.ok());
        for (const auto& cs : *sets) add(cs);
    }
    for (const auto& cs : hostile) add(cs);
    // Fresh office-side replicas (each holds the office key, as the office's other devices do)
    // apply everything in different orders.
    auto officeSecret = officePrivateKey(*b.office);
    REQUIRE(officeSecret.ok());
    std::set<std::string> refusedFirst;
    std::string projectionFirst;
    for (unsigned seed = 0; seed < 5; ++seed) {
        CAPTURE(seed);
        // A replica that writes nothing: it trusts the bureau's office and holds its key.
        auto r = test::initWorkspace(b.tmp / ("replica" + std::to_string(seed)), "副本", Role::WorkingGroupMember, b.clock);
        auto root = b.office->log().trustRoot();
        REQUIRE(root.ok());
        REQUIRE(r->log().pinTrustRoot(**root).ok());
        auto put = r->store().db().prepare("INSERT INTO device_secrets (name, secret) VALUES (?, ?)");
        REQUIRE(put.ok());
        put->bind(1, std::string(sync::kOfficeSecretName)).bindBlob(2, officeSecret->view());
        REQUIRE(put->run().ok());
        put.value().reset();
        std::vector<sync::ChangeSet> order = all;
        std::mt19937 rng(seed);
        if (seed > 0) std::shuffle(order.begin(), order.end(), rng);
        auto session = sync::ApplySession::begin(r->log());
        REQUIRE(session.ok());
        for (const auto& cs : order) REQUIRE_MESSAGE((*session)->add(cs).ok(), "apply");
        REQUIRE((*session)->commit().ok());
        auto issues = r->log().chainIssues();
        REQUIRE(issues.ok());
        CHECK(issues->empty());
        std::set<std::string> refused;
        auto refusedSets = r->log().refused();
        REQUIRE(refusedSets.ok());
        for (const auto& x : *refusedSets) refused.insert(x.id);
        auto findings = r->findings();
        REQUIRE(findings.ok());
        auto people = r->people();
        REQUIRE(people.ok());
        std::string projection = findings->dump() + people->dump();
        if (seed == 0) {
            refusedFirst = refused;
            projectionFirst = projection;
        }
        CHECK(refused == refusedFirst);
        CHECK(projection == projectionFirst);
        for (const auto& h : hostile) CHECK(refused.count(h.id) == 1);
    }
    CHECK(refusedFirst.size() >= hostile.size());
}

// ---- what an adversarial review of the judge found getting through (each was accepted once)

TEST_CASE("hostile: an op naming one field twice is refused - no replica has to pick one of the two") {
    Bureau b;
    const std::string f = b.capture(*b.member, "重复字段");
    b.share();
    Forge forge = forgeFor(*b.member);
    // What the rules would judge (the last value) and what a projection keeps (the first) differ.
    sync::Op op = forge.sealed(teamChannel(b.inspection), "finding", f, {{"status", "closed"}});
    op.changes.push_back({"status", "submitted", {}});
    sync::ChangeSet cs = forge.make({op});
    for (Workspace* w : {b.office.get(), b.lead.get()}) {
        CHECK(Bureau::deliver(*w, cs) == sync::ApplyOutcome::Refused);
        CHECK(mentions(Bureau::lastRefusal(*w), "twice"));
        auto rec = w->finding(f);
        REQUIRE(rec.ok());
        CHECK((*rec)["status"] == "draft");
    }
}

TEST_CASE("hostile: a finding of one inspection is not edited through another inspection's channel") {
    Bureau b;
    // Inspection Y: the auditor's; the member is not on its team and holds none of its keys.
    InspectionInput in;
    in.unit = "E02";
    in.start = formatDate(b.lead->today());
    in.team = {b.auditor->self().personId};
    in.lead = b.lead->self().personId;
    auto y = b.lead->createInspection(in);
    REQUIRE_MESSAGE(y.ok(), test::describe(y));
    b.share();
    for (Workspace* w : {b.lead.get(), b.auditor.get()}) REQUIRE(w->signAgreement(*y).ok());  // Y's working group (article 7(4))
    b.share();
    FindingInput fi;
    fi.inspection = *y;
    fi.title = "Y 的问题";
    fi.category = FindingCategory::FinancialDiscipline;
    fi.auditCategory = "procurement";
    auto f = b.auditor->addFinding(fi);
    REQUIRE_MESSAGE(f.ok(), test::describe(f));
    b.share();
    CHECK(errorOf(b.member->finding(*f)) == AppError::NotFound);
    // The finding's id is in the clear in its op header: the member writes it through its own team channel.
    Forge forge = forgeFor(*b.member);
    sync::ChangeSet cs = forge.make({forge.sealed(teamChannel(b.inspection), "finding", *f,
                                                  {{"title", "被改写"}, {"status", "submitted"}})});
    for (Workspace* w : {b.office.get(), b.lead.get(), b.auditor.get()}) {
        CHECK(Bureau::deliver(*w, cs) == sync::ApplyOutcome::Refused);
        CHECK(mentions(Bureau::lastRefusal(*w), "lives in channel " + teamChannel(*y)));
        auto rec = w->finding(*f);
        REQUIRE(rec.ok());
        CHECK((*rec)["title"] == "Y 的问题");
        CHECK((*rec)["status"] == "draft");
    }
}

TEST_CASE("hostile: a leading-group member does not give itself the audit office's role") {
    Bureau b;
    Forge forge = forgeFor(*b.leading);
    for (const char* role : {"audit_office", "working_group_lead"}) {
        CAPTURE(std::string(role));
        sync::ChangeSet promote = forge.make({Forge::plain("org", "person", b.leading->self().personId, {{"role", role}})});
        for (Workspace* w : {b.leading.get(), b.office.get()}) {  // its own store judges it first
            CHECK(Bureau::deliver(*w, promote) == sync::ApplyOutcome::Refused);
            CHECK(mentions(Bureau::lastRefusal(*w), "only the audit office gives people their roles"));
            CHECK(Bureau::roleOf(*w, b.leading->self().personId) == "leading_group_member");
        }
    }
}

TEST_CASE("hostile: an unsigned change set reusing an honest one's id makes no fork record") {
    Bureau b;
    b.capture(*b.lead, "诚实设备");
    b.share();
    auto sets = b.lead->log().changeSets();
    REQUIRE(sets.ok());
    sync::ChangeSet victim;
    for (const auto& cs : *sets)
        if (cs.device == b.lead->log().deviceId()) victim = cs;
    REQUIRE(!victim.id.empty());
    sync::ChangeSet fake = victim;
    fake.hlc += 1;                    // other content, same id
    fake.signature.assign(64, 0x41);  // and no valid signature
    Json ack = {{"format", "xunshen-shred-ack"}, {"version", 1}, {"device", victim.device}, {"inspection", b.inspection},
                {"change_sets", Json::array({sync::changeSetToJson(fake)})}};
    auto r = acceptShredAcknowledgement(*b.office, ack.dump());
    CHECK(errorOf(r) == AppError::Refused);
    auto issues = b.office->log().chainIssues();
    REQUIRE(issues.ok());
    CHECK(issues->empty());
    auto v = b.office->verify();
    REQUIRE(v.ok());
    CHECK(v->ok);
    // Through the apply path itself: refused as malformed, nothing recorded.
    auto session = sync::ApplySession::begin(b.office->log());
    REQUIRE(session.ok());
    auto added = (*session)->add(fake);
    CHECK_FALSE(added.ok());
    CHECK(mentions(added.message(), "signed"));
}

TEST_CASE("hostile: a shred acknowledgement file without the acknowledgement is refused") {
    Bureau b;
    b.capture(*b.member, "已移交");
    b.share();
    // The member's own honest change sets, but none records a shredding.
    auto sets = b.member->log().changeSets();
    REQUIRE(sets.ok());
    Json own = Json::array();
    for (const auto& cs : *sets)
        if (cs.device == b.member->log().deviceId()) own.push_back(sync::changeSetToJson(cs));
    Json ack = {{"format", "xunshen-shred-ack"}, {"version", 1}, {"device", b.member->log().deviceId()},
                {"inspection", b.inspection}, {"change_sets", own}};
    auto r = acceptShredAcknowledgement(*b.office, ack.dump());
    CHECK(errorOf(r) == AppError::Refused);
    CHECK(mentions(messageOf(r), "no acknowledgement"));
}

TEST_CASE("hostile: a bundle manifest with a mistyped field is refused with a message - nothing changes") {
    Bureau b;
    b.capture(*b.member, "类型错误");
    auto sets = b.member->log().changeSets();
    REQUIRE(sets.ok());
    std::vector<sync::ChangeSet> own;
    for (const auto& cs : *sets)
        if (cs.device == b.member->log().deviceId()) own.push_back(cs);
    const std::string digest = *b.office->log().projectionDigest();
    int n = 0;
    for (auto edit : std::vector<std::function<void(Json&)>>{
             [](Json& m) { m["format"] = 7; }, [](Json& m) { m["scope"] = Json::array(); },
             [](Json& m) { m["change_sets"] = "all"; }, [](Json& m) { m["created_at"] = "yesterday"; },
             [](Json& m) { m["evidence"] = Json::object(); }, [](Json& m) { m["author_device"] = 1; }}) {
        CAPTURE(n);
        fs::path bundle = craftBundle(*b.member, *b.office, b.inspection, own, b.tmp / ("typed" + std::to_string(n++) + ".xsbundle"), edit);
        auto r = importHandover(*b.office, bundle);
        CHECK(errorOf(r) == AppError::Refused);
        CHECK_FALSE(messageOf(r).empty());
        CHECK(*b.office->log().projectionDigest() == digest);
    }
}

TEST_CASE("hostile: a device that joins after a rotation judges the earlier ops as the office does") {
    Bureau b;
    const std::string f = b.capture(*b.member, "旋转前的问题");
    b.share();
    REQUIRE(b.office->revokeDevice(b.auditor->log().deviceId()).ok());
    auto file = exportEnrolment(*b.office, "", "");
    REQUIRE(file.ok());
    REQUIRE(acceptEnrolment(*b.lead, *file).ok());  // the lead (admin) removes the revoked device: epoch 2
    test::syncInto(*b.lead, *b.office);
    auto replacement = test::initWorkspace(b.tmp / "auditor2", "钱伟", Role::ThirdPartyAuditor, b.clock);
    test::enrol(*b.office, *replacement);
    auto file2 = exportEnrolment(*b.office, "", "");
    REQUIRE(file2.ok());
    REQUIRE(acceptEnrolment(*b.lead, *file2).ok());  // the lead adds the replacement at epoch 2
    test::syncInto(*b.lead, *b.office);
    test::syncInto(*b.office, *b.member);
    CHECK(*b.office->log().currentEpoch(teamChannel(b.inspection)) == 2);
    REQUIRE(b.member->editFinding(f, Json{{"title", "旋转后修改"}}).ok());
    test::syncInto(*b.member, *b.office);
    test::syncInto(*b.office, *replacement);
    // It got the keys of both epochs, reads the finding made before the rotation and its edit, and
    // refuses exactly what the office refused.
    for (std::uint32_t epoch : {1u, 2u}) CHECK(*replacement->log().hasKey(teamChannel(b.inspection), epoch));
    auto there = replacement->finding(f);
    REQUIRE_MESSAGE(there.ok(), test::describe(there));
    CHECK((*there)["title"] == "旋转后修改");
    auto officeRefused = b.office->log().refused();
    auto refused = replacement->log().refused();
    REQUIRE(officeRefused.ok());
    REQUIRE(refused.ok());
    std::set<std::string> a, c;
    for (const auto& r : *officeRefused) a.insert(r.id);
    for (const auto& r : *refused) c.insert(r.id);
    CHECK(a == c);
}

TEST_CASE("hostile: an enrolment registering this device's id with other keys is not accepted") {
    Bureau b;
    auto victim = test::initWorkspace(b.tmp / "victim", "冯磊", Role::WorkingGroupMember, b.clock);
    auto other = test::initWorkspace(b.tmp / "other", "冯磊", Role::WorkingGroupMember, b.clock);
    // The office's records say the victim's id has the other store's keys (a restored or copied
    // identity, or a mistake): the victim must not take that registration as its own.
    const auto& keys = other->log().identity().publicInfo();
    sync::Draft d;
    d.registerDevice({victim->log().deviceId(), keys.signKey, keys.exchangeKey, keys.subkeys, b.member->self().personId,
                      std::nullopt, {}});
    REQUIRE(b.office->log().commit(d).ok());
    auto file = exportEnrolment(*b.office, "", "");
    REQUIRE(file.ok());
    auto r = acceptEnrolment(*victim, *file);
    CHECK(errorOf(r) == AppError::Refused);
    CHECK(mentions(messageOf(r), "other keys"));
    CHECK(toString(victim->self().role) == std::string("working_group_member"));
    auto pinned = victim->log().trustRoot();
    REQUIRE(pinned.ok());
    CHECK_FALSE(pinned->has_value());
}

TEST_CASE("hostile: enrolling a device again keeps the person it acts for") {
    Bureau b;
    auto device = devicePublicJson(*b.member);
    REQUIRE(device.ok());
    // Again, with no person named: the registration stands and says whom it is for.
    auto again = enrolDevice(*b.office, *device);
    REQUIRE_MESSAGE(again.ok(), test::describe(again));
    CHECK((*again)["already_enrolled"] == true);
    CHECK((*again)["person_id"] == b.member->self().personId);
    // Again, for another person: refused (a device acts for one person).
    auto other = enrolDevice(*b.office, *device, b.lead->self().personId);
    CHECK(errorOf(other) == AppError::Refused);
    CHECK(mentions(messageOf(other), "enrolled already for person " + b.member->self().personId));
}

// ---- a second review of the judge

TEST_CASE("hostile: another device's finding is not re-created elsewhere - its author keeps it") {
    Bureau b;
    // Inspection Y, with the member on both teams.
    InspectionInput in;
    in.unit = "E02";
    in.start = formatDate(b.lead->today());
    in.team = {b.member->self().personId, b.auditor->self().personId};
    in.lead = b.lead->self().personId;
    auto y = b.lead->createInspection(in);
    REQUIRE_MESSAGE(y.ok(), test::describe(y));
    b.share();
    const std::string f = b.capture(*b.auditor, "钱伟的问题");
    // The member claims not to have seen the auditor's capture and makes a finding of that id in Y.
    auto before = b.member->log().versionVector();
    REQUIRE(before.ok());
    b.share();
    Forge forge = forgeFor(*b.member);
    sync::ChangeSet stolen = forge.make({forge.sealed(teamChannel(*y), "finding", f,
                                                      {{"inspection_id", *y}, {"title", "成员的"}, {"status", "draft"},
                                                       {"author", b.member->self().personId}, {"created_at", 1}})},
                                        std::nullopt, *before);
    for (Workspace* w : {b.office.get(), b.lead.get()}) {
        CHECK(Bureau::deliver(*w, stolen) == sync::ApplyOutcome::Refused);
        CHECK(mentions(Bureau::lastRefusal(*w), "is not an id the capturing device made"));
        auto rec = w->finding(f);
        REQUIRE(rec.ok());
        CHECK((*rec)["inspection"] == b.inspection);
    }
    // The author edits its own finding, accepted everywhere.
    REQUIRE(b.auditor->editFinding(f, Json{{"title", "钱伟改过"}}).ok());
    b.share();
    CHECK((*b.office->finding(f))["title"] == "钱伟改过");
}

TEST_CASE("hostile: an organisation owner cannot undo the office's role change by repeating the old role") {
    Bureau b;
    const std::string p = b.leading->self().personId;
    const std::string oldRole = toString(Role::LeadingGroupMember);
    sync::Draft demote;
    demote.set(orgChannel(), "person", p, "role", toString(Role::WorkingGroupMember));
    REQUIRE(b.office->log().commit(demote).ok());
    // The leading-group member has not seen it: it "keeps" its role, later.
    b.clock.advance(60'000);
    Forge forge = forgeFor(*b.leading);
    sync::ChangeSet keep = forge.make({Forge::plain("org", "person", p, {{"role", oldRole}, {"title", "组长"}})});
    CHECK(Bureau::deliver(*b.office, keep) == sync::ApplyOutcome::Refused);
    CHECK(mentions(Bureau::lastRefusal(*b.office), "only the audit office gives people their roles"));
    CHECK(Bureau::roleOf(*b.office, p) == "working_group_member");
    // An owner's organisation import leaves unchanged roles out, so it still goes through.
    auto imported = b.leading->importOrg(test::loadOrg());
    CHECK_MESSAGE(imported.ok(), test::describe(imported));
}

TEST_CASE("hostile: a refused acknowledgement stays refused when handed in again") {
    Bureau b;
    Forge forge = forgeFor(*b.member);
    const std::string dev = b.member->log().deviceId();
    sync::Op op = Forge::plain(sync::kSysChannel, sync::kShredAckKind, sync::shredAckRecordId(dev, b.inspection),
                               {{"scope", b.inspection}, {"keys_destroyed", true}, {"bogus", 1}});
    sync::ChangeSet cs = forge.make({op});
    Json file = {{"format", "xunshen-shred-ack"}, {"version", 1}, {"device", dev}, {"inspection", b.inspection},
                 {"change_sets", Json::array({sync::changeSetToJson(cs)})}};
    for (int i = 0; i < 2; ++i) {
        CAPTURE(i);
        auto r = acceptShredAcknowledgement(*b.office, file.dump());
        CHECK(errorOf(r) == AppError::Refused);
        CHECK(mentions(messageOf(r), "refused"));
    }
    auto acks = b.office->shredAcknowledgements();
    REQUIRE(acks.ok());
    CHECK(acks->empty());
}

TEST_CASE("hostile: after a whole shred no record id names a shredded file - and confirm again rewrites the ack file") {
    Bureau b;
    b.capture(*b.member, "附件", true);
    auto entries = b.member->store().evidenceEntries(b.inspection);
    REQUIRE(entries.ok());
    REQUIRE(entries->size() == 1);
    const std::string hash = (*entries)[0].hash;
    Handover h(b, *b.member, "m.xsbundle");
    auto done = h.confirm();
    REQUIRE_MESSAGE(done.ok(), test::describe(done));
    REQUIRE((*done)["keys_destroyed"] == true);
    auto left = b.member->store().evidenceEntries(b.inspection);
    REQUIRE(left.ok());
    CHECK(left->empty());
    for (const char* sql : {"SELECT record_id FROM ops", "SELECT key FROM meta", "SELECT value FROM meta"}) {
        CAPTURE(std::string(sql));
        auto s = b.member->store().db().prepare(sql);
        REQUIRE(s.ok());
        for (;;) {
            auto row = s->step();
            REQUIRE(row.ok());
            if (!*row) break;
            CHECK(s->text(0).find(hash) == std::string::npos);
        }
    }
    // The acknowledgement file was lost (a crash, a full disk): the same confirm writes it again.
    auto again = h.confirm();
    REQUIRE_MESSAGE(again.ok(), test::describe(again));
    CHECK((*again)["already_confirmed"] == true);
    CHECK((*again)["ack"] == (*done)["ack"]);
    auto acked = acceptShredAcknowledgement(*b.office, (*again)["ack"].get<std::string>());
    REQUIRE_MESSAGE(acked.ok(), test::describe(acked));
    CHECK((*acked)["acknowledgements"].size() == 1);
}

TEST_CASE("hostile: a shredding killed after its commit is finished when the store next opens") {
    Bureau b;
    b.capture(*b.member, "中断", true);
    auto entries = b.member->store().evidenceEntries(b.inspection);
    REQUIRE(entries.ok());
    REQUIRE(entries->size() == 1);
    const std::string hash = (*entries)[0].hash;
    // What a confirm commits before it removes the files (then: kill -9).
    {
        auto tx = sync::Transaction::begin(b.member->store().db());
        REQUIRE(tx.ok());
        REQUIRE(b.member->store().destroyEvidenceScope(b.inspection).ok());
        REQUIRE(tx->commit().ok());
    }
    CHECK(b.member->store().evidence().contains(b.inspection, hash));
    const fs::path dir = b.member->store().dir();
    b.member.reset();
    auto reopened = Workspace::open(dir, "口令 passphrase", b.clock);
    REQUIRE_MESSAGE(reopened.ok(), test::describe(reopened));
    CHECK_FALSE((*reopened)->store().evidence().contains(b.inspection, hash));
    auto left = (*reopened)->store().evidenceEntries(b.inspection);
    REQUIRE(left.ok());
    CHECK(left->empty());
}

TEST_CASE("hostile: a signed acknowledgement with a mistyped field is refused - the office's list stays readable") {
    for (const char* bad : {R"({"evidence_removed": "x"})", R"({"keys_destroyed": 1})", R"({"scope": 7})", R"({"detail": {}})",
                            R"({"channels": [1, 2]})", R"({"at_ms": -5})"}) {
        CAPTURE(bad);
        Bureau b;  // a fresh chain each time: the member's log is the forger's
        Forge forge = forgeFor(*b.member);
        const std::string dev = b.member->log().deviceId();
        Json fields = Json::parse(bad);
        if (!fields.contains("scope")) fields["scope"] = b.inspection;
        sync::Op op = Forge::plain(sync::kSysChannel, sync::kShredAckKind, sync::shredAckRecordId(dev, b.inspection), fields);
        CHECK(Bureau::deliver(*b.office, forge.make({op})) == sync::ApplyOutcome::Refused);
        CHECK(mentions(Bureau::lastRefusal(*b.office), "wrong type"));
        auto acks = b.office->shredAcknowledgements();
        REQUIRE(acks.ok());
        CHECK(acks->empty());
    }
}

// Found by reading the round rule beside the org_file fuzz target's start_year finding: the judge
// summed start_year + 2 unbounded, so a signed round of start_year 2^63 - 1 overflowed (undefined
// behaviour; in practice an end_year of -2^63 + 1 matched) and one of 2^64 - 1 was read as -1,
// covering -1 to 1.
TEST_CASE("hostile: a signed round whose start_year overflows start_year + 2 is refused") {
    Bureau b;
    const std::vector<std::pair<Json, Json>> years = {
        {Json(std::numeric_limits<std::int64_t>::max()), Json(std::numeric_limits<std::int64_t>::min() + 1)},
        {Json(std::numeric_limits<std::uint64_t>::max()), Json(1)},
        {Json(1899), Json(1901)},
    };
    // One forged change set per receiver: the forger's next link, which each receiver sees once.
    const std::vector<Workspace*> receivers = {b.office.get(), b.lead.get(), b.member.get()};
    for (std::size_t i = 0; i < years.size(); ++i) {
        CAPTURE(years[i].first.dump());
        auto id = sync::newUuidV7();
        REQUIRE(id.ok());
        Forge forge = forgeFor(*b.leading);
        sync::ChangeSet cs = forge.make(
            {Forge::plain("org", "round", *id, {{"name", "第三轮"}, {"start_year", years[i].first}, {"end_year", years[i].second}})});
        CHECK(Bureau::deliver(*receivers[i], cs) == sync::ApplyOutcome::Refused);
        CHECK(mentions(Bureau::lastRefusal(*receivers[i]), "covers start_year"));
    }
}

TEST_CASE("hostile: a notice forged by an inspector, an acknowledgement not by the unit's head, and a rewritten notice are refused on apply") {
    Bureau b;
    const std::string f = b.capture(*b.member, "危废台账缺失");
    b.share();
    const std::string unit = unitChannel(b.inspection);
    const std::int64_t now = 1'790'000'000'000;
    const Json fields = {{"inspection_id", b.inspection}, {"finding_id", f}, {"problem", "p"}, {"action", "a"},
                         {"deadline", "2099-01-01"}, {"issued_by", b.member->self().personId}, {"issued_at", now}};
    // Each forged change set goes to its author's store first (which judges it too), then on.
    auto id = sync::newOwnedId(b.member->log().deviceId());
    REQUIRE(id.ok());
    Forge forge = forgeFor(*b.member);
    sync::ChangeSet forged = forge.make({forge.sealed(unit, "notice", *id, fields)});
    for (Workspace* w : {b.member.get(), b.office.get(), b.lead.get()}) {
        CHECK(Bureau::deliver(*w, forged) == sync::ApplyOutcome::Refused);
        CHECK(mentions(Bureau::lastRefusal(*w), "working-group lead"));
    }
    // The lead's own notice; then an acknowledgement by the inspector and a rewrite of the notice
    // by the lead are refused.
    Json honest = fields;
    honest["issued_by"] = b.lead->self().personId;
    auto nid = sync::newOwnedId(b.lead->log().deviceId());
    REQUIRE(nid.ok());
    Forge leadForge = forgeFor(*b.lead);
    sync::ChangeSet issued = leadForge.make({leadForge.sealed(unit, "notice", *nid, honest)});
    for (Workspace* w : {b.lead.get(), b.office.get(), b.member.get()}) CHECK(Bureau::deliver(*w, issued) == sync::ApplyOutcome::Applied);
    Forge again = forgeFor(*b.member);
    sync::ChangeSet ack = again.make({again.sealed(unit, "notice_ack", *nid,
                                                   {{"notice_id", *nid}, {"acknowledged_by", b.member->self().personId},
                                                    {"acknowledged_at", now}})});
    for (Workspace* w : {b.member.get(), b.office.get()}) {
        CHECK(Bureau::deliver(*w, ack) == sync::ApplyOutcome::Refused);
        CHECK(mentions(Bureau::lastRefusal(*w), "head of the inspected unit"));
    }
    Forge leadAgain = forgeFor(*b.lead);
    sync::ChangeSet rewrite = leadAgain.make({leadAgain.sealed(unit, "notice", *nid, {{"deadline", "2099-12-31"}})});
    for (Workspace* w : {b.lead.get(), b.office.get()}) {
        CHECK(Bureau::deliver(*w, rewrite) == sync::ApplyOutcome::Refused);
        auto refused = w->log().refused();
        REQUIRE(refused.ok());
        CHECK(std::any_of(refused->begin(), refused->end(), [&](const sync::RefusedChangeSet& r) {
            return r.id == rewrite.id && mentions(r.reason, "fixed once written");
        }));
    }
    auto notices = b.office->notices();
    REQUIRE(notices.ok());
    REQUIRE(notices->size() == 1);
    CHECK((*notices)[0]["deadline"] == "2099-01-01");
    CHECK((*notices)[0]["ack"].is_null());
}

}  // namespace xs::app

namespace xs::app {
namespace {

// The unit head's reply may carry one rectification file: its six fields all or none, a name of
// at most 255 bytes, sizes that fit; judged on every replica, the head's own included.
TEST_CASE("hostile: a reply's rectification file is refused unless all six fields are there and well-formed") {
    test::TempDir tmp;
    sync::ManualClock clock{test::kBaseMs};
    auto office = test::officeWorkspace(tmp / "office", clock);
    auto lead = test::enrolledWorkspace(*office, tmp / "lead", "郑华", Role::WorkingGroupLead, clock);
    auto member = test::enrolledWorkspace(*office, tmp / "member", "冯磊", Role::WorkingGroupMember, clock);
    auto head = test::enrolledWorkspace(*office, tmp / "head", "高峰", Role::UnitHead, clock);
    auto share = [&] {
        for (int round = 0; round < 2; ++round)
            for (Workspace* w : {lead.get(), member.get(), head.get()}) {
                test::syncInto(*w, *office);
                test::syncInto(*office, *w);
            }
    };
    InspectionInput in;
    in.unit = "E03";
    in.start = formatDate(office->today());
    in.team = {member->self().personId};
    in.lead = lead->self().personId;
    auto inspection = office->createInspection(in);
    REQUIRE_MESSAGE(inspection.ok(), test::describe(inspection));
    share();
    for (Workspace* w : {lead.get(), member.get()}) REQUIRE(w->signAgreement(*inspection).ok());
    share();
    FindingInput f;
    f.inspection = *inspection;
    f.title = "危废台账缺失";
    f.immediateFix = true;
    auto finding = member->addFinding(f);
    REQUIRE_MESSAGE(finding.ok(), test::describe(finding));
    REQUIRE(member->transitionFinding(*finding, FindingStatus::Submitted).ok());
    share();
    REQUIRE(lead->transitionFinding(*finding, FindingStatus::Confirmed).ok());
    auto notice = lead->issueNotice(*finding, "台账缺失", "建立台账", "2099-12-31");
    REQUIRE_MESSAGE(notice.ok(), test::describe(notice));
    share();
    // The honest reply with a file, then forged ones by the same head.
    const fs::path file = test::writeFile(tmp / "files", "整改台账.pdf", "台账 2026");
    auto honest = head->replyToNotice(*notice, "已建立台账", file);
    REQUIRE_MESSAGE(honest.ok(), test::describe(honest));
    share();
    auto reply = office->log().record("unit_reply", *honest);
    REQUIRE(reply.ok());
    const Json good = *reply;
    REQUIRE(good.contains("blob_key"));
    const std::string unit = unitChannel(*inspection);
    auto forgeReply = [&](Json fields) {
        auto id = sync::newOwnedId(head->log().deviceId());
        REQUIRE(id.ok());
        fields["replied_at"] = test::kBaseMs + 1;
        Forge forge = forgeFor(*head);
        return forge.make({forge.sealed(unit, "unit_reply", *id, fields)});
    };
    Json fiveOfSix = good;
    fiveOfSix.erase("blob_size");
    Json longName = good;
    longName["file_name"] = std::string(256, 'a');
    Json badKey = good;
    badKey["blob_key"] = "not a key";
    Json shortBlob = good;
    shortBlob["blob_size"] = good["file_size"].get<std::int64_t>() - 1;
    for (const Json& bad : {fiveOfSix, longName, badKey, shortBlob}) {
        sync::ChangeSet cs = forgeReply(bad);
        for (Workspace* w : {head.get(), office.get(), lead.get()}) {
            CHECK(Bureau::deliver(*w, cs) == sync::ApplyOutcome::Refused);
            CHECK(mentions(Bureau::lastRefusal(*w), "all six or none"));
        }
    }
    auto notices = office->notices();
    REQUIRE(notices.ok());
    REQUIRE(notices->size() == 1);
    CHECK((*notices)[0]["replies"].size() == 1);
}

}  // namespace
}  // namespace xs::app
