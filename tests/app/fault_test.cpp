// The bad days of issue 10, item 6: a full disk, an I/O error, a short write, a failing fsync and a
// crash at every (sampled) file operation of capture, evidence writes, handover import, confirm and
// rekey, through the OS seam's fault-injecting twin. Each faulted call ends either done or with a
// clear error and the store exactly as before (every table and every file); a crash ends with the
// store as before or done, never between; every store opens, verifies and holds no temporary file.
// XS_LONG=1 (./run test --long) tries every operation instead of a sample.
#include <doctest/doctest.h>

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "app/handover.h"
#include "crypto/hash.h"
#include "tests/app/app_test_util.h"
#include "tests/app/bureau.h"
#include "tests/sync/fault_env.h"

namespace xs::app {
namespace {

namespace fs = std::filesystem;
using sync::FileOp;
using sync::test::FaultEnv;
using test::Bureau;

const std::string kPass = "口令 passphrase";
const std::string kNewPass = "新的口令 another passphrase";

// Everything a store holds, as one digest: every row of every table (sorted), every file under
// the store's folder but the database's own (their content is the tables) with its size and
// content hash, and the key file. Opening it first is part of the check: opening cleans up.
struct Snapshot {
    std::string digest;
    std::vector<std::string> tempFiles;  // left after opening: must be none
};

Snapshot snapshotOf(const fs::path& dir, const std::string& pass, const sync::Clock& clock) {
    auto ws = Workspace::open(dir, pass, clock);
    REQUIRE_MESSAGE(ws.ok(), test::describe(ws));
    auto report = (*ws)->verify();
    REQUIRE_MESSAGE(report.ok(), test::describe(report));
    CHECK_MESSAGE(report->ok, "verify: " << (report->problems.empty() ? "" : report->problems.front()));
    crypto::Sha256 sha;
    auto& db = (*ws)->store().db();
    auto tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    REQUIRE(tables.ok());
    std::vector<std::string> names;
    REQUIRE(tables->collectTexts(names).ok());
    tables.value().reset();
    for (const auto& t : names) {
        auto s = db.prepare(("SELECT * FROM \"" + t + "\"").c_str());
        REQUIRE(s.ok());
        std::vector<std::string> rows;
        for (;;) {
            auto row = s->step();
            REQUIRE(row.ok());
            if (!*row) break;
            std::string line;
            for (int c = 0; c < s->columnCount(); ++c) {
                auto b = s->blob(c);
                line += std::to_string(s->columnType(c)) + ":" + crypto::toHex(b) + "|";
            }
            rows.push_back(line);
        }
        std::sort(rows.begin(), rows.end());
        sha.update(crypto::asBytes(t + "\n"));
        for (const auto& r : rows) sha.update(crypto::asBytes(r + "\n"));
    }
    Snapshot snap;
    std::vector<std::string> files;
    for (auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        const std::string name = e.path().filename().string();
        const std::string rel = fs::relative(e.path(), dir).string();
        if (name.rfind("store.db", 0) == 0 || name == "lockout.json") continue;
        if (name.size() > 4 && name[0] == '.' && name.compare(name.size() - 4, 4, ".tmp") == 0) snap.tempFiles.push_back(rel);
        auto bytes = sync::test::readAll(e.path());
        files.push_back(rel + " " + crypto::toHex(crypto::sha256(bytes)));
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) sha.update(crypto::asBytes(f + "\n"));
    snap.digest = crypto::toHex(sha.finish());
    return snap;
}

void copyStore(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    fs::remove_all(to, ec);
    fs::copy(from, to, fs::copy_options::recursive);
}

// One operation on a copy of a store, and how to tell it was done.
struct Scenario {
    std::string name;
    fs::path base;  // the store before the call (closed)
    std::string pass = kPass;      // opens it before the call
    std::string donePass = kPass;  // opens it once the call is done
    std::function<AStatus(Workspace&)> call;
    std::function<bool(const fs::path& dir)> done;  // the copy (closed) holds what the call does
    // Where "as before" is not what a failed call promises (rekey): checks the copy instead.
    std::function<void(const fs::path& dir, const AStatus& st)> failed;
};

// The operations to fault: all of them, or about `sample` spread evenly over them.
std::vector<int> points(int total, int sample) {
    std::vector<int> out;
    if (std::getenv("XS_LONG") && std::string(std::getenv("XS_LONG")) == "1") sample = total;
    if (total <= sample) {
        for (int i = 1; i <= total; ++i) out.push_back(i);
        return out;
    }
    for (int i = 0; i < sample; ++i) out.push_back(1 + static_cast<int>(static_cast<long>(i) * (total - 1) / (sample - 1)));
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

struct Faults {
    FaultEnv::Action action;
    std::set<FileOp> ops;
    int err;
    const char* what;
};

const std::vector<Faults>& faultKinds() {
    static const std::vector<Faults> kinds = {
        {FaultEnv::Action::Fail, {FileOp::Create, FileOp::Write, FileOp::Sync, FileOp::Rename, FileOp::Remove, FileOp::Truncate}, ENOSPC, "ENOSPC"},
        {FaultEnv::Action::Fail, {FileOp::Create, FileOp::Write, FileOp::Sync, FileOp::Rename, FileOp::Remove, FileOp::Truncate}, EIO, "EIO"},
        {FaultEnv::Action::Short, {FileOp::Write}, 0, "short write"},
        {FaultEnv::Action::Fail, {FileOp::Sync}, EIO, "fsync fails"},
    };
    return kinds;
}

sync::ManualClock& clockFor() {
    static sync::ManualClock clock{test::kBaseMs + 3600'000};
    return clock;
}

// Runs the call on a fresh copy under `env`; the result and whether the fault fired.
std::pair<AStatus, bool> runOnce(const Scenario& sc, const fs::path& work, FaultEnv& env) {
    copyStore(sc.base, work);
    auto ws = Workspace::open(work, sc.pass, clockFor());
    REQUIRE_MESSAGE(ws.ok(), test::describe(ws));
    AStatus st;
    {
        sync::ScopedEnv scoped(env);
        st = sc.call(**ws);
    }
    return {st, env.fired()};
}

void sweep(const Scenario& sc, int sample = 12) {
    const fs::path work = sc.base.parent_path() / (sc.name + "-work");
    const Snapshot before = snapshotOf(sc.base, sc.pass, clockFor());
    REQUIRE(before.tempFiles.empty());
    // How many operations of each kind the call makes, undisturbed.
    std::map<std::string, int> totals;
    for (const auto& k : faultKinds()) {
        FaultEnv counter({FaultEnv::Action::Count, k.ops, 0, 0});
        auto [st, fired] = runOnce(sc, work, counter);
        REQUIRE_MESSAGE(st.ok(), sc.name << " undisturbed: " << test::describe(st));
        REQUIRE(sc.done(work));
        totals[k.what] = counter.seen();
        REQUIRE_MESSAGE(counter.seen() > 0, sc.name << " makes no " << k.what << " operation to fault");
    }
    int failed = 0, absorbed = 0, crashedBefore = 0, crashedDone = 0;
    for (const auto& k : faultKinds()) {
        for (int n : points(totals[k.what], sample)) {
            CAPTURE(sc.name);
            const std::string what = k.what;
            CAPTURE(what);
            CAPTURE(n);
            FaultEnv env({k.action, k.ops, n, k.err});
            auto [st, fired] = runOnce(sc, work, env);
            CAPTURE(env.firedAt());
            if (st.ok()) {
                // The fault hit something the call could do without (or it did not fire): done.
                CHECK(sc.done(work));
                CHECK(snapshotOf(work, sc.donePass, clockFor()).tempFiles.empty());
                ++absorbed;
            } else {
                CHECK(fired);
                CHECK(!st.message().empty());
                if (k.err == ENOSPC || k.action == FaultEnv::Action::Short)
                    CHECK_MESSAGE(st.code() == AppError::DiskFull, test::describe(st));
                else
                    CHECK_MESSAGE(st.code() == AppError::Failed, test::describe(st));
                if (sc.failed) {
                    sc.failed(work, st);
                } else {
                    CHECK(!sc.done(work));
                    const Snapshot after = snapshotOf(work, sc.pass, clockFor());
                    CHECK_MESSAGE(after.digest == before.digest, "the store changed although the call failed: " << test::describe(st));
                    CHECK(after.tempFiles.empty());
                }
                ++failed;
            }
        }
    }
    // A crash at each sampled operation of any kind: the store as before or done.
    const auto all = faultKinds().front().ops;
    for (int n : points(totals["ENOSPC"], sample * 2)) {
        CAPTURE(sc.name);
        CAPTURE(n);
        copyStore(sc.base, work);
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            auto ws = Workspace::open(work, sc.pass, clockFor());
            if (!ws) ::syscall(SYS_exit_group, 2);
            FaultEnv env({FaultEnv::Action::Crash, all, n, 0});
            sync::ScopedEnv scoped(env);
            ::syscall(SYS_exit_group, sc.call(**ws).ok() ? 0 : 3);
        }
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        REQUIRE(WIFEXITED(status));
        CHECK((WEXITSTATUS(status) == FaultEnv::kCrashExit || WEXITSTATUS(status) == 0));
        if (sc.done(work)) {
            CHECK(snapshotOf(work, sc.donePass, clockFor()).tempFiles.empty());
            CHECK(snapshotOf(work, sc.donePass, clockFor()).digest != before.digest);
            ++crashedDone;
        } else {
            const Snapshot after = snapshotOf(work, sc.pass, clockFor());
            CHECK(after.tempFiles.empty());
            CHECK_MESSAGE(after.digest == before.digest, "a crash left the store neither as before nor done");
            ++crashedBefore;
        }
    }
    MESSAGE(sc.name << ": operations " << totals["ENOSPC"] << " (writes " << totals["short write"] << ", fsyncs "
                    << totals["fsync fails"] << "); faulted calls failing cleanly " << failed << ", done anyway " << absorbed
                    << "; crashes leaving it as before " << crashedBefore << ", done " << crashedDone);
}

std::int64_t findingsIn(const fs::path& dir, const std::string& pass = kPass) {
    auto ws = Workspace::open(dir, pass, clockFor());
    REQUIRE_MESSAGE(ws.ok(), test::describe(ws));
    return test::countRows(**ws, "SELECT count(*) FROM findings");
}

// A member's store after the bureau's setup, closed, with `captured` findings already in it.
struct Field {
    Bureau b;
    fs::path member, office;
    std::string inspection;
    Field() {
        inspection = b.inspection;
        b.capture(*b.member, "已有问题", true);
        member = b.tmp / "member";
        office = b.tmp / "office";
    }
    void close() {
        b.member.reset();
        b.office.reset();
        b.lead.reset();
        b.leading.reset();
        b.auditor.reset();
    }
};

FindingInput findingInput(const std::string& inspection, const std::string& title) {
    FindingInput in;
    in.inspection = inspection;
    in.title = title;
    in.category = FindingCategory::FinancialDiscipline;
    return in;
}

}  // namespace

TEST_CASE("faults: capture under a full disk, I/O errors, short writes, a failing fsync and crashes") {
    Field f;
    f.close();
    const std::int64_t had = findingsIn(f.member);
    Scenario sc;
    sc.name = "capture";
    sc.base = f.member;
    sc.call = [&](Workspace& ws) -> AStatus {
        auto id = ws.addFinding(findingInput(f.inspection, "新问题"));
        if (!id) return id.error();
        return {};
    };
    sc.done = [&](const fs::path& dir) { return findingsIn(dir) == had + 1; };
    sweep(sc);
}

TEST_CASE("faults: evidence writes under a full disk, I/O errors, short writes, a failing fsync and crashes") {
    Field f;
    f.close();
    std::string content(3 << 20, '\0');
    for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>((i * 2654435761u) >> 13);
    const fs::path evidence = test::writeFile(f.b.tmp / "in", "scan.bin", content);
    const std::int64_t had = findingsIn(f.member);
    Scenario sc;
    sc.name = "evidence";
    sc.base = f.member;
    sc.call = [&](Workspace& ws) -> AStatus {
        FindingInput in = findingInput(f.inspection, "带证据的问题");
        in.evidence = {evidence};
        auto id = ws.addFinding(in);
        if (!id) return id.error();
        return {};
    };
    sc.done = [&](const fs::path& dir) {
        auto ws = Workspace::open(dir, kPass, clockFor());
        REQUIRE(ws.ok());
        return test::countRows(**ws, "SELECT count(*) FROM findings") == had + 1 &&
               test::countRows(**ws, "SELECT count(*) FROM evidence_files WHERE shredded_at IS NULL") == 2;
    };
    sweep(sc);
}

namespace {

// The member's bundle (two findings with evidence) and the office's receipt for it.
struct Handed : Field {
    fs::path bundle;
    std::string receipt;
    Handed() {
        b.capture(*b.member, "第二个问题", true);
        bundle = b.tmp / "handover.xsbundle";
        auto e = exportHandover(*b.member, inspection, bundle);
        REQUIRE_MESSAGE(e.ok(), test::describe(e));
    }
    void importAtOffice() {
        auto i = importHandover(*b.office, bundle);
        REQUIRE_MESSAGE(i.ok(), test::describe(i));
        receipt = (*i)["receipt"].get<std::string>();
    }
};

}  // namespace

TEST_CASE("faults: handover import under a full disk, I/O errors, short writes, a failing fsync and crashes") {
    Handed h;
    h.close();
    const std::int64_t had = findingsIn(h.office);
    Scenario sc;
    sc.name = "handover-import";
    sc.base = h.office;
    sc.call = [&](Workspace& ws) -> AStatus {
        auto r = importHandover(ws, h.bundle);
        if (!r) return r.error();
        return {};
    };
    sc.done = [&](const fs::path& dir) {
        auto ws = Workspace::open(dir, kPass, clockFor());
        REQUIRE(ws.ok());
        return test::countRows(**ws, "SELECT count(*) FROM findings") == had + 2 &&
               test::countRows(**ws, "SELECT count(*) FROM evidence_files WHERE shredded_at IS NULL") >= 2;
    };
    sweep(sc, 10);
}

TEST_CASE("faults: handover confirm (the wipe) under a full disk, I/O errors, short writes, a failing fsync and crashes") {
    Handed h;
    h.importAtOffice();
    h.close();
    Scenario sc;
    sc.name = "confirm";
    sc.base = h.member;
    sc.call = [&](Workspace& ws) -> AStatus {
        auto r = confirmHandover(ws, h.receipt);
        if (!r) return r.error();
        return {};
    };
    sc.done = [&](const fs::path& dir) {
        auto ws = Workspace::open(dir, kPass, clockFor());
        REQUIRE(ws.ok());
        // The inspection's evidence is gone and the device's shred acknowledgement is written.
        return test::countRows(**ws, "SELECT count(*) FROM evidence_files WHERE shredded_at IS NULL") == 0 &&
               test::countRows(**ws, "SELECT count(DISTINCT record_id) FROM field_versions WHERE kind = 'shred_ack'") == 1;
    };
    sweep(sc);
}

TEST_CASE("faults: rekey under a full disk, I/O errors, short writes, a failing fsync and crashes - one passphrase opens") {
    Field f;
    f.close();
    Scenario sc;
    sc.name = "rekey";
    sc.base = f.member;
    sc.donePass = kNewPass;
    sc.call = [&](Workspace& ws) { return ws.rekey(kNewPass, test::cheapKdf()); };
    // Done: the new passphrase opens the store and the old one no longer does.
    sc.done = [&](const fs::path& dir) {
        auto withNew = Workspace::open(dir, kNewPass, clockFor());
        auto withOld = Workspace::open(dir, kPass, clockFor());
        return withNew.ok() && !withOld.ok();
    };
    // A failed rekey leaves exactly one passphrase opening the store: the old one, unless even
    // putting the old key file back failed - and then the error says the new one does.
    sc.failed = [&](const fs::path& dir, const AStatus& st) {
        const bool newOpens = Workspace::open(dir, kNewPass, clockFor()).ok();
        const bool oldOpens = Workspace::open(dir, kPass, clockFor()).ok();
        CHECK(newOpens != oldOpens);
        CHECK(newOpens == test::mentions(st.message(), "NEW passphrase"));
        const Snapshot after = snapshotOf(dir, newOpens ? kNewPass : kPass, clockFor());
        CHECK(after.tempFiles.empty());
    };
    sweep(sc);
}

}  // namespace xs::app
