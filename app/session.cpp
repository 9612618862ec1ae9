#include "app/session.h"

#include "app/agreement.h"
#include "app/enrolment.h"
#include "app/files.h"
#include "app/handover.h"
#include "app/workspace.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "crypto/encoding.h"
#include "crypto/random.h"
#include "sync/changeset_codec.h"
#include "sync/env.h"
#include "sync/file_io.h"
#include "sync/identity.h"
#include "sync/keyfile.h"
#include "sync/net/client.h"
#include "sync/record_fields.h"

namespace xs::app {
namespace {

using sync::boolOf;
using sync::intOf;
using sync::stringOf;

template <typename E>
E enumOf(const Json& rec, const char* key, E fallback) {
    return parseEnum<E>(stringOf(rec, key)).value_or(fallback);
}

// A finding as the workspace's query gives it (a projection row; typed here once, so views never
// see JSON). Unknown enum spellings fall back to the defaults rather than failing a whole list.
FindingView findingFrom(const Json& f) {
    FindingView v;
    v.id = stringOf(f, "id");
    v.inspectionId = stringOf(f, "inspection_id");
    v.title = stringOf(f, "title");
    v.description = stringOf(f, "description");
    v.auditCategory = stringOf(f, "audit_category");
    v.responsiblePerson = stringOf(f, "responsible_person");
    v.author = stringOf(f, "author");
    v.status = enumOf(f, "status", FindingStatus::Draft);
    v.category = enumOf(f, "category", FindingCategory::Other);
    v.severity = enumOf(f, "severity", Severity::Medium);
    for (const auto& t : textsOf(f, "tags"))
        if (auto tag = parseEnum<FindingTag>(t)) v.tags.push_back(*tag);
    v.immediateFix = boolOf(f, "immediate_fix");
    v.createdAtMs = intOf(f, "created_at").value_or(0);
    if (f.contains("attachments") && f["attachments"].is_array())
        for (const auto& a : f["attachments"])
            v.attachments.push_back({stringOf(a, "id"), stringOf(a, "hash"), stringOf(a, "name"), stringOf(a, "purpose"),
                                     stringOf(a, "added_by"), intOf(a, "size").value_or(0), stringOf(a, "state")});
    v.conflictedFields = textsOf(f, "conflicts");
    v.reviewNote = stringOf(f, "review_note");
    return v;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

InspectionView inspectionFrom(const Json& i) {
    InspectionView v;
    v.id = stringOf(i, "id");
    v.title = stringOf(i, "title");
    v.roundId = stringOf(i, "round_id");
    v.unitId = stringOf(i, "unit_id");
    v.leadId = stringOf(i, "lead_id");
    v.createdBy = stringOf(i, "created_by");
    v.status = stringOf(i, "status");
    v.kind = enumOf(i, "inspection_kind", InspectionKind::Full);
    v.mode = enumOf(i, "mode", InspectionMode::Synchronous);
    // The team column holds the list as JSON text (a projection of a record's field).
    if (auto it = i.find("team"); it != i.end()) {
        Json team = it->is_string() ? Json::parse(it->get<std::string>(), nullptr, false) : *it;
        v.team = textsOf(Json{{"team", team}}, "team");
    }
    v.onsiteStart = stringOf(i, "onsite_start");
    v.onsiteDays = static_cast<int>(intOf(i, "onsite_days").value_or(0));
    v.windowStart = stringOf(i, "window_start");
    v.windowEnd = stringOf(i, "window_end");
    v.agreementRequired = boolOf(i, "agreement_required");
    v.agreementSigned = boolOf(i, "agreement_signed");
    if (auto it = i.find("extensions"); it != i.end() && it->is_array())
        for (const auto& e : *it)
            v.extensions.push_back({stringOf(e, "id"), stringOf(e, "inspection_id"), stringOf(e, "reason"),
                                    stringOf(e, "requested_by"), stringOf(e, "decided_by"),
                                    static_cast<int>(intOf(e, "days").value_or(0)),
                                    enumOf(e, "status", ExtensionStatus::Pending)});
    return v;
}

FieldVersionView versionFrom(const Json& v) {
    auto hlc = v.find("hlc");
    return {stringOf(v, "op_id"), stringOf(v, "change_set"), stringOf(v, "device"), stringOf(v, "field"), stringOf(v, "time"),
            hlc != v.end() && hlc->is_number_unsigned() ? hlc->get<std::uint64_t>() : 0,
            v.contains("value") ? v["value"].dump() : "null"};
}

ShredAckView shredAckFrom(const Json& a) {
    return {stringOf(a, "device"), stringOf(a, "scope"), stringOf(a, "manifest"), stringOf(a, "detail"),
            boolOf(a, "keys_destroyed"), intOf(a, "evidence_removed").value_or(0), intOf(a, "evidence_kept").value_or(0),
            intOf(a, "at_ms").value_or(0), textsOf(a, "channels"), intsOf(a, "subkeys")};
}

RefusedView refusedFrom(const Json& r) {
    return {stringOf(r, "id"), stringOf(r, "device"), stringOf(r, "reason"), intOf(r, "seq").value_or(0)};
}

// A file a person named for the session to read: bounded, and JSON parsed with the bounds for
// files from elsewhere (no parser recursion or allocation without limit).
AResult<std::string> readText(const std::filesystem::path& file, std::size_t maxBytes) {
    auto bytes = sync::readFile(file, maxBytes);
    if (!bytes) return fromSync(bytes.error());
    return std::string(bytes->begin(), bytes->end());
}

AResult<Json> readJson(const std::filesystem::path& file, std::size_t maxBytes) {
    auto text = readText(file, maxBytes);
    if (!text) return text.error();
    auto j = sync::parseBoundedJson(*text, maxBytes, file.string());
    if (!j) return refused(j.message());
    return std::move(*j);
}


}  // namespace

AResult<std::unique_ptr<Session>> Session::create(const std::filesystem::path& dir, std::string_view passphrase,
                                                  const std::string& name, Role role, const crypto::Argon2Params& kdf,
                                                  const sync::Clock& clock) {
    XS_TRY_APP(checkPassphrasePolicy(passphrase, kdf));
    if (name.empty()) return refused("a store needs its owner's name");
    auto ws = Workspace::init(dir, passphrase, name, role, kdf, clock);
    if (!ws) return ws.error();
    std::unique_ptr<Session> s(new Session(dir, clock));
    s->m_ws = std::move(*ws);
    return s;
}

AResult<std::unique_ptr<Session>> Session::open(const std::filesystem::path& dir, std::string_view passphrase,
                                                const sync::Clock& clock) {
    std::unique_ptr<Session> s(new Session(dir, clock));
    XS_TRY_APP(s->unlock(passphrase));
    return s;
}

AStatus Session::checkPassphrasePolicy(std::string_view passphrase, const crypto::Argon2Params& kdf) {
    if (passphrase.size() < kMinPassphraseBytes)
        return app::refused("a passphrase needs at least " + std::to_string(kMinPassphraseBytes) + " characters");
    return checkKdfPolicy(kdf);
}

AStatus Session::checkKdfPolicy(const crypto::Argon2Params& kdf) {
    if (auto v = sync::validateKdfParams(kdf); !v) return app::refused(v.message());
    return {};
}

bool Session::exists(const std::filesystem::path& dir) { return sync::Store::exists(dir); }

Session::~Session() {
    m_worker.reset();
    cancelTasks();
}

void Session::cancelTasks() {
    for (auto& cancelAndWait : m_taskCancel) cancelAndWait();
    m_taskCancel.clear();
    m_tasks.clear();
}

void Session::lock() {
    m_worker.reset();  // its connection holds the key too
    cancelTasks();     // and theirs
    m_ws.reset();   // Store, DeviceIdentity and channel keys are SecretBytes: wiped as they go
    m_dataVersion = -1;
    ++m_changes;    // every view is stale now
}

AStatus Session::unlock(std::string_view passphrase) {
    if (m_ws) return {};
    auto ws = Workspace::open(m_dir, passphrase, *m_clock);
    if (!ws) return ws.error();
    m_ws = std::move(*ws);
    ++m_changes;
    return {};
}

AStatus Session::unlocked() const {
    if (!m_ws) return fail(AppError::Locked, "the session is locked: unlock it with the passphrase");
    return {};
}

std::uint64_t Session::changeCount() {
    if (m_ws) {
        auto v = m_ws->dataVersion();
        if (v && *v != m_dataVersion) {
            if (m_dataVersion != -1) ++m_changes;
            m_dataVersion = *v;
        }
    }
    return m_changes;
}

Session::Session(std::filesystem::path dir, const sync::Clock& clock) : m_dir(std::move(dir)), m_clock(&clock) {}

template <typename F>
auto Session::committing(F&& command) {
    using R = decltype(command(*m_ws));
    if (auto u = unlocked(); !u) return R(u.error());
    R r = command(*m_ws);
    // Moved even on failure: a command may fail after a step it committed (revokeDevice commits the
    // revocation before the key rotation), and a needless re-read of the views costs little.
    ++m_changes;
    return r;
}

AResult<SelfView> Session::self() {
    XS_TRY_APP(unlocked());
    const Self& me = m_ws->self();
    return SelfView{me.personId, me.name, m_ws->log().deviceId(), me.role, me.enrolled, me.revoked};
}

AResult<IdentityView> Session::identity() {
    XS_TRY_APP(unlocked());
    const auto& pub = m_ws->log().identity().publicInfo();
    const Self& me = m_ws->self();
    return IdentityView{pub.id, me.personId, me.name, me.role, crypto::toHex(pub.signKey), crypto::toHex(pub.exchangeKey),
                        sync::fingerprint(pub)};
}

AResult<OrgView> Session::organisation() {
    XS_TRY_APP(unlocked());
    auto units = m_ws->units();
    if (!units) return units.error();
    auto people = m_ws->people();
    if (!people) return people.error();
    OrgView v;
    for (const auto& u : *units) v.units.push_back({stringOf(u, "id"), stringOf(u, "code"), stringOf(u, "name"), stringOf(u, "unit_kind")});
    for (const auto& p : *people)
        v.people.push_back({stringOf(p, "id"), stringOf(p, "code"), stringOf(p, "name"), stringOf(p, "title"), stringOf(p, "unit_id"),
                            parseEnum<Role>(stringOf(p, "role"))});
    return v;
}

AResult<std::vector<InspectionView>> Session::inspections() {
    XS_TRY_APP(unlocked());
    auto list = m_ws->inspections();
    if (!list) return list.error();
    std::vector<InspectionView> out;
    for (const auto& i : *list) out.push_back(inspectionFrom(i));
    return out;
}

AResult<InspectionView> Session::inspection(const std::string& idOrTitle) {
    XS_TRY_APP(unlocked());
    auto i = m_ws->inspection(idOrTitle);
    if (!i) return i.error();
    return inspectionFrom(*i);
}

AResult<std::vector<FindingView>> Session::findings(const FindingFilter& filter) {
    XS_TRY_APP(unlocked());
    std::vector<FindingView> out;
    XS_TRY_APP(m_ws->eachFinding(filter.inspection, [&](Json&& f) {
        FindingView v = findingFrom(f);
        if (filter.status && v.status != *filter.status) return;
        if (filter.severity && v.severity != *filter.severity) return;
        if (filter.category && v.category != *filter.category) return;
        if (filter.immediateFixOnly && !v.immediateFix) return;
        if (!filter.text.empty() && !contains(v.title, filter.text) && !contains(v.description, filter.text)) return;
        out.push_back(std::move(v));
    }));
    return out;
}

AResult<FindingView> Session::finding(const std::string& id) {
    XS_TRY_APP(unlocked());
    auto f = m_ws->finding(id);
    if (!f) return f.error();
    return findingFrom(*f);
}

AResult<std::vector<FieldVersionView>> Session::history(const std::string& recordId) {
    XS_TRY_APP(unlocked());
    auto h = m_ws->history(recordId);
    if (!h) return h.error();
    std::vector<FieldVersionView> out;
    for (const auto& v : *h) out.push_back(versionFrom(v));
    return out;
}

AResult<std::vector<ConflictView>> Session::conflicts() {
    XS_TRY_APP(unlocked());
    auto c = m_ws->conflicts();
    if (!c) return c.error();
    std::vector<ConflictView> out;
    for (const auto& x : *c) {
        ConflictView v{stringOf(x, "kind"), stringOf(x, "id"), stringOf(x, "field"), {}};
        if (x.contains("versions") && x["versions"].is_array())
            for (const auto& ver : x["versions"]) {
                v.versions.push_back(versionFrom(ver));
                v.versions.back().field = v.field;
            }
        out.push_back(std::move(v));
    }
    return out;
}

AResult<std::vector<RefusedView>> Session::refusedChangeSets() {
    XS_TRY_APP(unlocked());
    auto r = m_ws->log().refused();
    if (!r) return fromSync(r.error());
    std::vector<RefusedView> out;
    for (const auto& x : *r) out.push_back({x.id, x.device, x.reason, x.seq});
    return out;
}

AResult<std::vector<ShredAckView>> Session::shredAcknowledgements() {
    XS_TRY_APP(unlocked());
    auto r = m_ws->shredAcknowledgements();
    if (!r) return r.error();
    std::vector<ShredAckView> out;
    for (const auto& a : *r) out.push_back(shredAckFrom(a));
    return out;
}

// ---------------------------------------------------------------- organisation and enrolment

AResult<OrgImportView> Session::importOrg(const std::filesystem::path& file) {
    XS_TRY_APP(unlocked());  // a locked session says so before it reads anything
    auto doc = readJson(file, kMaxOrgFileBytes);
    if (!doc) return doc.error();
    return committing([&](Workspace& ws) -> AResult<OrgImportView> {
        auto r = ws.importOrg(*doc);
        if (!r) return r.error();
        OrgImportView v;
        v.units = static_cast<std::size_t>(intOf(*r, "units").value_or(0));
        v.people = static_cast<std::size_t>(intOf(*r, "people").value_or(0));
        v.rounds = static_cast<std::size_t>(intOf(*r, "rounds").value_or(0));
        v.changeSets = textsOf(*r, "change_sets");
        return v;
    });
}

AResult<OfficeKeyView> Session::createOfficeKey() {
    return committing([&](Workspace& ws) -> AResult<OfficeKeyView> {
        auto k = app::createOfficeKey(ws);
        if (!k) return k.error();
        return OfficeKeyView{k->publicKeyHex, k->ageRecipient, k->fingerprint};
    });
}

AResult<DeviceEnrolledView> Session::enrolDevice(const std::filesystem::path& deviceFile, const std::string& person) {
    XS_TRY_APP(unlocked());  // a locked session says so before it reads anything
    auto doc = readJson(deviceFile, kMaxDeviceFileBytes);
    if (!doc) return doc.error();
    return committing([&](Workspace& ws) -> AResult<DeviceEnrolledView> {
        auto r = app::enrolDevice(ws, *doc, person);
        if (!r) return r.error();
        return DeviceEnrolledView{stringOf(*r, "device_id"), stringOf(*r, "fingerprint"), stringOf(*r, "person_id"),
                                  boolOf(*r, "already_enrolled"), intOf(*r, "channel_memberships").value_or(0)};
    });
}

AResult<int> Session::revokeDevice(const std::string& deviceId) {
    return committing([&](Workspace& ws) { return ws.revokeDevice(deviceId); });
}

// ---- immediate-fix notices

AResult<std::string> Session::issueNotice(const std::string& findingId, const std::string& problem, const std::string& action,
                                          const std::string& deadline) {
    return committing([&](Workspace& ws) { return ws.issueNotice(findingId, problem, action, deadline); });
}

AResult<std::vector<ExportView>> Session::exports(const std::string& inspection) {
    XS_TRY_APP(unlocked());
    auto list = m_ws->exports(inspection);
    if (!list) return list.error();
    std::vector<ExportView> out;
    for (const auto& e : *list)
        out.push_back({stringOf(e, "id"), stringOf(e, "inspection_id"), stringOf(e, "what"), stringOf(e, "subject"),
                       stringOf(e, "file_name"), stringOf(e, "exported_by"), stringOf(e, "person"),
                       intOf(e, "bytes").value_or(0), intOf(e, "exported_at").value_or(0)});
    return out;
}

namespace {
NoticeView noticeFrom(Workspace& ws, const Json& n) {
    auto nameOf = [&](const std::string& person) {
        auto p = ws.log().record("person", person);
        return p ? stringOf(*p, "name") : std::string();
    };
    NoticeView v{stringOf(n, "id"), stringOf(n, "inspection_id"), stringOf(n, "finding_id"), stringOf(n, "problem"),
                 stringOf(n, "action"), stringOf(n, "deadline"), stringOf(n, "issued_by"), {}, sync::intOf(n, "issued_at").value_or(0),
                 false, {}, {}, 0, {}};
    v.issuedByName = nameOf(v.issuedBy);
    if (n.contains("ack") && n["ack"].is_object()) {
        v.acknowledged = true;
        v.acknowledgedBy = stringOf(n["ack"], "acknowledged_by");
        v.acknowledgedByName = nameOf(v.acknowledgedBy);
        v.acknowledgedAt = sync::intOf(n["ack"], "acknowledged_at").value_or(0);
    }
    for (const auto& r : n.value("replies", Json::array()))
        v.replies.push_back({stringOf(r, "id"), stringOf(r, "text"), stringOf(r, "replied_by"), nameOf(stringOf(r, "replied_by")),
                             sync::intOf(r, "replied_at").value_or(0), stringOf(r, "file_name"), stringOf(r, "file_hash"),
                             sync::intOf(r, "file_size").value_or(0), stringOf(r, "file_state")});
    return v;
}
}  // namespace

AResult<std::vector<NoticeView>> Session::notices() {
    XS_TRY_APP(unlocked());
    auto list = m_ws->notices();
    if (!list) return list.error();
    std::vector<NoticeView> out;
    for (const auto& n : *list) out.push_back(noticeFrom(*m_ws, n));
    return out;
}

namespace {
// One record of a listed view by id (notices, clues): NotFound names what and where to look.
template <typename View>
AResult<View> byId(AResult<std::vector<View>> all, const std::string& id, const char* what) {
    if (!all) return all.error();
    for (auto& v : *all)
        if (v.id == id) return std::move(v);
    return fail(AppError::NotFound, std::string("no ") + what + " " + id + " here (sync first?)");
}
}  // namespace

AResult<NoticeView> Session::notice(const std::string& id) {
    XS_TRY_APP(unlocked());
    auto n = m_ws->notice(id);  // Refused by the agreement gate, NotFound
    if (!n) return n.error();
    return noticeFrom(*m_ws, *n);
}

// ---- confidentiality agreements

AResult<AgreementTextView> Session::agreementText(const std::string& inspection) {
    XS_TRY_APP(unlocked());
    auto i = m_ws->inspection(inspection);
    if (!i) return i.error();
    const std::string id = stringOf(*i, "id");
    auto st = m_ws->agreementState(id);
    if (!st) return st.error();
    const AgreementText* text = st->signedByMe ? app::agreementText(st->version) : nullptr;
    if (!text) text = &currentAgreementText();
    return AgreementTextView{id,           stringOf(*i, "title"), text->version,   text->textZh,
                             text->textEn, text->sha256,          st->signedByMe, st->signedAtMs};
}

AStatus Session::signAgreement(const std::string& inspection) {
    return committing([&](Workspace& ws) { return ws.signAgreement(inspection); });
}

AResult<std::vector<AgreementView>> Session::agreements(const std::string& inspection) {
    XS_TRY_APP(unlocked());
    auto list = m_ws->agreements(inspection);
    if (!list) return list.error();
    std::vector<AgreementView> out;
    for (const auto& a : *list)
        out.push_back({stringOf(a, "inspection_id"), stringOf(a, "person_id"), stringOf(a, "person"), stringOf(a, "text_version"),
                       stringOf(a, "text_sha256"), intOf(a, "signed_at").value_or(0)});
    return out;
}

AStatus Session::acknowledgeNotice(const std::string& noticeId) {
    return committing([&](Workspace& ws) { return ws.acknowledgeNotice(noticeId); });
}

AResult<std::string> Session::replyToNotice(const std::string& noticeId, const std::string& text, const std::filesystem::path& file) {
    return committing([&](Workspace& ws) { return ws.replyToNotice(noticeId, text, file); });
}

// ---- clues for the discipline commission

AResult<std::string> Session::addClue(const std::string& inspection, const std::string& findingId, const std::string& summary,
                                      const std::string& transferredTo) {
    return committing([&](Workspace& ws) { return ws.addClue(inspection, findingId, summary, transferredTo); });
}

AStatus Session::transferClue(const std::string& clueId) {
    return committing([&](Workspace& ws) { return ws.transferClue(clueId); });
}

AStatus Session::receiveClue(const std::string& clueId) {
    return committing([&](Workspace& ws) { return ws.receiveClue(clueId); });
}

AResult<std::vector<ClueView>> Session::clues() {
    XS_TRY_APP(unlocked());
    auto list = m_ws->clues();
    if (!list) return list.error();
    auto nameOf = [&](const std::string& person) {
        if (person.empty()) return std::string();
        auto p = m_ws->log().record("person", person);
        return p ? stringOf(*p, "name") : std::string();
    };
    std::vector<ClueView> out;
    for (const auto& c : *list) {
        ClueView v;
        v.id = stringOf(c, "id");
        v.inspectionId = stringOf(c, "inspection_id");
        v.findingId = stringOf(c, "finding_id");
        v.summary = stringOf(c, "summary");
        v.transferredTo = stringOf(c, "transferred_to");
        v.status = enumOf(c, "status", ClueStatus::Drafted);
        v.createdBy = stringOf(c, "created_by");
        v.createdByName = nameOf(v.createdBy);
        v.createdAt = intOf(c, "created_at").value_or(0);
        v.transferredBy = stringOf(c, "transferred_by");
        v.transferredByName = nameOf(v.transferredBy);
        v.transferredAt = intOf(c, "transferred_at").value_or(0);
        v.receivedBy = stringOf(c, "received_by");
        v.receivedByName = nameOf(v.receivedBy);
        v.receivedAt = intOf(c, "received_at").value_or(0);
        out.push_back(std::move(v));
    }
    return out;
}

AResult<ClueView> Session::clue(const std::string& id) { return byId(clues(), id, "clue"); }

// ---- sync with the server

AStatus Session::setServer(const std::string& url, const std::string& pin) {
    XS_TRY_APP(unlocked());
    if (url.rfind("https://", 0) != 0 || url.size() > 2048) return refused("the server URL must be https://HOST:PORT");
    auto raw = crypto::fromBase64(pin);
    if (!raw || raw->size() != 32)
        return refused("the pin is the base64 SHA-256 of the server's public key (xunshen-server pin --data DIR)");
    return committing([&](Workspace& ws) -> AStatus {
        XS_TRY_SYNC(ws.store().setMeta("server_url", url));
        XS_TRY_SYNC(ws.store().setMeta("server_tls_pin", pin));
        return {};
    });
}

AResult<ServerView> Session::server() {
    XS_TRY_APP(unlocked());
    auto url = m_ws->store().meta("server_url");
    auto pin = m_ws->store().meta("server_tls_pin");
    if (!url || !pin || url->empty())
        return fail(AppError::NotFound, "no sync server is known here (it comes with the enrolment file, or: sync --server URL --pin PIN)");
    return ServerView{*url, *pin};
}

namespace {

// One sync round of `ws` with the server (syncOnce; the worker on its own connection).
AResult<SyncRoundView> syncRound(Workspace& ws, const ServerView& srv, int waitSeconds,
                                 const std::function<void(const std::vector<ArrivalView>&)>& onArrival,
                                 const std::function<bool(std::uint64_t, std::uint64_t)>& evidenceProgress,
                                 const std::atomic<bool>* interrupt) {
    auto conn = sync::net::Connection::open({srv.url, srv.pin}, ws.log().identity());
    if (!conn) return fromSync(conn.error());
    (*conn)->setInterrupt(interrupt);
    sync::net::SyncClient client(std::move(*conn), ws.log(), ws.store());
    // The audit office answers online enrolments: the registrations go with this round's push.
    InviteRoundReport invites;
    auto pendingInvites = invitesPending(ws);
    if (!pendingInvites) return pendingInvites.error();
    // A failure here is reported and does not hold back the round (Offline fails it below anyway).
    std::vector<std::string> inviteProblems;
    if (*pendingInvites)
        if (auto served = serveInvites(ws, client.connection(), invites); !served) inviteProblems.push_back(served.message());
    auto describe = [&](const std::vector<std::string>& ids) {
        if (!onArrival) return;
        std::vector<ArrivalView> out;
        for (const auto& id : ids) {
            auto cs = ws.log().changeSet(id);
            if (!cs) continue;
            ArrivalView a{cs->id, cs->device, {}, {}, cs->isWithheld(), {}, {}, {}};
            if (auto d = ws.log().device(cs->device); d && *d) {
                if (auto person = ws.log().record("person", (*d)->principal)) a.author = person->value("name", "");
            }
            for (const auto& op : cs->ops) {
                a.records.push_back(op.kind + " in " + op.channel);
                if (!ws.log().record(op.kind, op.recordId)) continue;  // not readable (or refused) here
                if (op.kind == "notice") a.noticesIssued.push_back(op.recordId);
                if (op.kind == "notice_ack") a.noticesAcknowledged.push_back(op.recordId);
                if (op.kind == "unit_reply")
                    if (auto r = ws.log().record(op.kind, op.recordId)) a.noticesAnswered.push_back(stringOf(*r, "notice_id"));
            }
            out.push_back(std::move(a));
        }
        onArrival(out);
    };
    auto r = client.round(waitSeconds, describe);
    if (!r) return fromSync(r.error());
    SyncRoundView view;
    view.server = srv.url;
    view.pushed = static_cast<std::int64_t>(r->pushed);
    view.pulled = static_cast<std::int64_t>(r->pulled);
    view.applied = static_cast<std::int64_t>(r->applied);
    view.refused = static_cast<std::int64_t>(r->refused);
    view.held = static_cast<std::int64_t>(r->held.size());
    view.cursor = r->cursor;
    for (const auto& f : r->forks) view.forks.push_back("device " + f.device + ": " + f.detail);
    view.unconfirmedForks = r->unconfirmedForks;
    if (*pendingInvites)
        if (auto answered = answerInvites(ws, client.connection(), {srv.url, srv.pin}, invites); !answered)
            inviteProblems.push_back(answered.message());
    view.inviteProblems = std::move(inviteProblems);
    view.invitesFiled = invites.filed;
    view.devicesEnrolled = invites.enrolled;
    view.invitesAnswered = invites.answered;
    // Evidence after the change sets that name it: a pulled attachment's file comes this round.
    auto files = ws.transferEvidence(client.connection(), evidenceProgress);
    if (!files) return files.error();
    view.evidenceUploaded = files->uploaded;
    view.evidenceDownloaded = files->downloaded;
    view.evidenceWaiting = files->waitingUploads;
    view.evidenceBytesUp = files->bytesUp;
    view.evidenceBytesDown = files->bytesDown;
    view.evidenceProblems = std::move(files->problems);
    return view;
}

}  // namespace

// The background sync worker: rounds on a workspace (connection) of its own, so the session's
// thread never waits for the network.
class SyncWorker {
public:
    struct Shared {
        bool online = false;
        std::int64_t lastSuccessMs = 0, lastAttemptMs = 0, rounds = 0, nextAttemptMs = 0;
        std::string lastError;
    };
    SyncWorker(std::unique_ptr<Workspace> ws, ServerView srv, std::function<void(const std::vector<ArrivalView>&)> onArrival,
               std::function<void()> wake, const sync::Clock& clock)
        : m_ws(std::move(ws)), m_srv(std::move(srv)), m_onArrival(std::move(onArrival)), m_wake(std::move(wake)), m_clock(clock) {
        m_thread = std::thread([this] { run(); });
    }
    ~SyncWorker() {
        {
            std::lock_guard lock(m_mutex);
            m_stop = true;
        }
        m_interrupt = true;
        m_cv.notify_all();
        m_thread.join();
    }
    void poke() {
        {
            std::lock_guard lock(m_mutex);
            m_poked = true;
        }
        m_interrupt = true;  // a long-poll in flight ends now
        m_cv.notify_all();
    }
    Shared snapshot() {
        std::lock_guard lock(m_mutex);
        return m_shared;
    }

private:
    void run() {
        double backoff = 1;
        // The first round, and one after a local change, do not long-poll: the status (online,
        // what waits) is known at once; the rounds after wait for news.
        bool quick = true;
        for (;;) {
            {
                std::lock_guard lock(m_mutex);
                if (m_stop) return;
                m_poked = false;
            }
            m_interrupt = false;
            auto r = syncRound(*m_ws, m_srv, quick ? 0 : 25, m_onArrival, {}, &m_interrupt);
            quick = false;
            bool cutShort = false, retryLater = false;
            double wait = 0;
            {
                std::lock_guard lock(m_mutex);
                if (m_stop) return;
                const std::int64_t now = m_clock.nowMs();
                m_shared.lastAttemptMs = now;
                ++m_shared.rounds;
                if (r) {
                    m_shared.online = true;
                    m_shared.lastSuccessMs = now;
                    m_shared.lastError.clear();
                    backoff = 1;
                } else if (r.code() == AppError::Cancelled && m_poked) {
                    cutShort = true;  // something local to send: round again at once
                    quick = true;
                } else {
                    // Offline: 1, 2, 4 … 60 s, each with up to 50% jitter so devices do not return in
                    // step. Refused (revoked, tampered): a minute, and the reason is shown.
                    m_shared.online = r.code() != AppError::Offline && r.code() != AppError::Cancelled;
                    m_shared.lastError = r.message();
                    unsigned char b = 0;
                    if (auto rnd = crypto::randomBytes(1)) b = (*rnd)[0];
                    wait = (r.code() == AppError::Offline ? backoff : 60.0) * (1.0 + 0.5 * b / 255.0);
                    backoff = std::min(60.0, backoff * 2);
                    m_shared.nextAttemptMs = now + static_cast<std::int64_t>(wait * 1000);
                    retryLater = true;
                }
            }
            if (m_wake) m_wake();
            if (cutShort || !retryLater) continue;  // a good round long-polled already: straight on
            std::unique_lock lock(m_mutex);
            m_cv.wait_for(lock, std::chrono::milliseconds(static_cast<long>(wait * 1000)), [&] { return m_stop || m_poked; });
        }
    }

    std::unique_ptr<Workspace> m_ws;
    ServerView m_srv;
    std::function<void(const std::vector<ArrivalView>&)> m_onArrival;
    std::function<void()> m_wake;
    const sync::Clock& m_clock;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    Shared m_shared;       // guarded by m_mutex
    bool m_stop = false;   // guarded by m_mutex
    bool m_poked = false;  // guarded by m_mutex
    std::atomic<bool> m_interrupt{false};
    std::thread m_thread;  // last: starts once the rest is made
};

AStatus Session::startSyncWorker(std::function<void(const std::vector<ArrivalView>&)> onArrival, std::function<void()> wake) {
    XS_TRY_APP(unlocked());
    if (m_worker) return {};
    auto srv = server();
    if (!srv) return srv.error();
    auto other = m_ws->openAnother();
    if (!other) return other.error();
    m_worker = std::make_unique<SyncWorker>(std::move(*other), *srv, std::move(onArrival), std::move(wake), *m_clock);
    return {};
}

void Session::stopSyncWorker() { m_worker.reset(); }

void Session::syncNow() {
    if (m_worker) m_worker->poke();
}

AResult<KeysFetchView> Session::syncKeys() {
    auto srv = server();
    if (!srv) return srv.error();
    return committing([&](Workspace& ws) -> AResult<KeysFetchView> {
        auto conn = sync::net::Connection::open({srv->url, srv->pin}, ws.log().identity());
        if (!conn) return fromSync(conn.error());
        sync::net::SyncClient client(std::move(*conn), ws.log(), ws.store());
        auto r = client.keys();
        if (!r) return fromSync(r.error());
        return KeysFetchView{srv->url, static_cast<std::int64_t>(r->changeSets), r->keysGained, r->cursor};
    });
}

AResult<SyncStatusView> Session::syncStatus() {
    XS_TRY_APP(unlocked());
    SyncStatusView v;
    auto srv = server();
    if (!srv) return srv.error();
    v.server = srv->url;
    if (m_worker) {
        auto s = m_worker->snapshot();
        v.running = true;
        v.online = s.online;
        v.lastSuccessMs = s.lastSuccessMs;
        v.lastAttemptMs = s.lastAttemptMs;
        v.nextAttemptMs = s.nextAttemptMs;
        v.rounds = s.rounds;
        v.lastError = s.lastError;
    }
    // What waits: this device's change sets beyond what the last push reached, and its queued files.
    std::int64_t pushed = 0;
    if (auto m = m_ws->store().meta(sync::net::pushedSeqMetaKey(srv->url))) pushed = std::strtoll(m->c_str(), nullptr, 10);
    auto ids = m_ws->log().changeSetIdsAfter(m_ws->log().deviceId(), pushed);
    if (!ids) return fromSync(ids.error());
    v.waitingChangeSets = static_cast<std::int64_t>(ids->size());
    for (const auto& id : *ids)
        if (auto cs = m_ws->log().changeSet(id)) v.waitingBytes += sync::changeSetToJson(*cs).dump().size();
    auto files = m_ws->store().db().prepare("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blob_uploads WHERE done = 0");
    if (!files) return fromSync(files.error());
    auto row = files->step();
    if (!row) return fromSync(row.error());
    v.waitingEvidence = files->int64(0);
    v.waitingBytes += static_cast<std::uint64_t>(files->int64(1));
    auto conflicts = m_ws->conflicts();
    if (!conflicts) return conflicts.error();
    v.conflicts = static_cast<std::int64_t>(conflicts->size());
    return v;
}

AResult<SyncRoundView> Session::syncOnce(int waitSeconds, const std::function<void(const std::vector<ArrivalView>&)>& onArrival,
                                         const std::function<bool(std::uint64_t, std::uint64_t)>& evidenceProgress) {
    auto srv = server();
    if (!srv) return srv.error();
    return committing([&](Workspace& ws) { return syncRound(ws, *srv, waitSeconds, onArrival, evidenceProgress, nullptr); });
}

AResult<AccessLogView> Session::accessLog() {
    auto srv = server();
    if (!srv) return srv.error();
    return committing([&](Workspace& ws) -> AResult<AccessLogView> {
        if (ws.self().role != Role::AuditOffice) return refused("only the audit office reads the server's access log");
        auto conn = sync::net::Connection::open({srv->url, srv->pin}, ws.log().identity());
        if (!conn) return fromSync(conn.error());
        auto entries = sync::net::fetchAccessLog(**conn);
        if (!entries) {
            if (entries.error().code == sync::SyncError::Corrupt)
                return fail(AppError::Tampered, "the server's access log does not verify: " + entries.error().message);
            return fromSync(entries.error());
        }
        // The log must extend what this store saw last: "seq hash".
        const std::string key = "access_log_head:" + srv->url;
        if (auto seen = ws.store().meta(key)) {
            const auto space = seen->find(' ');
            const std::int64_t seq = std::strtoll(seen->c_str(), nullptr, 10);
            const std::string hash = space == std::string::npos ? std::string() : seen->substr(space + 1);
            if (seq > static_cast<std::int64_t>(entries->size()))
                return fail(AppError::Tampered, "the server's access log is shorter than when this store last read it (" +
                                                    std::to_string(entries->size()) + " entries, was " + std::to_string(seq) + ")");
            if (seq > 0 && (*entries)[static_cast<std::size_t>(seq - 1)].hash != hash)
                return fail(AppError::Tampered, "the server's access log was rewritten up to entry " + std::to_string(seq) +
                                                    ", which this store read before");
        }
        AccessLogView view;
        for (const auto& e : *entries) {
            auto j = sync::parseBoundedJson(e.text, 64 * 1024, "access-log entry");
            if (!j) return fromSync(j.error());
            AccessEntryView v;
            v.seq = e.seq;
            v.timeMs = intOf(*j, "time_ms").value_or(0);
            v.device = stringOf(*j, "device");
            v.action = stringOf(*j, "action");
            v.range = stringOf(*j, "range");
            if (auto c = j->find("channels"); c != j->end() && c->is_array())
                for (const auto& ch : *c)
                    if (ch.is_string()) v.channels.push_back(ch.get<std::string>());
            if (auto d = ws.log().device(v.device); d && *d)
                if (auto person = ws.log().record("person", (*d)->principal)) v.person = person->value("name", "");
            view.entries.push_back(std::move(v));
        }
        view.head = entries->empty() ? sync::net::accessLogGenesis() : entries->back().hash;
        if (!entries->empty())
            if (auto r = ws.store().setMeta(key, std::to_string(entries->back().seq) + " " + entries->back().hash); !r)
                return fromSync(r.error());
        return view;
    });
}

AStatus Session::exportEnrolment(const std::filesystem::path& out, const std::string& serverUrl, const std::string& tlsPin) {
    return committing([&](Workspace& ws) -> AStatus {
        XS_TRY_APP(checkOutputPath(m_dir, out));
        auto text = app::exportEnrolment(ws, serverUrl, tlsPin);
        if (!text) return text.error();
        return writeOutputFile(m_dir, out, crypto::asBytes(*text));
    });
}

namespace {
EnrolmentAcceptedView acceptedView(const Json& r) {
    return EnrolmentAcceptedView{stringOf(r, "organisation_id"), stringOf(r, "office_fingerprint"), stringOf(r, "person_id"),
                                 stringOf(r, "person"), enumOf(r, "role", Role::WorkingGroupMember),
                                 intOf(r, "change_sets_new").value_or(0), intOf(r, "change_sets_refused").value_or(0),
                                 intOf(r, "channel_keys").value_or(0), intOf(r, "channel_memberships").value_or(0)};
}
InviteView inviteView(const InviteRecord& r, std::int64_t now) {
    InviteView v{r.id, r.code, r.personId, r.personName, r.createdMs, r.expiresMs, r.state, r.deviceId, r.fingerprint, r.problem, {}, {}};
    if ((v.state == "created" || v.state == "sent") && v.expiresMs <= now) v.state = "expired";
    return v;
}
}  // namespace

AResult<EnrolmentAcceptedView> Session::acceptEnrolment(const std::filesystem::path& enrolmentFile) {
    XS_TRY_APP(unlocked());  // a locked session says so before it reads anything
    auto text = readText(enrolmentFile, kMaxEnrolmentFileBytes);
    if (!text) return text.error();
    return committing([&](Workspace& ws) -> AResult<EnrolmentAcceptedView> {
        auto r = app::acceptEnrolment(ws, *text);
        if (!r) return r.error();
        return acceptedView(*r);
    });
}

AResult<InviteView> Session::createInvite(const std::string& person, int hours) {
    auto srv = server();
    if (!srv) return refused("online enrolment needs the sync server: " + srv.message());
    auto made = committing([&](Workspace& ws) { return app::createInvite(ws, person, hours); });
    if (!made) return made.error();
    InviteView v = inviteView(*made, sync::wallClockMs());
    v.serverUrl = srv->url;
    v.pin = srv->pin;
    // Filed at once when the server answers; otherwise the next sync round files it.
    auto conn = sync::net::Connection::open({srv->url, srv->pin}, m_ws->log().identity());
    if (conn) {
        InviteRoundReport report;
        auto served = committing([&](Workspace& ws) { return fileInvites(ws, **conn, report); });
        if (served && report.filed > 0) v.state = "sent";
    }
    return v;
}

AResult<std::vector<InviteView>> Session::invites() {
    XS_TRY_APP(unlocked());
    auto list = listInvites(*m_ws);
    if (!list) return list.error();
    auto srv = server();
    std::vector<InviteView> out;
    const std::int64_t now = sync::wallClockMs();
    for (const auto& r : *list) {
        out.push_back(inviteView(r, now));
        if (srv) {
            out.back().serverUrl = srv->url;
            out.back().pin = srv->pin;
        }
    }
    return out;
}

AResult<JoinView> Session::joinOnline(const std::string& url, const std::string& pin, const std::string& code, int waitSeconds) {
    XS_TRY_APP(unlocked());
    if (url.rfind("https://", 0) != 0 || url.size() > 2048) return refused("the server URL must be https://HOST:PORT");
    auto raw = crypto::fromBase64(pin);
    if (!raw || raw->size() != 32)
        return refused("the pin is the base64 SHA-256 of the server's public key, as the audit office gave it with the code");
    return committing([&](Workspace& ws) -> AResult<JoinView> {
        auto r = joinByCode(ws, {url, pin}, code, waitSeconds);
        if (!r) return r.error();
        JoinView v;
        v.deviceFingerprint = sync::fingerprint(ws.log().identity().publicInfo());
        if (!*r) return v;
        v.enrolled = true;
        v.accepted = acceptedView(**r);
        return v;
    });
}

AStatus Session::exportIdentity(const std::filesystem::path& out) {
    XS_TRY_APP(unlocked());
    auto device = devicePublicJson(*m_ws);
    if (!device) return device.error();
    return writeOutputFile(m_dir, out, crypto::asBytes(device->dump(2) + "\n"));
}

AStatus Session::exportOfficeAgeIdentity(const std::filesystem::path& out) {
    XS_TRY_APP(unlocked());
    return app::exportOfficeAgeIdentity(*m_ws, out);
}

// ---------------------------------------------------------------- inspections and findings

AResult<std::string> Session::createInspection(const InspectionInput& in) {
    return committing([&](Workspace& ws) { return ws.createInspection(in); });
}

AResult<std::string> Session::requestExtension(const std::string& inspection, int days, const std::string& reason) {
    return committing([&](Workspace& ws) { return ws.requestExtension(inspection, days, reason); });
}

AStatus Session::decideExtension(const std::string& extensionId, bool approve) {
    return committing([&](Workspace& ws) { return ws.decideExtension(extensionId, approve); });
}

AStatus Session::editFinding(const std::string& id, const FindingEdit& edit) {
    XS_TRY_APP(unlocked());  // a locked session says so before it reads anything
    if (edit.empty()) return refused("nothing to change: name a field and its new value");
    Json fields = Json::object();
    auto put = [&](const char* key, const auto& value) {
        if (value) fields[key] = *value;
    };
    put("title", edit.title);
    put("description", edit.description);
    put("audit_category", edit.auditCategory);
    put("responsible_person", edit.responsiblePerson);
    put("immediate_fix", edit.immediateFix);
    if (edit.category) fields["category"] = toString(*edit.category);
    if (edit.severity) fields["severity"] = toString(*edit.severity);
    if (edit.status) fields["status"] = toString(*edit.status);
    if (edit.tags) {
        fields["tags"] = Json::array();
        for (auto t : *edit.tags) fields["tags"].push_back(toString(t));
    }
    return committing([&](Workspace& ws) { return ws.editFinding(id, fields); });
}

AStatus Session::transitionFinding(const std::string& id, FindingStatus to, const std::string& note) {
    return committing([&](Workspace& ws) { return ws.transitionFinding(id, to, note); });
}

AResult<std::string> Session::attachEvidence(const std::string& findingId, const std::filesystem::path& file,
                                             EvidencePurpose purpose) {
    return committing([&](Workspace& ws) { return ws.attachEvidence(findingId, file, purpose); });
}

AResult<std::shared_ptr<Task<std::string>>> Session::replyToNoticeTask(const std::string& noticeId, const std::string& text,
                                                                       const std::filesystem::path& file) {
    return startTask<std::string>("回复通知 reply to a notice", [noticeId, text, file](Workspace& ws, Progress& p) -> AResult<std::string> {
        p.set(0, 1, "storing " + file.filename().string());
        auto r = ws.replyToNotice(noticeId, text, file);
        p.set(1, 1, "done");
        return r;
    });
}

AResult<std::shared_ptr<Task<std::string>>> Session::attachEvidenceTask(const std::string& findingId,
                                                                        const std::filesystem::path& file, EvidencePurpose purpose) {
    return startTask<std::string>("附加证据 attach evidence", [findingId, file, purpose](Workspace& ws, Progress& p) -> AResult<std::string> {
        p.set(0, 1, "storing " + file.filename().string());
        auto r = ws.attachEvidence(findingId, file, purpose);
        p.set(1, 1, "done");
        return r;
    });
}

AResult<std::vector<std::uint8_t>> Session::previewEvidence(const std::string& hash, std::size_t maxBytes) {
    XS_TRY_APP(unlocked());
    return m_ws->previewEvidence(hash, maxBytes);
}

AStatus Session::exportEvidence(const std::string& hash, const std::filesystem::path& out) {
    XS_TRY_APP(unlocked());
    return m_ws->exportEvidence(hash, out);
}

// ---------------------------------------------------------------- handover

AResult<HandoverConfirmView> Session::confirmHandover(const std::filesystem::path& receiptFile) {
    XS_TRY_APP(unlocked());  // a locked session says so before it reads anything
    auto text = readText(receiptFile, kMaxReceiptFileBytes);
    if (!text) return text.error();
    return committing([&](Workspace& ws) -> AResult<HandoverConfirmView> {
        auto r = app::confirmHandover(ws, *text);
        if (!r) return r.error();
        return HandoverConfirmView{wipeRecordFrom(*r), boolOf(*r, "already_confirmed"), textsOf(*r, "warnings"), stringOf(*r, "ack")};
    });
}

AResult<ShredAckAcceptedView> Session::acceptShredAcknowledgement(const std::filesystem::path& ackFile) {
    XS_TRY_APP(unlocked());  // a locked session says so before it reads anything
    auto text = readText(ackFile, kMaxAckFileBytes);
    if (!text) return text.error();
    return committing([&](Workspace& ws) -> AResult<ShredAckAcceptedView> {
        auto r = app::acceptShredAcknowledgement(ws, *text);
        if (!r) return r.error();
        ShredAckAcceptedView v{stringOf(*r, "device"), intOf(*r, "change_sets_new").value_or(0), {}};
        if (r->contains("acknowledgements") && (*r)["acknowledgements"].is_array())
            for (const auto& a : (*r)["acknowledgements"]) v.acknowledgements.push_back(shredAckFrom(a));
        return v;
    });
}

AStatus Session::rekey(std::string_view newPassphrase, const std::optional<crypto::Argon2Params>& kdf) {
    XS_TRY_APP(unlocked());
    const crypto::Argon2Params params = kdf ? *kdf : m_ws->store().kdfParams();
    XS_TRY_APP(checkPassphrasePolicy(newPassphrase, params));
    return m_ws->rekey(newPassphrase, params);
}

AResult<std::string> Session::addFinding(const FindingInput& in) {
    return committing([&](Workspace& ws) { return ws.addFinding(in); });
}

template <typename T>
AResult<std::shared_ptr<Task<T>>> Session::startTask(std::string name, std::function<AResult<T>(Workspace&, Progress&)> work) {
    XS_TRY_APP(unlocked());
    // The task's own connection: the session's stays free for the UI thread meanwhile.
    auto other = m_ws->openAnother();
    if (!other) return other.error();
    std::shared_ptr<Workspace> ws(std::move(*other));
    auto task = Task<T>::start(std::move(name), [ws, work = std::move(work)](Progress& p) { return work(*ws, p); });
    m_tasks.push_back(task);
    m_taskCancel.push_back([task] {
        task->cancel();
        (void)task->wait();
    });
    return task;
}

AResult<std::shared_ptr<Task<std::size_t>>> Session::importFindings(const std::filesystem::path& file,
                                                                     std::function<void(const std::string&)> committed) {
    return startTask<std::size_t>("导入问题 finding import", [file, committed](Workspace& ws, Progress& p) -> AResult<std::size_t> {
        std::size_t done = 0;
        p.set(0, 0, "checking every line");
        return ws.importFindings(
            file,
            [&](const std::string& id) {
                p.set(++done, 0, "committing");
                if (committed) committed(id);
            },
            [&] { return p.cancelled(); });
    });
}

AResult<std::shared_ptr<Task<VerifyReport>>> Session::verify() {
    return startTask<VerifyReport>("校验 verify", [](Workspace& ws, Progress& p) -> AResult<VerifyReport> {
        p.set(0, 1, "checking the database, the op log and every evidence file");
        auto r = ws.verify();
        p.set(1, 1, "done");
        return r;
    });
}

AResult<std::shared_ptr<Task<HandoverExportView>>> Session::exportHandover(const std::string& inspection,
                                                                           const std::filesystem::path& out) {
    return startTask<HandoverExportView>("交接导出 handover export", [inspection, out](Workspace& ws, Progress& p) -> AResult<HandoverExportView> {
        auto r = app::exportHandover(ws, inspection, out, &p);
        if (!r) return r.error();
        return HandoverExportView{stringOf(*r, "bundle"), stringOf(*r, "inspection"), stringOf(*r, "bundle_header_sha256"),
                                  stringOf(*r, "manifest_sha256"), intOf(*r, "change_sets").value_or(0),
                                  intOf(*r, "evidence_files").value_or(0), intOf(*r, "bytes").value_or(0)};
    });
}

AResult<std::shared_ptr<Task<HandoverImportView>>> Session::importHandover(const std::filesystem::path& bundle) {
    return startTask<HandoverImportView>("交接导入 handover import", [bundle](Workspace& ws, Progress& p) -> AResult<HandoverImportView> {
        auto r = app::importHandover(ws, bundle, &p);
        if (!r) return r.error();
        HandoverImportView v{stringOf(*r, "inspection"), stringOf(*r, "author_device"), intOf(*r, "change_sets").value_or(0),
                             intOf(*r, "change_sets_new").value_or(0), intOf(*r, "evidence_files").value_or(0), {},
                             textsOf(*r, "evidence_dropped"), textsOf(*r, "evidence_pending"), stringOf(*r, "receipt")};
        if (r->contains("change_sets_refused") && (*r)["change_sets_refused"].is_array())
            for (const auto& x : (*r)["change_sets_refused"]) v.changeSetsRefused.push_back(refusedFrom(x));
        return v;
    });
}

AResult<std::shared_ptr<Task<std::string>>> Session::rebuild() {
    return startTask<std::string>("重建 rebuild", [](Workspace& ws, Progress& p) -> AResult<std::string> {
        p.set(0, 1, "replaying the op log");
        XS_TRY_APP(ws.rebuild());
        auto digest = ws.log().projectionDigest();
        if (!digest) return fromSync(digest.error());
        p.set(1, 1, "done");
        return *digest;
    });
}

}  // namespace xs::app
