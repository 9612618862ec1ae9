// A replica for op-log tests: its own store, a sink projecting records as JSON text, a manual
// clock and an op log; plus the registry of every replica's public keys (what enrolment gives).
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

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

// Every replica's public keys, as enrolment would distribute them: a replica trusts the author
// device of a change set before applying it.
inline std::map<std::string, DevicePublic>& knownDevices() {
    static std::map<std::string, DevicePublic> devices;
    return devices;
}

struct Replica {
    std::unique_ptr<Store> store;
    TestSink sink;
    ManualClock clock;
    std::unique_ptr<OpLog> log;

    Replica(const std::filesystem::path& dir, std::int64_t nowMs) : clock(nowMs) {
        auto s = Store::create(dir, "replica passphrase", test::cheapKdf());
        REQUIRE_MESSAGE(s.ok(), test::describe(s));
        store = std::move(s.value());
        REQUIRE(store->migrate({kTestMigration}).ok());
        log = std::make_unique<OpLog>(*store, sink, clock);
        REQUIRE(log->open().ok());
        knownDevices()[log->deviceId()] = log->identity().publicInfo();
    }
    void trust(const std::string& device) {
        auto it = knownDevices().find(device);
        if (it != knownDevices().end()) REQUIRE(log->addDevice(it->second).ok());
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
    void apply(const ChangeSet& cs) {
        trust(cs.device);
        auto s = log->apply(cs);
        REQUIRE_MESSAGE(s.ok(), test::describe(s));
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
