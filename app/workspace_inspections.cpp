// Inspections: plans, extensions of the on-site week, the capture window, the inspection views.
#include "app/workspace.h"

#include <algorithm>
#include <set>

#include "app/files.h"
#include "app/workspace_parts.h"
#include "sync/changeset_codec.h"
#include "sync/file_io.h"
#include "sync/keyfile.h"
#include "sync/record_fields.h"
#include "sync/uuid.h"

namespace xs::app {
namespace fs = std::filesystem;
using namespace parts;

AResult<std::pair<int, int>> Workspace::captureWindow(const std::string& inspectionId) {
    auto insp = m_log->record("inspection", inspectionId);
    if (!insp) return fail(AppError::NotFound, "no inspection " + inspectionId);
    return captureWindow(inspectionId, *insp);
}

AResult<std::pair<int, int>> Workspace::captureWindow(const std::string& inspectionId, const Json& insp) {
    auto start = parseDate(textOf(insp, "onsite_start"));
    if (!start) return fail(AppError::Failed, "inspection " + inspectionId + " has no valid on-site start");
    int days = static_cast<int>(intOf(insp, "onsite_days", kStandardOnsiteDays));
    auto s = m_store->db().prepare("SELECT COALESCE(SUM(days), 0) FROM extensions WHERE inspection_id = ? AND status = 'approved'");
    if (!s) return fromSync(s.error());
    s->bind(1, inspectionId);
    auto row = s->step();
    if (!row) return fromSync(row.error());
    days += static_cast<int>(s->int64(0));
    return std::make_pair(*start, *start + days - 1);
}

AStatus Workspace::checkCaptureAllowed(const std::string& inspectionId) {
    auto insp = m_log->record("inspection", inspectionId);
    if (!insp) return fail(AppError::NotFound, "no inspection " + inspectionId);
    XS_TRY_APP(fromVerdict(rules::mayCapture(m_self.role, m_self.personId, *insp)));
    // Local only: the day of a capture is known only where it is made (app/rules.h).
    auto window = captureWindow(inspectionId, *insp);
    if (!window) return window.error();
    int t = today();
    if (t < window->first || t > window->second)
        return refused("capture is only allowed during the on-site window " + formatDate(window->first) + " to " +
                       formatDate(window->second) + " (today is " + formatDate(t) +
                       "); a longer stay needs an extension approved by the leading group (article 7(2))");
    return {};
}

// ---------------------------------------------------------------- inspections

AResult<std::string> Workspace::createInspection(const InspectionInput& in) {
    XS_TRY_APP(requireEnrolled());
    XS_TRY_APP(fromVerdict(rules::mayPlanInspection(m_self.role)));
    auto unit = resolve("units", in.unit, "unit");
    if (!unit) return unit.error();
    auto start = parseDate(in.start);
    if (!start) return refused("on-site start must be a date YYYY-MM-DD");
    XS_TRY_APP(fromVerdict(rules::onsiteDays(in.days)));
    std::string round;
    if (!in.round.empty()) {
        auto rr = resolve("rounds", in.round, "round");
        if (!rr) return rr.error();
        round = *rr;
    }
    Json team = Json::array();
    for (const auto& member : in.team) {
        auto p = resolve("people", member, "person");
        if (!p) return p.error();
        if (std::find(team.begin(), team.end(), Json(*p)) == team.end()) team.push_back(*p);
    }
    if (std::find(team.begin(), team.end(), Json(m_self.personId)) == team.end() && canCapture(m_self.role) &&
        !m_self.personId.empty())
        team.push_back(m_self.personId);
    std::string lead;
    if (!in.lead.empty()) {
        auto p = resolve("people", in.lead, "person");
        if (!p) return p.error();
        lead = *p;
    }
    auto unitRec = m_log->record("unit", *unit);
    if (!unitRec) return fromSync(unitRec.error());
    std::string title = in.title.empty() ? textOf(*unitRec, "name") + " " + label(in.kind) : in.title;
    if (title.size() > kMaxTitle) return refused("title is too long");

    // An id only this device can make: its channels are named after it (sync/uuid.h).
    auto id = sync::newOwnedId(m_log->deviceId());
    if (!id) return fromSync(id.error());
    sync::Draft d;
    auto set = [&](const char* f, Json v) { d.set(orgChannel(), "inspection", *id, f, std::move(v)); };
    set("title", title);
    if (!round.empty()) set("round_id", round);
    set("inspection_kind", toString(in.kind));
    set("mode", toString(in.mode));
    set("unit_id", *unit);
    set("team", team);
    if (!lead.empty()) set("lead_id", lead);
    set("onsite_start", formatDate(*start));
    set("onsite_days", in.days);
    set("status", "open");
    set("created_by", m_self.personId);
    Json record = {{"team", team}, {"lead_id", lead}, {"unit_id", *unit}};
    auto members = wantedMembers(*id, record);
    if (!members) return members.error();
    for (auto& [channel, list] : *members) d.createChannel(channel, std::move(list));
    auto cs = m_log->commit(d);
    if (!cs) return fromCommit(cs.error());
    return *id;
}

AResult<std::string> Workspace::requestExtension(const std::string& inspectionId, int days, const std::string& reason) {
    XS_TRY_APP(requireEnrolled());
    XS_TRY_APP(fromVerdict(rules::mayRequestExtension(m_self.role)));
    auto insp = m_log->record("inspection", inspectionId);
    if (!insp) return fail(AppError::NotFound, "no inspection " + inspectionId);
    XS_TRY_APP(requireAgreement(inspectionId));
    if (days < 1 || days > 30) return refused("an extension is 1 to 30 days");
    if (reason.empty()) return refused("an extension request needs a reason");
    auto id = sync::newOwnedId(m_log->deviceId());
    if (!id) return fromSync(id.error());
    sync::Draft d;
    std::string ch = teamChannel(inspectionId);
    d.set(ch, "extension", *id, "inspection_id", inspectionId);
    d.set(ch, "extension", *id, "days", days);
    d.set(ch, "extension", *id, "reason", reason);
    d.set(ch, "extension", *id, "status", toString(ExtensionStatus::Pending));
    d.set(ch, "extension", *id, "requested_by", m_self.personId);
    auto cs = m_log->commit(d);
    if (!cs) return fromCommit(cs.error());
    return *id;
}

AStatus Workspace::decideExtension(const std::string& extensionId, bool approve) {
    XS_TRY_APP(requireEnrolled());
    auto ext = m_log->record("extension", extensionId);
    if (!ext && isLeadingGroup(m_self.role)) return fail(AppError::NotFound, "no extension request " + extensionId);
    auto current = ext ? parseEnum<ExtensionStatus>(textOf(*ext, "status")).value_or(ExtensionStatus::Pending) : ExtensionStatus::Pending;
    XS_TRY_APP(fromVerdict(rules::mayDecideExtension(m_self.role, current)));
    XS_TRY_APP(requireAgreement(textOf(*ext, "inspection_id")));
    sync::Draft d;
    std::string ch = teamChannel(textOf(*ext, "inspection_id"));
    d.set(ch, "extension", extensionId, "status", toString(approve ? ExtensionStatus::Approved : ExtensionStatus::Rejected));
    d.set(ch, "extension", extensionId, "decided_by", m_self.personId);
    auto cs = m_log->commit(d);
    if (!cs) return fromCommit(cs.error());
    return {};
}

AResult<Json> Workspace::inspections() {
    auto s = m_store->db().prepare((selectAll("inspection") + " ORDER BY onsite_start, id").c_str());
    if (!s) return fromSync(s.error());
    auto list = rowsToJson(*s, columnsOf("inspection"));
    if (!list) return list;
    s.value().reset();
    for (auto& i : *list) {
        i["kind"] = i["inspection_kind"];
        // For the owner: must they sign its confidentiality agreement, and have they.
        auto agreement = agreementState(i["id"].get<std::string>());
        if (!agreement) return agreement.error();
        i["agreement_required"] = agreement->required;
        i["agreement_signed"] = agreement->signedByMe;
        auto w = captureWindow(i["id"].get<std::string>());
        if (w) {
            i["window_start"] = formatDate(w->first);
            i["window_end"] = formatDate(w->second);
        }
    }
    return list;
}

AResult<Json> Workspace::inspection(const std::string& key) {
    auto id = resolve("inspections", key, "inspection");
    if (!id) return id.error();
    auto all = inspections();
    if (!all) return all;
    for (auto& i : *all)
        if (i["id"] == *id) {
            i["extensions"] = Json::array();
            if (i["agreement_required"] == true && i["agreement_signed"] == false) return i;  // the team's, after signing
            auto s = m_store->db().prepare((selectAll("extension") + " WHERE inspection_id = ? ORDER BY id").c_str());
            if (!s) return fromSync(s.error());
            s->bind(1, *id);
            auto ext = rowsToJson(*s, columnsOf("extension"));
            if (!ext) return ext;
            i["extensions"] = *ext;
            return i;
        }
    return fail(AppError::NotFound, "no inspection " + key);
}

}  // namespace xs::app
