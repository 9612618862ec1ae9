// What every replica refuses from an enrolled, signing, hostile device: each case once got past
// the judge (an adversarial review of issue 9) and is kept as the attack that broke it.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "crypto/encoding.h"
#include "sync/changeset_codec.h"
#include "sync/hlc.h"
#include "sync/oplog.h"
#include "sync/trust.h"
#include "sync/uuid.h"
#include "tests/sync/forge.h"
#include "tests/sync/replica.h"
#include "tests/sync/sync_test_util.h"

namespace xs::sync {
namespace {

using test::errorOf;
using test::Forge;
using test::TempDir;

constexpr std::int64_t kNow = 1'700'000'000'000;

struct World {
    TempDir tmp;
    Replica office{tmp / "office", kNow};
    Replica a{tmp / "a", kNow, &office};
    Replica b{tmp / "b", kNow, &office};
    Replica c{tmp / "c", kNow, &office};
    std::string team = *newOwnedId(a.log->deviceId()) + ".team";
    std::string unit = *newOwnedId(a.log->deviceId()) + ".unit";

    // A administers both channels: B is on both, C replies on the unit channel only.
    void channels() {
        a.catchUp();
        Draft d;
        d.createChannel(team, {{b.log->deviceId(), {"*"}}});
        d.createChannel(unit, {{b.log->deviceId(), {"*"}}, {c.log->deviceId(), {"unit_reply"}}});
        a.commit(d);
        for (Replica* r : {&office, &b, &c}) r->applyAll(a.changeSets());
    }
};

}  // namespace

TEST_CASE("judge: a clock past the cap is malformed - one far ahead of this machine's waits, and no clock follows it") {
    World w;
    Forge forge(w.a);
    for (std::uint64_t hlc : {std::uint64_t{1} << 63, UINT64_MAX, kMaxHlc + 1}) {
        CAPTURE(hlc);
        ChangeSet poisoned = forge.make({Forge::plain("org", "item", "x", {{"v", 1}})}, hlc);
        auto r = w.b.tryApply(poisoned);
        CHECK(errorOf(r) == SyncError::Invalid);
        CHECK(r.message().find("clock") != std::string::npos);
    }
    // Within the cap but ten days ahead of B's clock: held, not judged, and B's clock stays put.
    const std::uint64_t ahead = hlcPack(static_cast<std::uint64_t>(kNow + 10LL * 86'400'000), 0);
    ChangeSet early = forge.make({Forge::plain("org", "item", "x", {{"v", "from the future"}})}, ahead);
    ApplyReport report;
    auto r = w.b.tryApply(early, true, &report);
    REQUIRE_MESSAGE(r.ok(), test::describe(r));
    CHECK(*r == ApplyOutcome::Held);
    REQUIRE(report.held.size() == 1);
    CHECK(report.held[0].detail.find("ahead of this machine's clock") != std::string::npos);
    ChangeSet mine = w.b.set("y", "v", 2);
    CHECK(mine.hlc < ahead);
    CHECK(errorOf(w.b.log->record("item", "x")) == SyncError::NotFound);
    // Once B's clock gets there, the next session takes it (and B's clock follows only then).
    w.b.clock.advance(10LL * 86'400'000);
    w.b.set("z", "v", 3);
    auto session = ApplySession::begin(*w.b.log);
    REQUIRE(session.ok());
    REQUIRE((*session)->commit().ok());
    CHECK(w.b.record("item", "x")["v"] == "from the future");
    CHECK(w.b.set("y", "v", 4).hlc > ahead);
}

TEST_CASE("judge: nobody creates a channel named after another device's id - concurrently or not") {
    World w;
    w.a.catchUp();
    w.b.catchUp();
    Draft mine;
    mine.createChannel(w.team, {});
    ChangeSet byA = w.a.commit(mine);
    // B creates the same name without having seen A's creation, with a later clock (it would
    // win the admin field).
    w.b.clock.advance(10'000);
    Forge forge(w.b);
    ChangeSet byB = forge.make({Forge::plain(kSysChannel, kChannelKind, w.team, {{"admin", w.b.log->deviceId()}, {"epoch", 1}})});
    // B's own id prefix, but a name A already holds: the same refusal on every order.
    Replica p(w.tmp / "p", kNow, &w.office);
    Replica q(w.tmp / "q", kNow, &w.office);
    CHECK(p.apply(byA) == ApplyOutcome::Applied);
    CHECK(p.apply(byB) == ApplyOutcome::Refused);
    CHECK(q.apply(byB) == ApplyOutcome::Refused);
    CHECK(q.apply(byA) == ApplyOutcome::Applied);
    CHECK(q.refused().back().reason.find("not named after an id of its creator's") != std::string::npos);
    CHECK(p.record(kChannelKind, w.team)["admin"] == w.a.log->deviceId());
    CHECK(p.digest() == q.digest());
}

TEST_CASE("judge: having seen a change set is having seen its past - a removed member cannot pick a position that never was") {
    World w;
    w.channels();
    ChangeSet cFirst = w.c.set("c-item", "v", 1);
    w.a.clock.advance(5000);
    Draft remove;
    remove.removeMember(w.unit, w.c.log->deviceId());
    ChangeSet removal = w.a.commit(remove);
    w.b.applyAll(w.a.changeSets());
    w.b.clock.advance(10'000);
    ChangeSet bAfter = w.b.set("b-item", "v", 1);  // B has seen the removal
    w.c.applyAll(w.b.changeSets());
    // C claims B's latest change set but not A's removal, and writes with the old epoch's key.
    auto cvv = w.c.log->versionVector();
    REQUIRE(cvv.ok());
    VersionVector seen = *cvv;
    seen[w.a.log->deviceId()] = removal.seq - 1;
    Forge forge(w.c);
    ChangeSet stale = forge.make({forge.sealed(w.unit, "unit_reply", "r9", {{"text", "after removal"}}, 1)}, std::nullopt, seen);
    bool namesB = false;
    for (const auto& dep : stale.deps) namesB = namesB || (dep.device == w.b.log->deviceId() && dep.seq == bAfter.seq);
    REQUIRE(namesB);
    w.a.apply(cFirst);
    w.a.applyAll(w.b.changeSets());
    CHECK(w.a.apply(stale) == ApplyOutcome::Refused);
    CHECK(w.a.refused().back().reason.find("removed") != std::string::npos);
    CHECK(errorOf(w.a.log->record("unit_reply", "r9")) == SyncError::NotFound);
}

TEST_CASE("judge: a change set with a sealed op holds nothing else - replicas without the key judge it alike") {
    World w;
    w.channels();
    Forge forge(w.a);
    Op bad = forge.sealed(w.team, "finding", "f1", {{"text", "x"}});
    bad.body.assign(60, 0x5a);  // does not open: refused where the key is held
    ChangeSet mixed = forge.make({Forge::plain("org", "item", "z", {{"v", "visible"}}), bad});
    Forge forgeUnit(w.a);
    ChangeSet twoChannels = forgeUnit.make({forge.sealed(w.team, "finding", "f2", {{"text", "x"}}),
                                            forge.sealed(w.unit, "notice", "n2", {{"text", "y"}})});
    for (const ChangeSet* cs : {&mixed, &twoChannels}) {
        // The office holds every key, C none of the team's: both refuse it as malformed.
        for (Replica* r : {&w.office, &w.c}) {
            auto outcome = r->tryApply(*cs, false);
            CHECK(errorOf(outcome) == SyncError::Invalid);
            CHECK(outcome.message().find("mixes ops of an encrypted channel") != std::string::npos);
        }
    }
    CHECK(errorOf(w.c.log->record("item", "z")) == SyncError::NotFound);
}

TEST_CASE("judge: sys records live in the sys channel only - a device record in the org channel takes over nothing") {
    World w;
    w.a.catchUp();
    const auto& mine = w.a.log->identity().publicInfo();
    Forge forge(w.a);
    ChangeSet takeover = forge.make({Forge::plain("org", kDeviceKind, w.b.log->deviceId(), {{"sign_pk", crypto::toHex(mine.signKey)}})});
    CHECK(w.office.apply(takeover) == ApplyOutcome::Refused);
    CHECK(w.office.refused().back().reason.find("live in the sys channel only") != std::string::npos);
    auto key = w.office.log->signKeyOf(w.b.log->deviceId());
    REQUIRE(key.ok());
    REQUIRE(key->has_value());
    CHECK(**key == w.b.log->identity().publicInfo().signKey);
    // Nor does an app record go into the sys channel (the forger's own store refused the first too).
    w.a.catchUp();
    CHECK(w.a.refused().back().id == takeover.id);
    ChangeSet intoSys = forge.make({Forge::plain(kSysChannel, "item", "i", {{"v", 1}})});
    CHECK(w.office.apply(intoSys) == ApplyOutcome::Refused);
    CHECK(w.office.refused().back().reason.find("the sys channel holds no record of kind item") != std::string::npos);
}

TEST_CASE("judge: an op naming a field twice is malformed, in the clear and sealed") {
    World w;
    w.channels();
    Forge forge(w.b);
    Op twice = Forge::plain("org", "item", "d", {{"v", 1}});
    twice.changes.push_back({"v", 2, {}});
    auto r = w.office.tryApply(forge.make({twice}));
    CHECK(errorOf(r) == SyncError::Invalid);
    CHECK(r.message().find("'v' twice") != std::string::npos);
    Op sealedTwice = forge.sealed(w.team, "finding", "f1", {{"status", "closed"}});
    sealedTwice.changes.push_back({"status", "draft", {}});
    ChangeSet cs = forge.make({sealedTwice});
    CHECK(w.office.apply(cs) == ApplyOutcome::Refused);
    CHECK(w.office.refused().back().reason.find("twice") != std::string::npos);
    CHECK(errorOf(w.office.log->record("finding", "f1")) == SyncError::NotFound);
}

TEST_CASE("judge: a record lives in the channel it was made in - no write reaches it through another") {
    World w;
    w.channels();
    Draft d;
    d.set(w.team, "finding", "f1", "text", "in the team channel");
    w.b.commit(d);
    w.office.applyAll(w.b.changeSets());
    Forge forge(w.b);
    ChangeSet across = forge.make({forge.sealed(w.unit, "finding", "f1", {{"text", "through the unit channel"}})});
    CHECK(w.office.apply(across) == ApplyOutcome::Refused);
    CHECK(w.office.refused().back().reason.find("lives in channel " + w.team) != std::string::npos);
    CHECK(w.office.record("finding", "f1")["text"] == "in the team channel");
    // The same through the plaintext org channel (the next link of B's chain).
    w.b.catchUp();
    CHECK(w.b.refused().back().id == across.id);
    ChangeSet plain = forge.make({Forge::plain("org", "finding", "f1", {{"text", "in the clear"}})});
    CHECK(w.office.apply(plain) == ApplyOutcome::Refused);
    CHECK(w.office.record("finding", "f1")["text"] == "in the team channel");
}

TEST_CASE("judge: only a signed change set can accuse its device of a fork") {
    World w;
    ChangeSet honest = w.b.set("k", "v", 1);
    w.office.apply(honest);
    ChangeSet fake = honest;
    fake.hlc += 1;
    fake.signature.assign(64, 0x41);
    auto r = w.office.tryApply(fake, false);
    CHECK(errorOf(r) == SyncError::Corrupt);
    auto issues = w.office.log->chainIssues();
    REQUIRE(issues.ok());
    CHECK(issues->empty());
    CHECK(w.office.check().empty());
}

namespace {

ChangeSet resigned(Replica& r, ChangeSet cs) {
    cs.hash = changeSetHash(cs);
    auto sig = r.log->identity().sign(signingInput(cs));
    REQUIRE(sig.ok());
    cs.signature = *sig;
    return cs;
}

std::size_t forkCount(Replica& r) {
    auto issues = r.log->chainIssues();
    REQUIRE(issues.ok());
    std::size_t n = 0;
    for (const auto& i : *issues) n += i.kind == "fork" ? 1 : 0;
    return n;
}

}  // namespace

TEST_CASE("judge: no device takes another's change-set id - the honest one is never framed as a fork") {
    World w;
    ChangeSet honest = w.b.set("k", "v", "honest");
    Forge forge(w.c);
    ChangeSet squat = forge.make({Forge::plain("org", "item", "squat", {{"v", "c"}})});
    squat.id = honest.id;  // signed by C, under B's id
    squat = resigned(w.c, squat);
    Replica p{w.tmp / "p", kNow, &w.office};
    Replica q{w.tmp / "q", kNow, &w.office};
    CHECK(p.apply(honest) == ApplyOutcome::Applied);
    auto onP = p.tryApply(squat);
    CHECK(errorOf(onP) == SyncError::Invalid);
    CHECK(onP.message().find("its id is not one its device made") != std::string::npos);
    // Squat first: refused the same way, and B's honest change set goes in after it.
    CHECK(errorOf(q.tryApply(squat)) == SyncError::Invalid);
    CHECK(q.apply(honest) == ApplyOutcome::Applied);
    CHECK(forkCount(p) == 0);
    CHECK(forkCount(q) == 0);
    CHECK(p.digest() == q.digest());
}

TEST_CASE("judge: no device takes another's op id, and a device reusing its own is refused, not unstorable") {
    World w;
    ChangeSet honest = w.b.set("k", "v", "honest");
    Forge forgeC(w.c);
    Op op = Forge::plain("org", "item", "squat", {{"v", "c"}});
    op.id = honest.ops[0].id;
    ChangeSet squat = forgeC.make({op});
    Replica q{w.tmp / "q", kNow, &w.office};
    auto first = q.tryApply(squat);
    CHECK(errorOf(first) == SyncError::Invalid);
    CHECK(first.message().find("has an id its device did not make") != std::string::npos);
    CHECK(q.apply(honest) == ApplyOutcome::Applied);
    // B's own op id again, in B's next change set: a clear refusal on every replica.
    w.b.catchUp();
    Forge forgeB(w.b);
    Op again = Forge::plain("org", "item", "k2", {{"v", 2}});
    again.id = honest.ops[0].id;
    ChangeSet reuse = forgeB.make({again});
    w.office.apply(honest);
    for (Replica* r : {&q, &w.office}) {
        auto outcome = r->tryApply(reuse);
        CHECK(errorOf(outcome) == SyncError::Invalid);
        CHECK(outcome.message().find("reuses op id") != std::string::npos);
    }
}

TEST_CASE("judge: a record's channel is read from the op headers - replicas without its key judge the same") {
    World w;
    w.channels();
    Draft d;
    d.set(w.team, "unit_reply", "r1", "text", "made in the team channel");
    ChangeSet made = w.b.commit(d);
    w.office.apply(made);
    w.c.apply(made);  // C holds no team key: the op stays sealed there, its header does not
    Forge forge(w.b);
    ChangeSet across = forge.make({forge.sealed(w.unit, "unit_reply", "r1", {{"text", "written through the unit channel"}})});
    // C judges it on its own (not through the office, which has refused it already).
    CHECK(*w.c.tryApply(across, false) == ApplyOutcome::Refused);
    CHECK(w.c.refused().back().reason.find("lives in channel " + w.team) != std::string::npos);
    CHECK(w.office.apply(across) == ApplyOutcome::Refused);
    CHECK(errorOf(w.c.log->record("unit_reply", "r1")) == SyncError::NotFound);
    // Through the plaintext org channel too.
    w.b.catchUp();
    ChangeSet inOrg = forge.make({Forge::plain("org", "unit_reply", "r1", {{"text", "in the clear"}})});
    CHECK(*w.c.tryApply(inOrg, false) == ApplyOutcome::Refused);
    CHECK(w.office.apply(inOrg) == ApplyOutcome::Refused);
    CHECK(errorOf(w.c.log->record("unit_reply", "r1")) == SyncError::NotFound);
}

}  // namespace xs::sync
