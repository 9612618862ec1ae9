// The organisation: the org file (strict, store-free) and its import, units and people.
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

}  // namespace xs::app
