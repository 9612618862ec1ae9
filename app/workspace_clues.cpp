// Clues for transfer to the discipline commission (线索移交) in an inspection's clue channel:
// drafted and transferred by the audit office, marked received by the commission. The rules
// every replica checks are rules::checkClue's; what only the drafting device can check (the
// finding behind a clue, in the team channel the commission cannot read; who holds the clue
// channel's key) is checked here.
#include "app/workspace.h"

#include "app/workspace_parts.h"
#include "sync/channels.h"
#include "sync/uuid.h"

namespace xs::app {
using namespace parts;

namespace {

// The device that planned an inspection administers its channels and holds every key of them,
// the clue channel's included. A clue goes there only when that device is the audit office's.
AStatus clueChannelIsTheOffices(sync::OpLog& log, const std::string& inspectionId) {
    auto channel = log.record(sync::kChannelKind, clueChannel(inspectionId));
    if (!channel) return fail(AppError::NotFound, "inspection " + inspectionId + " has no clue channel here");
    const std::string admin = textOf(*channel, "admin");
    auto reg = log.device(admin);
    if (!reg) return fromSync(reg.error());
    std::string role;
    if (*reg) {
        if (auto person = log.record("person", (*reg)->principal)) role = textOf(*person, "role");
    }
    if (role != toString(Role::AuditOffice))
        return refused("the clue channel of inspection " + inspectionId + " is administered by the device that planned it (" + admin +
                       ", not the audit office's), which holds its key: a clue written there would not be for the audit "
                       "office and the commission only");
    return {};
}

}  // namespace

AResult<std::string> Workspace::addClue(const std::string& inspection, const std::string& findingId, const std::string& summary,
                                        const std::string& transferredTo) {
    XS_TRY_APP(requireEnrolled());
    XS_TRY_APP(fromVerdict(rules::mayDraftClue(m_self.role)));
    auto inspectionId = resolve("inspections", inspection, "inspection");
    if (!inspectionId) return inspectionId.error();
    if (!findingId.empty()) {
        auto f = m_log->record("finding", findingId);
        if (!f) return fail(AppError::NotFound, "no finding " + findingId + " here (sync first?)");
        if (textOf(*f, "inspection_id") != *inspectionId)
            return refused("finding " + findingId + " is not a finding of inspection " + *inspectionId);
    }
    if (summary.find_first_not_of(" \t\r\n") == std::string::npos) return refused("a clue needs a summary");
    if (summary.size() > rules::kMaxClueSummary)
        return refused("a clue's summary is at most " + std::to_string(rules::kMaxClueSummary) + " bytes");
    if (transferredTo.size() > rules::kMaxClueRecipient)
        return refused("to whom a clue goes is at most " + std::to_string(rules::kMaxClueRecipient) + " bytes");
    XS_TRY_APP(clueChannelIsTheOffices(*m_log, *inspectionId));
    auto id = sync::newOwnedId(m_log->deviceId());
    if (!id) return fromSync(id.error());
    sync::Draft d;
    const std::string ch = clueChannel(*inspectionId);
    d.set(ch, "clue", *id, "inspection_id", *inspectionId);
    if (!findingId.empty()) d.set(ch, "clue", *id, "finding_id", findingId);
    d.set(ch, "clue", *id, "summary", summary);
    if (!transferredTo.empty()) d.set(ch, "clue", *id, "transferred_to", transferredTo);
    d.set(ch, "clue", *id, "status", toString(ClueStatus::Drafted));
    d.set(ch, "clue", *id, "created_by", m_self.personId);
    d.set(ch, "clue", *id, "created_at", m_clock->nowMs());
    auto cs = m_log->commit(d);
    if (!cs) return fromCommit(cs.error());
    return *id;
}

AStatus Workspace::moveClue(const std::string& clueId, ClueStatus to) {
    XS_TRY_APP(requireEnrolled());
    auto c = m_log->record("clue", clueId);
    if (!c) return fail(AppError::NotFound, "no clue " + clueId + " here (sync first?)");
    const ClueStatus from = parseEnum<ClueStatus>(textOf(*c, "status")).value_or(ClueStatus::Drafted);
    XS_TRY_APP(fromVerdict(rules::clueTransition(from, to, m_self.role)));
    const bool transfer = to == ClueStatus::Transferred;
    sync::Draft d;
    const std::string ch = clueChannel(textOf(*c, "inspection_id"));
    d.set(ch, "clue", clueId, "status", toString(to));
    d.set(ch, "clue", clueId, transfer ? "transferred_by" : "received_by", m_self.personId);
    d.set(ch, "clue", clueId, transfer ? "transferred_at" : "received_at", m_clock->nowMs());
    auto cs = m_log->commit(d);
    if (!cs) return fromCommit(cs.error());
    return {};
}

AStatus Workspace::transferClue(const std::string& clueId) { return moveClue(clueId, ClueStatus::Transferred); }

AStatus Workspace::receiveClue(const std::string& clueId) { return moveClue(clueId, ClueStatus::Received); }

AResult<Json> Workspace::clues() {
    auto s = m_store->db().prepare((selectAll("clue") + " ORDER BY created_at, id").c_str());
    if (!s) return fromSync(s.error());
    return rowsToJson(*s, columnsOf("clue"));
}

}  // namespace xs::app
