// The workspace: opening a store, who its owner is, lookups, and maintenance (verify, rebuild, rekey, evidence export).
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

std::string textOf(const Json& rec, const char* key) {
    auto it = rec.find(key);
    return it != rec.end() && it->is_string() ? it->get<std::string>() : std::string();
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

// ---------------------------------------------------------------- maintenance

AResult<std::vector<std::string>> Workspace::evidenceScopes(const std::string& hash) {
    // The evidence belongs to the inspection of a finding it is attached to.
    auto s = m_store->db().prepare("SELECT DISTINCT f.inspection_id FROM attachments a JOIN findings f ON f.id = a.finding_id"
                                   " WHERE a.hash = ?");
    if (!s) return fromSync(s.error());
    s->bind(1, hash);
    std::vector<std::string> scopes;
    XS_TRY_SYNC(s->collectTexts(scopes));
    if (scopes.empty()) return fail(AppError::NotFound, "no evidence with hash " + hash);
    return scopes;
}

AResult<std::vector<std::uint8_t>> Workspace::previewEvidence(const std::string& hash, std::size_t maxBytes) {
    auto scopes = evidenceScopes(hash);
    if (!scopes) return scopes.error();
    std::optional<Error<AppError>> gate;
    for (const auto& scope : *scopes) {
        if (auto g = requireAgreement(scope); !g) {  // a thumbnail shows evidence too
            gate = g.error();
            continue;
        }
        auto entry = m_store->evidenceEntry(scope, hash);
        if (!entry) return fromSync(entry.error());
        if (!*entry || (*entry)->shredded) continue;
        if ((*entry)->size > maxBytes) return refused("evidence " + hash.substr(0, 12) + " is too large to preview");
        auto key = m_store->evidenceScope(scope, false);
        if (!key) return fromSync(key.error());
        std::vector<std::uint8_t> out;
        out.reserve(static_cast<std::size_t>((*entry)->size));
        XS_TRY_SYNC(m_store->evidence().read(*key, hash, [&](crypto::ByteView b) -> sync::SStatus {
            if (out.size() + b.size() > maxBytes) return fail(sync::SyncError::Corrupt, "evidence " + hash.substr(0, 12) + " is larger than recorded");
            out.insert(out.end(), b.begin(), b.end());
            return {};
        }));
        return out;
    }
    if (gate) return *gate;
    return fail(AppError::NotFound, "evidence " + hash.substr(0, 12) + " is not on this store (pending, or shredded after a handover)");
}

AStatus Workspace::exportEvidence(const std::string& hash, const fs::path& out) {
    XS_TRY_APP(checkOutputPath(m_store->dir(), out));
    removeOrphansOf(out);
    auto found = evidenceScopes(hash);
    if (!found) return found.error();
    const std::vector<std::string>& scopes = *found;
    std::optional<Error<AppError>> gate;
    for (const auto& scope : scopes) {
        if (auto g = requireAgreement(scope); !g) {
            gate = g.error();
            continue;
        }
        auto entry = m_store->evidenceEntry(scope, hash);
        if (!entry) return fromSync(entry.error());
        if (!*entry || (*entry)->shredded) continue;
        auto key = m_store->evidenceScope(scope, false);
        if (!key) return fromSync(key.error());
        auto recorded = recordExport(scope, "evidence", hash, out.filename().string(), (*entry)->size);
        if (!recorded) return recorded.error();
        XS_TRY_SYNC(m_store->evidence().exportTo(*key, hash, out));
        return {};
    }
    if (gate) return *gate;
    return fail(AppError::NotFound, "evidence " + hash.substr(0, 12) +
                                        " is not on this store: it was attached elsewhere and has not arrived yet (pending), "
                                        "or it was shredded here after a handover");
}

AResult<std::string> Workspace::recordExport(const std::string& inspectionId, const std::string& what,
                                             const std::string& subject, const std::string& fileName, std::uint64_t bytes) {
    XS_TRY_APP(requireEnrolled());
    auto id = sync::newOwnedId(m_log->deviceId());
    if (!id) return fromSync(id.error());
    sync::Draft d;
    const std::string ch = teamChannel(inspectionId);
    d.set(ch, "export", *id, "inspection_id", inspectionId);
    d.set(ch, "export", *id, "what", what);
    d.set(ch, "export", *id, "subject", subject);
    d.set(ch, "export", *id, "file_name", fileName.substr(0, 255));
    d.set(ch, "export", *id, "bytes", static_cast<std::int64_t>(bytes));
    d.set(ch, "export", *id, "exported_by", m_self.personId);
    d.set(ch, "export", *id, "exported_at", m_clock->nowMs());
    auto cs = m_log->commit(d);
    if (!cs) return fromCommit(cs.error());
    return *id;
}

AResult<Json> Workspace::exports(const std::string& inspectionId) {
    auto s = m_store->db().prepare(
        "SELECT e.id, e.inspection_id, e.what, e.subject, e.file_name, e.bytes, e.exported_by, e.exported_at, p.name"
        " FROM exports e LEFT JOIN people p ON p.id = e.exported_by WHERE (? = '' OR e.inspection_id = ?)"
        " ORDER BY e.exported_at, e.id");
    if (!s) return fromSync(s.error());
    s->bind(1, inspectionId).bind(2, inspectionId);
    auto gated = gatedInspections();
    if (!gated) return gated.error();
    Json out = Json::array();
    for (;;) {
        auto row = s->step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        if (gated->count(s->text(1))) continue;  // the team's records, after signing
        out.push_back({{"id", s->text(0)}, {"inspection_id", s->text(1)}, {"what", s->text(2)}, {"subject", s->text(3)},
                       {"file_name", s->text(4)}, {"bytes", s->int64(5)}, {"exported_by", s->text(6)},
                       {"exported_at", s->int64(7)}, {"person", s->text(8)}});
    }
    return out;
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

WipeRecordView wipeRecordFrom(const Json& rec) {
    auto number = [&](const char* key) { return sync::intOf(rec, key).value_or(0); };
    return {textOf(rec, "inspection"), textOf(rec, "bundle_header_sha256"), textOf(rec, "manifest_sha256"),
            number("wiped_at"), number("received_at"), number("evidence_files_removed"), number("captured_after_export"),
            number("covered_seq"), sync::boolOf(rec, "keys_destroyed"), textsOf(rec, "channels_shredded"), intsOf(rec, "subkeys_destroyed")};
}

std::vector<std::string> textsOf(const Json& rec, const char* key) {
    std::vector<std::string> out;
    if (auto it = rec.find(key); it != rec.end() && it->is_array())
        for (const auto& x : *it)
            if (x.is_string()) out.push_back(x.get<std::string>());
    return out;
}

std::vector<int> intsOf(const Json& rec, const char* key) {
    std::vector<int> out;
    if (auto it = rec.find(key); it != rec.end() && it->is_array())
        for (const auto& x : *it)
            if (x.is_number_integer() && x.get<std::int64_t>() >= 0 && x.get<std::int64_t>() < 1024) out.push_back(x.get<int>());
    return out;
}

AResult<VerifyReport> Workspace::verify() {
    VerifyReport r;
    // The op log's own check first (its reads on a snapshot, its replay on an in-memory copy),
    // then everything else on one read snapshot: a commit by another process is wholly seen or
    // not at all, and no writer waits for these reads.
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
        if (rec.is_object()) r.wiped.push_back(wipeRecordFrom(rec));
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
