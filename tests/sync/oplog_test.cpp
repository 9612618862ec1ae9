// The op log: commits, idempotent apply, order-independent merge with visible conflicts,
// rebuild/check, and rejection of malformed input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "sync/changeset_codec.h"
#include "sync/oplog.h"
#include "sync/uuid.h"
#include "tests/sync/replica.h"
#include "tests/sync/sync_test_util.h"

namespace xs::sync {
namespace fs = std::filesystem;
namespace {

using test::cheapKdf;
using test::errorOf;
using test::TempDir;

std::vector<ChangeSet> unionOf(const std::vector<std::vector<ChangeSet>>& lists) {
    std::map<std::string, ChangeSet> byId;
    for (const auto& l : lists)
        for (const auto& cs : l) byId.emplace(cs.id, cs);
    std::vector<ChangeSet> out;
    for (auto& [id, cs] : byId) out.push_back(cs);
    return out;
}

// The op (within the sets) that set `field` of `recordId` to `value`.
const Op* opSetting(const std::vector<ChangeSet>& sets, const std::string& recordId, const std::string& field,
                    const Json& value) {
    for (const auto& cs : sets)
        for (const auto& op : cs.ops)
            if (op.recordId == recordId)
                for (const auto& c : op.changes)
                    if (c.field == field && c.value == value) return &op;
    return nullptr;
}

// Re-encodes the body of every plaintext op from its changes (what a tampering sender would do).
void reencode(ChangeSet& cs) {
    for (auto& op : cs.ops)
        if (!isEncryptedChannel(op.channel)) {
            std::string text = encodeChanges(op.changes);
            op.body.assign(text.begin(), text.end());
        }
}

bool lwwGreater(const Op& a, const Op& b) {
    if (a.hlc != b.hlc) return a.hlc > b.hlc;
    if (a.device != b.device) return a.device > b.device;
    return a.id > b.id;
}

}  // namespace

TEST_CASE("oplog: commits make change sets with sequence 1 - 2 - 3 and growing clocks") {
    TempDir tmp;
    Replica root(tmp / "root", 1'700'000'000'000);
    Replica a(tmp / "a", 1'700'000'000'000, &root);
    const auto registered = a.opCount();  // the registrar's records of the devices
    CHECK(isUuid(a.log->deviceId()));

    std::vector<ChangeSet> made;
    made.push_back(a.set("r1", "title", "first"));
    a.clock.advance(-60'000);  // the wall clock jumps back a minute
    made.push_back(a.set("r1", "title", "second"));
    made.push_back(a.set("r2", "count", 7));
    for (std::size_t i = 0; i < made.size(); ++i) {
        CAPTURE(i);
        const ChangeSet& cs = made[i];
        CHECK(cs.seq == static_cast<std::int64_t>(i + 1));
        CHECK(cs.device == a.log->deviceId());
        CHECK(isUuid(cs.id));
        REQUIRE(cs.ops.size() == 1);
        CHECK(cs.ops[0].hlc == cs.hlc);
        CHECK(cs.ops[0].device == cs.device);
        CHECK(isUuid(cs.ops[0].id));
        if (i > 0) CHECK(cs.hlc > made[i - 1].hlc);
    }
    // The second title edit superseded the first.
    REQUIRE(made[1].ops[0].changes.size() == 1);
    CHECK(made[1].ops[0].changes[0].base == std::vector<std::string>{made[0].ops[0].id});

    auto stored = a.own();
    REQUIRE(stored.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(stored[i].id == made[i].id);
        CHECK(stored[i].seq == made[i].seq);
        CHECK(stored[i].hlc == made[i].hlc);
        REQUIRE(stored[i].ops.size() == 1);
        CHECK(stored[i].ops[0].id == made[i].ops[0].id);
        CHECK(stored[i].ops[0].changes[0].value == made[i].ops[0].changes[0].value);
    }
    CHECK(a.record("item", "r1") == Json{{"title", "second"}});
    CHECK(a.record("item", "r2") == Json{{"count", 7}});
    CHECK(Json::parse(a.sinkRow("item", "r1")) == Json{{"title", "second"}});
    CHECK(errorOf(a.log->record("item", "r3")) == SyncError::NotFound);
    CHECK(a.opCount() == registered + 3);

    // A new OpLog on the same store continues the sequence and the clock.
    a.clock.advance(-3'600'000);
    OpLog reopened(*a.store, a.sink, a.clock);
    REQUIRE(reopened.open().ok());
    CHECK(reopened.deviceId() == a.log->deviceId());
    Draft d;
    d.set("org", "item", "r1", "title", "third");
    auto cs4 = reopened.commit(d);
    REQUIRE(cs4.ok());
    CHECK(cs4->seq == 4);
    CHECK(cs4->hlc > made[2].hlc);
}

TEST_CASE("oplog: a draft groups changes per record - and commit refuses bad or empty drafts") {
    TempDir tmp;
    Replica root(tmp / "root", 1'700'000'000'000);
    Replica a(tmp / "a", 1'700'000'000'000, &root);
    const auto registered = a.opCount();
    Draft d;
    CHECK(d.empty());
    CHECK(errorOf(a.log->commit(d)) == SyncError::Invalid);
    d.set("org", "item", "r1", "a", 1);
    d.set("org", "item", "r1", "a", 2);  // replaces
    d.set("org", "item", "r1", "b", "x");
    d.set("org", "item", "r2", "a", true);
    ChangeSet cs = a.commit(d);
    REQUIRE(cs.ops.size() == 2);
    CHECK(cs.ops[0].recordId == "r1");
    REQUIRE(cs.ops[0].changes.size() == 2);
    CHECK(a.record("item", "r1") == Json{{"a", 2}, {"b", "x"}});
    CHECK(a.record("item", "r2") == Json{{"a", true}});

    // A bad field name is refused and nothing of the draft is stored; the sequence has no gap.
    const std::string before = a.digest();
    Draft bad;
    bad.set("org", "item", "r3", "ok_field", 1);
    bad.set("org", "item", "r3", "Bad Field", 1);
    CHECK(errorOf(a.log->commit(bad)) == SyncError::Invalid);
    CHECK(a.digest() == before);
    CHECK(a.opCount() == registered + 2);
    CHECK(a.set("r3", "ok_field", 1).seq == 2);
    CHECK(a.check().empty());
}

TEST_CASE("oplog: applying a change set twice changes nothing") {
    TempDir tmp;
    Replica root(tmp / "root", 1'700'000'000'000);
    Replica a(tmp / "a", 1'700'000'000'000, &root);
    Replica b(tmp / "b", 1'700'000'000'000, &root);
    a.catchUp();  // both hold every registration
    a.set("r1", "title", "hello");
    a.set("r1", "body", "text");
    a.set("r1", "title", "hello again");
    const auto sets = a.own();
    const auto registered = b.opCount();

    b.applyAll(sets);
    const std::string once = b.digest();
    CHECK(once == a.digest());  // same ops, same projections
    CHECK(b.record("item", "r1") == a.record("item", "r1"));
    CHECK(b.sinkRow("item", "r1") == a.sinkRow("item", "r1"));
    const auto ops = b.opCount();

    CHECK(b.apply(sets[1]) == ApplyOutcome::AlreadyKnown);
    b.applyAll(sets);
    CHECK(b.digest() == once);
    CHECK(b.opCount() == ops);
    CHECK(ops == registered + 3);

    // Applying a replica's own change sets back to it is a no-op too.
    const std::string aDigest = a.digest();
    a.applyAll(sets);
    CHECK(a.digest() == aDigest);
    CHECK(a.opCount() == registered + 3);

    // b learned a's clock: its next edit supersedes and outranks what it received.
    ChangeSet mine = b.set("r1", "title", "from b");
    CHECK(mine.hlc > sets.back().hlc);
    CHECK(b.record("item", "r1")["title"] == "from b");
}

TEST_CASE("oplog: merge is independent of the order change sets arrive in") {
    TempDir tmp;
    const std::int64_t t0 = 1'700'000'000'000;
    Replica root(tmp / "root", t0 - 200'000);
    Replica a(tmp / "a", t0, &root);
    Replica b(tmp / "b", t0 + 5, &root);      // a little ahead
    Replica c(tmp / "c", t0 - 100'000, &root);  // behind
    // Everyone holds every registration before anyone writes.
    for (Replica* r : {&a, &b, &c}) r->catchUp();

    // A creates the record; B and C see it.
    Draft create;
    create.set("org", "item", "R", "title", "t0");
    create.set("org", "item", "R", "body", "b0");
    create.set("org", "item", "R", "count", 1);
    ChangeSet a1 = a.commit(create);
    b.apply(a1);
    c.apply(a1);

    // Concurrent edits of the same text field on A and B; C edits another field.
    a.clock.advance(10);
    ChangeSet a2 = a.set("R", "title", "title by A");
    b.clock.advance(10);
    Draft bd;
    bd.set("org", "item", "R", "title", "title by B");
    bd.set("org", "item", "R", "count", 2);
    ChangeSet b1 = b.commit(bd);
    ChangeSet c1 = c.set("R", "body", "body by C");

    // A sequential edit: C saw B's change (its own clock is behind) and then edits count.
    c.apply(b1);
    ChangeSet c2 = c.set("R", "count", 3);
    CHECK(c2.hlc > b1.hlc);

    // Concurrent non-text edits with the very same HLC: resolved by LWW (device), no conflict.
    a.clock.set(t0 + 1'000'000);
    b.clock.set(t0 + 1'000'000);
    ChangeSet a3 = a.set("S", "level", 10);
    ChangeSet b2 = b.set("S", "level", 20);
    CHECK(a3.hlc == b2.hlc);

    const std::vector<ChangeSet> all = unionOf({a.own(), b.own(), c.own()});
    REQUIRE(all.size() == 7);

    // Expected winners from the ops themselves.
    const Op* titleA = opSetting(all, "R", "title", "title by A");
    const Op* titleB = opSetting(all, "R", "title", "title by B");
    REQUIRE(titleA != nullptr);
    REQUIRE(titleB != nullptr);
    CHECK(titleA->hlc != titleB->hlc);  // decided by the clock, not the tie-break
    CHECK(lwwGreater(*titleA, *titleB) == (titleA->hlc > titleB->hlc));
    const Json titleWinner = lwwGreater(*titleA, *titleB) ? "title by A" : "title by B";
    const Json titleLoser = lwwGreater(*titleA, *titleB) ? "title by B" : "title by A";
    const Json levelWinner = a.log->deviceId() > b.log->deviceId() ? 10 : 20;

    std::vector<std::vector<ChangeSet>> orders;
    orders.push_back(all);
    orders.push_back(std::vector<ChangeSet>(all.rbegin(), all.rend()));
    for (unsigned seed : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u}) {
        std::vector<ChangeSet> o = all;
        std::mt19937 rng(seed);
        std::shuffle(o.begin(), o.end(), rng);
        orders.push_back(std::move(o));
    }
    // Causal order broken on purpose: the superseding edits first, then what they superseded.
    {
        std::vector<ChangeSet> o = {c2, b1, a2, a1, c1, b2, a3};
        orders.push_back(std::move(o));
    }

    // Every fresh replica is registered first and holds every registration, so that only the
    // order of the seven change sets differs between them.
    std::vector<std::unique_ptr<Replica>> fresh;
    for (std::size_t i = 0; i < orders.size(); ++i)
        fresh.push_back(std::make_unique<Replica>(tmp / ("fresh" + std::to_string(i)), t0, &root));
    for (auto& f : fresh) f->catchUp();
    std::string digest;
    for (std::size_t i = 0; i < orders.size(); ++i) {
        CAPTURE(i);
        Replica& r = *fresh[i];
        r.applyAll(orders[i]);
        const std::string d = r.digest();
        if (i == 0) digest = d;
        CHECK(d == digest);

        const Json rec = r.record("item", "R");
        CHECK(rec["title"] == titleWinner);
        CHECK(rec["body"] == "body by C");
        CHECK(rec["count"] == 3);  // the sequential edit wins over what it saw
        CHECK(r.record("item", "S")["level"] == levelWinner);
        CHECK(Json::parse(r.sinkRow("item", "R")) == rec);

        const auto conflicts = r.conflicts();
        REQUIRE(conflicts.size() == 1);  // only the concurrent text edit
        const Conflict& conflict = conflicts[0];
        CHECK(conflict.kind == "item");
        CHECK(conflict.recordId == "R");
        CHECK(conflict.field == "title");
        REQUIRE(conflict.versions.size() == 2);
        CHECK(conflict.versions[0].value == titleWinner);  // winner first
        CHECK(conflict.versions[1].value == titleLoser);
        std::set<std::string> opIds = {conflict.versions[0].opId, conflict.versions[1].opId};
        CHECK(opIds == std::set<std::string>{titleA->id, titleB->id});
        CHECK(r.check().empty());
    }

    // The original replicas converge too once they have everything (the registrations of the
    // fresh replicas included, as every fresh replica holds them).
    for (Replica* r : {&a, &b, &c}) {
        r->catchUp();
        r->applyAll(all);
        CHECK(r->digest() == digest);
    }

    // An edit made by a replica that has seen both heads resolves the conflict everywhere.
    Replica& resolver = *fresh[3];
    resolver.clock.set(t0 - 5'000'000);  // its wall clock is wrong; the HLC still orders the edit last
    ChangeSet fix = resolver.set("R", "title", "agreed title");
    REQUIRE(fix.ops.size() == 1);
    REQUIRE(fix.ops[0].changes.size() == 1);
    std::set<std::string> bases(fix.ops[0].changes[0].base.begin(), fix.ops[0].changes[0].base.end());
    CHECK(bases == std::set<std::string>{titleA->id, titleB->id});
    CHECK(resolver.conflicts().empty());
    const std::string resolved = resolver.digest();
    for (std::size_t i = 0; i < fresh.size(); ++i) {
        CAPTURE(i);
        fresh[i]->apply(fix);
        CHECK(fresh[i]->conflicts().empty());
        CHECK(fresh[i]->record("item", "R")["title"] == "agreed title");
        CHECK(fresh[i]->digest() == resolved);
    }
    for (Replica* r : {&a, &b, &c}) {
        r->apply(fix);
        CHECK(r->conflicts().empty());
        CHECK(r->digest() == resolved);
    }
    // The resolution arriving before the edits it supersedes gives the same result.
    for (unsigned seed : {11u, 12u}) {
        CAPTURE(seed);
        std::vector<ChangeSet> o = all;
        std::mt19937 rng(seed);
        std::shuffle(o.begin(), o.end(), rng);
        o.insert(o.begin(), fix);
        Replica late(tmp / ("late" + std::to_string(seed)), t0, &root);
        late.applyAll(o);
        for (auto& f : fresh) f->catchUp();
        late.catchUp();
        CHECK(late.conflicts().empty());
        CHECK(late.record("item", "R")["title"] == "agreed title");
        CHECK(late.check().empty());
    }
}

TEST_CASE("oplog: rebuild reproduces the projections - check finds damage without changing anything") {
    TempDir tmp;
    Replica root(tmp / "root", 1'700'000'000'000);
    Replica a(tmp / "a", 1'700'000'000'000, &root);
    Replica b(tmp / "b", 1'700'000'000'000, &root);
    a.catchUp();
    for (int i = 0; i < 60; ++i) {
        a.clock.advance(3);
        const std::string rec = "rec" + std::to_string(i % 7);
        Draft d;
        d.set("org", "item", rec, "text", "value " + std::to_string(i));
        d.set("org", "item", rec, "n", i);
        if (i % 5 == 0) d.set("org", "other", "o" + std::to_string(i % 3), "flag", i % 2 == 0);
        a.commit(d);
    }
    // A concurrent text edit from another replica, so there is a conflict to rebuild too.
    b.applyAll(a.changeSets());
    b.set("rec1", "text", "b's version");
    a.set("rec1", "text", "a's version");
    a.applyAll(b.changeSets());
    REQUIRE(a.conflicts().size() == 1);

    const std::string before = a.digest();
    CHECK(a.check().empty());
    CHECK(a.digest() == before);  // check() changes nothing
    REQUIRE(a.log->rebuild().ok());
    CHECK(a.digest() == before);
    CHECK(a.conflicts().size() == 1);

    SUBCASE("a damaged winner row") {
        REQUIRE(a.store->db().exec("UPDATE field_versions SET value = '\"x\"' WHERE field = 'text' AND winner = 1").ok());
        const std::string damaged = a.digest();
        CHECK(damaged != before);
        const auto problems = a.check();
        CHECK_FALSE(problems.empty());
        CHECK(a.digest() == damaged);  // check() does not repair or otherwise modify
        REQUIRE(a.log->rebuild().ok());
        CHECK(a.digest() == before);
        CHECK(a.check().empty());
    }
    SUBCASE("a damaged app projection row") {
        REQUIRE(a.store->db().exec("UPDATE test_records SET fields = '{}' WHERE record_id = 'rec3'").ok());
        const std::string damaged = a.digest();
        CHECK(damaged != before);
        CHECK_FALSE(a.check().empty());
        CHECK(a.digest() == damaged);
        REQUIRE(a.log->rebuild().ok());
        CHECK(a.digest() == before);
    }
    SUBCASE("a deleted conflict row") {
        REQUIRE(a.store->db().exec("DELETE FROM conflicts").ok());
        CHECK_FALSE(a.check().empty());
        REQUIRE(a.log->rebuild().ok());
        CHECK(a.digest() == before);
        CHECK(a.conflicts().size() == 1);
    }
    SUBCASE("an op missing from its change set") {
        REQUIRE(a.store->db().exec("DELETE FROM ops WHERE id = (SELECT id FROM ops ORDER BY hlc LIMIT 1)").ok());
        const std::string damaged = a.digest();
        CHECK_FALSE(a.check().empty());
        CHECK(a.digest() == damaged);
    }
    SUBCASE("an unreadable op body") {
        REQUIRE(a.store->db().exec("UPDATE ops SET body = 'garbage' WHERE id = (SELECT id FROM ops ORDER BY hlc LIMIT 1)").ok());
        CHECK_FALSE(a.check().empty());
    }
}

TEST_CASE("oplog: decodeChanges rejects malformed bodies") {
    const std::vector<std::string> bad = {
        "",
        "not json",
        "{}",
        "{\"f\":\"a\",\"v\":1}",
        "\"text\"",
        "[1]",
        "[null]",
        "[[\"f\",\"v\"]]",
        "[{\"v\":1}]",
        "[{\"f\":\"a\"}]",
        "[{\"f\":1,\"v\":1}]",
        "[{\"f\":\"a\",\"v\":1,\"b\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\"}]",
        "[{\"f\":\"a\",\"v\":1,\"b\":[1]}]",
        "[{\"f\":\"a\",\"v\":1},",
    };
    for (const auto& body : bad) {
        CAPTURE(body);
        CHECK(errorOf(decodeChanges(body)) == SyncError::Invalid);
    }

    // encode/decode round trip, with and without bases.
    std::vector<FieldChange> changes = {
        {"title", "标题", {}},
        {"n", 42, {"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"}},
        {"obj", Json{{"k", Json::array({1, 2})}}, {}},
        {"nothing", nullptr, {}},
    };
    auto decoded = decodeChanges(encodeChanges(changes));
    REQUIRE(decoded.ok());
    REQUIRE(decoded->size() == changes.size());
    for (std::size_t i = 0; i < changes.size(); ++i) {
        CHECK((*decoded)[i].field == changes[i].field);
        CHECK((*decoded)[i].value == changes[i].value);
        CHECK((*decoded)[i].base == changes[i].base);
    }
}

TEST_CASE("oplog: apply rejects malformed change sets and leaves the store unchanged") {
    TempDir tmp;
    Replica root(tmp / "root", 1'700'000'000'000);
    Replica a(tmp / "a", 1'700'000'000'000, &root);
    Replica b(tmp / "b", 1'700'000'000'000, &root);
    a.catchUp();
    b.catchUp();
    b.set("mine", "title", "b's own record");
    b.apply(a.set("r1", "title", "one"));                 // b has a's chain up to here
    const ChangeSet good = a.set("r1", "title", "two");  // has a base reference

    const std::string digest = b.digest();
    const auto ops = b.opCount();
    const auto sets = b.changeSets().size();

    struct Mutation {
        const char* name;
        std::function<void(ChangeSet&)> apply;
    };
    const std::vector<Mutation> mutations = {
        {"op id not a UUID", [](ChangeSet& cs) { cs.ops[0].id = "not-a-uuid"; }},
        {"op id upper case", [](ChangeSet& cs) {
             std::transform(cs.ops[0].id.begin(), cs.ops[0].id.end(), cs.ops[0].id.begin(), ::toupper);
         }},
        {"field name with upper case", [](ChangeSet& cs) { cs.ops[0].changes[0].field = "Title"; }},
        {"field name with a space", [](ChangeSet& cs) { cs.ops[0].changes[0].field = "my title"; }},
        {"empty field name", [](ChangeSet& cs) { cs.ops[0].changes[0].field = ""; }},
        {"field name too long", [](ChangeSet& cs) { cs.ops[0].changes[0].field = std::string(65, 'a'); }},
        {"field name with SQL", [](ChangeSet& cs) { cs.ops[0].changes[0].field = "a';drop table ops;--"; }},
        {"kind with upper case", [](ChangeSet& cs) { cs.ops[0].kind = "Item"; }},
        {"channel with a space", [](ChangeSet& cs) { cs.ops[0].channel = "team x"; }},
        {"empty record id", [](ChangeSet& cs) { cs.ops[0].recordId = ""; }},
        {"no changes", [](ChangeSet& cs) { cs.ops[0].changes.clear(); }},
        {"bad base reference", [](ChangeSet& cs) { cs.ops[0].changes[0].base = {"nope"}; }},
        {"op from another device", [](ChangeSet& cs) { cs.ops[0].device = "someone-else"; }},
        {"change set id not a UUID", [](ChangeSet& cs) { cs.id = "x"; }},
        {"sequence 0", [](ChangeSet& cs) { cs.seq = 0; }},
        {"no device", [](ChangeSet& cs) { cs.device = ""; }},
    };
    for (const auto& m : mutations) {
        CAPTURE(std::string(m.name));
        ChangeSet cs = good;
        REQUIRE(cs.ops.size() == 1);
        REQUIRE(cs.ops[0].changes.size() == 1);
        m.apply(cs);
        reencode(cs);  // the body as a tampering sender would send it (the changes are read from it)
        CHECK(errorOf(b.tryApply(cs)) == SyncError::Invalid);
        CHECK(b.digest() == digest);
        CHECK(b.opCount() == ops);
        CHECK(b.changeSets().size() == sets);
    }

    // A bad op after a good one in the same change set: nothing of it is applied.
    {
        ChangeSet cs = good;
        Op extra = cs.ops[0];
        auto id = newOwnedId(cs.device);
        REQUIRE(id.ok());
        extra.id = *id;
        extra.recordId = "r2";
        extra.changes[0].field = "Bad";
        cs.ops.push_back(extra);
        reencode(cs);
        CHECK(errorOf(b.tryApply(cs)) == SyncError::Invalid);
        CHECK(b.digest() == digest);
        CHECK(b.opCount() == ops);
    }

    // The rejected attempts did not mark the change set as known: the real one still applies.
    b.apply(good);
    CHECK(b.opCount() == ops + 1);
    CHECK(b.record("item", "r1")["title"] == "two");
}

TEST_CASE("chain: a change set whose ops were altered after signing is refused and changes nothing") {
    TempDir tmp;
    Replica root(tmp / "root", 1'700'000'000'000);
    Replica a(tmp / "a", 1'700'000'000'000, &root);
    Replica b(tmp / "b", 1'700'000'000'000, &root);
    ChangeSet cs = a.set("r1", "title", "signed text");
    b.catchUp();
    const std::string digest = b.digest();
    ChangeSet tampered = cs;
    tampered.ops[0].changes[0].value = "altered text";
    reencode(tampered);
    CHECK(errorOf(b.tryApply(tampered)) == SyncError::Corrupt);
    // Changes that disagree with the signed body are not believed: the body is what was signed.
    ChangeSet disagreeing = cs;
    disagreeing.ops[0].changes[0].value = "not what the body says";
    ChangeSet badSignature = cs;
    badSignature.signature[10] ^= 1;
    CHECK(errorOf(b.tryApply(badSignature)) == SyncError::Corrupt);
    ChangeSet unsignedSet = cs;
    unsignedSet.signature.clear();
    CHECK(errorOf(b.tryApply(unsignedSet)) == SyncError::Invalid);  // no signature at all: malformed
    CHECK(b.digest() == digest);
    CHECK(b.apply(disagreeing) == ApplyOutcome::Applied);
    CHECK(b.record("item", "r1")["title"] == "signed text");
    CHECK(b.apply(cs) == ApplyOutcome::AlreadyKnown);  // the genuine one
}

TEST_CASE("chain: a change set from a device this registrar never registered is held and never merged") {
    TempDir tmp;
    Replica root(tmp / "root", 1'700'000'000'000);
    Replica otherRoot(tmp / "other-root", 1'700'000'000'000);
    Replica a(tmp / "a", 1'700'000'000'000, &otherRoot);  // registered by another office only
    Replica b(tmp / "b", 1'700'000'000'000, &root);
    ChangeSet cs = a.set("r1", "title", "x");
    const auto ops = b.opCount();
    CHECK(b.apply(cs) == ApplyOutcome::Held);  // unverified: its key is not known here
    CHECK(b.opCount() == ops);
    CHECK(errorOf(b.log->record("item", "r1")) == SyncError::NotFound);
    auto issues = b.log->chainIssues();
    REQUIRE(issues.ok());
    REQUIRE(issues->size() == 1);
    CHECK((*issues)[0].detail.find("not registered") != std::string::npos);
    // Another registrar's records of the device do not count here.
    auto otherSets = otherRoot.own();
    for (const auto& r : otherSets) CHECK(b.apply(r) == ApplyOutcome::Held);
    CHECK(b.opCount() == ops);
}

TEST_CASE("chain: a gap holds later change sets until the missing one arrives") {
    TempDir tmp;
    Replica root(tmp / "root", 1'700'000'000'000);
    Replica a(tmp / "a", 1'700'000'000'000, &root);
    Replica b(tmp / "b", 1'700'000'000'000, &root);
    ChangeSet c1 = a.set("r1", "title", "one");
    ChangeSet c2 = a.set("r1", "title", "two");
    ChangeSet c3 = a.set("r1", "body", "three");
    b.catchUp();
    const auto ops = b.opCount();
    CHECK(b.apply(c3) == ApplyOutcome::Held);
    CHECK(b.apply(c2) == ApplyOutcome::Held);
    CHECK(b.opCount() == ops);  // nothing merged past the gap
    auto issues = b.log->chainIssues();
    REQUIRE(issues.ok());
    REQUIRE(issues->size() == 2);
    CHECK((*issues)[0].kind == "gap");
    CHECK((*issues)[0].detail.find("change set 1 of device " + a.log->deviceId() + " has not arrived") != std::string::npos);
    CHECK(b.apply(c1) == ApplyOutcome::Applied);
    CHECK(b.opCount() == ops + 3);
    CHECK(b.record("item", "r1")["title"] == "two");
    CHECK(b.record("item", "r1")["body"] == "three");
    CHECK(b.log->chainIssues()->empty());
    CHECK(b.apply(c2) == ApplyOutcome::AlreadyKnown);
    CHECK(b.check().empty());
}

TEST_CASE("chain: a copied store that keeps writing is detected as a fork") {
    TempDir tmp;
    Replica root(tmp / "root", 1'700'000'000'000);
    Replica a(tmp / "a", 1'700'000'000'000, &root);
    Replica b(tmp / "b", 1'700'000'000'000, &root);
    b.apply(a.set("r1", "title", "before the copy"));
    a.store->lock();
    a.log.reset();
    // The copy: the same device id and keys, the same chain so far.
    fs::copy(tmp / "a", tmp / "a-copy", fs::copy_options::recursive);
    auto reopened = Store::open(tmp / "a", "replica passphrase");
    auto copied = Store::open(tmp / "a-copy", "replica passphrase");
    REQUIRE(reopened.ok());
    REQUIRE(copied.ok());
    TestSink sinkA, sinkCopy;
    ManualClock clock(1'700'000'100'000);
    OpLog original(**reopened, sinkA, clock);
    OpLog copy(**copied, sinkCopy, clock);
    REQUIRE(original.open().ok());
    REQUIRE(copy.open().ok());
    CHECK(original.deviceId() == copy.deviceId());
    Draft d1, d2;
    d1.set("org", "item", "r1", "title", "written on the original");
    d2.set("org", "item", "r1", "title", "written on the copy");
    auto fromOriginal = original.commit(d1);
    auto fromCopy = copy.commit(d2);
    REQUIRE(fromOriginal.ok());
    REQUIRE(fromCopy.ok());
    CHECK(fromOriginal->seq == fromCopy->seq);
    b.apply(*fromOriginal);
    const std::string digest = b.digest();
    CHECK(errorOf(b.tryApply(*fromCopy)) == SyncError::Corrupt);
    CHECK(b.digest() == digest);  // never merged, and the fork record outlived the rolled-back session
    auto issues = b.log->chainIssues();
    REQUIRE(issues.ok());
    REQUIRE(issues->size() == 1);
    CHECK((*issues)[0].kind == "fork");
    CHECK((*issues)[0].detail.find("two change sets with sequence 2") != std::string::npos);
}

TEST_CASE("chain: check reports a stored change set whose signature or chain was altered") {
    TempDir tmp;
    Replica root(tmp / "root", 1'700'000'000'000);
    Replica a(tmp / "a", 1'700'000'000'000, &root);
    a.set("r1", "title", "one");
    a.set("r1", "title", "two");
    CHECK(a.check().empty());
    SUBCASE("signature") {
        REQUIRE(a.store->db().exec(("UPDATE changesets SET signature = zeroblob(64) WHERE seq = 2 AND device = '" +
                                    a.log->deviceId() + "'").c_str()).ok());
        CHECK_FALSE(a.check().empty());
    }
    SUBCASE("previous hash") {
        REQUIRE(a.store->db().exec(("UPDATE changesets SET prev_hash = zeroblob(32) WHERE seq = 2 AND device = '" +
                                    a.log->deviceId() + "'").c_str()).ok());
        CHECK_FALSE(a.check().empty());
    }
}

}  // namespace xs::sync
