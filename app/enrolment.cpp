#include "app/enrolment.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "crypto/age.h"
#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "sync/changeset_codec.h"
#include "sync/file_io.h"
#include "sync/identity.h"
#include "sync/uuid.h"

namespace xs::app {
namespace {


std::string hexOf(const crypto::Bytes& b) { return crypto::toHex(b); }

std::optional<crypto::Bytes> key32(const Json& j, const char* k) {
    auto it = j.find(k);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    auto b = crypto::fromHex(it->get<std::string>());
    if (!b || b->size() != 32) return std::nullopt;
    return b;
}

AStatus requireOffice(Workspace& ws) {
    if (ws.self().role != Role::AuditOffice)
        return refused("only an audit-office store holds the office key and enrols devices (article 5)");
    return {};
}

AResult<std::string> metaOr(Workspace& ws, const char* key) {
    auto v = ws.store().meta(key);
    if (!v) return fromSync(v.error());
    return *v;
}

}  // namespace

AResult<OfficeKeyInfo> officeKey(Workspace& ws) {
    auto pub = metaOr(ws, "office_public_key");
    if (!pub) return fail(AppError::NotFound, "no office key here (run org create-office-key on an audit-office store)");
    auto bytes = crypto::fromHex(*pub);
    if (!bytes || bytes->size() != 32) return fail(AppError::Failed, "stored office key is damaged");
    auto recipient = crypto::ageRecipientToString(*bytes);
    if (!recipient) return fail(AppError::Failed, "cannot encode the office key");
    // The office is identified by its device's signing key together with the office key; the same
    // fingerprint is shown on the office when the key is made and on every store that enrols.
    crypto::Bytes signKey = ws.log().identity().publicInfo().signKey;
    if (auto pinned = ws.store().meta("office_sign_public_key")) {
        if (auto b = crypto::fromHex(*pinned)) signKey = *b;
    }
    sync::DevicePublic asDevice{"", signKey, *bytes};
    return OfficeKeyInfo{*pub, *recipient, sync::fingerprint(asDevice)};
}

AResult<OfficeKeyInfo> createOfficeKey(Workspace& ws) {
    XS_TRY_APP(requireOffice(ws));
    if (officeKey(ws)) return refused("this store already holds the office key");
    auto pair = crypto::x25519Generate();
    if (!pair) return fail(AppError::Failed, "cannot generate the office key");
    sync::Db& db = ws.store().db();
    auto tx = sync::Transaction::begin(db);
    if (!tx) return fromSync(tx.error());
    auto s = db.prepare("INSERT INTO device_secrets (name, secret) VALUES (?, ?)");
    if (!s) return fromSync(s.error());
    s->bind(1, std::string(sync::kOfficeSecretName)).bindBlob(2, pair->privateKey.view());
    XS_TRY_SYNC(s->run());
    XS_TRY_SYNC(ws.store().setMeta(sync::kOfficePublicKeyMeta, hexOf(pair->publicKey)));
    auto org = sync::newUuidV7();
    if (!org) return fromSync(org.error());
    XS_TRY_SYNC(ws.store().setMeta("organisation_id", *org));
    XS_TRY_SYNC(tx->commit());
    return officeKey(ws);
}

AResult<crypto::SecretBytes> officePrivateKey(Workspace& ws) {
    auto s = ws.store().db().prepare("SELECT secret FROM device_secrets WHERE name = ?");
    if (!s) return fromSync(s.error());
    s->bind(1, std::string(sync::kOfficeSecretName));
    auto row = s->step();
    if (!row) return fromSync(row.error());
    if (!*row) return fail(AppError::NotFound, "no office key here (run org create-office-key first)");
    return s->secretBlob(0);
}

AStatus exportOfficeAgeIdentity(Workspace& ws, const std::filesystem::path& out) {
    XS_TRY_APP(requireOffice(ws));
    auto secret = officePrivateKey(ws);
    if (!secret) return secret.error();
    auto text = crypto::ageIdentityToString(*secret);
    if (!text) return fail(AppError::Failed, "cannot encode the office identity");
    auto info = officeKey(ws);
    if (!info) return info.error();
    std::string header = "# Xunshen audit office identity — keep offline; opens every handover bundle\n# public key: " +
                         info->ageRecipient + "\n";
    crypto::SecretBytes file(header.size() + text->size() + 1);
    std::copy(header.begin(), header.end(), file.data());
    std::copy(text->data(), text->data() + text->size(), file.data() + header.size());
    file.data()[file.size() - 1] = '\n';
    XS_TRY_SYNC(sync::writeFileAtomic(out, file.view()));
    ::chmod(out.c_str(), 0600);
    return {};
}

Json devicePublicJson(Workspace& ws) {
    const auto& pub = ws.log().identity().publicInfo();
    return {{"format", "xunshen-device"}, {"version", 1}, {"device_id", pub.id}, {"person_name", ws.self().name},
            {"role", toString(ws.self().role)}, {"sign_public_key", hexOf(pub.signKey)},
            {"exchange_public_key", hexOf(pub.exchangeKey)}, {"fingerprint", sync::fingerprint(pub)}};
}

AResult<Json> enrolDevice(Workspace& ws, const Json& d) {
    XS_TRY_APP(requireOffice(ws));
    if (!d.is_object() || textOf(d, "format") != "xunshen-device") return refused("not a Xunshen device identity file");
    auto sign = key32(d, "sign_public_key");
    auto kx = key32(d, "exchange_public_key");
    std::string id = textOf(d, "device_id");
    auto role = parseEnum<Role>(textOf(d, "role"));
    if (!sign || !kx || !sync::isUuid(id) || !role || textOf(d, "person_name").empty())
        return refused("device identity file is malformed (device_id, person_name, role and both 32-byte keys are required)");
    sync::DevicePublic pub{id, *sign, *kx};
    if (!textOf(d, "fingerprint").empty() && textOf(d, "fingerprint") != sync::fingerprint(pub))
        return refused("the fingerprint in the file does not match its keys");
    XS_TRY_SYNC(ws.log().addDevice(pub));
    auto s = ws.store().db().prepare("UPDATE devices SET person_id = ? WHERE id = ?");
    if (!s) return fromSync(s.error());
    s->bind(1, Json{{"name", textOf(d, "person_name")}, {"role", toString(*role)}}.dump()).bind(2, id);
    XS_TRY_SYNC(s->run());
    // The device's person may already be on inspection teams: it gets their channel keys now.
    auto granted = ws.updateChannelMembers();
    if (!granted) return granted.error();
    return Json{{"device_id", id}, {"fingerprint", sync::fingerprint(pub)}, {"channel_memberships", *granted}};
}

AResult<std::string> exportEnrolment(Workspace& ws, const std::string& serverUrl, const std::string& tlsPin) {
    XS_TRY_APP(requireOffice(ws));
    auto office = officeKey(ws);
    if (!office) return office.error();
    auto org = metaOr(ws, "organisation_id");
    if (!org) return fail(AppError::Failed, "organisation id missing");
    Json devices = Json::array();
    auto s = ws.store().db().prepare("SELECT id, sign_pk, kx_pk, COALESCE(person_id, '') FROM devices ORDER BY id");
    if (!s) return fromSync(s.error());
    for (;;) {
        auto row = s->step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        Json person = Json::parse(s->text(3), nullptr, false);
        Json entry = {{"device_id", s->text(0)}, {"sign_public_key", hexOf(s->blob(1))},
                      {"exchange_public_key", hexOf(s->blob(2))}};
        if (person.is_object()) entry["person"] = person;
        if (s->text(0) == ws.log().deviceId())
            entry["person"] = {{"name", ws.self().name}, {"role", toString(ws.self().role)}};
        devices.push_back(entry);
    }
    // The office's organisation and plans travel with the enrolment, so every store shares the
    // same unit, person and inspection records.
    auto sets = ws.log().changeSets();
    if (!sets) return fromSync(sets.error());
    Json changeSets = Json::array();
    for (const auto& cs : *sets)
        if (cs.device == ws.log().deviceId()) changeSets.push_back(sync::changeSetToJson(cs));
    // Channel keys wrapped to each member device (and the office): each store opens only its own.
    auto envelopes = ws.log().envelopes();
    if (!envelopes) return fromSync(envelopes.error());
    Json keyEnvelopes = Json::array();
    for (const auto& e : *envelopes)
        if (e.issuer == ws.log().deviceId()) keyEnvelopes.push_back(sync::envelopeToJson(e));
    const auto& me = ws.log().identity().publicInfo();
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    Json body = {{"format", "xunshen-enrolment"},
                 {"version", 1},
                 {"suite", 1},
                 {"organisation_id", *org},
                 {"office",
                  {{"device_id", me.id},
                   {"sign_public_key", hexOf(me.signKey)},
                   {"office_public_key", office->publicKeyHex},
                   {"age_recipient", office->ageRecipient}}},
                 {"server", {{"url", serverUrl}, {"tls_pin_sha256", tlsPin}}},
                 {"devices", devices},
                 {"change_sets", changeSets},
                 {"key_envelopes", keyEnvelopes},
                 {"issued_at", now}};
    std::string bodyText = body.dump();
    auto sig = ws.log().identity().sign(crypto::asBytes(bodyText));
    if (!sig) return fromSync(sig.error());
    Json signedFile = {{"format", "xunshen-enrolment-signed"}, {"body", bodyText}, {"signature", hexOf(*sig)}};
    return signedFile.dump(2) + "\n";
}

AResult<Json> acceptEnrolment(Workspace& ws, const std::string& text) {
    Json outer = Json::parse(text, nullptr, false);
    if (outer.is_discarded() || !outer.is_object() || textOf(outer, "format") != "xunshen-enrolment-signed")
        return refused("not a signed Xunshen enrolment file");
    std::string bodyText = textOf(outer, "body");
    auto sig = crypto::fromHex(textOf(outer, "signature"));
    Json body = Json::parse(bodyText, nullptr, false);
    if (!sig || sig->size() != 64 || body.is_discarded() || !body.is_object())
        return refused("enrolment file is malformed");
    if (textOf(body, "format") != "xunshen-enrolment" || body.value("version", 0) != 1 || body.value("suite", 0) != 1)
        return refused("unsupported enrolment file version or crypto suite");
    const Json office = body.value("office", Json::object());
    auto officeSign = key32(office, "sign_public_key");
    auto officeKx = key32(office, "office_public_key");
    std::string officeDevice = textOf(office, "device_id");
    std::string org = textOf(body, "organisation_id");
    if (!officeSign || !officeKx || !sync::isUuid(officeDevice) || !sync::isUuid(org))
        return refused("enrolment file lacks the office keys or organisation id");
    if (!crypto::ed25519Verify(*officeSign, crypto::asBytes(bodyText), *sig))
        return refused("the enrolment file's signature does not verify: it was altered or not signed by the office");
    // Once an office is pinned, only that office may issue later enrolment files.
    auto pinned = ws.store().meta("office_sign_public_key");
    if (pinned && *pinned != crypto::toHex(*officeSign))
        return refused("this store is enrolled with another audit office (fingerprints differ)");
    const Json devices = body.value("devices", Json::array());
    if (!devices.is_array()) return refused("enrolment file's device list is malformed");
    std::vector<sync::DevicePublic> parsed;
    for (const auto& d : devices) {
        auto s = key32(d, "sign_public_key");
        auto k = key32(d, "exchange_public_key");
        std::string id = textOf(d, "device_id");
        if (!s || !k || !sync::isUuid(id)) return refused("enrolment file lists a malformed device");
        parsed.push_back({id, *s, *k});
    }
    std::vector<sync::ChangeSet> sets;
    for (const auto& c : body.value("change_sets", Json::array())) {
        auto cs = sync::changeSetFromJson(c);
        if (!cs) return refused("enrolment file carries a malformed change set: " + cs.message());
        if (cs->device != officeDevice) return refused("enrolment file carries change sets of another device");
        sets.push_back(std::move(*cs));
    }
    std::vector<sync::KeyEnvelope> envelopes;
    const Json keyList = body.value("key_envelopes", Json::array());
    if (!keyList.is_array()) return refused("enrolment file's key envelopes are malformed");
    for (const auto& k : keyList) {
        auto e = sync::envelopeFromJson(k);
        if (!e) return refused("enrolment file carries a " + e.message());
        if (e->issuer != officeDevice) return refused("enrolment file carries key envelopes of another device");
        envelopes.push_back(std::move(*e));
    }
    sync::Db& db = ws.store().db();
    auto tx = sync::Transaction::begin(db);
    if (!tx) return fromSync(tx.error());
    for (const auto& p : parsed) {
        if (p.id == ws.log().deviceId()) continue;
        XS_TRY_SYNC(ws.log().addDevice(p));
    }
    auto applied = ws.log().applyAllOrNothing(sets, false);
    if (!applied) return refused("the office's records in the enrolment file do not verify: " + applied.message());
    auto keys = ws.log().acceptEnvelopes(envelopes);
    if (!keys) return refused("the channel keys in the enrolment file do not verify: " + keys.message());
    // This store's owner becomes the office's record of the same person, if there is one.
    auto same = db.prepare("SELECT id FROM people WHERE name = ? AND role = ? AND id != ?");
    if (!same) return fromSync(same.error());
    same->bind(1, ws.self().name).bind(2, toString(ws.self().role)).bind(3, ws.self().personId);
    std::vector<std::string> matches;
    for (;;) {
        auto row = same->step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        matches.push_back(same->text(0));
    }
    if (matches.size() == 1) XS_TRY_APP(ws.adoptOwner(matches[0]));
    XS_TRY_SYNC(ws.store().setMeta("office_sign_public_key", crypto::toHex(*officeSign)));
    XS_TRY_SYNC(ws.store().setMeta("office_public_key", crypto::toHex(*officeKx)));
    XS_TRY_SYNC(ws.store().setMeta("office_device_id", officeDevice));
    XS_TRY_SYNC(ws.store().setMeta("organisation_id", org));
    XS_TRY_SYNC(ws.store().setMeta("server_url", textOf(body.value("server", Json::object()), "url")));
    XS_TRY_SYNC(ws.store().setMeta("server_tls_pin", textOf(body.value("server", Json::object()), "tls_pin_sha256")));
    // Channels this device made before it knew the office: the office gets their keys too.
    auto wrapped = ws.log().wrapKeysToOffice();
    if (!wrapped) return fromSync(wrapped.error());
    XS_TRY_SYNC(tx->commit());
    auto info = officeKey(ws);
    if (!info) return info.error();
    return Json{{"organisation_id", org}, {"office_fingerprint", info->fingerprint}, {"devices", parsed.size()},
                {"channel_keys", *keys}};
}

}  // namespace xs::app
