#include "app/schema.h"

namespace xs::app {

const std::vector<RecordType>& recordTypes() {
    using T = ColumnType;
    static const std::vector<RecordType> types = {
        {"unit", "units", {{"code", T::Text}, {"name", T::Text}, {"unit_kind", T::Text}}},
        {"person", "people", {{"code", T::Text}, {"name", T::Text}, {"role", T::Text}, {"unit_id", T::Text}, {"title", T::Text}}},
        {"round", "rounds", {{"name", T::Text}, {"start_year", T::Int}, {"end_year", T::Int}}},
        {"inspection", "inspections",
         {{"title", T::Text}, {"round_id", T::Text}, {"inspection_kind", T::Text}, {"mode", T::Text}, {"unit_id", T::Text},
          {"team", T::Json}, {"lead_id", T::Text}, {"onsite_start", T::Text}, {"onsite_days", T::Int}, {"status", T::Text},
          {"created_by", T::Text}}},
        {"extension", "extensions",
         {{"inspection_id", T::Text}, {"days", T::Int}, {"reason", T::Text}, {"status", T::Text}, {"requested_by", T::Text},
          {"decided_by", T::Text}}},
        {"finding", "findings",
         {{"inspection_id", T::Text}, {"title", T::Text}, {"description", T::Text}, {"category", T::Text},
          {"audit_category", T::Text}, {"severity", T::Text}, {"tags", T::Json}, {"immediate_fix", T::Bool},
          {"responsible_person", T::Text}, {"status", T::Text}, {"author", T::Text}, {"created_at", T::Int}}},
        {"attachment", "attachments",
         {{"finding_id", T::Text}, {"hash", T::Text}, {"name", T::Text}, {"size", T::Int}, {"purpose", T::Text},
          {"added_by", T::Text}, {"blob", T::Text}, {"blob_key", T::Text}, {"blob_size", T::Int}}},
        {"export", "exports",
         {{"inspection_id", T::Text}, {"what", T::Text}, {"subject", T::Text}, {"file_name", T::Text}, {"bytes", T::Int},
          {"exported_by", T::Text}, {"exported_at", T::Int}}},
        {"notice", "notices",
         {{"inspection_id", T::Text}, {"finding_id", T::Text}, {"problem", T::Text}, {"action", T::Text},
          {"deadline", T::Text}, {"issued_by", T::Text}, {"issued_at", T::Int}}},
        {"notice_ack", "notice_acks", {{"notice_id", T::Text}, {"acknowledged_by", T::Text}, {"acknowledged_at", T::Int}}},
        {"unit_reply", "unit_replies",
         {{"notice_id", T::Text}, {"text", T::Text}, {"replied_by", T::Text}, {"replied_at", T::Int}, {"file_hash", T::Text},
          {"file_name", T::Text}, {"file_size", T::Int}, {"blob", T::Text}, {"blob_key", T::Text}, {"blob_size", T::Int}}},
        {"clue", "clues",
         {{"inspection_id", T::Text}, {"finding_id", T::Text}, {"summary", T::Text}, {"transferred_to", T::Text},
          {"status", T::Text}, {"created_by", T::Text}, {"created_at", T::Int}, {"transferred_by", T::Text},
          {"transferred_at", T::Int}, {"received_by", T::Text}, {"received_at", T::Int}}},
        {"agreement", "agreements",
         {{"inspection_id", T::Text}, {"person_id", T::Text}, {"text_version", T::Text}, {"text_sha256", T::Text},
          {"signed_at", T::Int}}},
    };
    return types;
}

const RecordType* findRecordType(const std::string& kind) {
    for (const auto& t : recordTypes())
        if (kind == t.kind) return &t;
    return nullptr;
}

const std::vector<sync::Migration>& appMigrations() {
    static const std::vector<sync::Migration> m = {
        {"app", 1,
         "CREATE TABLE units (id TEXT PRIMARY KEY, code TEXT, name TEXT, unit_kind TEXT) WITHOUT ROWID;"
         "CREATE TABLE people (id TEXT PRIMARY KEY, code TEXT, name TEXT, role TEXT, unit_id TEXT, title TEXT) WITHOUT ROWID;"
         "CREATE TABLE rounds (id TEXT PRIMARY KEY, name TEXT, start_year INTEGER, end_year INTEGER) WITHOUT ROWID;"
         "CREATE TABLE inspections (id TEXT PRIMARY KEY, title TEXT, round_id TEXT, inspection_kind TEXT, mode TEXT,"
         "  unit_id TEXT, team TEXT, lead_id TEXT, onsite_start TEXT, onsite_days INTEGER, status TEXT, created_by TEXT) WITHOUT ROWID;"
         "CREATE TABLE extensions (id TEXT PRIMARY KEY, inspection_id TEXT, days INTEGER, reason TEXT, status TEXT,"
         "  requested_by TEXT, decided_by TEXT) WITHOUT ROWID;"
         "CREATE INDEX extensions_inspection ON extensions(inspection_id);"
         "CREATE TABLE findings (id TEXT PRIMARY KEY, inspection_id TEXT, title TEXT, description TEXT, category TEXT,"
         "  audit_category TEXT, severity TEXT, tags TEXT, immediate_fix INTEGER, responsible_person TEXT, status TEXT,"
         "  author TEXT, created_at INTEGER) WITHOUT ROWID;"
         "CREATE INDEX findings_inspection ON findings(inspection_id);"
         "CREATE TABLE attachments (id TEXT PRIMARY KEY, finding_id TEXT, hash TEXT, name TEXT, size INTEGER,"
         "  purpose TEXT, added_by TEXT) WITHOUT ROWID;"
         "CREATE INDEX attachments_finding ON attachments(finding_id);"},
        // Lookups by code and name (org import, resolving what a person typed) stay logarithmic.
        {"app", 2,
         "CREATE INDEX units_code ON units(code); CREATE INDEX units_name ON units(name);"
         "CREATE INDEX people_code ON people(code); CREATE INDEX people_name ON people(name);"
         "CREATE INDEX rounds_name ON rounds(name); CREATE INDEX inspections_title ON inspections(title);"},
        // Immediate-fix notices in the unit channel (article 7(2)) and what the unit answers.
        {"app", 3,
         "CREATE TABLE notices (id TEXT PRIMARY KEY, inspection_id TEXT, finding_id TEXT, problem TEXT, action TEXT,"
         "  deadline TEXT, issued_by TEXT, issued_at INTEGER) WITHOUT ROWID;"
         "CREATE INDEX notices_inspection ON notices(inspection_id);"
         "CREATE TABLE notice_acks (id TEXT PRIMARY KEY, notice_id TEXT, acknowledged_by TEXT, acknowledged_at INTEGER)"
         "  WITHOUT ROWID;"
         "CREATE TABLE unit_replies (id TEXT PRIMARY KEY, notice_id TEXT, text TEXT, replied_by TEXT, replied_at INTEGER)"
         "  WITHOUT ROWID;"
         "CREATE INDEX unit_replies_notice ON unit_replies(notice_id);"},
        // Evidence online: an attachment names its encrypted file as the server holds it (the
        // blob, its size and the file key that opens it); this device's uploads still to send.
        {"app", 4,
         "ALTER TABLE attachments ADD COLUMN blob TEXT;"
         "ALTER TABLE attachments ADD COLUMN blob_key TEXT;"
         "ALTER TABLE attachments ADD COLUMN blob_size INTEGER;"
         "CREATE TABLE blob_uploads (seq INTEGER PRIMARY KEY, blob TEXT NOT NULL UNIQUE, scope TEXT NOT NULL,"
         "  hash TEXT NOT NULL, size INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0);"
         // Who took data out of an encrypted store (article 7(4)).
         "CREATE TABLE exports (id TEXT PRIMARY KEY, inspection_id TEXT, what TEXT, subject TEXT, file_name TEXT,"
         "  bytes INTEGER, exported_by TEXT, exported_at INTEGER) WITHOUT ROWID;"
         "CREATE INDEX exports_inspection ON exports(inspection_id);"},
        // Clues for the discipline commission (线索移交), in each inspection's clue channel.
        {"app", 5,
         "CREATE TABLE clues (id TEXT PRIMARY KEY, inspection_id TEXT, finding_id TEXT, summary TEXT, transferred_to TEXT,"
         "  status TEXT, created_by TEXT, created_at INTEGER, transferred_by TEXT, transferred_at INTEGER, received_by TEXT,"
         "  received_at INTEGER) WITHOUT ROWID;"
         "CREATE INDEX clues_inspection ON clues(inspection_id);"},
        // Signed confidentiality agreements (保密协议, article 7(4)), in each inspection's team channel.
        {"app", 6,
         "CREATE TABLE agreements (id TEXT PRIMARY KEY, inspection_id TEXT, person_id TEXT, text_version TEXT,"
         "  text_sha256 TEXT, signed_at INTEGER) WITHOUT ROWID;"
         "CREATE INDEX agreements_inspection ON agreements(inspection_id);"
         "CREATE INDEX agreements_person ON agreements(person_id);"},
        // A unit head's reply may carry one rectification file (整改材料) in the unit channel; an
        // upload names the channel whose readers may fetch it (before: the scope's team channel).
        {"app", 7,
         "ALTER TABLE unit_replies ADD COLUMN file_hash TEXT;"
         "ALTER TABLE unit_replies ADD COLUMN file_name TEXT;"
         "ALTER TABLE unit_replies ADD COLUMN file_size INTEGER;"
         "ALTER TABLE unit_replies ADD COLUMN blob TEXT;"
         "ALTER TABLE unit_replies ADD COLUMN blob_key TEXT;"
         "ALTER TABLE unit_replies ADD COLUMN blob_size INTEGER;"
         "ALTER TABLE blob_uploads ADD COLUMN channel TEXT;"},
        // Invitations to enrol online (app/enrolment.h), on the audit office's store: local
        // state, never a record (the registration the office then commits is the record).
        {"enrolment", 1,
         "CREATE TABLE invites (id TEXT PRIMARY KEY, office_key BLOB NOT NULL, server_key BLOB NOT NULL, person TEXT NOT NULL,"
         "  created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, state TEXT NOT NULL, presentation TEXT, device TEXT,"
         "  fingerprint TEXT, problem TEXT) WITHOUT ROWID;"},
    };
    return m;
}

sync::SStatus DomainProjection::reset(sync::Db& db) {
    for (const auto& t : recordTypes()) {
        std::string sql = std::string("DELETE FROM ") + t.table;
        XS_TRY(db.exec(sql.c_str()));
    }
    return {};
}

sync::SStatus DomainProjection::project(sync::Db& db, const std::string& kind, const std::string& recordId,
                                        const sync::Json& fields) {
    const RecordType* type = findRecordType(kind);
    if (!type) return {};  // kinds this version does not know stay in the op log only
    std::string sql = std::string("INSERT OR REPLACE INTO ") + type->table + " (id";
    std::string params = "?";
    for (const auto& c : type->columns) {
        sql += std::string(", ") + c.field;
        params += ", ?";
    }
    sql += ") VALUES (" + params + ")";
    auto s = db.prepare(sql.c_str());
    if (!s) return s.error();
    s->bind(1, recordId);
    int i = 2;
    for (const auto& c : type->columns) {
        auto it = fields.find(c.field);
        if (it == fields.end() || it->is_null()) {
            s->bindNull(i++);
            continue;
        }
        switch (c.type) {
            case ColumnType::Text:
                if (it->is_string()) s->bind(i, it->get<std::string>());
                else s->bind(i, it->dump());
                break;
            case ColumnType::Int:
                if (it->is_number_integer()) s->bind(i, it->get<std::int64_t>());
                else s->bindNull(i);
                break;
            case ColumnType::Bool:
                s->bind(i, std::int64_t{it->is_boolean() && it->get<bool>() ? 1 : 0});
                break;
            case ColumnType::Json: s->bind(i, it->dump()); break;
        }
        ++i;
    }
    return s->run();
}

std::vector<std::string> DomainProjection::tables() const {
    std::vector<std::string> out;
    for (const auto& t : recordTypes()) out.emplace_back(t.table);
    return out;
}

}  // namespace xs::app
