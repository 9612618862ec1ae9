#include "app/workspace.h"
#include "sync/record_fields.h"

#include "app/files.h"

#include <algorithm>
#include <set>

#include "sync/changeset_codec.h"
#include "sync/file_io.h"
#include "sync/keyfile.h"
#include "sync/uuid.h"

namespace xs::app {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kMaxTitle = 300;
constexpr std::size_t kMaxText = 50000;
constexpr int kStandardOnsiteDays = 7;  // article 7(2): one week on site

template <typename E>
AResult<E> enumField(const Json& j, const char* key, E fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_string()) return refused(std::string(key) + " must be a string");
    auto v = parseEnum<E>(it->get<std::string>());
    if (!v) return refused(std::string(key) + " must be one of " + allSpellings<E>() + ", not '" + it->get<std::string>() + "'");
    return *v;
}

AResult<std::string> stringField(const Json& j, const char* key, std::size_t maxLen) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::string();
    if (!it->is_string()) return refused(std::string(key) + " must be a string");
    auto s = it->get<std::string>();
    if (s.size() > maxLen) return refused(std::string(key) + " is longer than " + std::to_string(maxLen) + " bytes");
    return s;
}

std::string isoTime(std::uint64_t hlc) {
    std::int64_t ms = sync::hlcMillis(hlc);
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::int64_t intOf(const Json& rec, const char* key, std::int64_t fallback) {
    auto it = rec.find(key);
    return it != rec.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

AStatus fromVerdict(const rules::Verdict& v) {
    if (v.ok()) return {};
    return refused(v.refusal);
}

// A refusal by a rule on commit comes back as Forbidden with the rule's reason.
Error<AppError> fromCommit(const Error<sync::SyncError>& e) {
    if (e.code == sync::SyncError::Forbidden) return refused(e.message);
    return fromSync(e);
}

}  // namespace

std::string textOf(const Json& rec, const char* key) {
    auto it = rec.find(key);
    return it != rec.end() && it->is_string() ? it->get<std::string>() : std::string();
}

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

// ---------------------------------------------------------------- open / init

AStatus Workspace::openLog(const sync::Clock& clock) {
    m_clock = &clock;
    XS_TRY_SYNC(m_store->migrate(appMigrations()));
    m_log = std::make_unique<sync::OpLog>(*m_store, m_projection, clock);
    XS_TRY_SYNC(m_log->open());
    m_log->setValidator(&m_validator);
    return {};
}

AResult<std::unique_ptr<Workspace>> Workspace::init(const fs::path& dir, std::string_view passphrase,
                                                     const std::string& name, Role role,
                                                     const crypto::Argon2Params& kdf, const sync::Clock& clock) {
    if (name.empty() || name.size() > 200) return refused("a name is required");
    auto store = sync::Store::create(dir, passphrase, kdf);
    if (!store) {
        if (store.code() == sync::SyncError::AlreadyExists) return refused(store.message());
        return fromSync(store.error());
    }
    std::unique_ptr<Workspace> ws(new Workspace());
    ws->m_store = std::move(*store);
    XS_TRY_APP(ws->openLog(clock));
    // What this store's owner says of themselves until the office's records say it.
    XS_TRY_SYNC(ws->m_store->setMeta("self_claim", Json{{"name", name}, {"role", toString(role)}}.dump()));
    if (role == Role::AuditOffice) {
        // The audit office's store is the registrar: it pins itself, writes its person and
        // registers its own device in its first change set.
        auto personId = sync::newUuidV7();
        if (!personId) return fromSync(personId.error());
        const auto& me = ws->m_log->identity().publicInfo();
        sync::Draft d;
        d.set(orgChannel(), "person", *personId, "name", name);
        d.set(orgChannel(), "person", *personId, "role", toString(role));
        d.registerDevice({me.id, me.signKey, me.exchangeKey, me.subkeys, *personId, std::nullopt, {}});
        auto tx = sync::Transaction::begin(ws->m_store->db());
        if (!tx) return fromSync(tx.error());
        XS_TRY_SYNC(ws->m_log->pinTrustRoot({me.id, me.signKey}));
        XS_TRY_SYNC(tx->commit());
        auto cs = ws->m_log->commit(d);
        if (!cs) return fromCommit(cs.error());
    }
    XS_TRY_APP(ws->reloadSelf());
    return ws;
}

AResult<std::unique_ptr<Workspace>> Workspace::open(const fs::path& dir, std::string_view passphrase,
                                                     const sync::Clock& clock) {
    auto store = sync::Store::open(dir, passphrase);
    if (!store) return fromSync(store.error());
    std::unique_ptr<Workspace> ws(new Workspace());
    ws->m_store = std::move(*store);
    XS_TRY_APP(ws->openLog(clock));
    XS_TRY_APP(ws->reloadSelf());
    // A confirm killed after its commit leaves shredded files (their key is gone) and their
    // entries: they go now.
    XS_TRY_SYNC(ws->m_store->finishShredding());
    return ws;
}

AResult<std::unique_ptr<Workspace>> Workspace::openAnother() const {
    auto store = m_store->openAnother();
    if (!store) return fromSync(store.error());
    std::unique_ptr<Workspace> ws(new Workspace());
    ws->m_store = std::move(*store);
    XS_TRY_APP(ws->openLog(*m_clock));
    XS_TRY_APP(ws->reloadSelf());
    return ws;
}

AResult<std::int64_t> Workspace::dataVersion() {
    auto s = m_store->db().prepare("PRAGMA data_version");
    if (!s) return fromSync(s.error());
    auto row = s->step();
    if (!row) return fromSync(row.error());
    return s->int64(0);
}

AStatus Workspace::reloadSelf() {
    auto claim = m_store->meta("self_claim");
    if (!claim) return fail(AppError::Failed, "store has no owner (damaged store?)");
    Json c = Json::parse(*claim, nullptr, false);
    auto claimedRole = c.is_object() ? parseEnum<Role>(textOf(c, "role")) : std::nullopt;
    if (!claimedRole) return fail(AppError::Failed, "store owner has an unknown role");
    m_self = {"", textOf(c, "name"), *claimedRole, false, false};
    // Once registered, the owner is the person the office's records bind this device to.
    auto reg = m_log->self();
    if (!reg) return fromSync(reg.error());
    if (!*reg) return {};
    auto person = m_log->record("person", (*reg)->principal);
    if (!person) return fail(AppError::Failed, "the person this device is registered for is missing (run rebuild)");
    auto role = parseEnum<Role>(textOf(*person, "role"));
    if (!role) return fail(AppError::Failed, "the person this device is registered for has an unknown role");
    m_self = {(*reg)->principal, textOf(*person, "name"), *role, true, (*reg)->revokedSeq.has_value()};
    return {};
}

std::string Workspace::timeZone() const {
    auto org = m_log->record(kOrganisationKind, kOrganisationRecord);
    std::string zone = org ? textOf(*org, "time_zone") : std::string();
    return zoneOffsetMinutes(zone) ? zone : std::string(kDefaultTimeZone);
}

int Workspace::today() const { return dayAt(m_clock->nowMs(), *zoneOffsetMinutes(timeZone())); }

AStatus Workspace::requireEnrolled() const {
    if (m_self.revoked) return refused("the audit office revoked this device: nothing it writes is accepted any more");
    if (!m_self.enrolled)
        return refused("this store is not enrolled yet: export its identity (identity export), have the audit office enrol "
                       "it, then accept the office's enrolment file (org enrol)");
    return {};
}

// ---------------------------------------------------------------- lookups

AResult<std::string> Workspace::resolve(const char* table, const std::string& key, const char* what) {
    if (key.empty()) return refused(std::string(what) + " is required");
    // `table` is one of this file's constants.
    const std::string t(table);
    bool hasCode = t == "units" || t == "people";
    std::string byId = "SELECT id FROM " + t + " WHERE id = ?";
    std::string byName = hasCode ? "SELECT id FROM " + t + " WHERE code = ?1 OR name = ?1"
                                 : (t == "inspections" ? "SELECT id FROM " + t + " WHERE title = ?1"
                                                       : "SELECT id FROM " + t + " WHERE name = ?1");
    for (const std::string* sql : {&byId, &byName}) {
        auto s = m_store->db().prepare(sql->c_str());
        if (!s) return fromSync(s.error());
        s->bind(1, key);
        std::vector<std::string> ids;
        XS_TRY_SYNC(s->collectTexts(ids));
        if (ids.size() == 1) return ids[0];
        if (ids.size() > 1) return refused(std::string(what) + " '" + key + "' is ambiguous; use its id");
    }
    return fail(AppError::NotFound, std::string("no ") + what + " '" + key + "'");
}

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

// ---------------------------------------------------------------- organisation

AResult<OrgFile> parseOrgFile(const Json& doc, const std::function<bool(const std::string& code)>& unitExists) {
    if (!doc.is_object()) return refused("organisation file must be a JSON object");
    for (auto it = doc.begin(); it != doc.end(); ++it)
        if (it.key() != "organisation" && it.key() != "units" && it.key() != "people" && it.key() != "rounds")
            return refused("organisation file: unknown key '" + it.key() + "'");
    const Json units = doc.value("units", Json::array());
    const Json people = doc.value("people", Json::array());
    const Json rounds = doc.value("rounds", Json::array());
    if (!units.is_array() || !people.is_array() || !rounds.is_array())
        return refused("organisation file: units, people and rounds must be lists");
    const Json organisation = doc.value("organisation", Json::object());
    if (!organisation.is_object()) return refused("organisation file: organisation must be an object");
    for (auto it = organisation.begin(); it != organisation.end(); ++it) {
        if (it.key() != "name" && it.key() != "time_zone")
            return refused("organisation file: organisation has no key '" + it.key() + "'");
        if (!it->is_string()) return refused("organisation file: organisation." + it.key() + " must be text");
    }
    if (organisation.contains("time_zone") && !zoneOffsetMinutes(organisation["time_zone"].get<std::string>()))
        return refused("organisation file: time_zone " + organisation["time_zone"].get<std::string>() +
                       " is not a zone this version knows (Asia/Shanghai, Asia/Urumqi, UTC, or UTC+HH:MM)");

    auto str = [](const Json& o, const char* k) -> std::string {
        auto it = o.find(k);
        return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    // Validate everything before writing anything.
    struct KnownKeys {
        const Json* list;
        const char* what;
        std::vector<std::string> keys;
    };
    const KnownKeys known[] = {{&units, "units", {"code", "name", "kind"}},
                               {&people, "people", {"code", "name", "role", "title", "unit"}},
                               {&rounds, "rounds", {"name", "start_year"}}};
    for (const auto& k : known)
        for (std::size_t i = 0; i < k.list->size(); ++i) {
            const Json& o = (*k.list)[i];
            if (!o.is_object()) continue;
            for (auto it = o.begin(); it != o.end(); ++it)
                if (std::find(k.keys.begin(), k.keys.end(), it.key()) == k.keys.end())
                    return refused(std::string(k.what) + "[" + std::to_string(i) + "] has no key '" + it.key() + "'");
        }
    OrgFile file;
    if (organisation.contains("name")) file.name = organisation["name"].get<std::string>();
    if (organisation.contains("time_zone")) file.timeZone = organisation["time_zone"].get<std::string>();
    std::set<std::string> unitCodes, personCodes;
    for (std::size_t i = 0; i < units.size(); ++i) {
        const Json& u = units[i];
        std::string where = "units[" + std::to_string(i) + "]";
        if (!u.is_object()) return refused(where + " must be an object");
        if (str(u, "code").empty() || str(u, "name").empty()) return refused(where + " needs code and name");
        if (!unitCodes.insert(str(u, "code")).second) return refused(where + ": duplicate code " + str(u, "code"));
        file.units.push_back({str(u, "code"), str(u, "name"), str(u, "kind").empty() ? "public_institution" : str(u, "kind")});
    }
    for (std::size_t i = 0; i < people.size(); ++i) {
        const Json& p = people[i];
        std::string where = "people[" + std::to_string(i) + "]";
        if (!p.is_object()) return refused(where + " must be an object");
        if (str(p, "code").empty() || str(p, "name").empty()) return refused(where + " needs code and name");
        if (!parseEnum<Role>(str(p, "role"))) return refused(where + ": role must be one of " + allSpellings<Role>());
        if (!personCodes.insert(str(p, "code")).second) return refused(where + ": duplicate code " + str(p, "code"));
        if (!str(p, "unit").empty() && !unitCodes.count(str(p, "unit")) && !unitExists(str(p, "unit")))
            return refused(where + ": unknown unit " + str(p, "unit"));
        file.people.push_back({str(p, "code"), str(p, "name"), str(p, "role"), str(p, "title"), str(p, "unit")});
    }
    for (std::size_t i = 0; i < rounds.size(); ++i) {
        const Json& r = rounds[i];
        std::string where = "rounds[" + std::to_string(i) + "]";
        if (!r.is_object() || str(r, "name").empty() || !r.contains("start_year") || !r["start_year"].is_number_integer())
            return refused(where + " needs name and start_year");
        // Read as 64 bits and bounded before narrowing: an int read truncated large years and
        // overflowed start_year + 2.
        const auto start = r["start_year"].get<std::int64_t>();
        if (start < rules::kFirstRoundYear || start > rules::kLastRoundYear)
            return refused(where + ": start_year must be a year from " + std::to_string(rules::kFirstRoundYear) + " to " +
                           std::to_string(rules::kLastRoundYear));
        const int year = static_cast<int>(start);
        file.rounds.push_back({str(r, "name"), year, year + 2});  // article 4: a 3-year cycle
    }
    if (file.units.empty() && file.people.empty() && file.rounds.empty() && !file.name && !file.timeZone)
        return refused("organisation file contains nothing to import");
    return file;
}

AResult<Json> Workspace::importOrg(const Json& doc) {
    XS_TRY_APP(requireEnrolled());
    XS_TRY_APP(fromVerdict(rules::mayWriteOrganisation(m_self.role)));
    // Everything is checked before anything is written.
    auto file = parseOrgFile(doc, [&](const std::string& code) { return resolve("units", code, "unit").ok(); });
    if (!file) return file.error();

    // A large organisation goes in change sets of at most kOrgRecordsPerChangeSet records, all in
    // one transaction: the import stands or falls as a whole.
    std::vector<sync::Draft> drafts(1);
    auto room = [&]() {
        if (drafts.back().recordCount() >= kOrgRecordsPerChangeSet) drafts.emplace_back();
    };
    // Only what differs from the records is written: an owner's import of the same file changes
    // nothing (and so writes no role, and not the office's own record, which are the registrar's).
    std::map<std::pair<std::string, std::string>, Json> current;
    auto put = [&](const char* kind, const std::string& id, const char* field, Json value) {
        auto key = std::make_pair(std::string(kind), id);
        auto it = current.find(key);
        if (it == current.end()) {
            auto rec = m_log->record(kind, id);
            it = current.emplace(key, rec ? *rec : Json::object()).first;
        }
        if (it->second.contains(field) && it->second[field] == value) return;
        drafts.back().set(orgChannel(), kind, id, field, std::move(value));
    };
    std::map<std::string, std::string> unitIds;
    auto idFor = [&](const char* table, const std::string& code) -> AResult<std::string> {
        std::string sql = std::string("SELECT id FROM ") + table + " WHERE code = ?";
        auto s = m_store->db().prepare(sql.c_str());
        if (!s) return fromSync(s.error());
        s->bind(1, code);
        auto row = s->step();
        if (!row) return fromSync(row.error());
        if (*row) return s->text(0);
        auto id = sync::newUuidV7();
        if (!id) return fromSync(id.error());
        return *id;
    };
    if (file->name) put(kOrganisationKind, kOrganisationRecord, "name", *file->name);
    if (file->timeZone) put(kOrganisationKind, kOrganisationRecord, "time_zone", *file->timeZone);
    for (const auto& u : file->units) {
        room();
        auto id = idFor("units", u.code);
        if (!id) return id.error();
        unitIds[u.code] = *id;
        put("unit", *id, "code", u.code);
        put("unit", *id, "name", u.name);
        put("unit", *id, "unit_kind", u.kind);
    }
    for (const auto& p : file->people) {
        room();
        std::string id;
        // The store's owner, listed in the file, keeps their own record.
        if (!m_self.personId.empty() && p.name == m_self.name && p.role == toString(m_self.role)) {
            id = m_self.personId;
        } else {
            auto found = idFor("people", p.code);
            if (!found) return found.error();
            id = *found;
        }
        put("person", id, "code", p.code);
        put("person", id, "name", p.name);
        put("person", id, "role", p.role);
        put("person", id, "title", p.title);
        if (!p.unit.empty()) {
            std::string unit = unitIds.count(p.unit) ? unitIds[p.unit] : *resolve("units", p.unit, "unit");
            put("person", id, "unit_id", unit);
        }
    }
    for (const auto& r : file->rounds) {
        room();
        auto existing = resolve("rounds", r.name, "round");
        std::string id;
        if (existing) {
            id = *existing;
        } else {
            auto fresh = sync::newUuidV7();
            if (!fresh) return fromSync(fresh.error());
            id = *fresh;
        }
        put("round", id, "name", r.name);
        put("round", id, "start_year", r.startYear);
        put("round", id, "end_year", r.endYear);
    }
    Json result = {{"units", file->units.size()}, {"people", file->people.size()}, {"rounds", file->rounds.size()}, {"change_set", nullptr}};
    if (drafts.back().empty()) drafts.pop_back();
    if (drafts.empty()) return result;  // the records say all the file says already
    auto tx = sync::Transaction::begin(m_store->db());
    if (!tx) return fromSync(tx.error());
    Json ids = Json::array();
    for (const auto& d : drafts) {
        auto cs = m_log->commit(d);
        if (!cs) return fromCommit(cs.error());
        ids.push_back(cs->id);
    }
    XS_TRY_SYNC(tx->commit());
    result["change_set"] = ids.back();
    result["change_sets"] = ids;
    return result;
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

// ---------------------------------------------------------------- channel membership

AResult<std::vector<std::string>> Workspace::devicesOf(const std::string& personId) {
    auto all = m_log->devices();
    if (!all) return fromSync(all.error());
    std::vector<std::string> out;
    for (const auto& d : *all)
        if (d.principal == personId && !d.revokedSeq) out.push_back(d.id);
    return out;
}

AResult<std::map<std::string, std::vector<sync::ChannelMember>>> Workspace::wantedMembers(const std::string& inspectionId,
                                                                                          const Json& inspection) {
    std::set<std::string> team, office, unitHeads;
    if (auto t = inspection.find("team"); t != inspection.end() && t->is_array())
        for (const auto& p : *t)
            if (p.is_string()) team.insert(p.get<std::string>());
    if (!textOf(inspection, "lead_id").empty()) team.insert(textOf(inspection, "lead_id"));
    auto s = m_store->db().prepare("SELECT id, role, COALESCE(unit_id, '') FROM people ORDER BY id");
    if (!s) return fromSync(s.error());
    for (;;) {
        auto row = s->step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        auto role = parseEnum<Role>(s->text(1));
        if (!role) continue;
        // The audit office and the leading group read the team channel (DESIGN.md "Channels").
        if (*role == Role::AuditOffice) office.insert(s->text(0));
        if (*role == Role::AuditOffice || isLeadingGroup(*role)) team.insert(s->text(0));
        if (*role == Role::UnitHead && s->text(2) == textOf(inspection, "unit_id")) unitHeads.insert(s->text(0));
    }
    s.value().reset();
    std::map<std::string, std::vector<sync::ChannelMember>> out;
    auto add = [&](const std::string& channel, const std::set<std::string>& people,
                   const std::vector<std::string>& kinds) -> AStatus {
        auto& list = out[channel];
        for (const auto& p : people) {
            auto devices = devicesOf(p);
            if (!devices) return devices.error();
            for (const auto& d : *devices) list.push_back({d, kinds});
        }
        return {};
    };
    XS_TRY_APP(add(teamChannel(inspectionId), team, {"*"}));
    XS_TRY_APP(add(unitChannel(inspectionId), team, {"*"}));
    // The unit head reads the unit channel and answers in it; it never receives the team key.
    XS_TRY_APP(add(unitChannel(inspectionId), unitHeads, {"unit_reply", "notice_ack"}));
    XS_TRY_APP(add(clueChannel(inspectionId), office, {"*"}));
    return out;
}

AResult<int> Workspace::revokeDevice(const std::string& deviceId) {
    auto root = m_log->trustRoot();
    if (!root) return fromSync(root.error());
    if (!*root || (*root)->device != m_log->deviceId())
        return refused("only the audit office's store (the registrar) revokes devices");
    if (deviceId == m_log->deviceId()) return refused("a store cannot revoke its own device");
    auto reg = m_log->device(deviceId);
    if (!reg) return fromSync(reg.error());
    if (!*reg) return fail(AppError::NotFound, "no enrolled device " + deviceId);
    if (!(*reg)->revokedSeq) {
        // The pin: the last change set of the device this office holds. Everything after it, from
        // wherever it comes and whatever time it claims, is refused on every replica.
        auto vv = m_log->versionVector();
        if (!vv) return fromSync(vv.error());
        std::int64_t last = vv->count(deviceId) ? vv->at(deviceId) : 0;
        crypto::Bytes hash;
        if (last > 0) {
            auto sets = m_store->db().prepare("SELECT hash FROM changesets WHERE device = ? AND seq = ?");
            if (!sets) return fromSync(sets.error());
            sets->bind(1, deviceId).bind(2, last);
            auto row = sets->step();
            if (!row) return fromSync(row.error());
            if (!*row) return fail(AppError::Failed, "the chain of device " + deviceId + " is damaged here");
            hash = sets->blob(0);
        }
        sync::Draft d;
        d.revokeDevice(deviceId, last, hash);
        auto cs = m_log->commit(d);
        if (!cs) return fromCommit(cs.error());
    }
    // The rotation derives from the revocation, so a crash in between is repaired by running
    // revoke again (or by any later membership update).
    return updateChannelMembers();
}

AResult<int> Workspace::updateChannelMembers() {
    auto list = m_store->db().prepare("SELECT id FROM inspections ORDER BY id");
    if (!list) return fromSync(list.error());
    std::vector<std::string> ids;
    XS_TRY_SYNC(list->collectTexts(ids));
    auto gone = m_log->shredded();
    if (!gone) return fromSync(gone.error());
    std::set<std::string> shredded;
    for (const auto& c : *gone) shredded.insert(c.channel);
    sync::Draft d;
    int changes = 0;
    for (const auto& id : ids) {
        auto channel = m_log->record(sync::kChannelKind, teamChannel(id));
        if (!channel || textOf(*channel, "admin") != m_log->deviceId()) continue;  // not ours to manage
        if (shredded.count(teamChannel(id))) continue;  // shredded here: managed no more
        auto inspection = m_log->record("inspection", id);
        if (!inspection) return fromSync(inspection.error());
        auto wanted = wantedMembers(id, *inspection);
        if (!wanted) return wanted.error();
        for (const auto& [ch, members] : *wanted) {
            auto current = m_log->members(ch);
            if (!current) return fromSync(current.error());
            std::set<std::string> have, want;
            for (const auto& m : *current) have.insert(m.device);
            for (const auto& m : members) {
                want.insert(m.device);
                if (!have.count(m.device)) {
                    d.addMember(ch, m);
                    ++changes;
                }
            }
            for (const auto& m : *current) {
                if (m.device == m_log->deviceId() || want.count(m.device)) continue;
                d.removeMember(ch, m.device);
                ++changes;
            }
        }
    }
    if (changes == 0) return 0;
    auto cs = m_log->commit(d);
    if (!cs) return fromCommit(cs.error());
    return changes;
}

AResult<std::string> Workspace::requestExtension(const std::string& inspectionId, int days, const std::string& reason) {
    XS_TRY_APP(requireEnrolled());
    XS_TRY_APP(fromVerdict(rules::mayRequestExtension(m_self.role)));
    auto insp = m_log->record("inspection", inspectionId);
    if (!insp) return fail(AppError::NotFound, "no inspection " + inspectionId);
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
    sync::Draft d;
    std::string ch = teamChannel(textOf(*ext, "inspection_id"));
    d.set(ch, "extension", extensionId, "status", toString(approve ? ExtensionStatus::Approved : ExtensionStatus::Rejected));
    d.set(ch, "extension", extensionId, "decided_by", m_self.personId);
    auto cs = m_log->commit(d);
    if (!cs) return fromCommit(cs.error());
    return {};
}

// ---------------------------------------------------------------- findings

AResult<std::string> Workspace::storeEvidence(const fs::path& file, sync::Draft& d, const std::string& findingId,
                                              const std::string& inspectionId, EvidencePurpose purpose,
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
    stored.push_back({inspectionId, info->hash, info->size, !info->deduplicated && !*known, scope->key.clone()});
    // The same file for the same purpose is attached once.
    auto same = m_store->db().prepare("SELECT 1 FROM attachments WHERE finding_id = ? AND hash = ? AND purpose = ?");
    if (!same) return fromSync(same.error());
    same->bind(1, findingId).bind(2, info->hash).bind(3, toString(purpose));
    auto attached = same->step();
    if (!attached) return fromSync(attached.error());
    if (*attached) return info->hash;
    // A random id its device owns: the hash stays inside the sealed body (an op's record id is in
    // the clear, and outlives a shredding), and nobody else can make the same attachment.
    auto attachmentId = sync::newOwnedId(m_log->deviceId());
    if (!attachmentId) return fromSync(attachmentId.error());
    std::string channel = teamChannel(inspectionId);
    d.set(channel, "attachment", *attachmentId, "finding_id", findingId);
    d.set(channel, "attachment", *attachmentId, "hash", info->hash);
    d.set(channel, "attachment", *attachmentId, "name", file.filename().string());
    d.set(channel, "attachment", *attachmentId, "size", static_cast<std::int64_t>(info->size));
    d.set(channel, "attachment", *attachmentId, "purpose", toString(purpose));
    d.set(channel, "attachment", *attachmentId, "added_by", m_self.personId);
    return info->hash;
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

AStatus Workspace::transitionFinding(const std::string& id, FindingStatus to) {
    return editFinding(id, Json{{"status", toString(to)}});
}

AStatus Workspace::editFinding(const std::string& id, const Json& fields) {
    XS_TRY_APP(requireEnrolled());
    if (!fields.is_object() || fields.empty()) return refused("nothing to change");
    auto rec = m_log->record("finding", id);
    if (!rec) return fail(AppError::NotFound, "no finding " + id);
    Json content = fields;
    std::optional<FindingStatus> newStatus;
    if (content.contains("status")) {
        auto s = content["status"].is_string() ? parseEnum<FindingStatus>(content["status"].get<std::string>()) : std::nullopt;
        if (!s) return refused("status must be one of " + allSpellings<FindingStatus>());
        if (*s != parseEnum<FindingStatus>(textOf(*rec, "status"))) newStatus = s;
        content.erase("status");
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

// ---------------------------------------------------------------- queries

namespace {

AResult<Json> rowsToJson(sync::Stmt& s, const std::vector<std::pair<std::string, ColumnType>>& cols) {
    Json out = Json::array();
    for (;;) {
        auto row = s.step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        Json o = Json::object();
        for (std::size_t i = 0; i < cols.size(); ++i) {
            int c = static_cast<int>(i);
            if (s.isNull(c)) {
                o[cols[i].first] = nullptr;
                continue;
            }
            switch (cols[i].second) {
                case ColumnType::Text: o[cols[i].first] = s.text(c); break;
                case ColumnType::Int: o[cols[i].first] = s.int64(c); break;
                case ColumnType::Bool: o[cols[i].first] = s.int64(c) != 0; break;
                case ColumnType::Json: o[cols[i].first] = Json::parse(s.text(c), nullptr, false); break;
            }
        }
        out.push_back(std::move(o));
    }
    return out;
}

std::vector<std::pair<std::string, ColumnType>> columnsOf(const char* kind) {
    std::vector<std::pair<std::string, ColumnType>> cols = {{"id", ColumnType::Text}};
    for (const auto& c : findRecordType(kind)->columns) cols.emplace_back(c.field, c.type);
    return cols;
}

std::string selectAll(const char* kind) {
    const RecordType* t = findRecordType(kind);
    std::string sql = "SELECT id";
    for (const auto& c : t->columns) sql += std::string(", ") + c.field;
    return sql + " FROM " + t->table;
}

}  // namespace

AResult<Json> Workspace::units() {
    auto s = m_store->db().prepare((selectAll("unit") + " ORDER BY code").c_str());
    if (!s) return fromSync(s.error());
    return rowsToJson(*s, columnsOf("unit"));
}

AResult<Json> Workspace::people() {
    auto s = m_store->db().prepare((selectAll("person") + " ORDER BY code, name").c_str());
    if (!s) return fromSync(s.error());
    return rowsToJson(*s, columnsOf("person"));
}

AResult<Json> Workspace::inspections() {
    auto s = m_store->db().prepare((selectAll("inspection") + " ORDER BY onsite_start, id").c_str());
    if (!s) return fromSync(s.error());
    auto list = rowsToJson(*s, columnsOf("inspection"));
    if (!list) return list;
    for (auto& i : *list) {
        i["kind"] = i["inspection_kind"];
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

AResult<Json> Workspace::findingJson(const std::string& id) {
    auto s = m_store->db().prepare((selectAll("finding") + " WHERE id = ?").c_str());
    if (!s) return fromSync(s.error());
    s->bind(1, id);
    auto rows = rowsToJson(*s, columnsOf("finding"));
    if (!rows) return rows;
    if (rows->empty()) return fail(AppError::NotFound, "no finding " + id);
    Json f = (*rows)[0];
    f["inspection"] = f["inspection_id"];
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

AResult<Json> Workspace::findings(const std::string& inspectionKey) {
    std::string sql = "SELECT id FROM findings";
    std::string inspectionId;
    if (!inspectionKey.empty()) {
        auto r = resolve("inspections", inspectionKey, "inspection");
        if (!r) return r.error();
        inspectionId = *r;
        sql += " WHERE inspection_id = ?";
    }
    sql += " ORDER BY created_at, id";
    auto s = m_store->db().prepare(sql.c_str());
    if (!s) return fromSync(s.error());
    if (!inspectionId.empty()) s->bind(1, inspectionId);
    std::vector<std::string> ids;
    XS_TRY_SYNC(s->collectTexts(ids));
    Json out = Json::array();
    for (const auto& id : ids) {
        auto f = findingJson(id);
        if (!f) return f;
        out.push_back(std::move(*f));
    }
    return out;
}

AResult<Json> Workspace::finding(const std::string& id) { return findingJson(id); }

AResult<Json> Workspace::history(const std::string& recordId) {
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
    Json out = Json::array();
    for (const auto& x : *c) {
        Json versions = Json::array();
        for (const auto& v : x.versions)
            versions.push_back({{"op_id", v.opId}, {"time", isoTime(v.hlc)}, {"device", v.device}, {"value", v.value}});
        out.push_back({{"kind", x.kind}, {"id", x.recordId}, {"field", x.field}, {"versions", versions}});
    }
    return out;
}

// ---------------------------------------------------------------- maintenance

AStatus Workspace::exportEvidence(const std::string& hash, const fs::path& out) {
    XS_TRY_APP(checkOutputPath(m_store->dir(), out));
    removeOrphansOf(out);
    // The evidence belongs to the inspection of a finding it is attached to.
    auto s = m_store->db().prepare("SELECT DISTINCT f.inspection_id FROM attachments a JOIN findings f ON f.id = a.finding_id"
                                   " WHERE a.hash = ?");
    if (!s) return fromSync(s.error());
    s->bind(1, hash);
    std::vector<std::string> scopes;
    XS_TRY_SYNC(s->collectTexts(scopes));
    if (scopes.empty()) return fail(AppError::NotFound, "no evidence with hash " + hash);
    for (const auto& scope : scopes) {
        auto entry = m_store->evidenceEntry(scope, hash);
        if (!entry) return fromSync(entry.error());
        if (!*entry || (*entry)->shredded) continue;
        auto key = m_store->evidenceScope(scope, false);
        if (!key) return fromSync(key.error());
        XS_TRY_SYNC(m_store->evidence().exportTo(*key, hash, out));
        return {};
    }
    return fail(AppError::NotFound, "evidence " + hash.substr(0, 12) +
                                        " is not on this store: it was attached elsewhere and has not arrived yet (pending), "
                                        "or it was shredded here after a handover");
}

AStatus Workspace::rebuild() {
    XS_TRY_SYNC(m_log->rebuild());
    return {};
}

AResult<Json> Workspace::shredAcknowledgements() {
    auto s = m_store->db().prepare("SELECT DISTINCT record_id FROM field_versions WHERE kind = ? ORDER BY record_id");
    if (!s) return fromSync(s.error());
    s->bind(1, std::string(sync::kShredAckKind));
    std::vector<std::string> ids;
    XS_TRY_SYNC(s->collectTexts(ids));
    Json out = Json::array();
    for (const auto& id : ids) {
        auto rec = m_log->record(sync::kShredAckKind, id);
        if (!rec) continue;
        Json a = *rec;
        a["device"] = id.substr(0, id.find('|'));
        out.push_back(std::move(a));
    }
    return out;
}

AResult<VerifyReport> Workspace::verify() {
    VerifyReport r;
    // The op log's own check first (its reads on a snapshot, its replay under the write lock for
    // as long as the replay takes), then everything else on one read snapshot: a commit by
    // another process is wholly seen or not at all, and no writer waits for these reads.
    auto problems = m_log->check();
    if (!problems) return fromSync(problems.error());
    for (auto& p : *problems) r.problems.push_back("op log: " + p);
    auto snapshot = sync::ReadSnapshot::begin(m_store->db());
    if (!snapshot) return fromSync(snapshot.error());
    auto ic = m_store->db().prepare("PRAGMA integrity_check");
    if (!ic) return fromSync(ic.error());
    for (;;) {
        auto row = ic->step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        if (ic->text(0) != "ok") r.problems.push_back("database: " + ic->text(0));
    }
    ic.value().reset();
    auto chain = m_log->chainIssues();
    if (!chain) return fromSync(chain.error());
    for (const auto& c : *chain) r.problems.push_back(c.kind + " in the chain of device " + c.device + ": " + c.detail);
    auto refused = m_log->refused();
    if (!refused) return fromSync(refused.error());
    for (const auto& x : *refused) r.refused.push_back({x.id, x.device, x.reason, x.seq});
    auto ops = m_log->opCount();
    if (!ops) return fromSync(ops.error());
    r.ops = *ops;
    auto f = m_store->db().prepare("SELECT count(*) FROM findings");
    if (!f) return fromSync(f.error());
    if (auto row = f->step(); !row) return fromSync(row.error());
    r.findings = f->int64(0);
    f.value().reset();
    auto w = m_store->db().prepare("SELECT value FROM meta WHERE key LIKE 'wiped:%' ORDER BY key");
    if (!w) return fromSync(w.error());
    for (;;) {
        auto row = w->step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        Json rec = Json::parse(w->text(0), nullptr, false);
        if (rec.is_object())
            r.wiped.push_back({textOf(rec, "inspection"), textOf(rec, "bundle_header_sha256"), sync::intOf(rec, "wiped_at").value_or(0),
                               sync::intOf(rec, "evidence_files_removed").value_or(0), sync::boolOf(rec, "keys_destroyed")});
    }
    w.value().reset();
    auto shredded = m_log->shredded();
    if (!shredded) return fromSync(shredded.error());
    for (const auto& c : *shredded) r.shredded.push_back({c.channel, c.reason, c.atMs});
    // Every file this store holds must decrypt and hash; evidence named by an attachment that has
    // not reached this store (attached on another replica) is pending, not a failure.
    auto entries = m_store->evidenceEntries();
    if (!entries) return fromSync(entries.error());
    std::set<std::pair<std::string, std::string>> known;
    for (const auto& e : *entries) {
        known.insert({e.scope, e.hash});
        if (e.shredded) continue;
        ++r.evidenceFiles;
        auto key = m_store->evidenceScope(e.scope, false);
        if (!key) {
            r.problems.push_back("evidence " + e.hash.substr(0, 12) + ": " + key.message());
            continue;
        }
        auto v = m_store->evidence().verify(*key, e.hash);
        if (!v) r.problems.push_back("evidence " + e.hash.substr(0, 12) + ": " + v.message());
    }
    auto e = m_store->db().prepare(
        "SELECT DISTINCT a.hash, COALESCE(f.inspection_id, ''), a.finding_id FROM attachments a LEFT JOIN findings f ON f.id = a.finding_id"
        " ORDER BY a.hash");
    if (!e) return fromSync(e.error());
    for (;;) {
        auto row = e->step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        if (known.count({e->text(1), e->text(0)})) continue;
        r.pending.push_back({e->text(0), e->text(1), e->text(2)});
    }
    e.value().reset();
    auto digest = m_log->projectionDigest();
    if (!digest) return fromSync(digest.error());
    r.projectionDigest = *digest;
    r.ok = r.problems.empty();
    return r;
}

AStatus Workspace::rekey(std::string_view newPassphrase, const crypto::Argon2Params& kdf) {
    XS_TRY_SYNC(m_store->rekey(newPassphrase, kdf));
    return {};
}

}  // namespace xs::app
