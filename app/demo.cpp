#include "app/demo.h"

#include "app/session.h"

#include "app/agreement.h"
#include "app/enrolment.h"
#include "app/handover.h"
#include "sync/file_io.h"

namespace xs::app {
namespace fs = std::filesystem;

namespace {

// A finding of assets/demo/findings.json for `inspection`, its evidence names resolved in `assets`.
AResult<FindingInput> demoFinding(Json f, const std::string& inspection, const fs::path& assets) {
    f["inspection"] = inspection;
    if (f.contains("evidence")) {
        Json paths = Json::array();
        for (const auto& e : f["evidence"]) paths.push_back((assets / "evidence" / e.get<std::string>()).string());
        f["evidence"] = paths;
    }
    return FindingInput::fromJson(f);
}

}  // namespace

fs::path defaultAssetsDir() {
    std::error_code ec;
    // Installed layout first (<prefix>/bin/xunshenctl, <prefix>/share/xunshen/demo), then the source tree.
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        fs::path installed = exe.parent_path().parent_path() / "share/xunshen/demo";
        if (fs::exists(installed / "org.json", ec)) return installed;
    }
    return fs::path(XS_ASSETS_DIR) / "demo";
}

fs::path demoOfficeStore(const fs::path& store) {
    fs::path p = store.lexically_normal();
    if (!p.has_filename()) p = p.parent_path();
    return p.string() + "-office";
}

AResult<Json> runDemo(const DemoOptions& o, const std::function<void(const std::string&)>& say) {
    XS_TRY_APP(Session::checkPassphrasePolicy(o.passphrase, o.kdf));
    fs::path assets = o.assets.empty() ? defaultAssetsDir() : o.assets;
    auto readJson = [&](const char* name) -> AResult<Json> {
        auto bytes = sync::readFile(assets / name, 16 * 1024 * 1024);
        if (!bytes) return fromSync(bytes.error());
        Json j = Json::parse(bytes->begin(), bytes->end(), nullptr, false);
        if (j.is_discarded()) return fail(AppError::Failed, (assets / name).string() + " is not valid JSON");
        return j;
    };
    auto org = readJson("org.json");
    if (!org) return org.error();
    auto findings = readJson("findings.json");
    if (!findings) return findings.error();

    // The office owns the organisation and enrols devices; the lead's device works on site.
    const fs::path officeDir = demoOfficeStore(o.store);
    say("1. 审计办公室 Creating the audit office's store at " + officeDir.string() + " for 吴敏 (审计办公室)");
    auto officeWs = Workspace::init(officeDir, o.passphrase, "吴敏", Role::AuditOffice, o.kdf);
    if (!officeWs) return officeWs.error();
    Workspace& office = **officeWs;
    auto imported = office.importOrg(*org);
    if (!imported) return imported.error();
    auto key = createOfficeKey(office);
    if (!key) return key.error();
    say("   Imported " + (*imported)["units"].dump() + " units, " + (*imported)["people"].dump() + " people and " +
        (*imported)["rounds"].dump() + " rounds from org.json; office key made (fingerprint " + key->fingerprint + ")");

    say("2. 创建加密本地库 Creating an encrypted store at " + o.store.string() + " for 郑华 (工作组组长)");
    auto ws = Workspace::init(o.store, o.passphrase, "郑华", Role::WorkingGroupLead, o.kdf);
    if (!ws) return ws.error();
    Workspace& w = **ws;
    auto device = devicePublicJson(w);
    if (!device) return device.error();
    auto enrolled = enrolDevice(office, *device);
    if (!enrolled) return enrolled.error();
    auto enrolment = exportEnrolment(office, "", "");
    if (!enrolment) return enrolment.error();
    auto accepted = acceptEnrolment(w, *enrolment);
    if (!accepted) return accepted.error();
    say("   Enrolled offline: the office registered the device for 郑华 (fingerprint " + (*enrolled)["fingerprint"].get<std::string>() +
        "); the store verified the office's signed enrolment file");

    InspectionInput in;
    in.unit = "E01";
    in.start = formatDate(w.today() - 2);
    in.days = 7;
    in.kind = InspectionKind::Full;
    in.mode = InspectionMode::Synchronous;
    in.round = "2026—2028年度巡审一体第二轮";
    in.team = {"W02", "W03", "T01"};
    in.lead = "W01";
    auto inspection = w.createInspection(in);
    if (!inspection) return inspection.error();
    auto window = w.captureWindow(*inspection);
    if (!window) return window.error();
    say("3. 创建巡审任务 Created a full, synchronous inspection of 区生态环境监测站, on site " + formatDate(window->first) +
        " to " + formatDate(window->second) + " (id " + *inspection + ")");
    XS_TRY_APP(w.signAgreement(*inspection));
    say("   签署保密协议 郑华 read and signed the inspection's confidentiality agreement " + std::string(kCurrentAgreementVersion) +
        " (article 7(4)) before opening it");

    Json ids = Json::array();
    for (Json f : *findings) {
        auto input = demoFinding(f, *inspection, assets);
        if (!input) return input.error();
        auto id = w.addFinding(*input);
        if (!id) return id.error();
        ids.push_back(*id);
        say("4. 记录问题 Captured finding \"" + input->title + "\"" + (input->immediateFix ? " [立行立改]" : "") + " with " +
            std::to_string(input->evidence.size()) + " evidence file(s)");
    }

    for (std::size_t i = 0; i < 3 && i < ids.size(); ++i) {
        auto s = w.transitionFinding(ids[i].get<std::string>(), FindingStatus::Submitted);
        if (!s) return s.error();
    }
    auto confirmed = w.transitionFinding(ids[0].get<std::string>(), FindingStatus::Confirmed);
    if (!confirmed) return confirmed.error();
    auto returned = w.transitionFinding(ids[2].get<std::string>(), FindingStatus::Returned);
    if (!returned) return returned.error();
    say("5. 研判 Reviewed: 3 submitted, the immediate-fix finding confirmed, one returned for more evidence");

    auto edited = w.editFinding(ids[2].get<std::string>(),
                                {{"description", "2025年支部委员会会议记录缺少议题讨论情况；已补充调阅2024年记录，问题同样存在。"}});
    if (!edited) return edited.error();
    say("6. 补充 Edited the returned finding; its history keeps both versions");

    auto refusedClose = w.transitionFinding(ids[0].get<std::string>(), FindingStatus::Closed);
    say("7. 规则 A rule at work: " + (refusedClose ? std::string("(unexpectedly allowed)") : refusedClose.message()));

    auto ext = w.requestExtension(*inspection, 3, "资金往来核查需延长驻点");
    if (!ext) return ext.error();
    auto refusedApprove = w.decideExtension(*ext, true);
    say("8. 延期 Requested a 3-day extension; approving it ourselves: " +
        (refusedApprove ? std::string("(unexpectedly allowed)") : refusedApprove.message()));

    auto report = w.verify();
    if (!report) return report.error();
    say("9. 校验 verify: " + std::string(report->ok ? "ok" : "FAILED") + " — " + std::to_string(report->ops) + " ops, " +
        std::to_string(report->findings) + " findings, " + std::to_string(report->evidenceFiles) +
        " encrypted evidence files");
    if (!report->ok) return fail(AppError::Failed, "demo store failed verification: " + report->problems.front());

    return Json{{"store", o.store.string()}, {"office_store", officeDir.string()}, {"inspection", *inspection},
                {"findings", ids}, {"verified", report->ok}, {"extension", *ext}};
}

AResult<Json> runHandoverDemo(const DemoOptions& o, const fs::path& dir, const std::function<void(const std::string&)>& say) {
    XS_TRY_APP(Session::checkPassphrasePolicy(o.passphrase, o.kdf));
    fs::path assets = o.assets.empty() ? defaultAssetsDir() : o.assets;
    std::error_code ec;
    if (fs::exists(dir / "office", ec)) return fail(AppError::Refused, "refused: " + (dir / "office").string() + " already exists");
    fs::create_directories(dir, ec);
    auto orgBytes = sync::readFile(assets / "org.json", 16 * 1024 * 1024);
    if (!orgBytes) return fromSync(orgBytes.error());
    Json org = Json::parse(orgBytes->begin(), orgBytes->end(), nullptr, false);

    auto office = Workspace::init(dir / "office", o.passphrase, "吴敏", Role::AuditOffice, o.kdf);
    if (!office) return office.error();
    Workspace& off = **office;
    if (auto r = off.importOrg(org); !r) return r.error();
    auto key = createOfficeKey(off);
    if (!key) return key.error();
    XS_TRY_APP(exportOfficeAgeIdentity(off, dir / "office.agekey"));
    say("1. 审计办公室 Office store created, organisation imported, office key made (fingerprint " + key->fingerprint +
        "); office.agekey exported");
    InspectionInput in;
    in.unit = "E02";
    in.start = formatDate(off.today() - 1);
    in.team = {"W02", "W03"};
    in.lead = "W01";
    auto inspection = off.createInspection(in);
    if (!inspection) return inspection.error();
    say("2. 计划 Inspection of 区生态环境保护综合行政执法大队 planned for 冯磊 and 何芳 (id " + *inspection + ")");

    struct Inspector { std::string name; std::string file; std::unique_ptr<Workspace> ws; };
    std::vector<Inspector> inspectors;
    for (const char* name : {"冯磊", "何芳"}) {
        auto ws = Workspace::init(dir / (std::string(name) + "-store"), o.passphrase, name, Role::WorkingGroupMember, o.kdf);
        if (!ws) return ws.error();
        auto device = devicePublicJson(**ws);
        if (!device) return device.error();
        auto enrolled = enrolDevice(off, *device);
        if (!enrolled) return enrolled.error();
        inspectors.push_back({name, std::string(name) + ".xsbundle", std::move(*ws)});
    }
    auto enrolment = exportEnrolment(off, "", "");
    if (!enrolment) return enrolment.error();
    XS_TRY_SYNC(sync::writeFileAtomic(dir / "enrolment.json", crypto::asBytes(*enrolment)));
    for (auto& i : inspectors) {
        auto r = acceptEnrolment(*i.ws, *enrolment);
        if (!r) return r.error();
    }
    say("3. 登记 Both inspectors' devices enrolled offline; each store accepted the signed enrolment file");
    for (auto& i : inspectors) XS_TRY_APP(i.ws->signAgreement(*inspection));
    say("   签署保密协议 Both signed the inspection's confidentiality agreement before first opening it (article 7(4))");

    auto findings = sync::readFile(assets / "findings.json", 16 * 1024 * 1024);
    if (!findings) return fromSync(findings.error());
    Json list = Json::parse(findings->begin(), findings->end(), nullptr, false);
    Json bundles = Json::array();
    for (std::size_t k = 0; k < inspectors.size(); ++k) {
        auto& i = inspectors[k];
        for (std::size_t n = k; n < list.size(); n += inspectors.size()) {
            Json f = list[n];
            auto input = demoFinding(f, *inspection, assets);
            if (!input) return input.error();
            auto id = i.ws->addFinding(*input);
            if (!id) return id.error();
        }
        auto exported = exportHandover(*i.ws, *inspection, dir / i.file);
        if (!exported) return exported.error();
        say("4. 移交 " + i.name + " captured offline and exported " + i.file + " (" + (*exported)["bytes"].dump() + " bytes)");
        bundles.push_back((dir / i.file).string());
    }
    for (auto& i : inspectors) {
        auto imported = importHandover(off, dir / i.file);
        if (!imported) return imported.error();
        std::string receipt = (*imported)["receipt"];
        XS_TRY_SYNC(sync::writeFileAtomic(dir / (i.name + ".receipt.json"), crypto::asBytes(receipt)));
        say("5. 接收 Office imported " + i.file + ": " + (*imported)["change_sets_new"].dump() + " new change sets, " +
            (*imported)["evidence_files"].dump() + " evidence files; signed receipt written");
        auto readable = i.ws->findings(*inspection);
        if (!readable) return readable.error();
        auto wiped = confirmHandover(*i.ws, receipt);
        if (!wiped) return wiped.error();
        auto left = i.ws->findings(*inspection);
        if (!left) return left.error();
        say("   清理 " + i.name + "'s device verified the receipt, removed " + (*wiped)["evidence_files_removed"].dump() +
            " evidence file(s) and destroyed the inspection's " + std::to_string((*wiped)["channels_shredded"].size()) +
            " channel keys and their subkeys: findings readable there " + std::to_string(readable->size()) + " -> " +
            std::to_string(left->size()));
        std::string ack = (*wiped)["ack"];
        XS_TRY_SYNC(sync::writeFileAtomic(dir / (i.name + ".ack.json"), crypto::asBytes(ack)));
        auto acked = acceptShredAcknowledgement(off, ack);
        if (!acked) return acked.error();
        say("   回执 The office recorded " + i.name + "'s signed shred acknowledgement");
    }
    auto agreements = off.agreements(*inspection);
    if (!agreements) return agreements.error();
    for (const auto& a : *agreements)
        say("   保密协议 " + a.value("person", "") + " signed " + a.value("text_version", "") + " at " +
            formatTimestampMs(a.value("signed_at", std::int64_t{0})) + " (the office's record, from the bundle)");
    auto all = off.findings(*inspection);
    if (!all) return all.error();
    auto people = off.people();
    if (!people) return people.error();
    for (const auto& f : *all) {
        std::string author = f.value("author", "");
        for (const auto& p : *people)
            if (p["id"] == author) author = p["name"];
        say("   " + f.value("title", "") + " — " + author + ", " + std::to_string(f["evidence"].size()) + " evidence file(s)");
    }
    auto report = off.verify();
    if (!report) return report.error();
    say("6. 校验 office verify: " + std::string(report->ok ? "ok" : "FAILED"));
    return Json{{"dir", dir.string()}, {"office", (dir / "office").string()}, {"office_agekey", (dir / "office.agekey").string()},
                {"bundles", bundles}, {"inspection", *inspection}, {"findings", all->size()}, {"verified", report->ok}};
}

}  // namespace xs::app
