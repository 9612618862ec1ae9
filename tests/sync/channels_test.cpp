// Channels: sealed op bodies, key envelopes inside the admin's change sets, write checks, epochs on
// removal, the office key, subkeys and crypto-shredding. A registrar (the office, which holds the
// office key) registers three replicas that play an inspection: A (the working-group lead, who
// creates the channels and so administers them), B (an inspector) and C (the unit head, unit
// channel only).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "crypto/hpke.h"
#include "crypto/keys.h"
#include "sync/changeset_codec.h"
#include "sync/oplog.h"
#include "sync/uuid.h"
#include "tests/sync/forge.h"
#include "tests/sync/replica.h"
#include "tests/sync/sync_test_util.h"

namespace xs::sync {
namespace {

using test::errorOf;
using test::Forge;
using test::TempDir;

const std::string kMarker = "机密-MARKER-7731";

struct Scene {
    TempDir tmp;
    Replica office{tmp / "office", 1'700'000'000'000};
    Replica a{tmp / "a", 1'700'000'000'000, &office};
    Replica b{tmp / "b", 1'700'000'000'000, &office};
    Replica c{tmp / "c", 1'700'000'000'000, &office};
    // Channels are named after an id of their admin's (nobody else may create them).
    std::string inspection = *newOwnedId(a.log->deviceId());
    std::string team = inspection + ".team";
    std::string unit = inspection + ".unit";

    Scene() {
        a.catchUp();  // A knows the others' registrations before it wraps channel keys to them
        Draft d;
        d.createChannel(team, {{b.log->deviceId(), {"*"}}});
        d.createChannel(unit, {{b.log->deviceId(), {"*"}}, {c.log->deviceId(), {"unit_reply"}}});
        a.commit(d);
    }
    // Everything `from` holds reaches `to` (as a bundle or sync would): the keys travel inside.
    static void send(Replica& from, Replica& to) { to.applyAll(from.changeSets()); }
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
    // The envelopes of an epoch as A's epoch record lists them.
    static std::vector<KeyEnvelope> envelopesOf(Replica& r, const std::string& channel, std::uint32_t epoch) {
        auto rec = r.log->record(kEpochKind, epochRecordId(channel, epoch));
        REQUIRE(rec.ok());
        std::vector<KeyEnvelope> out;
        for (const auto& k : (*rec)["keys"]) {
            auto e = envelopeFromJson(k);
            REQUIRE(e.ok());
            out.push_back(*e);
        }
        return out;
    }
};

}  // namespace

TEST_CASE("channels: a member reads sealed ops and the unit head keeps team ops sealed") {
    Scene s;
    ChangeSet finding = s.write(s.a, s.team, "finding", "f1", kMarker);
    s.write(s.a, s.unit, "notice", "n1", "立行立改通知");
    Scene::send(s.a, s.b);
    Scene::send(s.a, s.c);

    // What travels and what is stored holds the sealed body only.
    CHECK(changeSetToJson(finding).dump().find(kMarker) == std::string::npos);
    auto body = s.c.store->db().prepare("SELECT body FROM ops WHERE kind = 'finding'");
    REQUIRE(body.ok());
    REQUIRE(*body->step());
    const crypto::Bytes sealed = body->blob(0);
    CHECK(std::string(sealed.begin(), sealed.end()).find(kMarker) == std::string::npos);

    CHECK(s.b.record("finding", "f1")["text"] == kMarker);
    CHECK(s.b.record("notice", "n1")["text"] == "立行立改通知");
    // The unit head verified and stored the team change set but holds no team key.
    CHECK(s.c.opCount() == s.a.opCount());
    CHECK_FALSE(Scene::holdsKey(s.c, s.team, 1));
    CHECK(Scene::holdsKey(s.c, s.unit, 1));
    CHECK(errorOf(s.c.log->record("finding", "f1")) == SyncError::NotFound);
    CHECK(s.c.record("notice", "n1")["text"] == "立行立改通知");
    auto history = s.c.log->history("f1");
    REQUIRE(history.ok());
    CHECK(history->empty());
    CHECK(s.c.check().empty());
    CHECK(s.c.refused().empty());
    // The unit head cannot write into the team channel: it has no key to seal with.
    Draft d;
    d.set(s.team, "finding", "f2", "text", "x");
    CHECK(errorOf(s.c.log->commit(d)) == SyncError::Forbidden);
    // Every epoch key is wrapped to a subkey of each member, never to its long-term key.
    for (const auto& e : Scene::envelopesOf(s.a, s.unit, 1)) {
        if (e.toOffice()) continue;
        auto reg = s.a.log->device(e.device);
        REQUIRE(reg.ok());
        REQUIRE(reg->has_value());
        CHECK(e.subkey >= 0);
        CHECK(e.subkey < static_cast<int>((*reg)->subkeys.size()));
    }
}

TEST_CASE("channels: a write outside the author's membership is kept refused and projects nothing") {
    Scene s;
    Scene::send(s.a, s.c);
    const auto ops = s.c.opCount();
    // The unit head may answer (unit_reply) but not issue notices: refused before anything is written.
    Draft notice;
    notice.set(s.unit, "notice", "n9", "text", "伪造的通知");
    auto refused = s.c.log->commit(notice);
    CHECK(errorOf(refused) == SyncError::Forbidden);
    CHECK(refused.message().find("does not cover") != std::string::npos);
    CHECK(s.c.opCount() == ops);
    CHECK(s.write(s.c, s.unit, "unit_reply", "r1", "已整改").ops.size() == 1);

    // The same notice crafted and signed by the unit head's own device: A stores it (signed
    // evidence of the attempt, a link of C's chain) and projects none of it.
    Forge forge(s.c);
    ChangeSet forged = forge.make({forge.sealed(s.unit, "notice", "n9", {{"text", "伪造的通知"}})});
    s.a.apply(s.c.own().back());
    const auto digestBefore = s.a.digest();
    CHECK(s.a.apply(forged) == ApplyOutcome::Refused);
    CHECK(errorOf(s.a.log->record("notice", "n9")) == SyncError::NotFound);
    auto refusedSets = s.a.refused();
    REQUIRE(refusedSets.size() == 1);
    CHECK(refusedSets[0].id == forged.id);
    CHECK(refusedSets[0].reason.find("does not cover") != std::string::npos);
    CHECK(s.a.check().empty());

    // A device that has seen the channel cannot take it over: its own channel record of the same
    // name and its finding are refused on A.
    Replica rogue(s.tmp / "rogue", 1'700'000'000'000, &s.office);
    Scene::send(s.a, rogue);
    Forge rf(rogue);
    Op channel = Forge::plain(kSysChannel, kChannelKind, s.team, {{"admin", rogue.log->deviceId()}, {"epoch", 1}});
    ChangeSet planted = rf.make({channel});
    s.a.catchUp();
    auto r = s.a.tryApply(planted);
    REQUIRE(r.ok());
    CHECK(*r == ApplyOutcome::Refused);
    auto admin = s.a.log->record(kChannelKind, s.team);
    REQUIRE(admin.ok());
    CHECK((*admin)["admin"] == s.a.log->deviceId());
    auto last = s.a.refused();
    REQUIRE(!last.empty());
    CHECK(last.back().reason.find("admin") != std::string::npos);
}

TEST_CASE("channels: removing a member starts an epoch whose key it never receives") {
    Scene s;
    s.write(s.a, s.unit, "notice", "n1", "第一份通知");
    Scene::send(s.a, s.b);
    Scene::send(s.a, s.c);
    REQUIRE(s.c.record("notice", "n1")["text"] == "第一份通知");
    // C writes a reply while still a member; A then removes C and writes on.
    s.c.clock.advance(1000);
    ChangeSet early = s.write(s.c, s.unit, "unit_reply", "r1", "收到");
    s.a.clock.advance(5000);
    Draft remove;
    remove.removeMember(s.unit, s.c.log->deviceId());
    s.a.commit(remove);
    auto epoch = s.a.log->currentEpoch(s.unit);
    REQUIRE(epoch.ok());
    CHECK(*epoch == 2);
    s.write(s.a, s.unit, "notice", "n2", "第二份通知 " + kMarker);
    // C, offline and unaware, writes again: concurrent with its removal, so still its right.
    s.c.clock.advance(60'000);
    ChangeSet unaware = s.write(s.c, s.unit, "unit_reply", "r2", "not yet told");

    Scene::send(s.a, s.b);
    Scene::send(s.a, s.c);
    CHECK(s.b.record("notice", "n2")["text"] == "第二份通知 " + kMarker);
    CHECK(Scene::holdsKey(s.c, s.unit, 1));
    CHECK_FALSE(Scene::holdsKey(s.c, s.unit, 2));
    CHECK(errorOf(s.c.log->record("notice", "n2")) == SyncError::NotFound);
    // Epoch 2 is wrapped to exactly A, B and the office.
    std::set<std::string> recipients;
    for (const auto& e : Scene::envelopesOf(s.a, s.unit, 2)) recipients.insert(e.toOffice() ? "office" : e.device);
    CHECK(recipients == std::set<std::string>{s.a.log->deviceId(), s.b.log->deviceId(), "office"});
    auto members = s.a.log->members(s.unit);
    REQUIRE(members.ok());
    CHECK(members->size() == 2);
    for (const auto& m : *members) CHECK(m.device != s.c.log->deviceId());
    // Now that C knows, it cannot write: it holds no key of the current epoch.
    Draft more;
    more.set(s.unit, "unit_reply", "r3", "text", "x");
    CHECK(errorOf(s.c.log->commit(more)) == SyncError::Forbidden);
    // Nor can it with the old key, claiming to have seen its removal: refused everywhere.
    Forge forge(s.c);
    ChangeSet stale = forge.make({forge.sealed(s.unit, "unit_reply", "r3", {{"text", "with the old key"}}, 1)});

    // On A: both replies C wrote as a member are accepted; the one after it knew is refused.
    s.a.apply(early);
    s.a.apply(unaware);
    CHECK(s.a.record("unit_reply", "r1")["text"] == "收到");
    CHECK(s.a.record("unit_reply", "r2")["text"] == "not yet told");
    const auto digest = s.a.digest();
    CHECK(s.a.apply(stale) == ApplyOutcome::Refused);
    CHECK(s.a.refused().back().reason.find("removed") != std::string::npos);
    CHECK(s.a.digest() != digest);  // the verdict is part of the state
    CHECK(errorOf(s.a.log->record("unit_reply", "r3")) == SyncError::NotFound);
}

TEST_CASE("channels: the office key opens every channel - and no channel is made before it is known") {
    Scene s;
    s.write(s.a, s.team, "finding", "f1", kMarker);
    // The office is no member of the team channel, yet opens it with the office key.
    auto members = s.a.log->members(s.team);
    REQUIRE(members.ok());
    for (const auto& m : *members) CHECK(m.device != s.office.log->deviceId());
    Scene::send(s.a, s.office);
    CHECK(s.office.record("finding", "f1")["text"] == kMarker);
    CHECK(s.office.check().empty());
    // A store that does not know the office key (not enrolled) makes no channel at all.
    Replica loner(s.tmp / "loner", 1'700'000'000'000, &s.office);
    REQUIRE(loner.store->db().exec("DELETE FROM meta WHERE key = 'office_public_key'").ok());
    Draft d;
    d.createChannel("insp9.team", {});
    auto r = loner.log->commit(d);
    CHECK(errorOf(r) == SyncError::Forbidden);
    CHECK(r.message().find("office key") != std::string::npos);
}

TEST_CASE("channels: a member added after many ops gets the key and every one of them is projected") {
    // The late key re-judges the channel's ops: ops on and around any boundary, several sharing
    // one HLC, must all be projected once.
    Scene s;
    Replica late(s.tmp / "late", 1'700'000'000'000, &s.office);
    s.a.catchUp();
    for (int batch = 0; batch < 7; ++batch) {
        Draft d;
        for (int i = 0; i < 100; ++i) {
            const std::string id = "f" + std::to_string(batch * 100 + i);
            d.set(s.team, "finding", id, "text", id + "-" + kMarker);
            d.set(s.team, "finding", id, "title", "t" + id);
        }
        s.a.commit(d);  // one change set: its 200 ops share the commit's HLC
    }
    // Late gets every change set first, then its membership with the current key.
    Scene::send(s.a, late);
    CHECK_FALSE(Scene::readable(late, "finding", "f0"));
    Draft add;
    add.addMember(s.team, {late.log->deviceId(), {"*"}});
    s.a.commit(add);
    ApplyReport report;
    REQUIRE(late.tryApply(s.a.own().back(), true, &report).ok());
    CHECK(report.keysGained == 1);
    for (int i = 0; i < 700; ++i) {
        const std::string id = "f" + std::to_string(i);
        CAPTURE(id);
        REQUIRE(Scene::readable(late, "finding", id));
        CHECK(late.record("finding", id)["text"] == id + "-" + kMarker);
        CHECK(late.record("finding", id)["title"] == "t" + id);
    }
    CHECK(late.check().empty());
}

TEST_CASE("channels: a tampered envelope or sealed body is refused - an unopenable body refuses its whole change set") {
    Scene s;
    ChangeSet finding = s.write(s.a, s.team, "finding", "f1", kMarker);
    std::vector<ChangeSet> sets = s.a.changeSets();

    SUBCASE("a flipped byte in a wrapped key: the signature covers it") {
        for (auto cs : sets) {
            for (auto& op : cs.ops) {
                if (op.kind != kEpochKind) continue;
                std::string text(op.body.begin(), op.body.end());
                auto at = text.find("\"wrapped\":\"") + 11;
                text[at] = text[at] == 'a' ? 'b' : 'a';
                op.body.assign(text.begin(), text.end());
                CHECK(errorOf(s.b.tryApply(cs)) == SyncError::Corrupt);
            }
        }
        CHECK_FALSE(Scene::holdsKey(s.b, s.team, 1));
    }
    SUBCASE("a flipped byte in an op's sealed body: the signature covers the ciphertext") {
        for (const auto& cs : sets)
            if (cs.id != finding.id) s.b.apply(cs);
        ChangeSet bad = finding;
        bad.ops[0].body[20] ^= 0x01;
        CHECK(errorOf(s.b.tryApply(bad)) == SyncError::Corrupt);
        CHECK(errorOf(s.b.log->record("finding", "f1")) == SyncError::NotFound);
        s.b.apply(finding);
        CHECK(s.b.record("finding", "f1")["text"] == kMarker);
    }
    SUBCASE("an envelope a member made for itself") {
        // B is a member, not the admin: a key record it signs is refused, and opens nothing.
        s.b.applyAll(sets);
        Forge forge(s.b);
        Op epoch = Forge::plain(kSysChannel, kEpochKind, epochRecordId(s.team, 2),
                                {{"channel", s.team}, {"epoch", 2}, {"key_id", std::string(32, '0')}, {"keys", Json::array()}});
        ChangeSet forged = forge.make({epoch});
        CHECK(s.a.apply(forged) == ApplyOutcome::Refused);
        CHECK(s.a.refused().back().reason.find("admin") != std::string::npos);
        CHECK(*s.a.log->currentEpoch(s.team) == 1);
    }
    SUBCASE("a correctly signed op whose sealed body does not open with the key") {
        // B holds the key; its own device seals garbage beside a harmless op: A, holding the key,
        // refuses the whole change set and projects neither op.
        s.b.applyAll(sets);
        Forge forge(s.b);
        Op garbage = forge.sealed(s.team, "finding", "f2", {{"text", "x"}});
        auto junk = crypto::randomBytes(64);
        REQUIRE(junk.ok());
        garbage.body = *junk;
        Op fine = forge.sealed(s.team, "finding", "f3", {{"text", "harmless"}});
        ChangeSet forged = forge.make({fine, garbage});
        CHECK(s.a.apply(forged) == ApplyOutcome::Refused);
        CHECK(s.a.refused().back().reason.find("does not open") != std::string::npos);
        CHECK(errorOf(s.a.log->record("finding", "f3")) == SyncError::NotFound);
        CHECK(s.a.check().empty());
        // The unit head has no key: it keeps the change set sealed, neither accepted nor refused by content.
        s.c.applyAll(sets);
        CHECK(s.c.apply(forged) == ApplyOutcome::Applied);
        CHECK(s.c.refused().empty());
    }
}

TEST_CASE("channels: shredding destroys the keys - the subkeys they were sealed to - and what they made readable") {
    Scene s;
    s.write(s.a, s.team, "finding", "f1", kMarker);
    s.write(s.a, s.unit, "notice", "n1", "通知");
    Scene::send(s.a, s.b);
    REQUIRE(s.b.record("finding", "f1")["text"] == kMarker);
    const auto ops = s.b.opCount();
    auto subkeyOf = [&](const std::string& channel) {
        auto m = s.b.log->record(kMemberKind, memberRecordId(channel, s.b.log->deviceId()));
        REQUIRE(m.ok());
        return (*m)["subkey"].get<int>();
    };
    const int teamSubkey = subkeyOf(s.team), unitSubkey = subkeyOf(s.unit);
    CHECK(teamSubkey != unitSubkey);  // one subkey per channel membership

    auto shred = s.b.log->shredChannels({s.team, s.unit}, "handover receipt");
    REQUIRE(shred.ok());
    CHECK(shred->subkeys.size() == 2);
    CHECK(shred->warnings.empty());
    CHECK_FALSE(Scene::holdsKey(s.b, s.team, 1));
    CHECK_FALSE(Scene::holdsKey(s.b, s.unit, 1));
    CHECK(errorOf(s.b.log->record("finding", "f1")) == SyncError::NotFound);
    CHECK(errorOf(s.b.log->record("notice", "n1")) == SyncError::NotFound);
    CHECK(s.b.sinkRow("finding", "f1").empty());
    CHECK(s.b.opCount() == ops);  // the sealed ops stay: the chain is intact
    CHECK(s.b.check().empty());
    auto shredded = s.b.log->shredded();
    REQUIRE(shredded.ok());
    REQUIRE(shredded->size() == 2);
    CHECK(shredded->at(0).reason == "handover receipt");
    // The subkeys are gone from the store.
    auto rows = s.b.store->db().prepare("SELECT count(*) FROM device_secrets WHERE name IN (?, ?)");
    REQUIRE(rows.ok());
    rows->bind(1, "subkey:" + std::to_string(teamSubkey)).bind(2, "subkey:" + std::to_string(unitSubkey));
    REQUIRE(*rows->step());
    CHECK(rows->int64(0) == 0);
    rows.value().reset();
    // The envelopes delivered again (a late sync, an old enrolment file) do not bring the keys back.
    Scene::send(s.a, s.b);
    CHECK_FALSE(Scene::holdsKey(s.b, s.team, 1));
    REQUIRE(s.b.log->rebuild().ok());
    CHECK(errorOf(s.b.log->record("finding", "f1")) == SyncError::NotFound);
    // An adversary with every secret left on the device — its long-term X25519 key and every
    // remaining subkey — opens none of the epoch's envelopes.
    auto secrets = test::secretColumn(s.b.store->db(), "SELECT secret FROM device_secrets WHERE name LIKE 'subkey:%' OR name = 'x25519'");
    secrets.push_back(s.b.log->identity().exchangePrivateKey().clone());
    int tried = 0;
    for (const auto& channel : {s.team, s.unit}) {
        for (const auto& e : Scene::envelopesOf(s.a, channel, 1)) {
            for (const auto& secret : secrets) {
                auto ctx = crypto::hpke::setupBaseR(crypto::hpke::AeadId::Aes256Gcm, e.enc, secret.view(),
                                                    crypto::asBytes(envelopeInfo(channel, 1, recipientLabel(e))));
                if (ctx) CHECK_FALSE(ctx->open({}, e.wrapped).ok());
                ++tried;
            }
        }
    }
    CHECK(tried > 0);
}

TEST_CASE("channels: key envelopes parse strictly") {
    Scene s;
    auto envelopes = Scene::envelopesOf(s.a, s.team, 1);
    REQUIRE(!envelopes.empty());
    Json good = envelopeToJson(envelopes.front());
    auto back = envelopeFromJson(good);
    REQUIRE(back.ok());
    CHECK(recipientLabel(*back) == recipientLabel(envelopes.front()));
    CHECK(back->wrapped == envelopes.front().wrapped);
    std::vector<Json> bad;
    for (const char* k : {"recipient", "enc", "wrapped"}) {
        Json j = good;
        j.erase(k);
        bad.push_back(j);
    }
    Json extra = good;
    extra["more"] = 1;
    bad.push_back(extra);
    Json shortEnc = good;
    shortEnc["enc"] = "abcd";
    bad.push_back(shortEnc);
    for (const char* r : {"device:not-a-uuid#1", "device:01a22390-6af9-7313-a9f3-d759999beed2", "device:01a22390-6af9-7313-a9f3-d759999beed2#x",
                          "device:01a22390-6af9-7313-a9f3-d759999beed2#64", "officer", ""}) {
        Json j = good;
        j["recipient"] = r;
        bad.push_back(j);
    }
    bad.push_back(Json::array());
    for (const auto& j : bad) {
        CAPTURE(j.dump());
        CHECK(errorOf(envelopeFromJson(j)) == SyncError::Invalid);
    }
}

}  // namespace xs::sync
