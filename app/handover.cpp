#include "app/handover.h"

#include "app/files.h"

#include <chrono>
#include <set>

#include "app/enrolment.h"
#include "crypto/encoding.h"
#include "sync/apply.h"
#include "sync/bundle.h"
#include "sync/changeset_codec.h"
#include "sync/uuid.h"
#include "sync/env.h"

namespace xs::app {
namespace fs = std::filesystem;
namespace {

constexpr int kAckVersion = 1;

std::int64_t nowSeconds() {
    return sync::wallClockMs() / 1000;
}

// A bundle or receipt the office refuses comes back as a refusal naming why.
Error<AppError> fromBundle(const Error<sync::SyncError>& e) {
    switch (e.code) {
        case sync::SyncError::Invalid:
        case sync::SyncError::Forbidden:
        case sync::SyncError::Corrupt: return refused(e.message);
        default: return fromSync(e);
    }
}

AResult<sync::EvidenceScope> scopeFor(Workspace& ws, const std::string& inspectionId, bool create) {
    auto scope = ws.store().evidenceScope(inspectionId, create);
    if (scope) return std::move(*scope);
    if (scope.code() == sync::SyncError::NotFound || scope.code() == sync::SyncError::Forbidden)
        return sync::EvidenceScope{inspectionId, {}};  // nothing held here: no files to read
    return fromSync(scope.error());
}

}  // namespace

AResult<Json> exportHandover(Workspace& ws, const std::string& inspectionKey, const fs::path& out, Progress* progress) {
    XS_TRY_APP(checkOutputPath(ws.store().dir(), out));
    removeOrphansOf(out);  // a bundle export killed midway left its temporary file here
    auto officeHex = ws.store().meta(sync::kOfficePublicKeyMeta);
    if (!officeHex || !ws.self().enrolled) return refused("this store is not enrolled (run org enrol with the office's enrolment file)");
    auto officeKey = crypto::fromHex(*officeHex);
    if (!officeKey || officeKey->size() != 32) return fail(AppError::Failed, "the pinned office key is damaged");
    auto insp = ws.inspection(inspectionKey);
    if (!insp) return insp.error();
    std::string inspectionId = (*insp)["id"];
    XS_TRY_APP(ws.requireAgreement(inspectionId));  // article 7(4): not before the agreement is signed

    // The evidence of the inspection this store holds; what was attached elsewhere and never
    // reached it stays pending, and is not this bundle's to carry.
    auto scope = scopeFor(ws, inspectionId, false);
    if (!scope) return scope.error();
    auto entries = ws.store().evidenceEntries(inspectionId);
    if (!entries) return fromSync(entries.error());
    sync::BundleExportRequest request;
    request.out = out;
    request.officeKey = *officeKey;
    request.scope = std::move(*scope);
    Json hashes = Json::array();
    std::int64_t evidenceMark = 0;
    for (const auto& e : *entries) {
        evidenceMark = std::max(evidenceMark, e.seq);
        if (e.shredded) continue;
        request.evidence.push_back({e.hash, e.size});
        hashes.push_back(e.hash);
    }
    // The export is on record before the bundle is made, so the bundle carries its own record.
    auto recorded = ws.recordExport(inspectionId, "handover", inspectionId, out.filename().string(), 0);
    if (!recorded) return recorded.error();
    auto org = ws.store().meta("organisation_id");
    request.manifestExtra = {{"inspection", inspectionId}, {"author_person", ws.self().personId},
                             {"organisation_id", org ? *org : std::string()}};
    if (progress)
        request.progress = [progress](std::uint64_t done, std::uint64_t total) {
            progress->set(done, total, "sealing the evidence");
            return !progress->cancelled();
        };
    auto result = sync::exportBundle(ws.log(), ws.store(), request);
    if (!result) return fromSync(result.error());
    // The receipt must name this very file (its header) and this content (its manifest) before the
    // inspection may be wiped here; what the bundle covered decides what the wipe may destroy.
    Json names = {{"bundle_header_sha256", result->headerDigest}, {"manifest_sha256", result->manifestHash}};
    Json coverage = names;
    coverage["covered"] = sync::versionVectorToJson(result->covered);
    coverage["evidence"] = hashes;
    coverage["evidence_mark"] = evidenceMark;
    XS_TRY_SYNC(ws.store().setMeta("handover_bundle:" + inspectionId, coverage.dump()));
    Json summary = {{"bundle", out.string()}, {"inspection", inspectionId}, {"change_sets", result->changeSets},
                    {"evidence_files", result->evidenceFiles}, {"bytes", result->bytes}};
    summary.update(names);
    return summary;
}

AResult<Json> importHandover(Workspace& ws, const fs::path& bundle, Progress* progress) {
    if (ws.self().role != Role::AuditOffice) return refused("only the audit office imports handover bundles");
    auto officeKey = officePrivateKey(ws);
    if (!officeKey) return refused("this store holds no office key (run org create-office-key)");
    sync::BundleImportPolicy policy;
    // A bundle's scope is the inspection its manifest names.
    policy.scopeKey = [&](const std::string& scope, const Json& manifest) -> sync::SResult<sync::EvidenceScope> {
        if (!sync::isUuid(scope) || textOf(manifest, "inspection") != scope)
            return fail(sync::SyncError::Invalid, "the bundle's scope is not the inspection its manifest names");
        auto held = ws.store().evidenceScope(scope, false);
        if (held || held.code() != sync::SyncError::NotFound) return held;
        return ws.store().newEvidenceScope(scope);  // stored with the import
    };
    // A file is kept only if an accepted attachment of a finding of that inspection names it.
    policy.keepEvidence = [&](const std::string& scope, const std::string& hash) -> sync::SResult<bool> {
        auto s = ws.store().db().prepare("SELECT 1 FROM attachments a JOIN findings f ON f.id = a.finding_id"
                                         " WHERE a.hash = ? AND f.inspection_id = ? LIMIT 1");
        if (!s) return s.error();
        s->bind(1, hash).bind(2, scope);
        auto row = s->step();
        if (!row) return row.error();
        return *row;
    };
    if (progress)
        policy.progress = [progress](std::uint64_t done, std::uint64_t total) {
            progress->set(done, total, "reading, checking and applying the bundle");
            return !progress->cancelled();
        };
    auto imported = sync::importBundle(ws.log(), ws.store(), *officeKey, bundle, policy);
    if (!imported) return fromBundle(imported.error());
    std::string inspection = imported->scope;
    // Evidence the office still lacks for this inspection: attached on a device that has not
    // handed it over (a relayed finding, say). Pending, not failed; the receipt says so.
    Json pending = Json::array();
    auto att = ws.store().db().prepare("SELECT DISTINCT a.hash FROM attachments a JOIN findings f ON f.id = a.finding_id"
                                       " WHERE f.inspection_id = ? ORDER BY a.hash");
    if (!att) return fromSync(att.error());
    att->bind(1, inspection);
    std::vector<std::string> hashes;
    XS_TRY_SYNC(att->collectTexts(hashes));
    for (const auto& h : hashes) {
        auto entry = ws.store().evidenceEntry(inspection, h);
        if (!entry) return fromSync(entry.error());
        if (!*entry) pending.push_back(h);
    }
    Json refusedSets = Json::array();
    for (const auto& r : imported->report.refused)
        refusedSets.push_back({{"id", r.id}, {"device", r.device}, {"seq", r.seq}, {"reason", r.reason}});
    Json evidence = Json::array();
    for (const auto& e : imported->evidence) evidence.push_back(e.hash);
    Json dropped = Json::array();
    for (const auto& e : imported->dropped) dropped.push_back(e.hash);
    // The receipt (article 7(4)): signed by the office device; the field device wipes on it.
    Json receipt = {{"format", "xunshen-handover-receipt"},
                    {"version", sync::kReceiptVersion},
                    {"suite", sync::kSuiteXs1},
                    {"bundle_header_sha256", imported->headerDigest},
                    {"manifest_sha256", imported->manifestHash},
                    {"scope", imported->scope},
                    {"inspection", inspection},
                    {"author_device", imported->authorDevice},
                    {"change_sets", imported->changeSets},
                    {"change_sets_new", imported->report.applied},
                    {"change_sets_refused", refusedSets},
                    {"ops", imported->ops},
                    {"evidence_files", imported->evidence.size()},
                    {"evidence", evidence},
                    {"evidence_dropped", dropped},
                    {"evidence_pending", pending},
                    {"office_device", ws.log().deviceId()},
                    {"received_at", nowSeconds()}};
    std::string receiptText = sync::signReceipt(ws.log().identity(), receipt);
    return Json{{"inspection", inspection}, {"author_device", imported->authorDevice},
                {"change_sets", imported->changeSets}, {"change_sets_new", imported->report.applied},
                {"change_sets_refused", refusedSets}, {"evidence_files", imported->evidence.size()},
                {"evidence_dropped", dropped}, {"evidence_pending", pending}, {"receipt", receiptText}};
}

namespace {

// The file for the office: this device's change sets after the bundle's, the acknowledgement last.
AResult<std::string> ackFileText(Workspace& ws, const std::string& inspection, std::int64_t coveredSeq) {
    const std::string me = ws.log().deviceId();
    Json sets = Json::array();
    XS_TRY_SYNC(ws.log().forEachChangeSet([&](const sync::ChangeSet& c) -> sync::SStatus {
        if (c.device == me && c.seq > coveredSeq) sets.push_back(sync::changeSetToJson(c));
        return {};
    }));
    Json ackFile = {{"format", "xunshen-shred-ack"}, {"version", kAckVersion}, {"device", me}, {"inspection", inspection},
                    {"change_sets", sets}};
    return ackFile.dump(2) + "\n";
}

}  // namespace

AResult<Json> confirmHandover(Workspace& ws, const std::string& receiptText) {
    auto pinned = ws.log().trustRoot();
    if (!pinned) return fromSync(pinned.error());
    if (!*pinned || !ws.self().enrolled) return refused("this store is not enrolled with an audit office");
    auto opened = sync::openReceipt(receiptText, (*pinned)->signKey);
    if (!opened) return fromBundle(opened.error());
    const Json& receipt = *opened;
    std::string inspection = textOf(receipt, "inspection");
    if (textOf(receipt, "author_device") != ws.log().deviceId()) return refused("the receipt is for another device's bundle");
    auto exported = ws.store().meta("handover_bundle:" + inspection);
    if (!exported) {
        // Shredded already with this receipt (the acknowledgement file lost to a crash or a full
        // disk): the same command writes the file again, from the chain.
        auto wiped = ws.store().meta("wiped:" + inspection);
        Json done = wiped ? Json::parse(*wiped, nullptr, false) : Json();
        if (done.is_object() && done.value("keys_destroyed", false) &&
            textOf(done, "manifest_sha256") == textOf(receipt, "manifest_sha256") && done.contains("covered_seq") &&
            done["covered_seq"].is_number_integer()) {
            auto ack = ackFileText(ws, inspection, done["covered_seq"].get<std::int64_t>());
            if (!ack) return ack.error();
            done["already_confirmed"] = true;
            done["warnings"] = Json::array();
            done["ack"] = *ack;
            return done;
        }
        return refused("this device exported no bundle for inspection " + inspection);
    }
    Json names = Json::parse(*exported, nullptr, false);
    if (!names.is_object() || textOf(receipt, "bundle_header_sha256").size() != 64 ||
        textOf(names, "bundle_header_sha256") != textOf(receipt, "bundle_header_sha256") ||
        textOf(names, "manifest_sha256") != textOf(receipt, "manifest_sha256"))
        return refused("the receipt names another bundle than the last one exported here (export again or use its receipt)");
    auto covered = sync::versionVectorFromJson(names.value("covered", Json::object()));
    if (!covered) return fail(AppError::Failed, "the record of the last export is damaged");
    std::set<std::string> received;
    for (const auto& h : receipt.value("evidence", Json::array()))
        if (h.is_string()) received.insert(h.get<std::string>());

    // What this store holds of the inspection that the receipt does not cover: its own change
    // sets after the export that touch the inspection's channels, and evidence that came after.
    const std::string me = ws.log().deviceId();
    std::vector<std::string> channels = inspectionChannels(inspection);
    std::int64_t coveredSeq = covered->count(me) ? covered->at(me) : 0;
    std::size_t laterSets = 0;
    {
        auto s = ws.store().db().prepare("SELECT count(DISTINCT c.id) FROM changesets c JOIN ops o ON o.changeset = c.id"
                                         " WHERE c.device = ? AND c.seq > ? AND o.channel IN (?, ?, ?)");
        if (!s) return fromSync(s.error());
        s->bind(1, me).bind(2, coveredSeq).bind(3, channels[0]).bind(4, channels[1]).bind(5, channels[2]);
        if (auto row = s->step(); !row) return fromSync(row.error());
        laterSets = static_cast<std::size_t>(s->int64(0));
    }
    auto entries = ws.store().evidenceEntries(inspection);
    if (!entries) return fromSync(entries.error());
    std::vector<std::string> shredFiles;
    std::size_t laterFiles = 0;
    for (const auto& e : *entries) {
        if (e.shredded) continue;
        if (received.count(e.hash)) shredFiles.push_back(e.hash);
        else ++laterFiles;  // the office does not have it: kept
    }
    const std::size_t later = laterSets + laterFiles;
    const bool whole = later == 0;

    // The subkeys this device holds for the inspection's channels (destroyed with them).
    Json subkeys = Json::array();
    for (const auto& c : channels) {
        auto m = ws.log().record(sync::kMemberKind, sync::memberRecordId(c, me));
        if (m && m->contains("subkey")) subkeys.push_back((*m)["subkey"]);
    }
    auto now = nowSeconds();
    Json record = {{"inspection", inspection},
                   {"bundle_header_sha256", textOf(receipt, "bundle_header_sha256")},
                   {"manifest_sha256", textOf(receipt, "manifest_sha256")},
                   {"wiped_at", now},
                   {"evidence_files_removed", shredFiles.size()},
                   {"captured_after_export", later},
                   {"keys_destroyed", whole},
                   {"channels_shredded", whole ? Json(channels) : Json::array()},
                   {"subkeys_destroyed", whole ? subkeys : Json::array()},
                   {"received_at", receipt.contains("received_at") && receipt["received_at"].is_number_integer()
                                       ? receipt["received_at"] : Json(0)},
                   {"covered_seq", coveredSeq}};
    // The acknowledgement goes on this device's chain with the destruction it records, in one
    // transaction; the files go once it has committed (their key, or their record, is gone first).
    sync::Draft ack;
    const std::string ackId = sync::shredAckRecordId(me, inspection);
    auto setAck = [&](const char* f, Json v) { ack.set(sync::kSysChannel, sync::kShredAckKind, ackId, f, std::move(v)); };
    setAck("scope", inspection);
    setAck("channels", whole ? Json(channels) : Json::array());
    setAck("subkeys", whole ? subkeys : Json::array());
    setAck("manifest", textOf(receipt, "manifest_sha256"));
    setAck("evidence_removed", shredFiles.size());
    setAck("evidence_kept", laterFiles);
    setAck("keys_destroyed", whole);
    setAck("at_ms", sync::wallClockMs());
    setAck("detail", whole ? "inspection shredded" : std::to_string(later) + " items captured after the export were kept");
    Json shredResult = {{"warnings", Json::array()}};
    auto cs = ws.log().commit(ack, [&]() -> sync::SStatus {
        if (whole) {
            auto destroyed = ws.store().destroyEvidenceScope(inspection);
            if (!destroyed) return destroyed.error();
            auto forgetBundle = ws.store().db().prepare("DELETE FROM meta WHERE key = ?");
            if (!forgetBundle) return forgetBundle.error();
            forgetBundle->bind(1, "handover_bundle:" + inspection);
            XS_TRY(forgetBundle->run());
            auto shred = ws.log().shredChannels(channels, "handover receipt for bundle " +
                                                              textOf(receipt, "bundle_header_sha256").substr(0, 16));
            if (!shred) return shred.error();
            shredResult["warnings"] = shred->warnings;
        } else {
            for (const auto& h : shredFiles) XS_TRY(ws.store().markEvidenceShredded(inspection, h));
        }
        return ws.store().setMeta("wiped:" + inspection, record.dump());
    });
    if (!cs) return fromSync(cs.error());
    // Committed: the keys are gone and the files are marked. What follows finishes the job on
    // disk; if the disk fails it now, opening the store finishes it (Store::finishShredding), and
    // the result says so rather than reporting a shredding that happened as failed.
    auto finishLater = [&](const std::string& what, const std::string& why) {
        shredResult["warnings"].push_back(what + " could not be done now (" + why +
                                          "); the shredding is committed and this is finished the next time the store is opened");
    };
    auto removed = ws.store().removeShreddedFiles();
    if (!removed) finishLater("removing the shredded evidence files", removed.message());
    // Not even which files there were stays (their hashes would tell a known document).
    if (whole && removed) {
        if (auto forgot = ws.store().forgetShreddedEvidence(inspection); !forgot) finishLater("forgetting the shredded files' hashes", forgot.message());
    }
    // secure_delete overwrote what the shred deleted; the checkpoint empties the WAL (a reader in
    // another process can make it wait: then it is said).
    auto checkpoint = ws.store().checkpoint();
    if (!checkpoint)
        finishLater("emptying the database's write-ahead log", checkpoint.message());
    else if (!*checkpoint)
        shredResult["warnings"].push_back("the database's write-ahead log could not be emptied now (another program has the "
                                          "store open): it is emptied when the last program closes the store");

    auto ackFile = ackFileText(ws, inspection, coveredSeq);
    if (!ackFile) return ackFile.error();
    record["warnings"] = shredResult.value("warnings", Json::array());
    record["ack"] = *ackFile;
    return record;
}

AResult<Json> acceptShredAcknowledgement(Workspace& ws, const std::string& ackText) {
    auto root = ws.log().trustRoot();
    if (!root) return fromSync(root.error());
    if (ws.self().role != Role::AuditOffice || !*root || (*root)->device != ws.log().deviceId())
        return refused("only the audit office's store takes shred acknowledgements");
    auto parsed = sync::parseBoundedJson(ackText, std::size_t{64} << 20, "the acknowledgement file");
    if (!parsed) return refused(parsed.message());
    const Json& j = *parsed;
    if (!j.is_object() || textOf(j, "format") != "xunshen-shred-ack" || !j.contains("version") || j["version"] != kAckVersion ||
        !j.contains("change_sets") || !j["change_sets"].is_array())
        return refused("not a Xunshen shred acknowledgement file");
    std::string device = textOf(j, "device");
    std::vector<sync::ChangeSet> sets;
    for (const auto& c : j["change_sets"]) {
        auto cs = sync::changeSetFromJson(c);
        if (!cs) return refused("the acknowledgement carries a malformed change set: " + cs.message());
        if (cs->device != device) return refused("the acknowledgement carries another device's change sets");
        sets.push_back(std::move(*cs));
    }
    // The file is about one inspection's shredding: the change set recording it must be there.
    const std::string inspection = textOf(j, "inspection");
    const std::string ackId = sync::shredAckRecordId(device, inspection);
    std::string ackSet;
    for (const auto& cs : sets)
        for (const auto& op : cs.ops)
            if (op.channel == sync::kSysChannel && op.kind == sync::kShredAckKind && op.recordId == ackId) ackSet = cs.id;
    if (inspection.empty() || ackSet.empty())
        return refused("the file carries no acknowledgement of device " + device + " for inspection '" + inspection + "'");
    auto session = sync::ApplySession::begin(ws.log());
    if (!session) return fromSync(session.error());
    for (const auto& cs : sets) {
        auto outcome = (*session)->add(cs);
        if (!outcome) return refused("a change set in the acknowledgement failed verification: " + outcome.message());
        if (*outcome == sync::ApplyOutcome::Held)
            return refused("the acknowledgement's change sets do not follow what this office holds of device " + device +
                           " (import its bundle first)");
    }
    auto report = (*session)->commit();
    if (!report) return fromSync(report.error());
    // Stored either way (the office keeps what a device sent), but a refused one proves nothing:
    // what counts is the stored verdict (a file handed in again is "already known" to the session).
    auto refusedSets = ws.log().refused();
    if (!refusedSets) return fromSync(refusedSets.error());
    for (const auto& r : *refusedSets)
        if (r.id == ackSet) return refused("the acknowledgement was refused: " + r.reason);
    auto issues = ws.log().chainIssues();
    if (!issues) return fromSync(issues.error());
    for (const auto& i : *issues)
        if (i.device == device && i.kind == "fork")
            return refused("the chain of device " + device + " forks, so its acknowledgement proves nothing: " + i.detail);
    auto recorded = ws.log().record(sync::kShredAckKind, ackId);
    if (!recorded) return refused("the acknowledgement was not accepted (" + recorded.message() + ")");
    auto all = ws.shredAcknowledgements();
    if (!all) return all.error();
    Json mine = Json::array();
    for (const auto& a : *all)
        if (a.value("device", "") == device) mine.push_back(a);
    return Json{{"device", device}, {"change_sets_new", report->applied}, {"acknowledgements", mine}};
}

}  // namespace xs::app
