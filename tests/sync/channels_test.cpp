// Channels: sealed op bodies, key envelopes, write checks, epochs on removal, the office key, and
// crypto-shredding. Three replicas play an inspection: A (the working-group lead, who creates the
// channels and so administers them), B (an inspector) and C (the unit head, unit channel only).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "crypto/hpke.h"
#include "crypto/keys.h"
#include "sync/changeset_codec.h"
#include "sync/oplog.h"
#include "tests/sync/replica.h"
#include "tests/sync/sync_test_util.h"

namespace xs::sync {
namespace {

using test::errorOf;
using test::TempDir;

const std::string kTeam = "insp1.team";
const std::string kUnit = "insp1.unit";
const std::string kMarker = "机密-MARKER-7731";

struct Scene {
    TempDir tmp;
    Replica a{tmp / "a", 1'700'000'000'000};
    Replica b{tmp / "b", 1'700'000'000'000};
    Replica c{tmp / "c", 1'700'000'000'000};

    Scene() {
        // A knows the others' keys before it wraps channel keys to them (enrolment).
        a.trust(b.log->deviceId());
        a.trust(c.log->deviceId());
        Draft d;
        d.createChannel(kTeam, {{b.log->deviceId(), {"*"}}});
        d.createChannel(kUnit, {{b.log->deviceId(), {"*"}}, {c.log->deviceId(), {"unit_reply"}}});
        a.commit(d);
    }
    // Everything A holds reaches r: change sets, then key envelopes (as a bundle or sync would).
    static void send(Replica& from, Replica& to) {
        for (const auto& cs : from.changeSets()) to.apply(cs);
        auto envelopes = from.log->envelopes();
        REQUIRE(envelopes.ok());
        auto gained = to.log->acceptEnvelopes(*envelopes);
        REQUIRE_MESSAGE(gained.ok(), test::describe(gained));
    }
    ChangeSet write(Replica& r, const std::string& channel, const std::string& kind, const std::string& id,
                    const std::string& text) {
        Draft d;
        d.set(channel, kind, id, "text", text);
        return r.commit(d);
    }
    static bool readable(Replica& r, const std::string& kind, const std::string& id) { return r.log->record(kind, id).ok(); }
    static bool holdsKey(Replica& r, const std::string& channel, std::uint32_t epoch) {
        auto k = r.log->hasKey(channel, epoch);
        REQUIRE(k.ok());
        return *k;
    }
};

}  // namespace

TEST_CASE("channels: a member reads sealed ops and the unit head keeps team ops sealed") {
    Scene s;
    ChangeSet finding = s.write(s.a, kTeam, "finding", "f1", kMarker);
    s.write(s.a, kUnit, "notice", "n1", "立行立改通知");
    Scene::send(s.a, s.b);
    Scene::send(s.a, s.c);

    // What travels and what is stored holds the sealed body only.
    CHECK(changeSetToJson(finding).dump().find(kMarker) == std::string::npos);
    auto body = s.c.store->db().prepare("SELECT body, sealed FROM ops WHERE kind = 'finding'");
    REQUIRE(body.ok());
    REQUIRE(*body->step());
    CHECK(body->text(0).empty());
    const crypto::Bytes sealed = body->blob(1);
    CHECK(std::string(sealed.begin(), sealed.end()).find(kMarker) == std::string::npos);

    CHECK(s.b.record("finding", "f1")["text"] == kMarker);
    CHECK(s.b.record("notice", "n1")["text"] == "立行立改通知");
    // The unit head verified and stored the team change set but holds no team key.
    CHECK(s.c.opCount() == s.a.opCount());
    CHECK_FALSE(Scene::holdsKey(s.c, kTeam, 1));
    CHECK(Scene::holdsKey(s.c, kUnit, 1));
    CHECK(errorOf(s.c.log->record("finding", "f1")) == SyncError::NotFound);
    CHECK(s.c.record("notice", "n1")["text"] == "立行立改通知");
    auto history = s.c.log->history("f1");
    REQUIRE(history.ok());
    CHECK(history->empty());
    CHECK(s.c.check().empty());
    // The unit head cannot write into the team channel: it has no key to seal with.
    Draft d;
    d.set(kTeam, "finding", "f2", "text", "x");
    CHECK(errorOf(s.c.log->commit(d)) == SyncError::Forbidden);
}

TEST_CASE("channels: a write outside the author's membership is refused and changes nothing") {
    Scene s;
    Scene::send(s.a, s.c);
    const auto ops = s.c.opCount();
    // The unit head may answer (unit_reply) but not issue notices: refused before anything is written.
    Draft notice;
    notice.set(kUnit, "notice", "n9", "text", "伪造的通知");
    auto refused = s.c.log->commit(notice);
    CHECK(errorOf(refused) == SyncError::Forbidden);
    CHECK(refused.message().find("does not cover") != std::string::npos);
    CHECK(s.c.opCount() == ops);
    CHECK(s.write(s.c, kUnit, "unit_reply", "r1", "已整改").ops.size() == 1);

    // A device that makes its own channel of the same name cannot take it over on A: its channel
    // record and its finding are refused, and A is unchanged.
    Replica rogue(s.tmp / "rogue", 1'700'000'000'000);
    Draft own;
    own.createChannel(kTeam, {});
    own.set(kTeam, "finding", "f666", "text", "planted");
    ChangeSet planted = rogue.commit(own);
    s.a.trust(rogue.log->deviceId());
    const auto digest = s.a.digest();
    const auto aOps = s.a.opCount();
    auto r = s.a.log->applyChangeSet(planted);
    CHECK(errorOf(r) == SyncError::Forbidden);
    CHECK(r.message().find("admin") != std::string::npos);
    CHECK(s.a.digest() == digest);
    CHECK(s.a.opCount() == aOps);
}

TEST_CASE("channels: removing a member starts an epoch whose key it never receives") {
    Scene s;
    s.write(s.a, kUnit, "notice", "n1", "第一份通知");
    Scene::send(s.a, s.b);
    Scene::send(s.a, s.c);
    REQUIRE(s.c.record("notice", "n1")["text"] == "第一份通知");
    // C writes a reply while still a member; A then removes C (a revoked device) and writes on.
    s.c.clock.advance(1000);
    ChangeSet early = s.write(s.c, kUnit, "unit_reply", "r1", "收到");
    s.a.clock.advance(5000);
    Draft remove;
    remove.removeMember(kUnit, s.c.log->deviceId());
    s.a.commit(remove);
    auto epoch = s.a.log->currentEpoch(kUnit);
    REQUIRE(epoch.ok());
    CHECK(*epoch == 2);
    s.write(s.a, kUnit, "notice", "n2", "第二份通知 " + kMarker);
    // C, offline and unaware, writes again after its removal.
    s.c.clock.advance(60'000);
    ChangeSet late = s.write(s.c, kUnit, "unit_reply", "r2", "removed but still writing");

    Scene::send(s.a, s.b);
    Scene::send(s.a, s.c);
    CHECK(s.b.record("notice", "n2")["text"] == "第二份通知 " + kMarker);
    CHECK(Scene::holdsKey(s.c, kUnit, 1));
    CHECK_FALSE(Scene::holdsKey(s.c, kUnit, 2));
    CHECK(errorOf(s.c.log->record("notice", "n2")) == SyncError::NotFound);
    auto envelopes = s.a.log->envelopes({kUnit});
    REQUIRE(envelopes.ok());
    int epoch2 = 0;
    for (const auto& e : *envelopes) {
        if (e.epoch != 2) continue;
        ++epoch2;
        CHECK(e.recipient != deviceRecipient(s.c.log->deviceId()));
    }
    CHECK(epoch2 == 2);  // A and B
    auto members = s.a.log->members(kUnit);
    REQUIRE(members.ok());
    CHECK(members->size() == 2);
    for (const auto& m : *members) CHECK(m.device != s.c.log->deviceId());
    // Now that C knows, it refuses its own further writes.
    Draft more;
    more.set(kUnit, "unit_reply", "r3", "text", "x");
    CHECK(errorOf(s.c.log->commit(more)) == SyncError::Forbidden);

    // On A: the reply written before the removal is accepted, the one after is refused.
    s.a.apply(early);
    CHECK(s.a.record("unit_reply", "r1")["text"] == "收到");
    const auto digest = s.a.digest();
    auto r = s.a.log->applyChangeSet(late);
    CHECK(errorOf(r) == SyncError::Forbidden);
    CHECK(r.message().find("removed") != std::string::npos);
    CHECK(s.a.digest() == digest);
}

TEST_CASE("channels: the audit office key opens every channel made after it is known") {
    TempDir tmp;
    Replica office(tmp / "office", 1'700'000'000'000);
    Replica lead(tmp / "lead", 1'700'000'000'000);
    auto pair = crypto::x25519Generate();
    REQUIRE(pair.ok());
    auto put = office.store->db().prepare("INSERT INTO device_secrets (name, secret) VALUES (?, ?)");
    REQUIRE(put.ok());
    put->bind(1, std::string(kOfficeSecretName)).bindBlob(2, pair->privateKey.view());
    REQUIRE(put->run().ok());
    // The lead makes a channel before it knows the office, then learns the office key (enrolment).
    Draft early;
    early.createChannel("insp2.team", {});
    early.set("insp2.team", "finding", "f1", "text", kMarker);
    lead.commit(early);
    REQUIRE(lead.store->setMeta(kOfficePublicKeyMeta, crypto::toHex(pair->publicKey)).ok());
    auto wrapped = lead.log->wrapKeysToOffice();
    REQUIRE(wrapped.ok());
    CHECK(*wrapped == 1);
    Draft later;
    later.createChannel("insp3.team", {});
    later.set("insp3.team", "finding", "f2", "text", "later");
    lead.commit(later);
    auto again = lead.log->wrapKeysToOffice();
    REQUIRE(again.ok());
    CHECK(*again == 0);  // channels made after the office key is known wrap to it at once

    // The office is no member of either channel, yet opens both with the office key.
    for (const auto& cs : lead.changeSets()) office.apply(cs);
    CHECK(errorOf(office.log->record("finding", "f1")) == SyncError::NotFound);
    auto envelopes = lead.log->envelopes();
    REQUIRE(envelopes.ok());
    auto gained = office.log->acceptEnvelopes(*envelopes);
    REQUIRE(gained.ok());
    CHECK(*gained == 2);
    CHECK(office.record("finding", "f1")["text"] == kMarker);
    CHECK(office.record("finding", "f2")["text"] == "later");
    CHECK(office.check().empty());
}

TEST_CASE("channels: a key that arrives after many ops projects every one of them") {
    // The projection on a late key reads the channel's ops in pages (256 at a time); ops on and
    // around the page boundaries, several sharing one HLC, must all be projected once.
    Scene s;
    for (int batch = 0; batch < 7; ++batch) {
        Draft d;
        for (int i = 0; i < 100; ++i) {
            const std::string id = "f" + std::to_string(batch * 100 + i);
            d.set(kTeam, "finding", id, "text", id + "-" + kMarker);
            d.set(kTeam, "finding", id, "title", "t" + id);
        }
        s.a.commit(d);  // one change set: its 200 ops share the commit's HLC
    }
    // B gets every change set first, then the keys: the projection happens all at once, on the key.
    s.send(s.a, s.b);
    for (int i = 0; i < 700; ++i) {
        const std::string id = "f" + std::to_string(i);
        CAPTURE(id);
        REQUIRE(Scene::readable(s.b, "finding", id));
        CHECK(s.b.record("finding", id)["text"] == id + "-" + kMarker);
        CHECK(s.b.record("finding", id)["title"] == "t" + id);
    }
    CHECK(s.b.check().empty());
}

TEST_CASE("channels: a tampered envelope or sealed body is refused and changes nothing") {
    Scene s;
    ChangeSet finding = s.write(s.a, kTeam, "finding", "f1", kMarker);
    for (const auto& cs : s.a.changeSets())
        if (cs.id != finding.id) s.b.apply(cs);
    auto envelopes = s.a.log->envelopes({kTeam});
    REQUIRE(envelopes.ok());
    KeyEnvelope mine;
    for (const auto& e : *envelopes)
        if (e.recipient == deviceRecipient(s.b.log->deviceId())) mine = e;
    REQUIRE(!mine.channel.empty());

    SUBCASE("a flipped byte in the wrapped key") {
        KeyEnvelope bad = mine;
        bad.wrapped[5] ^= 0x01;
        CHECK(errorOf(s.b.log->acceptEnvelopes({bad})) == SyncError::Corrupt);
    }
    SUBCASE("an envelope re-addressed to another device") {
        KeyEnvelope bad = mine;
        bad.recipient = deviceRecipient(s.c.log->deviceId());
        CHECK(errorOf(s.b.log->acceptEnvelopes({bad})) == SyncError::Corrupt);
    }
    SUBCASE("an envelope a member made for itself") {
        // B is a member, not the admin: even correctly wrapped and signed, its envelope is refused.
        KeyEnvelope forged{kTeam, 1, deviceRecipient(s.b.log->deviceId()), s.b.log->deviceId(), {}, {}, {}};
        crypto::Bytes key(32, 7);
        auto setup = crypto::hpke::setupBaseS(crypto::hpke::AeadId::Aes256Gcm, s.b.log->identity().publicInfo().exchangeKey,
                                              crypto::asBytes(envelopeInfo(forged)));
        REQUIRE(setup.ok());
        auto wrappedKey = setup->context.seal({}, key);
        REQUIRE(wrappedKey.ok());
        forged.enc = setup->enc;
        forged.wrapped = *wrappedKey;
        auto sig = s.b.log->identity().sign(envelopeSigningInput(forged));
        REQUIRE(sig.ok());
        forged.signature = *sig;
        auto r = s.b.log->acceptEnvelopes({forged});
        CHECK(errorOf(r) == SyncError::Forbidden);
        CHECK(r.message().find("admin") != std::string::npos);
    }
    SUBCASE("a flipped byte in an op's sealed body") {
        REQUIRE(s.b.log->acceptEnvelopes(*envelopes).ok());
        ChangeSet bad = finding;
        bad.ops[0].sealed[20] ^= 0x01;
        bad.ops[0].changes.clear();
        CHECK(errorOf(s.b.log->applyChangeSet(bad)) == SyncError::Corrupt);  // the signature covers the ciphertext
        CHECK(errorOf(s.b.log->record("finding", "f1")) == SyncError::NotFound);
        s.b.apply(finding);
        CHECK(s.b.record("finding", "f1")["text"] == kMarker);
        return;
    }
    CHECK_FALSE(Scene::holdsKey(s.b, kTeam, 1));
    auto stored = s.b.log->envelopes();
    REQUIRE(stored.ok());
    CHECK(stored->empty());
}

TEST_CASE("channels: shredding destroys the keys and what they made readable") {
    Scene s;
    s.write(s.a, kTeam, "finding", "f1", kMarker);
    s.write(s.a, kUnit, "notice", "n1", "通知");
    Scene::send(s.a, s.b);
    REQUIRE(s.b.record("finding", "f1")["text"] == kMarker);
    const auto ops = s.b.opCount();

    REQUIRE(s.b.log->shredChannels({kTeam, kUnit}, "handover receipt").ok());
    CHECK_FALSE(Scene::holdsKey(s.b, kTeam, 1));
    CHECK_FALSE(Scene::holdsKey(s.b, kUnit, 1));
    CHECK(errorOf(s.b.log->record("finding", "f1")) == SyncError::NotFound);
    CHECK(errorOf(s.b.log->record("notice", "n1")) == SyncError::NotFound);
    CHECK(s.b.sinkRow("finding", "f1").empty());
    CHECK(s.b.opCount() == ops);  // the sealed ops stay: the chain is intact
    CHECK(s.b.check().empty());
    auto shredded = s.b.log->shredded();
    REQUIRE(shredded.ok());
    REQUIRE(shredded->size() == 2);
    CHECK(shredded->at(0).reason == "handover receipt");
    // Envelopes delivered again (a late sync) do not bring the keys back.
    auto envelopes = s.a.log->envelopes();
    REQUIRE(envelopes.ok());
    auto gained = s.b.log->acceptEnvelopes(*envelopes);
    REQUIRE(gained.ok());
    CHECK(*gained == 0);
    CHECK_FALSE(Scene::holdsKey(s.b, kTeam, 1));
    // A rebuild cannot bring the content back either.
    REQUIRE(s.b.log->rebuild().ok());
    CHECK(errorOf(s.b.log->record("finding", "f1")) == SyncError::NotFound);
    // The envelope table and the key table hold nothing of those channels.
    auto rows = s.b.store->db().prepare(
        "SELECT (SELECT count(*) FROM channel_keys WHERE channel LIKE 'insp1.%'),"
        " (SELECT count(*) FROM key_envelopes WHERE channel LIKE 'insp1.%')");
    REQUIRE(rows.ok());
    REQUIRE(*rows->step());
    CHECK(rows->int64(0) == 0);
    CHECK(rows->int64(1) == 0);
}

TEST_CASE("channels: key envelopes parse strictly") {
    Scene s;
    auto envelopes = s.a.log->envelopes();
    REQUIRE(envelopes.ok());
    REQUIRE(!envelopes->empty());
    Json good = envelopeToJson(envelopes->front());
    auto back = envelopeFromJson(good);
    REQUIRE(back.ok());
    CHECK(envelopeSigningInput(*back) == envelopeSigningInput(envelopes->front()));
    std::vector<Json> bad;
    for (const char* k : {"suite", "channel", "epoch", "recipient", "issuer", "enc", "wrapped", "signature"}) {
        Json j = good;
        j.erase(k);
        bad.push_back(j);
    }
    Json extra = good;
    extra["more"] = 1;
    bad.push_back(extra);
    Json suite = good;
    suite["suite"] = 2;
    bad.push_back(suite);
    Json epoch0 = good;
    epoch0["epoch"] = 0;
    bad.push_back(epoch0);
    Json plainChannel = good;
    plainChannel["channel"] = "org";
    bad.push_back(plainChannel);
    Json shortEnc = good;
    shortEnc["enc"] = "abcd";
    bad.push_back(shortEnc);
    Json badRecipient = good;
    badRecipient["recipient"] = "device:not-a-uuid";
    bad.push_back(badRecipient);
    bad.push_back(Json::array());
    for (const auto& j : bad) {
        CAPTURE(j.dump());
        CHECK(errorOf(envelopeFromJson(j)) == SyncError::Invalid);
    }
}

}  // namespace xs::sync
