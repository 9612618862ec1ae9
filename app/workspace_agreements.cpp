// Confidentiality agreements (保密协议, article 7(4)) in an inspection's team channel, and the gate
// every inspection-scoped call of the workspace goes through. The rules every replica checks are
// rules::checkAgreement's (in rules.cpp); who must sign is rules::agreementRequired.
#include "app/workspace.h"

#include "app/agreement.h"
#include "app/workspace_parts.h"

namespace xs::app {
using namespace parts;

namespace {

// The plan's team as JSON (the projection keeps the list as JSON text).
Json planOf(const std::string& teamText, const std::string& lead) {
    Json team = Json::parse(teamText, nullptr, false);
    return Json{{"team", team.is_array() ? team : Json::array()}, {"lead_id", lead}};
}

}  // namespace

AResult<Workspace::AgreementState> Workspace::agreementState(const std::string& inspectionId) {
    auto insp = m_log->record("inspection", inspectionId);
    if (!insp) return fail(AppError::NotFound, "no inspection " + inspectionId);
    AgreementState st;
    // Wiped here after a handover (its keys destroyed, its signature with them): nothing left to gate.
    st.required = rules::agreementRequired(m_self.role, m_self.personId, *insp) && !m_store->meta("wiped:" + inspectionId);
    if (m_self.personId.empty()) return st;
    auto s = m_store->db().prepare("SELECT text_version, text_sha256, signed_at FROM agreements WHERE id = ?");
    if (!s) return fromSync(s.error());
    s->bind(1, agreementRecordId(inspectionId, m_self.personId));
    auto row = s->step();
    if (!row) return fromSync(row.error());
    if (*row) {
        st.signedByMe = true;
        st.version = s->text(0);
        st.sha256 = s->text(1);
        st.signedAtMs = s->int64(2);
    }
    return st;
}

AStatus Workspace::requireAgreement(const std::string& inspectionId) {
    auto st = agreementState(inspectionId);
    if (!st && st.code() == AppError::NotFound) return {};  // no plan here: nobody is on its team
    if (!st) return st.error();
    if (!st->required || st->signedByMe) return {};
    auto insp = m_log->record("inspection", inspectionId);
    const std::string title = insp ? textOf(*insp, "title") : std::string();
    return refused(agreementRefusal(title.empty() ? inspectionId : title, inspectionId));
}

AResult<std::set<std::string>> Workspace::gatedInspections() {
    std::set<std::string> gated;
    if (m_self.personId.empty()) return gated;
    auto s = m_store->db().prepare("SELECT id, COALESCE(team, '[]'), COALESCE(lead_id, '') FROM inspections");
    if (!s) return fromSync(s.error());
    for (;;) {
        auto row = s->step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        if (rules::agreementRequired(m_self.role, m_self.personId, planOf(s->text(1), s->text(2))) &&
            !m_store->meta("wiped:" + s->text(0)))
            gated.insert(s->text(0));
    }
    s.value().reset();
    auto signedHere = m_store->db().prepare("SELECT inspection_id FROM agreements WHERE person_id = ?");
    if (!signedHere) return fromSync(signedHere.error());
    signedHere->bind(1, m_self.personId);
    std::vector<std::string> done;
    XS_TRY_SYNC(signedHere->collectTexts(done));
    for (const auto& id : done) gated.erase(id);
    return gated;
}

AResult<std::set<std::string>> Workspace::inspectionsOfRecord(const std::string& recordId) {
    auto s = m_store->db().prepare("SELECT DISTINCT channel FROM ops WHERE record_id = ?");
    if (!s) return fromSync(s.error());
    s->bind(1, recordId);
    std::vector<std::string> channels;
    XS_TRY_SYNC(s->collectTexts(channels));
    std::set<std::string> out;
    for (const auto& ch : channels) {
        const auto dot = ch.rfind('.');
        if (dot == std::string::npos) continue;
        const std::string suffix = ch.substr(dot + 1);
        if (suffix == "team" || suffix == "unit" || suffix == "clue") out.insert(ch.substr(0, dot));
    }
    return out;
}

AStatus Workspace::signAgreement(const std::string& inspection) {
    XS_TRY_APP(requireEnrolled());
    auto inspectionId = resolve("inspections", inspection, "inspection");
    if (!inspectionId) return inspectionId.error();
    auto insp = m_log->record("inspection", *inspectionId);
    if (!insp) return fail(AppError::NotFound, "no inspection " + *inspectionId);
    XS_TRY_APP(fromVerdict(rules::maySignAgreement(m_self.role, m_self.personId, *insp)));
    auto st = agreementState(*inspectionId);
    if (!st) return st.error();
    if (st->signedByMe) return {};  // signed already: the first signature stands, nothing is written
    const AgreementText& text = currentAgreementText();
    const std::string id = agreementRecordId(*inspectionId, m_self.personId);
    const std::string ch = teamChannel(*inspectionId);
    sync::Draft d;
    d.set(ch, "agreement", id, "inspection_id", *inspectionId);
    d.set(ch, "agreement", id, "person_id", m_self.personId);
    d.set(ch, "agreement", id, "text_version", text.version);
    d.set(ch, "agreement", id, "text_sha256", text.sha256);
    d.set(ch, "agreement", id, "signed_at", m_clock->nowMs());
    auto cs = m_log->commit(d);
    if (!cs) return fromCommit(cs.error());
    return {};
}

AResult<Json> Workspace::agreements(const std::string& inspection) {
    std::string inspectionId;
    if (!inspection.empty()) {
        auto r = resolve("inspections", inspection, "inspection");
        if (!r) return r.error();
        inspectionId = *r;
    }
    auto gated = gatedInspections();
    if (!gated) return gated.error();
    auto s = m_store->db().prepare(
        "SELECT a.id, a.inspection_id, a.person_id, a.text_version, a.text_sha256, a.signed_at, COALESCE(p.name, ''),"
        " COALESCE(i.title, '') FROM agreements a LEFT JOIN people p ON p.id = a.person_id"
        " LEFT JOIN inspections i ON i.id = a.inspection_id WHERE (? = '' OR a.inspection_id = ?) ORDER BY a.signed_at, a.id");
    if (!s) return fromSync(s.error());
    s->bind(1, inspectionId).bind(2, inspectionId);
    Json out = Json::array();
    for (;;) {
        auto row = s->step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        if (gated->count(s->text(1)) && s->text(2) != m_self.personId) continue;
        out.push_back({{"id", s->text(0)}, {"inspection_id", s->text(1)}, {"person_id", s->text(2)}, {"text_version", s->text(3)},
                       {"text_sha256", s->text(4)}, {"signed_at", s->int64(5)}, {"person", s->text(6)},
                       {"inspection_title", s->text(7)}});
    }
    return out;
}

}  // namespace xs::app
