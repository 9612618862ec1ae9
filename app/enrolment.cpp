#include "app/enrolment.h"

#include "app/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <set>

#include "crypto/age.h"
#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "sync/apply.h"
#include "sync/changeset_codec.h"
#include "sync/file_io.h"
#include "sync/identity.h"
#include "sync/uuid.h"
#include "sync/env.h"
#include "sync/suite.h"

namespace xs::app {
namespace {

constexpr int kDeviceFileVersion = 3;  // 3: names its crypto suite
constexpr int kEnrolmentVersion = 2;
constexpr std::size_t kMaxEnrolment = std::size_t{64} << 20;

std::string hexOf(const crypto::Bytes& b) { return crypto::toHex(b); }

std::optional<crypto::Bytes> key32(const Json& j, const char* k) {
    auto it = j.find(k);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    auto b = crypto::fromHex(it->get<std::string>());
    if (!b || b->size() != 32) return std::nullopt;
    return b;
}

AResult<std::string> metaOr(Workspace& ws, const char* key) {
    auto v = ws.store().meta(key);
    if (!v) return fromSync(v.error());
    return *v;
}

std::int64_t nowMs() {
    return sync::wallClockMs();
}

}  // namespace

// The office's store is its own registrar.
AStatus requireRegistrar(Workspace& ws) {
    auto root = ws.log().trustRoot();
    if (!root) return fromSync(root.error());
    if (ws.self().role != Role::AuditOffice || !*root || (*root)->device != ws.log().deviceId())
        return refused("only the audit office's store holds the office key and enrols devices (article 5)");
    return {};
}

AResult<OfficeKeyInfo> officeKey(Workspace& ws) {
    auto pub = metaOr(ws, sync::kOfficePublicKeyMeta);
    if (!pub) return fail(AppError::NotFound, "no office key here (run org create-office-key on an audit-office store)");
    auto bytes = crypto::fromHex(*pub);
    if (!bytes || bytes->size() != 32) return fail(AppError::Failed, "stored office key is damaged");
    auto recipient = crypto::ageRecipientToString(*bytes);
    if (!recipient) return fail(AppError::Failed, "cannot encode the office key");
    // The office is identified by its registrar's signing key together with the office key; the
    // same fingerprint is shown on the office when the key is made and on every store that enrols.
    auto root = ws.log().trustRoot();
    if (!root) return fromSync(root.error());
    crypto::Bytes signKey = *root ? (*root)->signKey : ws.log().identity().publicInfo().signKey;
    sync::DevicePublic asDevice{"", signKey, *bytes, {}};
    return OfficeKeyInfo{*pub, *recipient, sync::fingerprint(asDevice)};
}

AResult<OfficeKeyInfo> createOfficeKey(Workspace& ws) {
    XS_TRY_APP(requireRegistrar(ws));
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
    XS_TRY_APP(requireRegistrar(ws));
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
    XS_TRY_APP(writeOutputFile(ws.store().dir(), out, file.view()));
    ::chmod(out.c_str(), 0600);
    return {};
}

AResult<Json> devicePublicJson(Workspace& ws) {
    const auto& pub = ws.log().identity().publicInfo();
    auto sig = ws.log().identity().signSubkeys();
    if (!sig) return fromSync(sig.error());
    Json subkeys = Json::array();
    for (const auto& k : pub.subkeys) subkeys.push_back(hexOf(k));
    return Json{{"format", "xunshen-device"}, {"version", kDeviceFileVersion}, {"suite", sync::kSuiteXs1}, {"device_id", pub.id},
                {"person_name", ws.self().name}, {"role", toString(ws.self().role)},
                {"sign_public_key", hexOf(pub.signKey)}, {"exchange_public_key", hexOf(pub.exchangeKey)},
                {"subkeys", subkeys}, {"subkeys_signature", hexOf(*sig)}, {"fingerprint", sync::fingerprint(pub)}};
}

AResult<DeviceFile> parseDeviceFile(const Json& d) {
    static const std::set<std::string> known = {"format", "version", "suite", "device_id", "person_name", "role", "sign_public_key",
                                                "exchange_public_key", "subkeys", "subkeys_signature", "fingerprint"};
    if (!d.is_object() || textOf(d, "format") != "xunshen-device") return refused("not a Xunshen device identity file");
    for (auto it = d.begin(); it != d.end(); ++it)
        if (!known.count(it.key())) return refused("device identity file: unknown key '" + it.key() + "'");
    if (!d.contains("version") || d["version"] != kDeviceFileVersion)
        return refused("device identity file of another version (export it again with this version)");
    if (!d.contains("suite") || !d["suite"].is_number_integer() || !sync::isKnownSuite(d["suite"].get<std::int64_t>()))
        return refused("device identity file names a crypto suite this version does not know");
    auto sign = key32(d, "sign_public_key");
    auto kx = key32(d, "exchange_public_key");
    std::string id = textOf(d, "device_id");
    auto role = parseEnum<Role>(textOf(d, "role"));
    auto subkeyList = d.find("subkeys");
    if (!sign || !kx || !sync::isUuid(id) || !role || textOf(d, "person_name").empty() || subkeyList == d.end() ||
        !subkeyList->is_array() || subkeyList->empty() || subkeyList->size() > static_cast<std::size_t>(sync::kMaxSubkeys))
        return refused("device identity file is malformed (device_id, person_name, role, both 32-byte keys and its subkeys "
                       "are required)");
    DeviceFile file{sync::DevicePublic{id, *sign, *kx, {}}, textOf(d, "person_name"), *role};
    sync::DevicePublic& pub = file.device;
    for (const auto& k : *subkeyList) {
        auto b = k.is_string() ? crypto::fromHex(k.get<std::string>()) : std::nullopt;
        if (!b || b->size() != 32) return refused("device identity file has a malformed subkey");
        pub.subkeys.push_back(std::move(*b));
    }
    auto subSig = crypto::fromHex(textOf(d, "subkeys_signature"));
    if (!subSig || !crypto::ed25519Verify(pub.signKey, sync::subkeysSigningInput(pub), *subSig))
        return refused("the device's subkeys are not signed by its key");
    if (d.contains("fingerprint") && (!d["fingerprint"].is_string() || textOf(d, "fingerprint") != sync::fingerprint(pub)))
        return refused("the fingerprint in the file does not match its keys");
    return file;
}

AResult<Json> enrolDevice(Workspace& ws, const Json& d, const std::string& personKey) {
    XS_TRY_APP(requireRegistrar(ws));
    auto file = parseDeviceFile(d);
    if (!file) return file.error();
    const sync::DevicePublic& pub = file->device;
    const std::string& id = pub.id;
    if (id == ws.log().deviceId()) return refused("this is the office's own device");
    // A revoked device never comes back, under its old id or a new one.
    auto all = ws.log().devices();
    if (!all) return fromSync(all.error());
    for (const auto& other : *all) {
        bool sameKeys = other.signKey == pub.signKey || other.exchangeKey == pub.exchangeKey;
        if (other.id == id && other.revokedSeq)
            return refused("device " + id + " was revoked: a revoked device is never enrolled again; a replacement device "
                           "enrols with new keys");
        if (sameKeys && other.revokedSeq)
            return refused("these keys belong to revoked device " + other.id + ": a replacement device enrols with new keys");
        if (other.id == id && !sameKeys) return refused("device " + id + " is enrolled already with other keys");
        if (other.id != id && sameKeys) return refused("these keys belong to device " + other.id);
    }
    // Enrolled before: the registration stands as it is (enrolling again does not change the
    // person it acts for).
    const sync::DeviceRecord* registration = nullptr;
    for (const auto& other : *all)
        if (other.id == id) registration = &other;
    // The person of the organisation this device acts for.
    std::string personId;
    if (registration && personKey.empty()) {
        personId = registration->principal;
    } else if (!personKey.empty()) {
        auto people = ws.people();
        if (!people) return people.error();
        for (const auto& p : *people)
            if (p.value("id", "") == personKey || (p["code"].is_string() && p["code"] == personKey)) personId = p["id"];
        if (personId.empty()) return fail(AppError::NotFound, "no person '" + personKey + "' in the organisation");
    } else {
        auto s = ws.store().db().prepare("SELECT id FROM people WHERE name = ? AND role = ?");
        if (!s) return fromSync(s.error());
        s->bind(1, file->personName).bind(2, toString(file->role));
        std::vector<std::string> matches;
        XS_TRY_SYNC(s->collectTexts(matches));
        if (matches.empty())
            return refused("the organisation has no " + toString(file->role) + " named " + file->personName +
                           " (import the organisation first, or name the person with --person CODE)");
        if (matches.size() > 1) return refused("more than one person is named " + file->personName + ": use --person CODE");
        personId = matches[0];
        // A file naming the office's own person would receive every channel key and own the
        // organisation: such a device is enrolled only when the office names that person itself.
        if (personId == ws.self().personId)
            return refused("this device file claims to be the audit office's own person (" + file->personName +
                           "): enrol another device of the office only with --person " + personId);
    }
    if (registration && registration->principal != personId)
        return refused("device " + id + " is enrolled already for person " + registration->principal +
                       ": a device acts for one person (a new device enrols for another)");
    const bool registered = registration != nullptr;
    if (!registered) {
        sync::Draft draft;
        draft.registerDevice({id, pub.signKey, pub.exchangeKey, pub.subkeys, personId, std::nullopt, {}});
        auto cs = ws.log().commit(draft);
        if (!cs) return cs.code() == sync::SyncError::Forbidden ? Error<AppError>(refused(cs.message())) : fromSync(cs.error());
    }
    // The device's person may already be on inspection teams: it gets their channel keys now.
    auto granted = ws.updateChannelMembers();
    if (!granted) return granted.error();
    return Json{{"device_id", id}, {"fingerprint", sync::fingerprint(pub)}, {"person_id", personId},
                {"already_enrolled", registered}, {"channel_memberships", *granted}};
}

AResult<std::string> exportEnrolment(Workspace& ws, const std::string& serverUrl, const std::string& tlsPin) {
    XS_TRY_APP(requireRegistrar(ws));
    auto office = officeKey(ws);
    if (!office) return office.error();
    auto org = metaOr(ws, "organisation_id");
    if (!org) return fail(AppError::Failed, "organisation id missing");
    // Every change set the office holds: the organisation, plans, device registrations and channel
    // keys, and everything they were made after (a store applies a change set only after what its
    // author had seen).
    Json changeSets = Json::array();
    XS_TRY_SYNC(ws.log().forEachChangeSet([&](const sync::ChangeSet& cs) -> sync::SStatus {
        changeSets.push_back(sync::changeSetToJson(cs));
        return {};
    }));
    const auto& me = ws.log().identity().publicInfo();
    Json body = {{"format", "xunshen-enrolment"},
                 {"version", kEnrolmentVersion},
                 {"suite", sync::kSuiteXs1},
                 {"organisation_id", *org},
                 {"office",
                  {{"device_id", me.id},
                   {"sign_public_key", hexOf(me.signKey)},
                   {"office_public_key", office->publicKeyHex},
                   {"age_recipient", office->ageRecipient}}},
                 {"server", {{"url", serverUrl}, {"tls_pin_sha256", tlsPin}}},
                 {"change_sets", changeSets},
                 {"issued_at_ms", nowMs()}};
    std::string bodyText = body.dump();
    auto sig = ws.log().identity().sign(crypto::asBytes(bodyText));
    if (!sig) return fromSync(sig.error());
    Json signedFile = {{"format", "xunshen-enrolment-signed"}, {"body", bodyText}, {"signature", hexOf(*sig)}};
    return signedFile.dump(2) + "\n";
}

AResult<Json> acceptEnrolment(Workspace& ws, const std::string& text) {
    auto outerParsed = sync::parseBoundedJson(text, kMaxEnrolment, "the enrolment file");
    if (!outerParsed) return refused(outerParsed.message());
    const Json& outer = *outerParsed;
    if (!outer.is_object() || textOf(outer, "format") != "xunshen-enrolment-signed")
        return refused("not a signed Xunshen enrolment file");
    std::string bodyText = textOf(outer, "body");
    auto sig = crypto::fromHex(textOf(outer, "signature"));
    auto bodyParsed = sync::parseBoundedJson(bodyText, kMaxEnrolment, "the enrolment file's body");
    if (!sig || sig->size() != 64 || !bodyParsed || !bodyParsed->is_object()) return refused("enrolment file is malformed");
    const Json& body = *bodyParsed;
    if (textOf(body, "format") != "xunshen-enrolment" || !body.contains("version") || body["version"] != kEnrolmentVersion ||
        !body.contains("suite") || !body["suite"].is_number_integer() || !sync::isKnownSuite(body["suite"].get<std::int64_t>()))
        return refused("unsupported enrolment file version or crypto suite");
    const Json office = body.contains("office") && body["office"].is_object() ? body["office"] : Json::object();
    auto officeSign = key32(office, "sign_public_key");
    auto officeKx = key32(office, "office_public_key");
    std::string officeDevice = textOf(office, "device_id");
    std::string org = textOf(body, "organisation_id");
    if (!officeSign || !officeKx || !sync::isUuid(officeDevice) || !sync::isUuid(org))
        return refused("enrolment file lacks the office keys or organisation id");
    if (!crypto::ed25519Verify(*officeSign, crypto::asBytes(bodyText), *sig))
        return refused("the enrolment file's signature does not verify: it was altered or not signed by the office");
    auto pinned = ws.log().trustRoot();
    if (!pinned) return fromSync(pinned.error());
    if (*pinned && (*pinned)->device == ws.log().deviceId()) return refused("this is the audit office's own store");
    if (*pinned && ((*pinned)->device != officeDevice || (*pinned)->signKey != *officeSign))
        return refused("this store is enrolled with another audit office (fingerprints differ)");
    auto issued = body.find("issued_at_ms");
    if (issued == body.end() || !issued->is_number_integer()) return refused("enrolment file has no issue time");
    if (auto last = ws.store().meta("enrolment_issued_at_ms")) {
        if (issued->get<std::int64_t>() < std::stoll(*last))
            return refused("this enrolment file is older than the one this store accepted: ask the office for a current one");
    }
    const Json sets = body.value("change_sets", Json::array());
    if (!sets.is_array()) return refused("enrolment file's change sets are malformed");
    std::vector<sync::ChangeSet> parsed;
    for (const auto& c : sets) {
        auto cs = sync::changeSetFromJson(c);
        if (!cs) return refused("enrolment file carries a malformed change set: " + cs.message());
        parsed.push_back(std::move(*cs));
    }
    // One apply path: the office's change sets are judged like any others.
    auto session = sync::ApplySession::begin(ws.log());
    if (!session) return fromSync(session.error());
    XS_TRY_SYNC((*session)->pinTrustRoot({officeDevice, *officeSign}));
    std::size_t held = 0;
    for (const auto& cs : parsed) {
        auto outcome = (*session)->add(cs);
        if (!outcome) return refused("the office's records in the enrolment file do not verify: " + outcome.message());
        if (*outcome == sync::ApplyOutcome::Held) ++held;
    }
    auto me = ws.log().self();
    if (!me) return fromSync(me.error());
    if (!*me)
        return refused("the enrolment file does not enrol this device: the office must enrol its identity file first "
                       "(fingerprint " + sync::fingerprint(ws.log().identity().publicInfo()) + ")");
    if ((*me)->revokedSeq) return refused("the office has revoked this device");
    // The office registered this device id: with this device's keys, or it is not this device.
    const auto& mine = ws.log().identity().publicInfo();
    if ((*me)->signKey != mine.signKey || (*me)->exchangeKey != mine.exchangeKey || (*me)->subkeys != mine.subkeys)
        return refused("the office registered this device id with other keys than this device's (fingerprint " +
                       sync::fingerprint(mine) + "): it must enrol this device's identity file");
    auto server = body.value("server", Json::object());
    if (!server.is_object()) server = Json::object();
    auto report = (*session)->commit([&]() -> sync::SStatus {
        if (held > 0) {
            auto issues = ws.log().chainIssues();
            std::string detail = issues && !issues->empty() ? issues->front().detail : std::string();
            return fail(sync::SyncError::Invalid, "the enrolment file's chains are incomplete (" + detail + ")");
        }
        XS_TRY(ws.store().setMeta("office_sign_public_key", crypto::toHex(*officeSign)));
        XS_TRY(ws.store().setMeta(sync::kOfficePublicKeyMeta, crypto::toHex(*officeKx)));
        XS_TRY(ws.store().setMeta("office_device_id", officeDevice));
        XS_TRY(ws.store().setMeta("organisation_id", org));
        XS_TRY(ws.store().setMeta("server_url", textOf(server, "url")));
        XS_TRY(ws.store().setMeta("server_tls_pin", textOf(server, "tls_pin_sha256")));
        return ws.store().setMeta("enrolment_issued_at_ms", std::to_string(issued->get<std::int64_t>()));
    });
    if (!report) return report.code() == sync::SyncError::Invalid ? Error<AppError>(refused(report.message())) : fromSync(report.error());
    XS_TRY_APP(ws.reloadSelf());
    // Channels this device administers follow what the office's records say now (a revoked
    // member leaves, a newly enrolled one joins).
    auto memberships = ws.updateChannelMembers();
    if (!memberships) return memberships.error();
    auto info = officeKey(ws);
    if (!info) return info.error();
    return Json{{"organisation_id", org},
                {"office_fingerprint", info->fingerprint},
                {"person_id", ws.self().personId},
                {"person", ws.self().name},
                {"role", toString(ws.self().role)},
                {"change_sets_new", report->applied},
                {"change_sets_refused", report->refused.size()},
                {"channel_keys", report->keysGained},
                {"channel_memberships", *memberships}};
}

}  // namespace xs::app
