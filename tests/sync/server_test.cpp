// xunshen-server's parts that need no network: its config file (read at start, written by init)
// and the embedded store's invitation state (online enrolment), which the protocol layer trusts.
#include <doctest/doctest.h>

#include <thread>

#include "crypto/random.h"
#include "sync/env.h"
#include "sync/server/server.h"
#include "sync/server/server_store.h"
#include "tests/sync/sync_test_util.h"

namespace xs::sync::server {

TEST_CASE("server config: init's file reads back as the defaults - every bad line is named") {
    ServerConfig d;
    auto back = parseServerConfig(defaultServerConfigText(d));
    REQUIRE(back.ok());
    CHECK(back->host == d.host);
    CHECK(back->port == d.port);
    CHECK(back->threads == 256);
    CHECK(back->longPollSeconds == d.longPollSeconds);
    CHECK(back->maxEvidenceBytes == d.maxEvidenceBytes);
    CHECK(back->logLevel == "info");
    auto set = parseServerConfig("# a comment\nlisten = 0.0.0.0:9443\nthreads = 4096\nlog_level = error\n\n");
    REQUIRE(set.ok());
    CHECK(set->host == "0.0.0.0");
    CHECK(set->port == 9443);
    CHECK(set->threads == 4096);
    for (const char* bad : {"threads = 1\n", "threads = 4097\n", "threads = many\n", "listen = nowhere\n", "listen = :80\n",
                            "listen = h:70000\n", "long_poll_seconds = 61\n", "log_level = loud\n", "colour = blue\n",
                            "just words\n", "max_evidence_bytes = 0\n"}) {
        CAPTURE(bad);
        auto r = parseServerConfig(std::string("# ok\n") + bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.message().find("line 2") != std::string::npos);
    }
    CHECK_FALSE(parseServerConfig(std::string(65 * 1024, '#')).ok());
}

TEST_CASE("server store: an invitation takes one presentation, lists it until answered, and expires") {
    test::TempDir dir;
    const std::string secret = "secret-of-the-service";
    REQUIRE(createSqliteServerStore(dir.path() / "store", secret, {"01a23ab4-2581-73f3-b82c-fa14ea06be26", crypto::Bytes(32, 1)}).ok());
    auto opened = openSqliteServerStore(dir.path() / "store", secret);
    REQUIRE(opened.ok());
    ServerStore& s = **opened;
    const std::string id(64, 'a'), other(64, 'b'), brief(64, 'c');
    const crypto::Bytes key(32, 7);
    const std::int64_t now = wallClockMs();
    REQUIRE(s.inviteCreate(id, key, now + 3600 * 1000).ok());
    CHECK_FALSE(s.inviteCreate(id, key, now + 3600 * 1000).ok());  // the id is taken
    auto st = s.invite(id);
    REQUIRE(st.ok());
    REQUIRE(st->has_value());
    CHECK((*st)->serverKey == key);
    CHECK((*st)->presentation.empty());
    CHECK(s.invite(other)->has_value() == false);
    CHECK(s.invitePresent(other, "{}").code() == SyncError::NotFound);
    CHECK(s.inviteAnswer(id, "x").code() == SyncError::NotFound);  // nobody presented yet

    CHECK(*s.invitePresent(id, "first") == true);
    CHECK(*s.invitePresent(id, "first") == true);    // the same again: no change
    CHECK(*s.invitePresent(id, "second") == false);  // used
    CHECK((*s.invite(id))->presentation == "first");
    auto waiting = s.invitesWaiting(now, 10);
    REQUIRE(waiting.ok());
    REQUIRE(waiting->size() == 1);
    CHECK((*waiting)[0] == std::make_pair(id, std::string("first")));
    CHECK(s.invitesWaiting(now + 7200 * 1000, 10)->empty());  // once expired, not listed
    REQUIRE(s.inviteAnswer(id, "answer").ok());
    CHECK((*s.invite(id))->answer == "answer");
    CHECK(s.invitesWaiting(now, 10)->empty());  // answered

    // Expired a week ago: forgotten when the next one is filed.
    REQUIRE(s.inviteCreate(brief, key, now - 8LL * 24 * 3600 * 1000).ok());
    REQUIRE(s.inviteCreate(other, key, now + 1000).ok());
    CHECK_FALSE(s.invite(brief)->has_value());
    CHECK(s.invite(id)->has_value());
}

}  // namespace xs::sync::server
