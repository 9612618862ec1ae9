// Online enrolment by one-time code (app/enrolment.h; docs/PROTOCOL.md "Online enrolment").
#include <algorithm>
#include <chrono>
#include <thread>

#include "app/enrolment.h"
#include "crypto/encoding.h"
#include "sync/changeset_codec.h"
#include "sync/env.h"

namespace xs::app {
namespace {

constexpr const char* kRefusalFormat = "xunshen-join-refusal";

std::string textCol(sync::Stmt& s, int i) { return s.isNull(i) ? std::string() : s.text(i); }

AResult<std::vector<InviteRecord>> selectInvites(Workspace& ws, const char* where) {
    const std::string sql = std::string("SELECT id, person, created_ms, expires_ms, state, device, fingerprint, problem "
                                        "FROM invites ") + where + " ORDER BY created_ms, id";
    auto s = ws.store().db().prepare(sql.c_str());
    if (!s) return fromSync(s.error());
    std::vector<InviteRecord> out;
    for (;;) {
        auto row = s->step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        InviteRecord r;
        r.id = s->text(0);
        r.personId = s->text(1);
        r.createdMs = s->int64(2);
        r.expiresMs = s->int64(3);
        r.state = s->text(4);
        r.deviceId = textCol(*s, 5);
        r.fingerprint = textCol(*s, 6);
        r.problem = textCol(*s, 7);
        if (auto p = ws.log().record("person", r.personId)) r.personName = p->value("name", "");
        out.push_back(std::move(r));
    }
    return out;
}

struct InviteSecrets {
    crypto::SecretBytes office, server;
    std::string person, presentation;
};
AResult<InviteSecrets> secretsOf(Workspace& ws, const std::string& id) {
    auto s = ws.store().db().prepare("SELECT office_key, server_key, person, presentation FROM invites WHERE id = ?");
    if (!s) return fromSync(s.error());
    s->bind(1, id);
    auto row = s->step();
    if (!row) return fromSync(row.error());
    if (!*row) return fail(AppError::NotFound, "no invitation " + id.substr(0, 12));
    return InviteSecrets{s->secretBlob(0), s->secretBlob(1), s->text(2), textCol(*s, 3)};
}

AStatus setState(Workspace& ws, const std::string& id, const std::string& state, const std::string& device = {},
                 const std::string& fingerprint = {}, const std::string& problem = {}, const std::string& presentation = {}) {
    auto s = ws.store().db().prepare(
        "UPDATE invites SET state = ?, device = coalesce(nullif(?, ''), device), fingerprint = coalesce(nullif(?, ''), fingerprint),"
        " problem = coalesce(nullif(?, ''), problem), presentation = coalesce(nullif(?, ''), presentation) WHERE id = ?");
    if (!s) return fromSync(s.error());
    XS_TRY_SYNC(s->bind(1, state).bind(2, device).bind(3, fingerprint).bind(4, problem).bind(5, presentation).bind(6, id).run());
    return {};
}

AStatus fileOne(Workspace& ws, sync::net::Connection& conn, const InviteRecord& r) {
    auto secrets = secretsOf(ws, r.id);
    if (!secrets) return secrets.error();
    sync::net::InviteKeys keys{r.id, std::move(secrets->server), std::move(secrets->office)};
    auto filed = sync::net::fileInvite(conn, keys, r.expiresMs);
    // Filed by an earlier round whose answer was lost: the server says the id is taken.
    if (!filed && !(filed.code() == sync::SyncError::Invalid && filed.message().find("filed already") != std::string::npos))
        return fromSync(filed.error());
    return setState(ws, r.id, "sent");
}

}  // namespace

AResult<InviteRecord> createInvite(Workspace& ws, const std::string& personKey, int hours) {
    XS_TRY_APP(requireRegistrar(ws));
    if (hours < 1 || hours > sync::net::kMaxInviteHours)
        return refused("an invitation is valid 1 to " + std::to_string(sync::net::kMaxInviteHours) + " hours");
    auto people = ws.people();
    if (!people) return people.error();
    std::string personId, personName;
    for (const auto& p : *people)
        if (p.value("id", "") == personKey || (p.contains("code") && p["code"].is_string() && p["code"] == personKey)) {
            personId = p["id"];
            personName = p.value("name", "");
        }
    if (personId.empty()) return fail(AppError::NotFound, "no person '" + personKey + "' in the organisation (a code or id)");
    // A code read aloud must not make a device that receives every channel key.
    if (personId == ws.self().personId)
        return refused("the audit office's own person is not invited online: enrol another office device by file (org enrol-device --person)");
    auto server = ws.store().meta("server_url");
    if (!server || server->empty())
        return refused("no sync server is known here: online enrolment needs one (sync --server URL --pin PIN)");
    const std::string code = sync::net::newInviteCode();
    auto canonical = sync::net::normaliseInviteCode(code);
    if (code.empty() || !canonical) return fail(AppError::Failed, "no random code");
    auto keys = sync::net::inviteKeys(*canonical);
    const std::int64_t now = sync::wallClockMs();
    InviteRecord r{keys.id, code, personId, personName, now, now + std::int64_t{hours} * 3600 * 1000, "created", {}, {}, {}};
    auto put = ws.store().db().prepare(
        "INSERT INTO invites (id, office_key, server_key, person, created_ms, expires_ms, state) VALUES (?, ?, ?, ?, ?, ?, 'created')");
    if (!put) return fromSync(put.error());
    XS_TRY_SYNC(put->bind(1, r.id).bindBlob(2, keys.office).bindBlob(3, keys.server).bind(4, personId).bind(5, now)
                    .bind(6, r.expiresMs).run());
    return r;
}

AResult<std::vector<InviteRecord>> listInvites(Workspace& ws) {
    XS_TRY_APP(requireRegistrar(ws));
    return selectInvites(ws, "");
}

AResult<bool> invitesPending(Workspace& ws) {
    auto s = ws.store().db().prepare("SELECT count(*) FROM invites WHERE (state IN ('created', 'sent') AND expires_ms > ?) OR state IN ('enrolled', 'refused')");
    if (!s) return fromSync(s.error());
    s->bind(1, sync::wallClockMs());
    auto row = s->step();
    if (!row) return fromSync(row.error());
    return s->int64(0) > 0;
}

AStatus fileInvites(Workspace& ws, sync::net::Connection& conn, InviteRoundReport& report) {
    const std::string now = std::to_string(sync::wallClockMs());
    auto created = selectInvites(ws, ("WHERE state = 'created' AND expires_ms > " + now).c_str());
    if (!created) return created.error();
    for (const auto& r : *created) {
        auto filed = fileOne(ws, conn, r);
        if (!filed) {
            if (filed.code() == AppError::Offline) return filed;
            // Refused by the server (its clock, its rules): said on the invitation; the rest go on.
            XS_TRY_APP(setState(ws, r.id, "filing-refused", {}, {}, filed.message()));
            continue;
        }
        ++report.filed;
    }
    return {};
}

AStatus serveInvites(Workspace& ws, sync::net::Connection& conn, InviteRoundReport& report) {
    XS_TRY_APP(fileInvites(ws, conn, report));
    const std::string now = std::to_string(sync::wallClockMs());
    auto sent = selectInvites(ws, ("WHERE state = 'sent' AND expires_ms > " + now).c_str());
    if (!sent) return sent.error();
    if (sent->empty()) return {};
    auto waiting = sync::net::waitingPresentations(conn);
    if (!waiting) return fromSync(waiting.error());
    for (const auto& w : *waiting) {
        auto mine = std::find_if(sent->begin(), sent->end(), [&](const InviteRecord& r) { return r.id == w.id; });
        if (mine == sent->end()) continue;  // answered already, or not this office's
        auto secrets = secretsOf(ws, w.id);
        if (!secrets) return secrets.error();
        auto refuse = [&](const std::string& why) -> AStatus {
            ++report.refused;
            return setState(ws, w.id, "refused", {}, {}, why, w.presentation);
        };
        auto p = sync::net::parsePresentation(w.presentation);
        if (!p) {
            XS_TRY_APP(refuse("the presentation is malformed: " + p.error().message));
            continue;
        }
        // Only a holder of the code makes this mac: not the server, not someone who saw the id.
        if (!sync::net::presentationAuthentic(secrets->office, w.id, *p)) {
            XS_TRY_APP(refuse("the presentation was not made with the code (altered on the way or by the server)"));
            continue;
        }
        auto deviceJson = sync::parseBoundedJson(p->deviceFileText, sync::net::kMaxPresentationBytes, "the device identity file");
        if (!deviceJson) {
            XS_TRY_APP(refuse(deviceJson.error().message));
            continue;
        }
        auto enrolled = enrolDevice(ws, *deviceJson, secrets->person);
        if (!enrolled) {
            if (enrolled.code() != AppError::Refused && enrolled.code() != AppError::NotFound) return enrolled.error();
            XS_TRY_APP(refuse(enrolled.message()));
            continue;
        }
        ++report.enrolled;
        XS_TRY_APP(setState(ws, w.id, "enrolled", (*enrolled)["device_id"].get<std::string>(),
                            (*enrolled)["fingerprint"].get<std::string>(), {}, w.presentation));
    }
    return {};
}

AStatus answerInvites(Workspace& ws, sync::net::Connection& conn, const sync::net::Endpoint& server, InviteRoundReport& report) {
    auto due = selectInvites(ws, "WHERE state IN ('enrolled', 'refused') AND presentation IS NOT NULL");
    if (!due) return due.error();
    for (const auto& r : *due) {
        auto secrets = secretsOf(ws, r.id);
        if (!secrets) return secrets.error();
        std::string text;
        if (r.state == "enrolled") {
            auto file = exportEnrolment(ws, server.url, server.pin);
            if (!file) return file.error();
            text = std::move(*file);
        } else {
            text = Json{{"format", kRefusalFormat}, {"reason", r.problem}}.dump();
        }
        const std::string framed = sync::net::joinAnswer(secrets->office, r.id, secrets->presentation, text);
        if (framed.size() > sync::net::kMaxRequestBytes) {
            // Too large to go online: the device is enrolled; its person takes the file by hand.
            XS_TRY_APP(setState(ws, r.id, "refused", {}, {}, "the enrolment file is larger than the server takes (32 MiB): give it by file"));
            continue;
        }
        auto sent = sync::net::answerInvite(conn, r.id, framed);
        if (!sent) {
            if (sent.code() == sync::SyncError::Unavailable) return fromSync(sent.error());  // offline: next round
            // The server will not take this one (gone, refused): said on the invitation, the others go on.
            XS_TRY_APP(setState(ws, r.id, r.state == "enrolled" ? "answer-failed" : "refused-answered", {}, {}, sent.message()));
            continue;
        }
        XS_TRY_APP(setState(ws, r.id, r.state == "enrolled" ? "answered" : "refused-answered"));
        if (r.state == "enrolled") ++report.answered;
    }
    return {};
}

AResult<std::optional<Json>> joinByCode(Workspace& ws, const sync::net::Endpoint& server, const std::string& code,
                                        int waitSeconds) {
    auto root = ws.log().trustRoot();
    if (!root) return fromSync(root.error());
    if (*root) return refused("this store is enrolled already (a device joins once; its later enrolment files come by sync)");
    auto canonical = sync::net::normaliseInviteCode(code);
    if (!canonical) return refused(canonical.error().message);
    auto keys = sync::net::inviteKeys(*canonical);
    auto device = devicePublicJson(ws);
    if (!device) return device.error();
    const std::string presentation = sync::net::presentationBody(keys.office, keys.id, device->dump());
    auto conn = sync::net::Connection::open(server, ws.log().identity());
    if (!conn) return fromSync(conn.error());
    auto presented = sync::net::presentToInvite(**conn, keys, presentation);
    if (!presented) {
        if (presented.code() == sync::SyncError::Forbidden) return refused(presented.message());
        return fromSync(presented.error());
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(std::max(0, waitSeconds));
    for (;;) {
        auto answer = sync::net::fetchJoinAnswer(**conn, keys);
        if (!answer) return fromSync(answer.error());
        if (*answer) {
            auto text = sync::net::openJoinAnswer(keys.office, keys.id, presentation, **answer);
            if (!text) {
                if (text.code() == sync::SyncError::Corrupt) return fail(AppError::Tampered, text.message());
                return refused(text.error().message);
            }
            if (auto j = sync::parseBoundedJson(*text, 64 * 1024, "answer"); j && j->is_object() && j->value("format", "") == kRefusalFormat)
                return refused("the audit office did not enrol this device: " + j->value("reason", std::string("no reason given")));
            auto accepted = acceptEnrolment(ws, *text);
            if (!accepted) return accepted.error();
            (*accepted)["device_fingerprint"] = sync::fingerprint(ws.log().identity().publicInfo());
            return std::optional<Json>(std::move(*accepted));
        }
        if (std::chrono::steady_clock::now() >= until) return std::optional<Json>();
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
}

}  // namespace xs::app
