// A replica for op-log tests: its own store, a sink projecting records as JSON text, a manual
// clock and an op log. Every test world has a registrar (a Replica made without one: it plays the
// audit office's device, holds the office key and registers every other replica); the others pin
// it, as enrolment does, and catch up with its change sets before applying anyone else's, so
// that every author is registered where it is judged.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "sync/apply.h"
#include "sync/oplog.h"
#include "tests/sync/sync_test_util.h"

namespace xs::sync {

inline const Migration kTestMigration{
    "test", 1,
    "CREATE TABLE test_records (kind TEXT NOT NULL, record_id TEXT NOT NULL, fields TEXT NOT NULL,"
    " PRIMARY KEY (kind, record_id))"};

// Stores each record's winning fields as JSON text.
class TestSink final : public ProjectionSink {
public:
    SStatus reset(Db& db) override { return db.exec("DELETE FROM test_records"); }
    SStatus project(Db& db, const std::string& kind, const std::string& recordId, const Json& fields) override {
        auto s = db.prepare("INSERT OR REPLACE INTO test_records (kind, record_id, fields) VALUES (?, ?, ?)");
        if (!s) return s.error();
        s->bind(1, kind).bind(2, recordId).bind(3, fields.dump());
        return s->run();
    }
    std::vector<std::string> tables() const override { return {"test_records"}; }
};

struct Replica {
    std::unique_ptr<Store> store;
    TestSink sink;
    ManualClock clock;
    std::unique_ptr<OpLog> log;
    Replica* registrar = nullptr;  // null: this replica is the registrar

    // registrar == nullptr: a registrar (pins and registers itself, makes the office key).
    // catchUpNow = false: registered, but holding nothing yet (a test feeds it in its own order).
    Replica(const std::filesystem::path& dir, std::int64_t nowMs, Replica* registrarOf = nullptr, bool catchUpNow = true)
        : clock(nowMs), registrar(registrarOf) {
        auto s = Store::create(dir, "replica passphrase", test::cheapKdf());
        REQUIRE_MESSAGE(s.ok(), test::describe(s));
        store = std::move(s.value());
        REQUIRE(store->migrate({kTestMigration}).ok());
        log = std::make_unique<OpLog>(*store, sink, clock);
        REQUIRE(log->open().ok());
        const auto& me = log->identity().publicInfo();
        if (!registrar) {
            auto office = crypto::x25519Generate();
            REQUIRE(office.ok());
            auto put = store->db().prepare("INSERT INTO device_secrets (name, secret) VALUES (?, ?)");
            REQUIRE(put.ok());
            put->bind(1, std::string(kOfficeSecretName)).bindBlob(2, office->privateKey.view());
            REQUIRE(put->run().ok());
            REQUIRE(store->setMeta(kOfficePublicKeyMeta, crypto::toHex(office->publicKey)).ok());
            REQUIRE(log->pinTrustRoot({me.id, me.signKey}).ok());
            Draft d;
            d.registerDevice({me.id, me.signKey, me.exchangeKey, me.subkeys, "registrar", std::nullopt, {}});
            commit(d);
            return;
        }
        auto root = registrar->log->trustRoot();
        REQUIRE(root.ok());
        REQUIRE(root->has_value());
        REQUIRE(log->pinTrustRoot(**root).ok());
        auto officeKey = registrar->store->meta(kOfficePublicKeyMeta);
        REQUIRE(officeKey.ok());
        REQUIRE(store->setMeta(kOfficePublicKeyMeta, *officeKey).ok());
        Draft d;
        d.registerDevice({me.id, me.signKey, me.exchangeKey, me.subkeys, "p-" + me.id.substr(0, 8), std::nullopt, {}});
        registrar->commit(d);
        if (catchUpNow) catchUp();
    }

    // Gives this replica the registrar's office secret (it then opens every channel, as the
    // audit office's other devices do).
    void holdOfficeKey() {
        REQUIRE(registrar != nullptr);
        auto get = registrar->store->db().prepare("SELECT secret FROM device_secrets WHERE name = ?");
        REQUIRE(get.ok());
        get->bind(1, std::string(kOfficeSecretName));
        REQUIRE(*get->step());
        auto put = store->db().prepare("INSERT OR REPLACE INTO device_secrets (name, secret) VALUES (?, ?)");
        REQUIRE(put.ok());
        put->bind(1, std::string(kOfficeSecretName)).bindBlob(2, get->secretBlob(0).view());
        REQUIRE(put->run().ok());
    }

    // Everything the registrar holds (registrations, its channels), as enrolment brings it.
    void catchUp() {
        if (!registrar) return;
        for (const auto& cs : registrar->changeSets()) {
            auto r = tryApply(cs, false);
            REQUIRE_MESSAGE(r.ok(), test::describe(r));
        }
    }

    ChangeSet commit(const Draft& d) {
        auto cs = log->commit(d);
        REQUIRE_MESSAGE(cs.ok(), test::describe(cs));
        return *cs;
    }
    ChangeSet set(const std::string& recordId, const std::string& field, Json value) {
        Draft d;
        d.set("org", "item", recordId, field, std::move(value));
        return commit(d);
    }
    // One change set through the apply path, in its own session; the session's report in `report`.
    SResult<ApplyOutcome> tryApply(const ChangeSet& cs, bool catchUpFirst = true, ApplyReport* report = nullptr) {
        if (catchUpFirst) catchUp();
        auto session = ApplySession::begin(*log);
        if (!session) return session.error();
        auto outcome = (*session)->add(cs);
        if (!outcome) return outcome;
        auto done = (*session)->commit();
        if (!done) return done.error();
        if (report) *report = *done;
        return outcome;
    }
    ApplyOutcome apply(const ChangeSet& cs) {
        auto r = tryApply(cs);
        REQUIRE_MESSAGE(r.ok(), test::describe(r));
        return *r;
    }
    void applyAll(const std::vector<ChangeSet>& sets) {
        for (const auto& cs : sets) apply(cs);
    }
    std::string digest() {
        auto d = log->projectionDigest();
        REQUIRE_MESSAGE(d.ok(), test::describe(d));
        return *d;
    }
    std::vector<ChangeSet> changeSets() {
        auto c = log->changeSets();
        REQUIRE(c.ok());
        return *c;
    }
    // This replica's own change sets.
    std::vector<ChangeSet> own() {
        std::vector<ChangeSet> out;
        for (auto& cs : changeSets())
            if (cs.device == log->deviceId()) out.push_back(std::move(cs));
        return out;
    }
    Json record(const std::string& kind, const std::string& id) {
        auto r = log->record(kind, id);
        REQUIRE_MESSAGE(r.ok(), test::describe(r));
        return *r;
    }
    std::vector<Conflict> conflicts() {
        auto c = log->conflicts();
        REQUIRE(c.ok());
        return *c;
    }
    std::int64_t opCount() {
        auto n = log->opCount();
        REQUIRE(n.ok());
        return *n;
    }
    std::vector<std::string> check() {
        auto p = log->check();
        REQUIRE_MESSAGE(p.ok(), test::describe(p));
        return *p;
    }
    std::vector<RefusedChangeSet> refused() {
        auto r = log->refused();
        REQUIRE(r.ok());
        return *r;
    }
    std::string sinkRow(const std::string& kind, const std::string& id) {
        auto s = store->db().prepare("SELECT fields FROM test_records WHERE kind = ? AND record_id = ?");
        REQUIRE(s.ok());
        s->bind(1, kind).bind(2, id);
        auto row = s->step();
        REQUIRE(row.ok());
        return *row ? s->text(0) : std::string();
    }
};

}  // namespace xs::sync
