// The hybrid logical clock and UUIDv7 ids.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "sync/hlc.h"
#include "sync/uuid.h"
#include "tests/sync/sync_test_util.h"

namespace xs::sync {

TEST_CASE("hlc: tick strictly increases even when the clock goes backwards") {
    ManualClock clock(1'700'000'000'000);
    HlcClock hlc(clock);
    std::uint64_t prev = hlc.tick();
    CHECK(hlcMillis(prev) == 1'700'000'000'000);
    CHECK((prev & 0xffff) == 0);

    const std::int64_t steps[] = {-1, -1000, -86'400'000, 0, 5, -3'600'000, 1, -1};
    for (std::int64_t step : steps) {
        clock.advance(step);
        for (int i = 0; i < 3; ++i) {
            std::uint64_t next = hlc.tick();
            CHECK(next > prev);
            CHECK(hlc.last() == next);
            prev = next;
        }
    }
    // Clock far in the past (even before 1970): still increasing.
    clock.set(-5);
    CHECK(hlc.tick() > prev);

    // When the clock moves forward again, ticks follow it.
    clock.set(1'800'000'000'000);
    std::uint64_t t = hlc.tick();
    CHECK(t == hlcPack(1'800'000'000'000, 0));
}

TEST_CASE("hlc: observe of a remote clock far ahead makes the next tick greater than it") {
    ManualClock clock(1'700'000'000'000);
    HlcClock hlc(clock);
    std::uint64_t local = hlc.tick();
    const std::uint64_t remote = hlcPack(1'700'000'000'000 + 86'400'000, 42);
    hlc.observe(remote);
    std::uint64_t next = hlc.tick();
    CHECK(next > remote);
    CHECK(next > local);
    CHECK(hlcMillis(next) == hlcMillis(remote));  // stays on the remote's millisecond, counter bumps
    CHECK((next & 0xffff) == 43);

    // An observed value in the past changes nothing.
    std::uint64_t before = hlc.last();
    hlc.observe(hlcPack(1000, 0));
    CHECK(hlc.last() == before);
    CHECK(hlc.tick() > before);

    // A clock restored from a saved value continues after it.
    HlcClock restored(clock, next);
    CHECK(restored.tick() > next);
}

TEST_CASE("hlc: counters advance within one millisecond and carry on overflow") {
    ManualClock clock(2'000'000);
    HlcClock hlc(clock);
    CHECK(hlc.tick() == hlcPack(2'000'000, 0));
    CHECK(hlc.tick() == hlcPack(2'000'000, 1));
    CHECK(hlc.tick() == hlcPack(2'000'000, 2));
    clock.advance(1);
    CHECK(hlc.tick() == hlcPack(2'000'001, 0));  // a new millisecond resets the counter

    HlcClock full(clock, hlcPack(2'000'001, 0xffff));
    std::uint64_t carried = full.tick();
    CHECK(carried > hlcPack(2'000'001, 0xffff));
    CHECK(carried == hlcPack(2'000'002, 0));
    CHECK(full.tick() == hlcPack(2'000'002, 1));
}

TEST_CASE("uuid: v7 ids are canonical - version 7 - variant 10 - and sort by time") {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        auto id = newUuidV7();
        REQUIRE(id.ok());
        const std::string& s = *id;
        CAPTURE(s);
        CHECK(isUuid(s));
        CHECK(s.size() == 36);
        CHECK(s[14] == '7');
        CHECK((s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b'));
        CHECK(seen.insert(s).second);
    }

    // The timestamp is the first 48 bits.
    auto at = newUuidV7At(0x0123456789ab);
    REQUIRE(at.ok());
    CHECK(at->substr(0, 8) == "01234567");
    CHECK(at->substr(9, 4) == "89ab");

    // Ids made 1 ms apart sort by time, whatever their random bits.
    std::int64_t ms = 1'700'000'000'000;
    for (int i = 0; i < 500; ++i, ++ms) {
        auto a = newUuidV7At(ms);
        auto b = newUuidV7At(ms + 1);
        REQUIRE(a.ok());
        REQUIRE(b.ok());
        CHECK(*a < *b);
    }
}

TEST_CASE("uuid: isUuid accepts only the canonical lowercase form") {
    CHECK(isUuid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
    CHECK(isUuid("00000000-0000-0000-0000-000000000000"));
    CHECK_FALSE(isUuid(""));
    CHECK_FALSE(isUuid("0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"));
    CHECK_FALSE(isUuid("0190a1b2c3d47e5f8a9b0c1d2e3f4a5b"));
    CHECK_FALSE(isUuid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5"));
    CHECK_FALSE(isUuid("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5bb"));
    CHECK_FALSE(isUuid("0190a1b2-c3d4-7e5f-8a9b_0c1d2e3f4a5b"));
    CHECK_FALSE(isUuid("{190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
    CHECK_FALSE(isUuid("0190a1b2-c3d4-7e5f-8a9g-0c1d2e3f4a5b"));
}


TEST_CASE("uuid: owned ids are unique in a burst, canonical v7, owned by their device and by no other") {
    const std::string device = "01a2b3c4-0000-7000-8000-000000000001";
    const std::string other = "01a2b3c4-0000-7000-8000-000000000002";
    std::set<std::string> seen;
    std::string previous;
    for (int i = 0; i < 20000; ++i) {  // far more than 4096 in one millisecond
        auto id = newOwnedId(device);
        REQUIRE(id.ok());
        REQUIRE(isUuid(*id));
        CHECK((*id)[14] == '7');
        CHECK(std::string("89ab").find((*id)[19]) != std::string::npos);
        CHECK(isOwnedBy(*id, device));
        CHECK_FALSE(isOwnedBy(*id, other));
        CHECK(seen.insert(*id).second);
        CHECK(previous < id->substr(0, 18));  // the head only grows: time order kept
        previous = id->substr(0, 18);
    }
    // Any change to the tag, or to the head it covers, and the id is nobody's.
    std::string id = *newOwnedId(device);
    std::string tail = id, head = id;
    tail[35] = tail[35] == '0' ? '1' : '0';
    head[0] = head[0] == '0' ? '1' : '0';
    CHECK_FALSE(isOwnedBy(tail, device));
    CHECK_FALSE(isOwnedBy(head, device));
    CHECK_FALSE(isOwnedBy("not an id", device));
}

}  // namespace xs::sync
