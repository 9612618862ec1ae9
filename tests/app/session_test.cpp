// The session layer: a locked session refuses everything, tasks run off the caller's thread with
// progress and cancel on their own connection, the change counter sees other connections' commits.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "app/session.h"
#include "tests/app/app_test_util.h"

namespace xs::app {
namespace {

using test::errorOf;
using test::TempDir;
namespace fs = std::filesystem;

constexpr const char* kPass = "口令 passphrase";

// A working-group lead's store with an inspection open today; returned closed (path + id).
struct Fixture {
    TempDir tmp;
    sync::ManualClock clock{test::kBaseMs};
    fs::path dir = tmp / "store";
    std::string inspection;
    std::unique_ptr<Workspace> office;

    Fixture() {
        office = test::officeWorkspace(tmp / "office", clock);
        auto ws = test::enrolledWorkspace(*office, dir, "郑华", Role::WorkingGroupLead, clock);
        InspectionInput in;
        in.unit = "E01";
        in.start = formatDate(ws->today());
        auto id = ws->createInspection(in);
        REQUIRE_MESSAGE(id.ok(), test::describe(id));
        inspection = *id;
    }
    std::unique_ptr<Session> session() {
        auto s = Session::open(dir, kPass, clock);
        REQUIRE_MESSAGE(s.ok(), test::describe(s));
        return std::move(*s);
    }
    fs::path importFile(int lines) {
        std::string text;
        for (int i = 0; i < lines; ++i)
            text += Json{{"inspection", inspection}, {"title", "批量 " + std::to_string(i)}}.dump() + "\n";
        fs::path f = tmp / ("import-" + std::to_string(lines) + ".jsonl");
        sync::test::writeText(f, text);
        return f;
    }
};

FindingInput finding(const std::string& inspection, const std::string& title) {
    FindingInput in;
    in.inspection = inspection;
    in.title = title;
    return in;
}

}  // namespace

TEST_CASE("session: a locked session refuses every command - and unlocks only with the passphrase") {
    Fixture fx;
    auto s = fx.session();
    REQUIRE(s->addFinding(finding(fx.inspection, "锁前")).ok());
    s->lock();
    CHECK(s->locked());
    CHECK(errorOf(s->self()) == AppError::Locked);
    CHECK(errorOf(s->findings()) == AppError::Locked);
    CHECK(errorOf(s->finding("x")) == AppError::Locked);
    CHECK(errorOf(s->addFinding(finding(fx.inspection, "锁后"))) == AppError::Locked);
    CHECK(errorOf(s->verify()) == AppError::Locked);
    CHECK(errorOf(s->rebuild()) == AppError::Locked);
    CHECK(errorOf(s->importFindings(fx.importFile(1), {})) == AppError::Locked);
    CHECK(errorOf(s->workspace()) == AppError::Locked);
    auto wrong = s->unlock("not the passphrase");
    CHECK(errorOf(wrong) == AppError::Locked);
    CHECK(s->locked());
    REQUIRE(s->unlock(kPass).ok());
    auto list = s->findings();
    REQUIRE(list.ok());
    REQUIRE(list->size() == 1);
    CHECK((*list)[0].title == "锁前");
}

TEST_CASE("session: the passphrase minimum and the KDF bounds are the session's policy") {
    TempDir tmp;
    sync::ManualClock clock(test::kBaseMs);
    CHECK(errorOf(Session::create(tmp / "a", "short", "吴敏", Role::AuditOffice, test::cheapKdf(), clock)) == AppError::Refused);
    auto weak = test::cheapKdf();
    weak.memoryKiB = 1024;
    CHECK(errorOf(Session::create(tmp / "b", kPass, "吴敏", Role::AuditOffice, weak, clock)) == AppError::Refused);
    CHECK_FALSE(sync::Store::exists(tmp / "a"));
    CHECK_FALSE(sync::Store::exists(tmp / "b"));
    auto ok = Session::create(tmp / "c", kPass, "吴敏", Role::AuditOffice, test::cheapKdf(), clock);
    REQUIRE_MESSAGE(ok.ok(), test::describe(ok));
    auto me = (*ok)->self();
    REQUIRE(me.ok());
    CHECK((me->role == Role::AuditOffice));
}

TEST_CASE("session: an import runs as a task off the caller's thread - progress, every id, and the change counter moves") {
    Fixture fx;
    auto s = fx.session();
    const std::uint64_t before = s->changeCount();
    std::atomic<int> reported{0};
    const std::thread::id caller = std::this_thread::get_id();
    std::atomic<bool> offThread{true};
    auto task = s->importFindings(fx.importFile(200), [&](const std::string&) {
        if (std::this_thread::get_id() == caller) offThread = false;
        ++reported;
    });
    REQUIRE_MESSAGE(task.ok(), test::describe(task));
    // The caller's session stays usable while the task writes on its own connection.
    auto meanwhile = s->findings();
    CHECK(meanwhile.ok());
    std::uint64_t maxDone = 0;
    while (!(*task)->finished()) {
        maxDone = std::max(maxDone, (*task)->progress().done);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    auto n = (*task)->wait();
    REQUIRE_MESSAGE(n.ok(), test::describe(n));
    CHECK(*n == 200);
    CHECK(((*task)->state() == Task<std::size_t>::State::Done));
    CHECK((*task)->progress().done == 200);
    CHECK(reported == 200);
    CHECK(offThread);
    CHECK(s->changeCount() > before);  // another connection committed
    auto list = s->findings(FindingFilter{fx.inspection, FindingStatus::Draft, {}, {}, false, "批量 19"});
    REQUIRE(list.ok());
    CHECK(list->size() == 11);  // 批量 19 and 批量 190..199
    auto report = s->verify();
    REQUIRE(report.ok());
    auto r = (*report)->wait();
    REQUIRE(r.ok());
    CHECK(r->ok);
    CHECK(r->findings == 200);
}

TEST_CASE("session: a cancelled import keeps exactly what it reported - and lock cancels a running task") {
    Fixture fx;
    auto s = fx.session();
    std::atomic<int> reported{0};
    auto started = s->importFindings(fx.importFile(2000), [&](const std::string&) { ++reported; });
    REQUIRE(started.ok());
    auto task = *started;
    while (reported < 20 && !task->finished()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    task->cancel();
    auto r = task->wait();
    CHECK(errorOf(r) == AppError::Cancelled);
    CHECK((task->state() == Task<std::size_t>::State::Cancelled));
    auto list = s->findings();
    REQUIRE(list.ok());
    CHECK(list->size() == static_cast<std::size_t>(reported.load()));
    CHECK(reported >= 20);
    CHECK(reported < 2000);

    // lock() while a task runs: it is cancelled and waited for; the session is locked after.
    auto again = s->importFindings(fx.importFile(2000), {});
    REQUIRE(again.ok());
    s->lock();
    CHECK((*again)->finished());
    CHECK(s->locked());
    REQUIRE(s->unlock(kPass).ok());
    auto report = s->verify();
    REQUIRE(report.ok());
    auto v = (*report)->wait();
    REQUIRE(v.ok());
    CHECK(v->ok);
}

}  // namespace xs::app
