#include "app/cli/json_out.h"

namespace xs::app::cli {
namespace {

// An empty id or optional text is absent in the record: null, as the store has it.
Json textOrNull(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

// A field's value was JSON before it became the view's text.
Json valueOf(const std::string& json) { return Json::parse(json, nullptr, false); }

}  // namespace

Json toJson(const UnitView& u) {
    return {{"id", u.id}, {"code", textOrNull(u.code)}, {"name", textOrNull(u.name)}, {"unit_kind", textOrNull(u.kind)}};
}

Json toJson(const PersonView& p) {
    return {{"id", p.id},
            {"code", textOrNull(p.code)},
            {"name", textOrNull(p.name)},
            {"role", p.role ? Json(toString(*p.role)) : Json(nullptr)},
            {"unit_id", textOrNull(p.unitId)},
            {"title", textOrNull(p.title)}};
}

Json toJson(const InspectionView& i, bool withExtensions) {
    Json j = {{"id", i.id},
              {"title", i.title},
              {"round_id", textOrNull(i.roundId)},
              {"kind", toString(i.kind)},
              {"inspection_kind", toString(i.kind)},
              {"mode", toString(i.mode)},
              {"unit_id", i.unitId},
              {"team", i.team},
              {"lead_id", textOrNull(i.leadId)},
              {"onsite_start", i.onsiteStart},
              {"onsite_days", i.onsiteDays},
              {"status", i.status},
              {"created_by", i.createdBy}};
    if (!i.windowStart.empty()) j["window_start"] = i.windowStart;  // absent when the window is unknown
    if (!i.windowEnd.empty()) j["window_end"] = i.windowEnd;
    j["agreement_required"] = i.agreementRequired;
    j["agreement_signed"] = i.agreementSigned;
    if (withExtensions) {
        Json ext = Json::array();
        for (const auto& e : i.extensions)
            ext.push_back({{"id", e.id},
                           {"inspection_id", e.inspectionId},
                           {"days", e.days},
                           {"reason", e.reason},
                           {"status", toString(e.status)},
                           {"requested_by", e.requestedBy},
                           {"decided_by", textOrNull(e.decidedBy)}});
        j["extensions"] = ext;
    }
    return j;
}

Json toJson(const FindingView& f) {
    Json tags = Json::array();
    for (auto t : f.tags) tags.push_back(toString(t));
    Json attachments = Json::array();
    Json evidence = Json::array();
    for (const auto& a : f.attachments) {
        attachments.push_back({{"id", a.id},
                               {"finding_id", f.id},
                               {"hash", a.hash},
                               {"name", a.name},
                               {"size", a.size},
                               {"purpose", a.purpose},
                               {"added_by", a.addedBy},
                               {"state", a.state}});
        if (a.purpose == "evidence") evidence.push_back(a.hash);
    }
    return {{"id", f.id},
            {"inspection_id", f.inspectionId},
            {"inspection", f.inspectionId},
            {"title", f.title},
            {"description", f.description},
            {"category", toString(f.category)},
            {"audit_category", textOrNull(f.auditCategory)},
            {"severity", toString(f.severity)},
            {"tags", tags},
            {"immediate_fix", f.immediateFix},
            {"responsible_person", textOrNull(f.responsiblePerson)},
            {"status", toString(f.status)},
            {"author", f.author},
            {"created_at", f.createdAtMs},
            {"evidence", evidence},
            {"attachments", attachments},
            {"conflicts", f.conflictedFields},
            {"review_note", textOrNull(f.reviewNote)}};
}

Json toJson(const FieldVersionView& v) {
    return {{"op_id", v.opId}, {"change_set", v.changeSet}, {"time", v.time}, {"hlc", v.hlc},
            {"device", v.device}, {"field", v.field}, {"value", valueOf(v.valueJson)}};
}

Json toJson(const ConflictView& c) {
    Json versions = Json::array();
    for (const auto& v : c.versions)
        versions.push_back({{"op_id", v.opId}, {"time", v.time}, {"device", v.device}, {"value", valueOf(v.valueJson)}});
    return {{"kind", c.kind}, {"id", c.recordId}, {"field", c.field}, {"versions", versions}};
}

Json toJson(const NoticeView& n) {
    Json replies = Json::array();
    for (const auto& r : n.replies)
        {
            Json reply = {{"id", r.id}, {"text", r.text}, {"replied_by", r.repliedBy}, {"replied_by_name", r.repliedByName},
                          {"replied_at", formatTimestampMs(r.repliedAt)}};
            if (!r.fileName.empty())
                reply["file"] = {{"name", r.fileName}, {"hash", r.fileHash}, {"size", r.fileSize}, {"state", r.fileState}};
            replies.push_back(std::move(reply));
        }
    return {{"id", n.id},
            {"inspection_id", n.inspectionId},
            {"finding_id", n.findingId},
            {"problem", n.problem},
            {"action", n.action},
            {"deadline", n.deadline},
            {"issued_by", n.issuedBy},
            {"issued_by_name", n.issuedByName},
            {"issued_at", formatTimestampMs(n.issuedAt)},
            {"acknowledged", n.acknowledged},
            {"acknowledged_by", n.acknowledged ? Json(n.acknowledgedBy) : Json()},
            {"acknowledged_by_name", n.acknowledged ? Json(n.acknowledgedByName) : Json()},
            {"acknowledged_at", n.acknowledged ? Json(formatTimestampMs(n.acknowledgedAt)) : Json()},
            {"replies", replies}};
}

Json toJson(const ClueView& c) {
    const bool transferred = !c.transferredBy.empty(), received = !c.receivedBy.empty();
    return {{"id", c.id},
            {"inspection_id", c.inspectionId},
            {"finding_id", c.findingId.empty() ? Json() : Json(c.findingId)},
            {"summary", c.summary},
            {"transferred_to", c.transferredTo},
            {"status", toString(c.status)},
            {"created_by", c.createdBy},
            {"created_by_name", c.createdByName},
            {"created_at", formatTimestampMs(c.createdAt)},
            {"transferred_by", transferred ? Json(c.transferredBy) : Json()},
            {"transferred_by_name", transferred ? Json(c.transferredByName) : Json()},
            {"transferred_at", transferred ? Json(formatTimestampMs(c.transferredAt)) : Json()},
            {"received_by", received ? Json(c.receivedBy) : Json()},
            {"received_by_name", received ? Json(c.receivedByName) : Json()},
            {"received_at", received ? Json(formatTimestampMs(c.receivedAt)) : Json()}};
}

Json toJson(const AgreementTextView& a) {
    return {{"inspection_id", a.inspectionId},
            {"inspection_title", a.inspectionTitle},
            {"version", a.version},
            {"text_zh", a.textZh},
            {"text_en", a.textEn},
            {"text_sha256", a.sha256},
            {"signed", a.signedByMe},
            {"signed_at", a.signedByMe ? Json(formatTimestampMs(a.signedAtMs)) : Json()},
            {"signed_at_ms", a.signedByMe ? Json(a.signedAtMs) : Json()}};
}

Json toJson(const AgreementView& a) {
    return {{"inspection_id", a.inspectionId},
            {"person_id", a.personId},
            {"person_name", a.personName},
            {"version", a.version},
            {"text_sha256", a.sha256},
            {"signed_at", formatTimestampMs(a.signedAtMs)},
            {"signed_at_ms", a.signedAtMs}};
}

Json toJson(const RefusedView& r) { return {{"id", r.id}, {"device", r.device}, {"seq", r.seq}, {"reason", r.reason}}; }

Json toJson(const WipeRecordView& w) {
    return {{"inspection", w.inspection},
            {"bundle_header_sha256", w.bundleHeaderSha256},
            {"manifest_sha256", w.manifestSha256},
            {"wiped_at", w.wipedAt},
            {"received_at", w.receivedAt},
            {"evidence_files_removed", w.evidenceFilesRemoved},
            {"captured_after_export", w.capturedAfterExport},
            {"covered_seq", w.coveredSeq},
            {"keys_destroyed", w.keysDestroyed},
            {"channels_shredded", w.channelsShredded},
            {"subkeys_destroyed", w.subkeysDestroyed}};
}

Json toJson(const VerifyReport& r) {
    Json wiped = listJson(r.wiped);
    Json shredded = Json::array();
    for (const auto& c : r.shredded) shredded.push_back({{"channel", c.channel}, {"at_ms", c.atMs}, {"reason", c.reason}});
    Json pending = Json::array();
    for (const auto& p : r.pending) pending.push_back({{"hash", p.hash}, {"inspection", p.inspection}, {"finding", p.finding}});
    return {{"ok", r.ok},
            {"problems", r.problems},
            {"wiped", wiped},
            {"shredded", shredded},
            {"ops", r.ops},
            {"findings", r.findings},
            {"refused", listJson(r.refused)},
            {"pending_evidence", pending},
            {"evidence_files", r.evidenceFiles},
            {"projection_digest", r.projectionDigest}};
}

Json toJson(const ShredAckView& a) {
    return {{"device", a.device},
            {"scope", a.scope},
            {"manifest", a.manifest},
            {"detail", a.detail},
            {"keys_destroyed", a.keysDestroyed},
            {"evidence_removed", a.evidenceRemoved},
            {"evidence_kept", a.evidenceKept},
            {"at_ms", a.atMs},
            {"channels", a.channels},
            {"subkeys", a.subkeys}};
}

Json toJson(const IdentityView& i) {
    return {{"device_id", i.deviceId},
            {"person_id", i.personId},
            {"name", i.name},
            {"role", toString(i.role)},
            {"sign_public_key", i.signPublicKeyHex},
            {"exchange_public_key", i.exchangePublicKeyHex},
            {"fingerprint", i.fingerprint}};
}

Json toJson(const OrgImportView& r) {
    return {{"units", r.units},
            {"people", r.people},
            {"rounds", r.rounds},
            {"change_set", r.changeSets.empty() ? Json(nullptr) : Json(r.changeSets.back())},
            {"change_sets", r.changeSets}};
}

Json toJson(const DeviceEnrolledView& d) {
    return {{"device_id", d.deviceId},
            {"fingerprint", d.fingerprint},
            {"person_id", d.personId},
            {"already_enrolled", d.alreadyEnrolled},
            {"channel_memberships", d.channelMemberships}};
}

Json toJson(const EnrolmentAcceptedView& e) {
    return {{"organisation_id", e.organisationId},
            {"office_fingerprint", e.officeFingerprint},
            {"person_id", e.personId},
            {"person", e.person},
            {"role", toString(e.role)},
            {"change_sets_new", e.changeSetsNew},
            {"change_sets_refused", e.changeSetsRefused},
            {"channel_keys", e.channelKeys},
            {"channel_memberships", e.channelMemberships}};
}

Json toJson(const HandoverExportView& h) {
    return {{"bundle", h.bundle},
            {"inspection", h.inspection},
            {"change_sets", h.changeSets},
            {"evidence_files", h.evidenceFiles},
            {"bytes", h.bytes},
            {"bundle_header_sha256", h.bundleHeaderSha256},
            {"manifest_sha256", h.manifestSha256}};
}

Json toJson(const HandoverImportView& h) {
    return {{"inspection", h.inspection},
            {"author_device", h.authorDevice},
            {"change_sets", h.changeSets},
            {"change_sets_new", h.changeSetsNew},
            {"change_sets_refused", listJson(h.changeSetsRefused)},
            {"evidence_files", h.evidenceFiles},
            {"evidence_dropped", h.evidenceDropped},
            {"evidence_pending", h.evidencePending},
            {"receipt", h.receipt}};
}

Json toJson(const HandoverConfirmView& h) {
    Json j = toJson(h.wipe);
    if (h.alreadyConfirmed) j["already_confirmed"] = true;
    j["warnings"] = h.warnings;
    j["ack"] = h.ack;
    return j;
}

}  // namespace xs::app::cli
