// Immediate-fix notices (立行立改, article 7(2)) in an inspection's unit channel: issued by the
// working-group lead for a confirmed immediate-fix finding, acknowledged and answered by the
// head of the inspected unit. The rules every replica checks are rules::checkUnitRecord's; what
// only the issuing device can check (the finding behind it, in the team channel) is checked here.
#include "app/files.h"
#include "app/rules.h"
#include "app/workspace.h"

#include "app/workspace_parts.h"
#include "sync/uuid.h"

namespace xs::app {
using namespace parts;
namespace fs = std::filesystem;

AResult<std::string> Workspace::issueNotice(const std::string& findingId, const std::string& problem, const std::string& action,
                                            const std::string& deadline) {
    XS_TRY_APP(requireEnrolled());
    auto f = m_log->record("finding", findingId);
    if (!f) return fail(AppError::NotFound, "no finding " + findingId + " here");
    const std::string inspectionId = textOf(*f, "inspection_id");
    auto insp = m_log->record("inspection", inspectionId);
    if (!insp) return fail(AppError::NotFound, "no inspection " + inspectionId);
    XS_TRY_APP(requireAgreement(inspectionId));
    XS_TRY_APP(fromVerdict(rules::mayIssueNotice(m_self.role, m_self.personId, *insp)));
    if (!f->value("immediate_fix", false)) return refused("the finding is not flagged for immediate fix (立行立改)");
    auto status = parseEnum<FindingStatus>(textOf(*f, "status")).value_or(FindingStatus::Draft);
    if (status != FindingStatus::Confirmed)
        return refused("confirm the finding first (研判): its status is " + toString(status));
    if (problem.empty() || action.empty()) return refused("a notice needs the problem as told to the unit and the action required");
    auto due = parseDate(deadline);
    if (!due) return refused("the deadline is a date, YYYY-MM-DD");
    const std::int64_t now = m_clock->nowMs();
    if (*due < dayAt(now, 480)) return refused("the deadline " + deadline + " has passed");
    auto id = sync::newOwnedId(m_log->deviceId());
    if (!id) return fromSync(id.error());
    sync::Draft d;
    const std::string ch = unitChannel(inspectionId);
    d.set(ch, "notice", *id, "inspection_id", inspectionId);
    d.set(ch, "notice", *id, "finding_id", findingId);
    d.set(ch, "notice", *id, "problem", problem);
    d.set(ch, "notice", *id, "action", action);
    d.set(ch, "notice", *id, "deadline", formatDate(*due));
    d.set(ch, "notice", *id, "issued_by", m_self.personId);
    d.set(ch, "notice", *id, "issued_at", now);
    auto cs = m_log->commit(d);
    if (!cs) return fromCommit(cs.error());
    return *id;
}

AStatus Workspace::acknowledgeNotice(const std::string& noticeId) {
    XS_TRY_APP(requireEnrolled());
    auto n = m_log->record("notice", noticeId);
    if (!n) return fail(AppError::NotFound, "no notice " + noticeId + " here (sync first?)");
    if (m_log->record("notice_ack", noticeId)) return refused("this notice is acknowledged already");
    sync::Draft d;
    const std::string ch = unitChannel(textOf(*n, "inspection_id"));
    d.set(ch, "notice_ack", noticeId, "notice_id", noticeId);
    d.set(ch, "notice_ack", noticeId, "acknowledged_by", m_self.personId);
    d.set(ch, "notice_ack", noticeId, "acknowledged_at", m_clock->nowMs());
    auto cs = m_log->commit(d);
    if (!cs) return fromCommit(cs.error());
    return {};
}

AResult<std::string> Workspace::replyToNotice(const std::string& noticeId, const std::string& text, const fs::path& file) {
    XS_TRY_APP(requireEnrolled());
    auto n = m_log->record("notice", noticeId);
    if (!n) return fail(AppError::NotFound, "no notice " + noticeId + " here (sync first?)");
    if (text.empty()) return refused("a reply needs a text");
    auto id = sync::newOwnedId(m_log->deviceId());
    if (!id) return fromSync(id.error());
    sync::Draft d;
    const std::string inspectionId = textOf(*n, "inspection_id");
    const std::string ch = unitChannel(inspectionId);
    d.set(ch, "unit_reply", *id, "notice_id", noticeId);
    d.set(ch, "unit_reply", *id, "text", text);
    d.set(ch, "unit_reply", *id, "replied_by", m_self.personId);
    d.set(ch, "unit_reply", *id, "replied_at", m_clock->nowMs());
    if (file.empty()) {
        auto cs = m_log->commit(d);
        if (!cs) return fromCommit(cs.error());
        return *id;
    }
    // The rectification file (整改材料): into this store's evidence like a capture, its blob for
    // the unit channel's readers (the team, the lead, the office; the replying unit's heads), its
    // name, size, hash and file key in the reply, sealed with the unit channel.
    XS_TRY_APP(fromVerdict(rules::mayAttach(EvidencePurpose::Rectification, m_self.role)));
    XS_TRY_APP(checkEvidencePath({}, file, false));
    std::vector<StoredEvidence> stored;
    auto kept = storeEvidenceFile(file, inspectionId, stored);
    if (!kept) return kept.error();
    StoredEvidence& e = **kept;
    e.channel = ch;
    d.set(ch, "unit_reply", *id, "file_hash", e.hash);
    d.set(ch, "unit_reply", *id, "file_name", file.filename().string());
    d.set(ch, "unit_reply", *id, "file_size", static_cast<std::int64_t>(e.size));
    d.set(ch, "unit_reply", *id, "blob", e.blob);
    d.set(ch, "unit_reply", *id, "blob_key", e.blobKey);
    d.set(ch, "unit_reply", *id, "blob_size", static_cast<std::int64_t>(e.blobSize));
    auto cs = commitWithEvidence(d, stored);
    if (!cs) return cs.error();
    return *id;
}

AResult<Json> Workspace::notices() { return noticesWhere({}); }

AResult<Json> Workspace::notice(const std::string& id) {
    auto one = noticesWhere(id);
    if (!one) return one;
    if (one->empty()) return fail(AppError::NotFound, "no notice " + id + " here (sync first?)");
    return (*one)[0];
}

AResult<Json> Workspace::noticesWhere(const std::string& noticeId) {
    auto s = m_store->db().prepare((selectAll("notice") + " WHERE (? = '' OR id = ?) ORDER BY issued_at, id").c_str());
    if (!s) return fromSync(s.error());
    s->bind(1, noticeId).bind(2, noticeId);
    auto all = rowsToJson(*s, columnsOf("notice"));
    if (!all) return all;
    s.value().reset();
    auto gated = gatedInspections();
    if (!gated) return gated.error();
    Json list = Json::array();
    for (auto& n : *all) {
        const std::string inspectionId = textOf(n, "inspection_id");
        if (!gated->count(inspectionId)) list.push_back(std::move(n));
        else if (!noticeId.empty()) XS_TRY_APP(requireAgreement(inspectionId));  // asked for by id: say what to do
    }
    for (auto& n : list) {
        const std::string id = n["id"];
        auto a = m_store->db().prepare((selectAll("notice_ack") + " WHERE id = ?").c_str());
        if (!a) return fromSync(a.error());
        a->bind(1, id);
        auto acks = rowsToJson(*a, columnsOf("notice_ack"));
        if (!acks) return acks;
        n["ack"] = acks->empty() ? Json() : (*acks)[0];
        auto r = m_store->db().prepare((selectAll("unit_reply") + " WHERE notice_id = ? ORDER BY replied_at, id").c_str());
        if (!r) return fromSync(r.error());
        r->bind(1, id);
        auto replies = rowsToJson(*r, columnsOf("unit_reply"));
        if (!replies) return replies;
        // A reply's rectification file: held here, not arrived yet, or shredded after a handover.
        for (auto& reply : *replies) {
            const std::string hash = textOf(reply, "file_hash");
            if (hash.empty()) continue;
            auto entry = m_store->evidenceEntry(textOf(n, "inspection_id"), hash);
            if (!entry) return fromSync(entry.error());
            reply["file_state"] = !*entry ? "pending" : (*entry)->shredded ? "shredded" : "held";
        }
        n["replies"] = std::move(*replies);
    }
    return list;
}

}  // namespace xs::app
