// Findings: capture (one or an import file), edits, transitions, evidence, and the finding views.
#include "app/workspace.h"

#include <algorithm>
#include <set>

#include "app/files.h"
#include "crypto/encoding.h"
#include "app/workspace_parts.h"
#include "sync/changeset_codec.h"
#include "sync/file_io.h"
#include "sync/keyfile.h"
#include "sync/net/client.h"
#include "sync/record_fields.h"
#include "sync/uuid.h"

namespace xs::app {
namespace fs = std::filesystem;
using namespace parts;

// ---------------------------------------------------------------- input

AResult<FindingInput> FindingInput::fromJson(const Json& j) {
    if (!j.is_object()) return refused("a finding must be a JSON object");
    static const std::set<std::string> known = {"inspection",     "title",         "description", "category",
                                                "audit_category", "severity",      "tags",        "immediate_fix",
                                                "responsible_person", "evidence"};
    for (auto it = j.begin(); it != j.end(); ++it)
        if (!known.count(it.key())) return refused("unknown key '" + it.key() + "'");
    FindingInput in;
    auto inspection = stringField(j, "inspection", 100);
    if (!inspection) return inspection.error();
    in.inspection = *inspection;
    if (in.inspection.empty()) return refused("inspection is required");
    auto title = stringField(j, "title", kMaxTitle);
    if (!title) return title.error();
    in.title = *title;
    if (in.title.find_first_not_of(" \t\r\n") == std::string::npos) return refused("title is required");
    auto desc = stringField(j, "description", kMaxText);
    if (!desc) return desc.error();
    in.description = *desc;
    auto cat = enumField<FindingCategory>(j, "category", FindingCategory::Other);
    if (!cat) return cat.error();
    in.category = *cat;
    auto audit = stringField(j, "audit_category", 64);
    if (!audit) return audit.error();
    in.auditCategory = *audit;
    if (!in.auditCategory.empty() &&
        std::find(auditCategories().begin(), auditCategories().end(), in.auditCategory) == auditCategories().end()) {
        std::string all;
        for (const auto& c : auditCategories()) all += (all.empty() ? "" : "|") + c;
        return refused("audit_category must be one of " + all);
    }
    auto sev = enumField<Severity>(j, "severity", Severity::Medium);
    if (!sev) return sev.error();
    in.severity = *sev;
    if (auto it = j.find("tags"); it != j.end() && !it->is_null()) {
        if (!it->is_array()) return refused("tags must be a list");
        for (const auto& t : *it) {
            auto tag = t.is_string() ? parseEnum<FindingTag>(t.get<std::string>()) : std::nullopt;
            if (!tag) return refused("tags must be among " + allSpellings<FindingTag>());
            if (std::find(in.tags.begin(), in.tags.end(), *tag) == in.tags.end()) in.tags.push_back(*tag);
        }
    }
    if (auto it = j.find("immediate_fix"); it != j.end() && !it->is_null()) {
        if (!it->is_boolean()) return refused("immediate_fix must be true or false");
        in.immediateFix = it->get<bool>();
    }
    auto resp = stringField(j, "responsible_person", 200);
    if (!resp) return resp.error();
    in.responsiblePerson = *resp;
    if (auto it = j.find("evidence"); it != j.end() && !it->is_null()) {
        if (!it->is_array()) return refused("evidence must be a list of file paths");
        for (const auto& e : *it) {
            if (!e.is_string() || e.get<std::string>().empty()) return refused("evidence must be a list of file paths");
            in.evidence.emplace_back(e.get<std::string>());
        }
    }
    return in;
}

// ---------------------------------------------------------------- findings

AResult<Workspace::StoredEvidence*> Workspace::storeEvidenceFile(const fs::path& file, const std::string& inspectionId,
                                                                 std::vector<StoredEvidence>& stored) {
    // The scope's key, or a new one stored with the change set that first uses it.
    auto scope = m_store->evidenceScope(inspectionId, false);
    if (!scope && scope.code() == sync::SyncError::NotFound) {
        // An earlier file of this same change set may have made it already.
        auto same = std::find_if(stored.begin(), stored.end(), [&](const StoredEvidence& e) { return e.scope == inspectionId; });
        scope = same != stored.end() ? sync::SResult<sync::EvidenceScope>(sync::EvidenceScope{inspectionId, same->key.clone()})
                                     : m_store->newEvidenceScope(inspectionId);
    }
    if (!scope) return fromSync(scope.error());
    auto info = m_store->evidence().add(*scope, file);
    if (!info) return fromSync(info.error());
    auto known = m_store->evidenceEntry(inspectionId, info->hash);
    if (!known) return fromSync(known.error());
    const bool added = !info->deduplicated && !*known;
    // The encrypted file as it will travel to the server, checked against the server's limit
    // now, before the finding is finalised with it.
    auto blob = m_store->evidence().blobOf(*scope, info->hash);
    if (!blob) {
        if (added) (void)m_store->evidence().remove(inspectionId, info->hash);
        return fromSync(blob.error());
    }
    if (auto limit = m_store->meta(sync::net::kEvidenceLimitMetaKey)) {
        const std::uint64_t max = std::strtoull(limit->c_str(), nullptr, 10);
        if (max > 0 && blob->size > max) {
            if (added) (void)m_store->evidence().remove(inspectionId, info->hash);
            return refused("evidence file " + file.filename().string() + " is " + std::to_string(info->size / (1 << 20)) +
                           " MiB; the sync server accepts files up to " + std::to_string(max / (1 << 20)) +
                           " MiB: split or reduce it (or hand it over by USB)");
        }
    }
    stored.push_back({inspectionId, info->hash, info->size, added, scope->key.clone(), blob->id, blob->size, {},
                      crypto::toHex(blob->fileKey)});
    return &stored.back();
}

AResult<std::string> Workspace::storeEvidence(const fs::path& file, sync::Draft& d, const std::string& findingId,
                                              const std::string& inspectionId, EvidencePurpose purpose,
                                              std::vector<StoredEvidence>& stored) {
    auto kept = storeEvidenceFile(file, inspectionId, stored);
    if (!kept) return kept.error();
    const StoredEvidence& e = **kept;
    // The same file for the same purpose is attached once.
    auto same = m_store->db().prepare("SELECT 1 FROM attachments WHERE finding_id = ? AND hash = ? AND purpose = ?");
    if (!same) return fromSync(same.error());
    same->bind(1, findingId).bind(2, e.hash).bind(3, toString(purpose));
    auto attached = same->step();
    if (!attached) return fromSync(attached.error());
    if (*attached) return e.hash;
    // A random id its device owns: the hash stays inside the sealed body (an op's record id is in
    // the clear, and outlives a shredding), and nobody else can make the same attachment.
    auto attachmentId = sync::newOwnedId(m_log->deviceId());
    if (!attachmentId) return fromSync(attachmentId.error());
    std::string channel = teamChannel(inspectionId);
    d.set(channel, "attachment", *attachmentId, "finding_id", findingId);
    d.set(channel, "attachment", *attachmentId, "hash", e.hash);
    d.set(channel, "attachment", *attachmentId, "name", file.filename().string());
    d.set(channel, "attachment", *attachmentId, "size", static_cast<std::int64_t>(e.size));
    d.set(channel, "attachment", *attachmentId, "purpose", toString(purpose));
    d.set(channel, "attachment", *attachmentId, "added_by", m_self.personId);
    d.set(channel, "attachment", *attachmentId, "blob", e.blob);
    d.set(channel, "attachment", *attachmentId, "blob_key", e.blobKey);
    d.set(channel, "attachment", *attachmentId, "blob_size", static_cast<std::int64_t>(e.blobSize));
    return e.hash;
}

AResult<std::string> Workspace::commitWithEvidence(const sync::Draft& d, std::vector<StoredEvidence>& stored) {
    // The files are encrypted and synced before the change set that names them commits, and
    // recorded in the same transaction; if it does not commit, the new ones go again.
    auto cs = m_log->commit(d, [&]() -> sync::SStatus {
        for (const auto& e : stored) {
            XS_TRY(m_store->saveEvidenceScope({e.scope, e.key.clone()}));  // kept if it was there
            auto held = m_store->evidenceScope(e.scope, false);
            if (!held) return held.error();
            if (held->key.size() != e.key.size() || !std::equal(e.key.data(), e.key.data() + e.key.size(), held->key.data()))
                return fail(sync::SyncError::Database, "another command made this inspection's evidence key at the same time: "
                                                       "capture again");
            XS_TRY(m_store->recordEvidence(e.scope, e.hash, e.size));
            auto queue = m_store->db().prepare(
                "INSERT OR IGNORE INTO blob_uploads (blob, scope, hash, size, channel) VALUES (?, ?, ?, ?, ?)");
            if (!queue) return queue.error();
            XS_TRY(queue->bind(1, e.blob).bind(2, e.scope).bind(3, e.hash).bind(4, static_cast<std::int64_t>(e.blobSize))
                       .bind(5, e.channel.empty() ? teamChannel(e.scope) : e.channel)
                       .run());
        }
        return {};
    });
    if (!cs) {
        for (const auto& e : stored)
            if (e.added) (void)m_store->evidence().remove(e.scope, e.hash);
        return fromCommit(cs.error());
    }
    return cs->id;
}

AResult<std::string> Workspace::prepareFinding(const FindingInput& in, Json& fields) {
    XS_TRY_APP(requireEnrolled());
    // An inspection id is used as it is (checkCaptureAllowed reads the record); titles are resolved.
    AResult<std::string> inspectionId =
        sync::isUuid(in.inspection) ? AResult<std::string>(in.inspection) : resolve("inspections", in.inspection, "inspection");
    if (!inspectionId) return inspectionId.error();
    XS_TRY_APP(requireAgreement(*inspectionId));
    XS_TRY_APP(checkCaptureAllowed(*inspectionId));
    if (m_self.role == Role::ThirdPartyAuditor && in.auditCategory.empty())
        return refused("a third-party auditor records audit matters only: give an audit_category (article 5)");
    for (const auto& f : in.evidence) XS_TRY_APP(checkEvidencePath({}, f, false));
    fields = Json::object();
    fields["inspection_id"] = *inspectionId;
    fields["title"] = in.title;
    fields["description"] = in.description;
    fields["category"] = toString(in.category);
    if (!in.auditCategory.empty()) fields["audit_category"] = in.auditCategory;
    fields["severity"] = toString(in.severity);
    Json tags = Json::array();
    for (auto t : in.tags) tags.push_back(toString(t));
    fields["tags"] = tags;
    fields["immediate_fix"] = in.immediateFix;
    if (!in.responsiblePerson.empty()) fields["responsible_person"] = in.responsiblePerson;
    fields["status"] = toString(FindingStatus::Draft);
    XS_TRY_APP(fromVerdict(rules::findingFields(fields)));
    return *inspectionId;
}

AResult<std::string> Workspace::addFinding(const FindingInput& in) {
    Json fields;
    auto inspectionId = prepareFinding(in, fields);
    if (!inspectionId) return inspectionId.error();
    auto id = sync::newOwnedId(m_log->deviceId());
    if (!id) return fromSync(id.error());
    std::string ch = teamChannel(*inspectionId);
    sync::Draft d;
    for (auto& [field, value] : fields.items()) d.set(ch, "finding", *id, field, value);
    d.set(ch, "finding", *id, "author", m_self.personId);
    d.set(ch, "finding", *id, "created_at", m_clock->nowMs());
    std::vector<StoredEvidence> stored;
    for (const auto& f : in.evidence) {
        auto hash = storeEvidence(f, d, *id, *inspectionId, EvidencePurpose::Evidence, stored);
        if (!hash) {
            for (const auto& e : stored)
                if (e.added) (void)m_store->evidence().remove(e.scope, e.hash);
            return hash.error();
        }
    }
    auto cs = commitWithEvidence(d, stored);
    if (!cs) return cs.error();
    return *id;
}

AResult<std::size_t> Workspace::importFindings(const fs::path& file, const std::function<void(const std::string&)>& committed,
                                               const std::function<bool()>& cancelled) {
    auto stop = [&]() { return cancelled && cancelled(); };
    auto bytes = sync::readFile(file, kMaxImportBytes);
    if (!bytes) return fromSync(bytes.error());
    std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
    fs::path folder = file.parent_path().empty() ? fs::path(".") : file.parent_path();
    // Every line is read and checked against the rules and this store before any is committed.
    std::vector<FindingInput> inputs;
    std::size_t lineNo = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++lineNo;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        std::string where = "line " + std::to_string(lineNo);
        auto parsed = sync::parseBoundedJson(line, 1 << 20, where);
        if (!parsed) return refused(parsed.message() + "; nothing imported");
        auto in = FindingInput::fromJson(*parsed);
        if (!in) return refused(where + ": " + in.message() + "; nothing imported");
        for (auto& e : in->evidence) {
            auto p = checkEvidencePath(folder, e, true);
            if (!p) return fail(p.code(), where + ": " + p.message() + "; nothing imported");
            e = *p;
        }
        if (stop()) return fail(AppError::Cancelled, "cancelled while checking: nothing imported");
        Json fields;
        auto ok = prepareFinding(*in, fields);
        if (!ok) return fail(ok.code(), where + ": " + ok.message() + "; nothing imported");
        inputs.push_back(std::move(*in));
    }
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (stop())
            return fail(AppError::Cancelled, "cancelled: " + std::to_string(i) + " of " + std::to_string(inputs.size()) +
                                                 " findings were committed, the rest were not");
        auto id = addFinding(inputs[i]);
        if (!id) {
            auto e = id.error();
            e.message += " (finding " + std::to_string(i + 1) + " of the file; the " + std::to_string(i) +
                         " before it were committed)";
            return e;
        }
        if (committed) committed(*id);  // only after the commit is durable
    }
    return inputs.size();
}

AStatus Workspace::checkTransition(const std::string& id, const Json& rec, FindingStatus to) {
    auto from = parseEnum<FindingStatus>(textOf(rec, "status"));
    if (!from) return fail(AppError::Failed, "finding " + id + " has an unknown status");
    bool verified = false;
    if (to == FindingStatus::Closed) {
        auto s = m_store->db().prepare("SELECT count(*) FROM attachments WHERE finding_id = ? AND purpose = 'verification'");
        if (!s) return fromSync(s.error());
        s->bind(1, id);
        auto row = s->step();
        if (!row) return fromSync(row.error());
        verified = s->int64(0) > 0;
    }
    auto v = rules::transition(*from, to, m_self.role, verified);
    if (!v.ok() && to == FindingStatus::Closed && !verified && rules::transition(*from, to, m_self.role, true).ok())
        return refused(v.refusal + "; attach it with: finding attach " + id + " --evidence FILE --purpose verification");
    return fromVerdict(v);
}

AStatus Workspace::transitionFinding(const std::string& id, FindingStatus to, const std::string& note) {
    Json fields{{"status", toString(to)}};
    if (!note.empty()) fields["review_note"] = note;
    return editFinding(id, fields);
}

AStatus Workspace::editFinding(const std::string& id, const Json& fields) {
    XS_TRY_APP(requireEnrolled());
    if (!fields.is_object() || fields.empty()) return refused("nothing to change");
    auto rec = m_log->record("finding", id);
    if (!rec) return fail(AppError::NotFound, "no finding " + id);
    XS_TRY_APP(requireAgreement(textOf(*rec, "inspection_id")));
    Json content = fields;
    std::optional<FindingStatus> newStatus;
    if (content.contains("status")) {
        auto s = content["status"].is_string() ? parseEnum<FindingStatus>(content["status"].get<std::string>()) : std::nullopt;
        if (!s) return refused("status must be one of " + allSpellings<FindingStatus>());
        if (*s != parseEnum<FindingStatus>(textOf(*rec, "status"))) newStatus = s;
        content.erase("status");
    }
    // The review's note goes with its decision (rules::checkFinding).
    Json note;
    if (content.contains("review_note")) {
        note = content["review_note"];
        content.erase("review_note");
        if (!newStatus || (*newStatus != FindingStatus::Returned && *newStatus != FindingStatus::Confirmed))
            return refused("a review note is written only with the review's decision: the move to returned or confirmed");
        if (!note.is_string() || note.get<std::string>().size() > rules::kMaxReviewNote)
            return refused("a review note is text of at most " + std::to_string(rules::kMaxReviewNote) + " bytes");
    }
    static const std::set<std::string> editable = {"title", "description", "category", "audit_category", "severity",
                                                   "tags", "immediate_fix", "responsible_person"};
    static const std::set<std::string> clearable = {"description", "audit_category", "responsible_person"};
    for (auto it = content.begin(); it != content.end(); ++it) {
        if (!editable.count(it.key()))
            return refused("'" + it.key() + "' is not an editable field of a finding (evidence is added with finding attach)");
        if (it.value().is_null() && !clearable.count(it.key())) return refused("'" + it.key() + "' cannot be cleared");
    }
    if (!content.empty()) {
        auto status = parseEnum<FindingStatus>(textOf(*rec, "status")).value_or(FindingStatus::Draft);
        XS_TRY_APP(fromVerdict(rules::mayEditContent(m_self.role, status)));
        // Content is edited by the inspection's team (every replica refuses other edits).
        auto insp = m_log->record("inspection", textOf(*rec, "inspection_id"));
        if (!insp) return fail(AppError::NotFound, "no inspection " + textOf(*rec, "inspection_id"));
        XS_TRY_APP(fromVerdict(rules::mayCapture(m_self.role, m_self.personId, *insp)));
        // Validate through the same parser as capture, on the merged record.
        Json merged = content;
        merged["inspection"] = textOf(*rec, "inspection_id");
        if (!merged.contains("title")) merged["title"] = textOf(*rec, "title");
        auto parsed = FindingInput::fromJson(merged);
        if (!parsed) return parsed.error();
        std::string auditCategory = content.contains("audit_category") ? parsed->auditCategory : textOf(*rec, "audit_category");
        if (m_self.role == Role::ThirdPartyAuditor && auditCategory.empty())
            return refused("a third-party auditor may edit audit matters only (article 5)");
    }
    if (newStatus) XS_TRY_APP(checkTransition(id, *rec, *newStatus));
    // Content and status change together in one change set, or not at all.
    sync::Draft d;
    std::string ch = teamChannel(textOf(*rec, "inspection_id"));
    for (auto it = content.begin(); it != content.end(); ++it) d.set(ch, "finding", id, it.key(), it.value());
    if (newStatus) d.set(ch, "finding", id, "status", toString(*newStatus));
    if (newStatus && note.is_string()) d.set(ch, "finding", id, "review_note", note);
    if (d.empty()) return {};
    auto cs = m_log->commit(d);
    if (!cs) return fromCommit(cs.error());
    return {};
}

AResult<std::string> Workspace::attachEvidence(const std::string& findingId, const fs::path& file, EvidencePurpose purpose) {
    XS_TRY_APP(requireEnrolled());
    auto rec = m_log->record("finding", findingId);
    if (!rec) return fail(AppError::NotFound, "no finding " + findingId);
    std::string inspectionId = textOf(*rec, "inspection_id");
    XS_TRY_APP(requireAgreement(inspectionId));
    if (purpose == EvidencePurpose::Evidence) XS_TRY_APP(checkCaptureAllowed(inspectionId));
    XS_TRY_APP(fromVerdict(rules::mayAttach(purpose, m_self.role)));
    XS_TRY_APP(checkEvidencePath({}, file, false));
    sync::Draft d;
    std::vector<StoredEvidence> stored;
    auto hash = storeEvidence(file, d, findingId, inspectionId, purpose, stored);
    if (!hash) return hash.error();
    auto cs = commitWithEvidence(d, stored);
    if (!cs) return cs.error();
    return *hash;
}

AResult<Json> Workspace::findingJson(const std::string& id) {
    auto s = m_store->db().prepare((selectAll("finding") + " WHERE id = ?").c_str());
    if (!s) return fromSync(s.error());
    s->bind(1, id);
    auto rows = rowsToJson(*s, columnsOf("finding"));
    if (!rows) return rows;
    if (rows->empty()) return fail(AppError::NotFound, "no finding " + id);
    Json f = (*rows)[0];
    f["inspection"] = f["inspection_id"];
    // Not a projected column: the last review's note, from the op log.
    if (auto rec = m_log->record("finding", id)) f["review_note"] = textOf(*rec, "review_note");
    if (f["tags"].is_null()) f["tags"] = Json::array();
    auto a = m_store->db().prepare((selectAll("attachment") + " WHERE finding_id = ? ORDER BY purpose, hash").c_str());
    if (!a) return fromSync(a.error());
    a->bind(1, id);
    auto att = rowsToJson(*a, columnsOf("attachment"));
    if (!att) return att;
    for (auto& x : *att) {
        // held: the file is here; pending: attached elsewhere, not arrived yet; shredded: removed after a handover.
        auto entry = m_store->evidenceEntry(textOf(f, "inspection_id"), textOf(x, "hash"));
        if (!entry) return fromSync(entry.error());
        x["state"] = !*entry ? "pending" : (*entry)->shredded ? "shredded" : "held";
    }
    Json evidence = Json::array();
    for (const auto& x : *att)
        if (x["purpose"] == "evidence") evidence.push_back(x["hash"]);
    f["evidence"] = evidence;
    f["attachments"] = *att;
    auto c = m_store->db().prepare("SELECT DISTINCT field FROM conflicts WHERE kind = 'finding' AND record_id = ? ORDER BY field");
    if (!c) return fromSync(c.error());
    c->bind(1, id);
    Json conflicted = Json::array();
    for (;;) {
        auto row = c->step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        conflicted.push_back(c->text(0));
    }
    f["conflicts"] = conflicted;
    return f;
}

AStatus Workspace::eachFinding(const std::string& inspectionKey, const std::function<void(Json&&)>& each) {
    std::string sql = "SELECT id, COALESCE(inspection_id, '') FROM findings";
    std::string inspectionId;
    if (!inspectionKey.empty()) {
        auto r = resolve("inspections", inspectionKey, "inspection");
        if (!r) return r.error();
        inspectionId = *r;
        XS_TRY_APP(requireAgreement(inspectionId));  // asked for by name: say what to do
        sql += " WHERE inspection_id = ?";
    }
    sql += " ORDER BY created_at, id";
    auto gated = gatedInspections();
    if (!gated) return gated.error();
    auto s = m_store->db().prepare(sql.c_str());
    if (!s) return fromSync(s.error());
    if (!inspectionId.empty()) s->bind(1, inspectionId);
    std::vector<std::string> ids;
    for (;;) {
        auto row = s->step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        if (!gated->count(s->text(1))) ids.push_back(s->text(0));  // not before its agreement is signed
    }
    s.value().reset();
    for (const auto& id : ids) {
        auto f = findingJson(id);
        if (!f) return f.error();
        each(std::move(*f));
    }
    return {};
}

AResult<Json> Workspace::findings(const std::string& inspectionKey) {
    Json out = Json::array();
    XS_TRY_APP(eachFinding(inspectionKey, [&out](Json&& f) { out.push_back(std::move(f)); }));
    return out;
}

AResult<Json> Workspace::finding(const std::string& id) {
    auto f = findingJson(id);
    if (!f) return f;
    XS_TRY_APP(requireAgreement(textOf(*f, "inspection_id")));
    return f;
}

AResult<Json> Workspace::history(const std::string& recordId) {
    auto inspections = inspectionsOfRecord(recordId);
    if (!inspections) return inspections.error();
    for (const auto& i : *inspections) XS_TRY_APP(requireAgreement(i));
    auto h = m_log->history(recordId);
    if (!h) return fromSync(h.error());
    if (h->empty()) return fail(AppError::NotFound, "no history for " + recordId);
    Json out = Json::array();
    for (const auto& v : *h)
        out.push_back({{"op_id", v.opId}, {"change_set", v.changeSet}, {"time", isoTime(v.hlc)}, {"hlc", v.hlc},
                       {"device", v.device}, {"field", v.field}, {"value", v.value}});
    return out;
}

AResult<Json> Workspace::conflicts() {
    auto c = m_log->conflicts();
    if (!c) return fromSync(c.error());
    auto gated = gatedInspections();
    if (!gated) return gated.error();
    Json out = Json::array();
    for (const auto& x : *c) {
        auto of = inspectionsOfRecord(x.recordId);
        if (!of) return of.error();
        if (std::any_of(of->begin(), of->end(), [&](const std::string& i) { return gated->count(i) > 0; })) continue;
        Json versions = Json::array();
        for (const auto& v : x.versions)
            versions.push_back({{"op_id", v.opId}, {"time", isoTime(v.hlc)}, {"device", v.device}, {"value", v.value}});
        out.push_back({{"kind", x.kind}, {"id", x.recordId}, {"field", x.field}, {"versions", versions}});
    }
    return out;
}

}  // namespace xs::app
