// End-to-end tests of xunshenctl as a person (or a script) uses it: the real binary, real files.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <cstdlib>
#include <random>
#include <set>
#include <thread>

#include "app/model.h"
#include "app/workspace.h"
#include "sync/env.h"
#include "sync/store.h"
#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "tests/e2e/cli_fixture.h"
#include "tests/e2e/process.h"

using nlohmann::json;
using namespace xs::test;
namespace fs = std::filesystem;

namespace {

bool containsBytes(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("cli: a marker in a finding and its evidence appears in no file under the store") {
    Cli cli;
    std::string inspection = cli.setUp();
    const std::string marker = "MARKER-巡审-7f3a9c1e";
    fs::path evidence = cli.dir / "photo.txt";
    writeAll(evidence, std::string(100000, 'x') + marker + " 现场照片说明 " + marker);
    auto r = cli({"finding", "add", "--inspection", inspection, "--title", "标题 " + marker, "--description",
                  "描述 " + marker, "--evidence", evidence.string(), "--immediate-fix"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    std::string id = r.out.substr(0, 36);
    REQUIRE(cli({"finding", "edit", id, "--description", "改写 " + marker}).exitCode == 0);
    // The marker is really stored: it comes back through the CLI.
    json f = cli.jsonOf({"finding", "show", id});
    CHECK(f["title"].get<std::string>().find(marker) != std::string::npos);
    CHECK(f["evidence"].size() == 1);
    std::size_t files = 0;
    for (const auto& e : fs::recursive_directory_iterator(cli.store)) {
        if (!e.is_regular_file()) continue;
        ++files;
        std::string data = readAll(e.path());
        INFO("file: " << e.path().string());
        CHECK_FALSE(containsBytes(data, marker));
        CHECK_FALSE(containsBytes(data, "现场照片说明"));
        CHECK_FALSE(containsBytes(data, "郑华"));
    }
    CHECK(files >= 3);  // key file, database, evidence
}

TEST_CASE("cli: a wrong passphrase exits 3 with one line and changes nothing") {
    Cli cli;
    std::string inspection = cli.setUp();
    auto before = snapshot(cli.store, "lockout.json");
    for (int attempt = 1; attempt <= 2; ++attempt) {
        auto r = cli({"finding", "add", "--inspection", inspection, "--title", "不应写入"}, {{"XUNSHEN_PASSPHRASE", "wrong passphrase"}});
        CHECK(r.exitCode == 3);
        CHECK(r.out.empty());
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK(r.err.find("wrong passphrase") != std::string::npos);
        CHECK(r.err.find(std::to_string(attempt) + " consecutive failure") != std::string::npos);
    }
    CHECK(snapshot(cli.store, "lockout.json") == before);
    auto ok = cli({"finding", "list", "--json"});
    REQUIRE(ok.exitCode == 0);
    CHECK(json::parse(ok.out).empty());
    CHECK_FALSE(fs::exists(cli.store / "lockout.json"));  // reset by a good unlock
}

TEST_CASE("cli: kill -9 during finding import loses and duplicates nothing that was acknowledged") {
    const bool longRun = std::getenv("XS_LONG") && std::string(std::getenv("XS_LONG")) == "1";
    const int trials = longRun ? 100 : 20;
    Cli probe;
    std::string probeInspection = probe.setUp();
    auto writeImport = [](const fs::path& file, const std::string& inspection) {
        std::string lines;
        for (int i = 0; i < 1000; ++i)
            lines += json{{"inspection", inspection}, {"title", "批量问题 " + std::to_string(i)},
                          {"description", "第" + std::to_string(i) + "条"}, {"severity", i % 3 == 0 ? "high" : "low"},
                          {"category", "financial_discipline"}}.dump() + "\n";
        writeAll(file, lines);
    };
    // Time one full import to spread the kills across it.
    writeImport(probe.dir / "import.jsonl", probeInspection);
    auto t0 = std::chrono::steady_clock::now();
    auto full = probe({"finding", "import", (probe.dir / "import.jsonl").string()});
    REQUIRE_MESSAGE(full.exitCode == 0, full.err);
    auto fullMs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    CHECK(std::count(full.out.begin(), full.out.end(), '\n') == 1000);

    std::mt19937 rng(20261128);
    std::uniform_int_distribution<long> delay(0, std::max<long>(fullMs, 10));
    int killedMidway = 0;
    for (int t = 0; t < trials; ++t) {
        CAPTURE(t);
        Cli cli;
        std::string inspection = cli.setUp();
        writeImport(cli.dir / "import.jsonl", inspection);
        std::vector<std::string> acknowledged;
        {
            auto env = cli.env;
            Child child({"--store", cli.store.string(), "finding", "import", (cli.dir / "import.jsonl").string()}, env);
            auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay(rng));
            while (std::chrono::steady_clock::now() < deadline) {
                auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
                if (!child.readLines(acknowledged, static_cast<int>(std::max<long>(1, left)))) break;
            }
            child.kill9();
            while (child.readLines(acknowledged, 1000)) {
            }
            int code = child.wait();
            if (code == -9 && !acknowledged.empty() && acknowledged.size() < 1000) ++killedMidway;
        }
        auto verify = cli({"verify", "--json"});
        REQUIRE_MESSAGE(verify.exitCode == 0, std::string(verify.out + verify.err));
        CHECK(json::parse(verify.out)["ok"] == true);
        json list = cli.jsonOf({"finding", "list"});
        std::map<std::string, int> seen;
        for (const auto& f : list) seen[f["id"].get<std::string>()]++;
        for (const auto& id : acknowledged) {
            INFO("acknowledged id " << id);
            CHECK(seen[id] == 1);
        }
        // At most the one line in flight at the kill may be committed but unacknowledged.
        CHECK(list.size() <= acknowledged.size() + 1);
    }
    MESSAGE("kill trials: " << trials << ", killed after some but not all lines: " << killedMidway);
    CHECK(killedMidway >= trials / 4);  // the kills really landed mid-import
}

TEST_CASE("cli: two processes committing 1000 change sets each while a third reads and verifies - every commit lands, no read fails") {
    Cli cli;
    std::string inspection = cli.setUp();
    const int perWriter = 1000;
    for (int w = 0; w < 2; ++w) {
        std::string lines;
        for (int i = 0; i < perWriter; ++i)
            lines += json{{"inspection", inspection}, {"title", "并发 " + std::to_string(w) + "-" + std::to_string(i)},
                          {"category", "financial_discipline"}}.dump() + "\n";
        writeAll(cli.dir / ("import" + std::to_string(w) + ".jsonl"), lines);
    }
    auto before = cli.jsonOf({"verify"});
    REQUIRE(before["ok"] == true);
    std::vector<std::string> ids[2];
    int codes[2] = {-1, -1};
    std::thread writers[2];
    std::atomic<int> running{2};
    for (int w = 0; w < 2; ++w)
        writers[w] = std::thread([&, w] {
            Child child({"--store", cli.store.string(), "finding", "import", (cli.dir / ("import" + std::to_string(w) + ".jsonl")).string()},
                        cli.env);
            while (child.readLines(ids[w], 1000)) {
            }
            codes[w] = child.wait();
            --running;
        });
    int reads = 0, verifies = 0;
    std::vector<std::string> failures;
    while (running > 0) {
        auto list = cli({"finding", "list", "--json"});
        ++reads;
        if (list.exitCode != 0) failures.push_back("finding list: " + list.err);
        else if (!json::parse(list.out).is_array()) failures.push_back("finding list: not a list");
        auto v = cli({"verify", "--json"});
        ++verifies;
        if (v.exitCode != 0 || json::parse(v.out)["ok"] != true) failures.push_back("verify: " + v.out + v.err);
    }
    for (auto& t : writers) t.join();
    MESSAGE("reads " << reads << ", verifies " << verifies << " during the two imports");
    for (const auto& f : failures) FAIL_CHECK(f);
    CHECK(reads >= 2);
    for (int w = 0; w < 2; ++w) {
        CHECK(codes[w] == 0);
        CHECK(ids[w].size() == static_cast<std::size_t>(perWriter));
    }
    json list = cli.jsonOf({"finding", "list"});
    CHECK(list.size() == static_cast<std::size_t>(2 * perWriter));
    std::set<std::string> distinct;
    for (const auto& f : list) distinct.insert(f["id"].get<std::string>());
    CHECK(distinct.size() == static_cast<std::size_t>(2 * perWriter));
    // verify checks every chain for gaps, forks and signatures, and replays the log.
    auto after = cli.jsonOf({"verify"});
    CHECK(after["ok"] == true);
    CHECK(after["ops"].get<std::int64_t>() >= before["ops"].get<std::int64_t>() + 2 * perWriter);
}

namespace {

// Holds the first SQLite write after an evidence file was placed (renamed into evidence/) until
// release(): the writer's evidence file is on disk and no row names it yet.
class PauseAfterEvidencePlaced final : public xs::sync::Env {
public:
    int beforeFileOp(xs::sync::FileOp op, const std::string& path, std::size_t* bytes) override {
        if (op == xs::sync::FileOp::Rename && path.find("/evidence/") != std::string::npos) m_placed = true;
        if (m_placed && !m_paused && (op == xs::sync::FileOp::Write) && path.find("store.db") != std::string::npos) {
            std::unique_lock<std::mutex> lock(m_mutex);
            m_paused = true;
            m_changed.notify_all();
            m_changed.wait(lock, [&] { return m_released; });
        }
        return m_system.beforeFileOp(op, path, bytes);
    }
    void waitUntilPaused() {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_changed.wait(lock, [&] { return m_paused.load(); });
    }
    void release() {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_released = true;
        m_changed.notify_all();
    }

private:
    xs::sync::Env m_system;
    std::atomic<bool> m_placed{false};
    std::atomic<bool> m_paused{false};
    bool m_released = false;
    std::mutex m_mutex;
    std::condition_variable m_changed;
};

std::vector<fs::path> evidenceFiles(const fs::path& store) {
    std::vector<fs::path> out;
    for (const auto& e : fs::recursive_directory_iterator(store / xs::sync::Store::kEvidenceDir))
        if (e.is_regular_file()) out.push_back(e.path());
    return out;
}

}  // namespace

TEST_CASE("cli: another process opening the store never sweeps a live writer's evidence file - the lone opener sweeps a dead one's") {
    Cli cli;
    const std::string inspection = cli.setUp();
    auto ws = xs::app::Workspace::open(cli.store, kPass);
    REQUIRE(ws.ok());
    writeAll(cli.dir / "scan.pdf", "扫描件 " + std::string(100000, 'x'));
    xs::app::FindingInput in;
    in.inspection = inspection;
    in.title = "有证据";
    in.evidence = {cli.dir / "scan.pdf"};

    PauseAfterEvidencePlaced pause;
    std::optional<xs::sync::ScopedEnv> scoped;
    scoped.emplace(pause);
    std::optional<xs::app::AResult<std::string>> added;
    std::thread writer([&] { added = (*ws)->addFinding(in); });
    pause.waitUntilPaused();
    const auto placed = evidenceFiles(cli.store);
    REQUIRE(placed.size() == 1);  // on disk, not yet named by a committed row
    // Another process opens the store meanwhile, reads it and checks it.
    auto list = cli({"finding", "list", "--json"});
    CHECK_MESSAGE(list.exitCode == 0, list.err);
    auto verify = cli({"verify"});
    CHECK_MESSAGE(verify.exitCode == 0, verify.out << verify.err);
    CHECK(evidenceFiles(cli.store) == placed);  // the live writer's file is still there
    pause.release();
    writer.join();
    scoped.reset();
    REQUIRE(added.has_value());
    REQUIRE_MESSAGE(added->ok(), added->message());
    ws->reset();
    auto after = cli.jsonOf({"verify"});
    CHECK(after["ok"] == true);
    CHECK(after["evidence_files"] == 1);

    // A writer killed after placing its file leaves it named by no row: the next lone opener removes it.
    const fs::path dead = placed.front().parent_path() / (std::string(64, 'a') + ".xse");
    writeAll(dead, "half a writer's work");
    REQUIRE(cli({"finding", "list"}).exitCode == 0);
    CHECK_FALSE(fs::exists(dead));
    CHECK(evidenceFiles(cli.store) == placed);
}

TEST_CASE("cli: rebuild drops and rebuilds projections identically") {
    Cli cli;
    auto r = cli({"demo", "--kdf-memory-kib", "8192", "--kdf-iterations", "1", "--kdf-parallelism", "1"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    json v1 = cli.jsonOf({"verify"});
    json findings1 = cli.jsonOf({"finding", "list"});
    json inspections1 = cli.jsonOf({"inspection", "list"});
    json rebuilt = cli.jsonOf({"rebuild"});
    json v2 = cli.jsonOf({"verify"});
    CHECK(v1["ok"] == true);
    CHECK(v2["ok"] == true);
    CHECK(v1["projection_digest"].get<std::string>().size() == 64);
    CHECK(v1["projection_digest"] == v2["projection_digest"]);
    CHECK(rebuilt["projection_digest"] == v1["projection_digest"]);
    CHECK(cli.jsonOf({"finding", "list"}) == findings1);
    CHECK(cli.jsonOf({"inspection", "list"}) == inspections1);
}

TEST_CASE("cli: exit codes name what went wrong") {
    Cli cli;
    CHECK(cli({"frobnicate"}).exitCode == 2);
    CHECK(cli({"finding", "list"}).exitCode == 4);  // no store yet
    std::string inspection = cli.setUp();
    CHECK(cli({"finding", "add", "--inspection", inspection, "--title", "x", "--bogus", "y"}).exitCode == 2);
    CHECK(cli({"finding", "show", "01234567-89ab-7def-8123-456789abcdef"}).exitCode == 4);
    auto refused = cli({"inspection", "create", "--unit", "E04", "--start", "2026-01-05", "--days", "9"});
    CHECK(refused.exitCode == 5);
    CHECK(refused.err.find("7(2)") != std::string::npos);
    auto past = cli({"inspection", "create", "--unit", "E05", "--start", "2025-01-06"});
    REQUIRE(past.exitCode == 0);
    cli.signAgreement(past.out.substr(0, 36));  // on its team: the agreement first (article 7(4))
    auto late = cli({"finding", "add", "--inspection", past.out.substr(0, 36), "--title", "迟到的问题"});
    CHECK(late.exitCode == 5);
    CHECK(late.err.find("on-site window") != std::string::npos);
    auto badEnum = cli({"finding", "add", "--inspection", inspection, "--title", "t", "--severity", "huge"});
    CHECK(badEnum.exitCode == 5);
    CHECK(badEnum.err.find("low|medium|high") != std::string::npos);
    auto missing = cli({"finding", "add", "--inspection", inspection, "--title", "t", "--evidence", "/nonexistent/x.jpg"});
    CHECK(missing.exitCode == 4);
    CHECK(cli.jsonOf({"finding", "list"}).empty());
}

TEST_CASE("cli: a malformed import file imports nothing") {
    Cli cli;
    std::string inspection = cli.setUp();
    std::string good = json{{"inspection", inspection}, {"title", "好的一行"}}.dump();
    for (const std::string& bad : {std::string("{not json"), json{{"inspection", inspection}}.dump(),
                                   json{{"inspection", inspection}, {"title", "t"}, {"colour", "red"}}.dump(),
                                   json{{"inspection", inspection}, {"title", "t"}, {"immediate_fix", "yes"}}.dump()}) {
        CAPTURE(bad);
        writeAll(cli.dir / "bad.jsonl", good + "\n" + good + "\n" + bad + "\n" + good + "\n");
        auto r = cli({"finding", "import", (cli.dir / "bad.jsonl").string()});
        CHECK(r.exitCode == 5);
        CHECK(r.err.find("line 3") != std::string::npos);
        CHECK(r.out.empty());
    }
    CHECK(cli.jsonOf({"finding", "list"}).empty());
    writeAll(cli.dir / "good.jsonl", good + "\n\n" + good + "\n");
    auto ok = cli({"finding", "import", (cli.dir / "good.jsonl").string()});
    CHECK(ok.exitCode == 0);
    CHECK(cli.jsonOf({"finding", "list"}).size() == 2);
}

TEST_CASE("cli: evidence exports byte for byte - is deduplicated - and rekey changes only the passphrase") {
    Cli cli;
    std::string inspection = cli.setUp();
    std::string content;
    std::mt19937 rng(7);
    for (int i = 0; i < 200000; ++i) content.push_back(static_cast<char>(rng()));
    writeAll(cli.dir / "scan.pdf", content);
    auto a = cli({"finding", "add", "--inspection", inspection, "--title", "一", "--evidence", (cli.dir / "scan.pdf").string()});
    auto b = cli({"finding", "add", "--inspection", inspection, "--title", "二", "--evidence", (cli.dir / "scan.pdf").string()});
    REQUIRE(a.exitCode == 0);
    REQUIRE(b.exitCode == 0);
    json f = cli.jsonOf({"finding", "show", a.out.substr(0, 36)});
    std::string hash = f["evidence"][0];
    std::size_t evidenceFiles = 0;
    for (const auto& e : fs::recursive_directory_iterator(cli.store / "evidence"))
        if (e.is_regular_file()) ++evidenceFiles;
    CHECK(evidenceFiles == 1);
    REQUIRE(cli({"evidence", "export", hash, "--out", (cli.dir / "out.pdf").string()}).exitCode == 0);
    CHECK(readAll(cli.dir / "out.pdf") == content);

    std::string dbBefore = readAll(cli.store / "store.db");
    auto rk = cli({"rekey"}, {{"XUNSHEN_NEW_PASSPHRASE", "a new passphrase 二〇二六"}});
    REQUIRE_MESSAGE(rk.exitCode == 0, rk.err);
    CHECK(readAll(cli.store / "store.db") == dbBefore);  // re-wrapped, not re-encrypted
    CHECK(cli({"finding", "list"}).exitCode == 3);
    auto after = cli({"finding", "list", "--json"}, {{"XUNSHEN_PASSPHRASE", "a new passphrase 二〇二六"}});
    REQUIRE(after.exitCode == 0);
    CHECK(json::parse(after.out).size() == 2);
}

TEST_CASE("cli: tampered evidence is reported by verify and refused by export") {
    Cli cli;
    std::string inspection = cli.setUp();
    writeAll(cli.dir / "ledger.csv", std::string(150000, 'a'));
    REQUIRE(cli({"finding", "add", "--inspection", inspection, "--title", "账", "--evidence", (cli.dir / "ledger.csv").string()}).exitCode == 0);
    CHECK(cli({"verify"}).exitCode == 0);
    fs::path stored;
    for (const auto& e : fs::recursive_directory_iterator(cli.store / "evidence"))
        if (e.is_regular_file()) stored = e.path();
    std::string data = readAll(stored);
    data[data.size() / 2] ^= 0x01;
    writeAll(stored, data);
    auto v = cli({"verify"});
    CHECK(v.exitCode == 1);  // verify ran and found problems
    CHECK(v.out.find("damaged or was tampered with") != std::string::npos);
    json f = cli.jsonOf({"finding", "list"});
    auto r = cli({"evidence", "export", f[0]["evidence"][0], "--out", (cli.dir / "x.csv").string()});
    CHECK(r.exitCode == 6);  // tampered
    CHECK_FALSE(fs::exists(cli.dir / "x.csv"));
}

TEST_CASE("cli: demo leaves an open inspection whose window includes today - with snake_case JSON") {
    Cli cli;
    auto r = cli({"demo", "--kdf-memory-kib", "8192", "--kdf-iterations", "1", "--kdf-parallelism", "1"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    std::string today = xs::app::formatDate(xs::app::dayAt(now.count(), 480));
    json inspections = cli.jsonOf({"inspection", "list"});
    bool open = false;
    for (const auto& i : inspections) {
        CHECK(i.contains("id"));
        if (i["status"] == "open" && i["window_start"] <= today && today <= i["window_end"]) open = true;
    }
    CHECK(open);
    json findings = cli.jsonOf({"finding", "list"});
    REQUIRE(findings.size() >= 3);
    for (const auto& f : findings)
        for (const char* key : {"id", "title", "description", "status", "category", "severity", "immediate_fix", "evidence"})
            CHECK_MESSAGE(f.contains(key), key);
    json history = cli.jsonOf({"history", findings[2]["id"]});
    int descriptions = 0;
    for (const auto& h : history) descriptions += h["field"] == "description";
    CHECK(descriptions == 2);
}

TEST_CASE("cli: identity show prints stable public keys and a fingerprint") {
    Cli cli;
    cli.setUp();
    json a = cli.jsonOf({"identity", "show"});
    json b = cli.jsonOf({"identity", "show"});
    CHECK(a == b);
    CHECK(a["sign_public_key"].get<std::string>().size() == 64);
    CHECK(a["exchange_public_key"].get<std::string>().size() == 64);
    CHECK(a["fingerprint"].get<std::string>().size() == 47);
    CHECK(a["role"] == "working_group_lead");
}

TEST_CASE("cli: offline enrolment with a signed enrolment file and an office key Debian age can use") {
    Cli office;
    Cli inspector;
    office.init("吴敏", "audit_office");
    inspector.init("冯磊", "working_group_member");
    CHECK(inspector({"org", "create-office-key"}).exitCode == 5);  // not an audit-office store
    json key = office.jsonOf({"org", "create-office-key"});
    CHECK(office({"org", "create-office-key"}).exitCode == 5);  // only once

    fs::path deviceFile = inspector.dir / "device.json";
    REQUIRE(inspector({"identity", "export", "--out", deviceFile.string()}).exitCode == 0);
    // The office binds a device to a person of its organisation: none yet.
    auto unknown = office({"org", "enrol-device", deviceFile.string()});
    CHECK(unknown.exitCode == 5);
    CHECK(unknown.err.find("import the organisation first") != std::string::npos);
    REQUIRE(office({"org", "import", std::string(XS_SOURCE_DIR) + "/assets/demo/org.json"}).exitCode == 0);
    json enrolled = office.jsonOf({"org", "enrol-device", deviceFile.string()});
    CHECK(enrolled["fingerprint"] == inspector.jsonOf({"identity", "show"})["fingerprint"]);
    fs::path enrolment = office.dir / "enrolment.json";
    REQUIRE(office({"org", "export-enrolment", "--out", enrolment.string()}).exitCode == 0);

    // A flipped character anywhere in the signed body is refused and changes nothing.
    json signedFile = json::parse(readAll(enrolment));
    std::string body = signedFile["body"];
    auto at = body.find("sign_public_key\":\"") + 20;
    body[at] = body[at] == 'a' ? 'b' : 'a';
    json tampered = signedFile;
    tampered["body"] = body;
    writeAll(inspector.dir / "tampered.json", tampered.dump());
    auto before = snapshot(inspector.store);
    auto bad = inspector({"org", "enrol", (inspector.dir / "tampered.json").string()});
    CHECK(bad.exitCode == 5);
    CHECK(bad.err.find("signature does not verify") != std::string::npos);
    CHECK(snapshot(inspector.store) == before);
    writeAll(inspector.dir / "garbage.json", "{\"format\": 1}");
    CHECK(inspector({"org", "enrol", (inspector.dir / "garbage.json").string()}).exitCode == 5);

    json accepted = inspector.jsonOf({"org", "enrol", enrolment.string()});
    CHECK(accepted["office_fingerprint"] == key["fingerprint"]);

    // A second office cannot take over an enrolled store.
    Cli rival;
    rival.init("假冒", "audit_office");
    REQUIRE(rival({"org", "create-office-key"}).exitCode == 0);
    REQUIRE(rival({"org", "export-enrolment", "--out", (rival.dir / "e.json").string()}).exitCode == 0);
    auto takeover = inspector({"org", "enrol", (rival.dir / "e.json").string()});
    CHECK(takeover.exitCode == 5);
    CHECK(takeover.err.find("another audit office") != std::string::npos);

    // The office identity works with Debian's age.
    fs::path agekey = office.dir / "office.agekey";
    REQUIRE(office({"identity", "export-age", "--out", agekey.string()}).exitCode == 0);
    CHECK((fs::status(agekey).permissions() & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
    CHECK(readAll(agekey).find("AGE-SECRET-KEY-1") != std::string::npos);
    REQUIRE_MESSAGE(fs::exists("/usr/bin/age"), "Debian's age is required (./run installs it)");
    writeAll(office.dir / "plain.txt", "移交材料 handover");
    std::string recipient = key["age_recipient"];
    std::string cmd = "/usr/bin/age -r " + recipient + " -o " + (office.dir / "x.age").string() + " " +
                      (office.dir / "plain.txt").string() + " && /usr/bin/age -d -i " + agekey.string() + " -o " +
                      (office.dir / "back.txt").string() + " " + (office.dir / "x.age").string();
    REQUIRE(std::system(cmd.c_str()) == 0);
    CHECK(readAll(office.dir / "back.txt") == "移交材料 handover");
    CHECK(inspector({"identity", "export-age", "--out", (inspector.dir / "x.agekey").string()}).exitCode == 5);
}

namespace {

// The audit office and one enrolled inspector (a working-group lead, who can plan the inspection).
struct HandoverScene {
    Cli office;
    Cli inspector;
    std::string inspection;
    std::string findingId;
    std::string evidence = std::string(300000, 'e') + "现场照片";
    HandoverScene() {
        office.makeOffice();
        inspection = inspector.setUp(office.store);
        writeAll(inspector.dir / "photo.jpg", evidence);
        auto r = inspector({"finding", "add", "--inspection", inspection, "--title", "移交测试问题", "--description", "说明",
                            "--evidence", (inspector.dir / "photo.jpg").string()});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        findingId = r.out.substr(0, 36);
    }
    fs::path bundle() {
        fs::path b = inspector.dir / "handover.xsbundle";
        if (!fs::exists(b)) {
            auto r = inspector({"handover", "export", "--inspection", inspection, "--out", b.string(), "--json"});
            REQUIRE_MESSAGE(r.exitCode == 0, r.err);
            exported = json::parse(r.out);
        }
        return b;
    }
    json exported;  // what the first export reported
    // The office identity in age's format, for Debian's age.
    fs::path officeAgeKey() {
        fs::path key = office.dir / "office.agekey";
        REQUIRE(office({"identity", "export-age", "--out", key.string()}).exitCode == 0);
        REQUIRE_MESSAGE(fs::exists("/usr/bin/age"), "Debian's age is required (./run installs it)");
        return key;
    }
};

}  // namespace

TEST_CASE("handover: export then import gives the office the findings and evidence - a second import changes nothing") {
    HandoverScene s;
    fs::path bundle = s.bundle();
    CHECK(readAll(bundle).rfind("age-encryption.org/v1\n", 0) == 0);
    CHECK(readAll(bundle).find("移交测试问题") == std::string::npos);
    auto r = s.office({"handover", "import", bundle.string(), "--json"});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    json summary = json::parse(r.out);
    CHECK(summary["evidence_files"] == 1);
    json f = s.office.jsonOf({"finding", "show", s.findingId});
    CHECK(f["title"] == "移交测试问题");
    CHECK(f["author"] == s.inspector.jsonOf({"identity", "show"})["person_id"]);
    REQUIRE(s.office({"evidence", "export", f["evidence"][0], "--out", (s.office.dir / "photo.jpg").string()}).exitCode == 0);
    CHECK(readAll(s.office.dir / "photo.jpg") == s.evidence);
    json v1 = s.office.jsonOf({"verify"});
    CHECK(v1["ok"] == true);
    auto again = s.office({"handover", "import", bundle.string(), "--json"});
    REQUIRE(again.exitCode == 0);
    CHECK(json::parse(again.out)["change_sets_new"] == 0);
    CHECK(s.office.jsonOf({"verify"})["projection_digest"] == v1["projection_digest"]);
}

TEST_CASE("handover: Debian's age opens the bundle with the exported office identity") {
    HandoverScene s;
    fs::path bundle = s.bundle();
    fs::path key = s.officeAgeKey();
    std::string cmd = "/usr/bin/age -d -i " + key.string() + " -o " + (s.office.dir / "archive").string() + " " + bundle.string();
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::string archive = readAll(s.office.dir / "archive");
    CHECK(archive.rfind("XSHB", 0) == 0);
    CHECK(archive.find("xunshen-handover-manifest") != std::string::npos);
    CHECK(archive.find(s.evidence) != std::string::npos);
}

TEST_CASE("handover: a flipped byte anywhere - a truncation - or another office's bundle is refused and changes nothing") {
    HandoverScene s;
    fs::path bundle = s.bundle();
    const std::string good = readAll(bundle);
    auto before = snapshot(s.office.store, "lockout.json");
    std::vector<std::size_t> positions = {0, 10, 40, 80, good.find("---") + 5, good.find("\n", good.find("---")) + 3};
    const std::size_t payload = good.find("\n", good.find("---")) + 1 + 16;  // after the nonce
    for (std::size_t chunk = 0; payload + chunk * 65552 < good.size(); ++chunk) {
        positions.push_back(payload + chunk * 65552);               // first byte of each chunk
        positions.push_back(payload + chunk * 65552 + 65551);       // last tag byte of each chunk
    }
    positions.push_back(good.size() - 1);
    int tried = 0;
    for (std::size_t pos : positions) {
        if (pos >= good.size()) continue;
        CAPTURE(pos);
        std::string bad = good;
        bad[pos] = static_cast<char>(bad[pos] ^ 0x20);
        writeAll(s.office.dir / "bad.xsbundle", bad);
        auto r = s.office({"handover", "import", (s.office.dir / "bad.xsbundle").string()});
        CHECK(r.exitCode == 5);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        ++tried;
    }
    CHECK(tried >= 8);
    writeAll(s.office.dir / "short.xsbundle", good.substr(0, good.size() - 100));
    auto truncated = s.office({"handover", "import", (s.office.dir / "short.xsbundle").string()});
    CHECK(truncated.exitCode == 5);
    CHECK(truncated.err.find("truncated") != std::string::npos);
    CHECK(snapshot(s.office.store, "lockout.json") == before);

    // A bundle sealed to another office.
    HandoverScene other;
    auto r = s.office({"handover", "import", other.bundle().string()});
    CHECK(r.exitCode == 5);
    CHECK(r.err.find("not addressed to this audit office") != std::string::npos);
    CHECK(snapshot(s.office.store, "lockout.json") == before);
}

TEST_CASE("handover: a bundle re-sealed with a bad change-set or manifest signature or a repeated change set is refused and leaves nothing") {
    // Whoever holds the office key (or the inspector's file key) could re-seal an altered archive
    // as a valid age file: the signatures inside must still catch it. The change sets are checked
    // on the import's database thread while the evidence streams; a failure there must still
    // roll back and remove the evidence already written.
    HandoverScene s;
    fs::path bundle = s.bundle();
    fs::path key = s.officeAgeKey();
    fs::path plain = s.office.dir / "archive";
    REQUIRE(std::system(("/usr/bin/age -d -i " + key.string() + " -o " + plain.string() + " " + bundle.string()).c_str()) == 0);
    const std::string archive = readAll(plain);
    auto reseal = [&](const std::string& bytes, const std::string& name) {
        writeAll(plain, bytes);
        fs::path out = s.office.dir / name;
        REQUIRE(std::system(("/usr/bin/age -e -i " + key.string() + " -o " + out.string() + " " + plain.string()).c_str()) == 0);
        return out;
    };
    auto before = snapshot(s.office.store, "lockout.json");

    // One hex digit of the signature of one of the inspector's change sets (one the office does
    // not hold yet: its hash, listed in the manifest, does not cover the signature, so only the
    // signature check can notice).
    std::string badSet = archive;
    const std::string device = s.inspector.jsonOf({"identity", "show"})["device_id"];
    const std::size_t own = badSet.find("\"device\":\"" + device + "\",\"hlc\"");
    REQUIRE(own != std::string::npos);
    const std::size_t sig = badSet.find("\"signature\":\"", own);
    REQUIRE(sig != std::string::npos);
    char& digit = badSet[sig + 13];
    digit = digit == '0' ? '1' : '0';
    auto r1 = s.office({"handover", "import", reseal(badSet, "bad-set.xsbundle").string()});
    CHECK(r1.exitCode == 5);
    CHECK(r1.err.find("failed verification") != std::string::npos);
    CHECK(std::count(r1.err.begin(), r1.err.end(), '\n') == 1);
    CHECK(snapshot(s.office.store, "lockout.json") == before);

    // One bit of the manifest's signature (the 64 bytes after the record's name and size).
    std::string badManifest = archive;
    const std::size_t name = badManifest.find("manifest.sig");
    REQUIRE(name != std::string::npos);
    badManifest[name + 12 + 8] = static_cast<char>(badManifest[name + 12 + 8] ^ 0x01);
    auto r2 = s.office({"handover", "import", reseal(badManifest, "bad-manifest.xsbundle").string()});
    CHECK(r2.exitCode == 5);
    CHECK(r2.err.find("manifest's signature does not verify") != std::string::npos);
    CHECK(snapshot(s.office.store, "lockout.json") == before);

    // A change set listed once in the manifest but present twice (so the count still matches if
    // another were left out).
    const std::size_t first = name + 12 + 8 + 64;  // the record after the signature's
    REQUIRE(static_cast<unsigned char>(archive[first]) == 3);
    auto be = [&](std::size_t at, int bytes) {
        std::uint64_t v = 0;
        for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(archive[at + static_cast<std::size_t>(i)]);
        return static_cast<std::size_t>(v);
    };
    const std::size_t nameLen = be(first + 1, 4);
    const std::size_t recordLen = 1 + 4 + nameLen + 8 + be(first + 5 + nameLen, 8);
    std::string twice = archive;
    twice.insert(first + recordLen, archive.substr(first, recordLen));
    auto r3 = s.office({"handover", "import", reseal(twice, "twice.xsbundle").string()});
    CHECK(r3.exitCode == 5);
    CHECK(r3.err.find("twice") != std::string::npos);
    CHECK(snapshot(s.office.store, "lockout.json") == before);

    // The untouched archive, re-sealed the same way, imports: the refusals above were the signatures.
    auto ok = s.office({"handover", "import", reseal(archive, "resealed.xsbundle").string()});
    CHECK_MESSAGE(ok.exitCode == 0, ok.err);
    CHECK(s.office({"finding", "show", s.findingId}).exitCode == 0);
}

TEST_CASE("handover: demo-handover runs the walkthrough with two enrolled inspectors") {
    TempDir dir;
    auto r = run({"demo-handover", "--dir", dir.path().string(), "--json", "--kdf-memory-kib", "8192", "--kdf-iterations", "1",
                  "--kdf-parallelism", "1"},
                 {{"XUNSHEN_PASSPHRASE", kPass}});
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    json summary = json::parse(r.out);
    CHECK(summary["verified"] == true);
    CHECK(summary["findings"] == 4);
    CHECK(fs::exists(dir / "office" / "keyfile.json"));
    CHECK(fs::exists(dir / "office.agekey"));
    REQUIRE(summary["bundles"].size() == 2);
    std::map<std::string, std::string> env = {{"XUNSHEN_PASSPHRASE", kPass}};
    auto findings = run({"--store", (dir / "office").string(), "finding", "list", "--json"}, env);
    REQUIRE(findings.exitCode == 0);
    auto people = run({"--store", (dir / "office").string(), "org", "show", "--json"}, env);
    REQUIRE(people.exitCode == 0);
    std::set<std::string> authors;
    const json findingList = json::parse(findings.out);
    const json org = json::parse(people.out);
    for (const auto& f : findingList)
        for (const auto& p : org["people"])
            if (p["id"] == f["author"]) authors.insert(p["name"].get<std::string>());
    CHECK(authors == std::set<std::string>{"冯磊", "何芳"});
    for (const auto& b : summary["bundles"]) {
        std::string cmd = "/usr/bin/age -d -i " + (dir / "office.agekey").string() + " " + b.get<std::string>() + " > /dev/null";
        CHECK(std::system(cmd.c_str()) == 0);
    }
}

TEST_CASE("handover: the office's signed receipt lets the field device wipe that inspection's evidence") {
    HandoverScene s;
    fs::path bundle = s.bundle();
    fs::path receipt = s.office.dir / "receipt.json";
    auto imported = s.office({"handover", "import", bundle.string(), "--receipt", receipt.string()});
    REQUIRE_MESSAGE(imported.exitCode == 0, imported.err);
    json r = json::parse(json::parse(readAll(receipt))["body"].get<std::string>());
    // The receipt names the file by its bytes before the first payload chunk (the age header
    // through the MAC line, then the 16-byte nonce), hashed here independently, and the content by
    // the manifest's hash; both as the export reported them.
    const std::string bytes = readAll(bundle);
    const std::size_t macLine = bytes.find("\n--- ");
    REQUIRE(macLine != std::string::npos);
    const std::size_t prefix = bytes.find('\n', macLine + 1) + 1 + 16;
    CHECK(r["bundle_header_sha256"] == xs::crypto::toHex(xs::crypto::sha256(xs::crypto::asBytes(std::string_view(bytes).substr(0, prefix)))));
    CHECK(r["bundle_header_sha256"] == s.exported["bundle_header_sha256"]);
    CHECK(r["manifest_sha256"] == s.exported["manifest_sha256"]);
    CHECK(r["manifest_sha256"].get<std::string>().size() == 64);
    CHECK(r["version"] == 3);
    CHECK(r["ops"].get<int>() > 0);

    // A receipt whose body was altered is refused and wipes nothing.
    json tampered = json::parse(readAll(receipt));
    std::string body = tampered["body"];
    body.replace(body.find("\"ops\":"), 6, "\"ops\":9");
    tampered["body"] = body;
    writeAll(s.inspector.dir / "bad-receipt.json", tampered.dump());
    auto before = snapshot(s.inspector.store, "lockout.json");
    auto bad = s.inspector({"handover", "confirm", (s.inspector.dir / "bad-receipt.json").string()});
    CHECK(bad.exitCode == 5);
    CHECK(bad.err.find("signature does not verify") != std::string::npos);
    CHECK(snapshot(s.inspector.store, "lockout.json") == before);

    auto ok = s.inspector({"handover", "confirm", receipt.string(), "--json"});
    REQUIRE_MESSAGE(ok.exitCode == 0, ok.err);
    CHECK(json::parse(ok.out)["evidence_files_removed"] == 1);
    std::size_t evidenceFiles = 0;
    for (const auto& e : fs::recursive_directory_iterator(s.inspector.store / "evidence"))
        if (e.is_regular_file()) ++evidenceFiles;
    CHECK(evidenceFiles == 0);
    json v = s.inspector.jsonOf({"verify"});
    CHECK(v["ok"] == true);
    REQUIRE(v["wiped"].size() == 1);
    CHECK(v["wiped"][0]["inspection"] == s.inspection);
    // Crypto-shredded: the inspection's three channel keys are gone, so its findings no longer
    // open on this device (the sealed, signed ops stay for the chain).
    REQUIRE(v["shredded"].size() == 3);
    std::set<std::string> channels;
    for (const auto& c : v["shredded"]) channels.insert(c["channel"].get<std::string>());
    CHECK(channels == std::set<std::string>{s.inspection + ".team", s.inspection + ".unit", s.inspection + ".clue"});
    CHECK(s.inspector({"finding", "show", s.findingId}).exitCode == 4);
    CHECK(s.inspector.jsonOf({"finding", "list"}).empty());
    CHECK(s.inspector({"history", s.findingId}).exitCode == 4);
    auto text = s.inspector({"verify"});
    CHECK(text.out.find("shredded: channel " + s.inspection + ".team") != std::string::npos);
    // A late capture into the shredded inspection is refused: no key to seal with.
    CHECK(s.inspector({"finding", "add", "--inspection", s.inspection, "--title", "清理后"}).exitCode != 0);
    // The office still has everything.
    json f = s.office.jsonOf({"finding", "show", s.findingId});
    REQUIRE(s.office({"evidence", "export", f["evidence"][0], "--out", (s.office.dir / "p.jpg").string()}).exitCode == 0);
    CHECK(readAll(s.office.dir / "p.jpg") == s.evidence);
}

TEST_CASE("handover: another inspector's device cannot open the bundle") {
    HandoverScene s;
    fs::path bundle = s.bundle();
    Cli other;
    other.enrolWith(s.office.store, "何芳", "working_group_member");
    auto before = snapshot(other.store, "lockout.json");
    auto r = other({"handover", "import", bundle.string()});
    CHECK(r.exitCode == 5);
    CHECK(r.err.find("only the audit office") != std::string::npos);
    CHECK(snapshot(other.store, "lockout.json") == before);
    // Enrolment gave it the office's records and its own keys only: nothing of that inspection.
    CHECK(other.jsonOf({"finding", "list"}).empty());
    CHECK(other({"finding", "show", s.findingId}).exitCode == 4);
    CHECK(other({"finding", "add", "--inspection", s.inspection, "--title", "越权"}).exitCode != 0);
}

TEST_CASE("handover: a receipt for an older bundle does not wipe") {
    HandoverScene s;
    fs::path first = s.bundle();
    REQUIRE(s.office({"handover", "import", first.string(), "--receipt", (s.office.dir / "r1.json").string()}).exitCode == 0);
    // The inspector keeps working and exports again: the old receipt no longer covers everything.
    REQUIRE(s.inspector({"finding", "add", "--inspection", s.inspection, "--title", "后来的问题"}).exitCode == 0);
    REQUIRE(s.inspector({"handover", "export", "--inspection", s.inspection, "--out", (s.inspector.dir / "second.xsbundle").string()})
                .exitCode == 0);
    auto r = s.inspector({"handover", "confirm", (s.office.dir / "r1.json").string()});
    CHECK(r.exitCode == 5);
    CHECK(r.err.find("another bundle") != std::string::npos);
}

TEST_CASE("handover: a receipt names the very file even when a later export holds the same content") {
    HandoverScene s;
    fs::path first = s.bundle();
    REQUIRE(s.office({"handover", "import", first.string(), "--receipt", (s.office.dir / "r1.json").string()}).exitCode == 0);
    // Nothing changed, but a new file was made: the first file's receipt is not this one's.
    REQUIRE(s.inspector({"handover", "export", "--inspection", s.inspection, "--out", (s.inspector.dir / "again.xsbundle").string()})
                .exitCode == 0);
    auto r = s.inspector({"handover", "confirm", (s.office.dir / "r1.json").string()});
    CHECK(r.exitCode == 5);
    CHECK(r.err.find("another bundle") != std::string::npos);
    CHECK(s.inspector({"finding", "show", s.findingId}).exitCode == 0);  // nothing wiped
    // The receipt for the file now named in the store wipes.
    REQUIRE(s.office({"handover", "import", (s.inspector.dir / "again.xsbundle").string(), "--receipt",
                      (s.office.dir / "r2.json").string()})
                .exitCode == 0);
    auto ok = s.inspector({"handover", "confirm", (s.office.dir / "r2.json").string()});
    CHECK_MESSAGE(ok.exitCode == 0, ok.err);
}

// ---------------------------------------------------------------- what a replica accepts (issue 9)

TEST_CASE("replica rules: an inspector's organisation import and plan rewrite are refused by its own store") {
    HandoverScene s;
    Cli member;
    member.enrolWith(s.office.store, "冯磊", "working_group_member");
    auto r = member({"org", "import", std::string(XS_SOURCE_DIR) + "/assets/demo/org.json"});
    CHECK(r.exitCode == 5);
    CHECK(r.err.find("change the organisation") != std::string::npos);
    auto plan = member({"inspection", "create", "--unit", "E04", "--start", "2026-01-05"});
    CHECK(plan.exitCode == 5);
    // Not enrolled at all: nothing but enrolling.
    Cli loner;
    loner.init("许杰", "working_group_member");
    auto l = loner({"org", "import", std::string(XS_SOURCE_DIR) + "/assets/demo/org.json"});
    CHECK(l.exitCode == 5);
    CHECK(l.err.find("not enrolled") != std::string::npos);
}

TEST_CASE("replica rules: a revoked device's file is refused by enrol-device - its later captures by the office") {
    HandoverScene s;
    fs::path device = s.inspector.dir / "device.json";
    json id = s.inspector.jsonOf({"identity", "show"});
    fs::path bundle = s.bundle();
    REQUIRE(s.office({"handover", "import", bundle.string()}).exitCode == 0);
    auto revoked = s.office({"org", "revoke-device", id["device_id"]});
    REQUIRE_MESSAGE(revoked.exitCode == 0, revoked.err);
    auto again = s.office({"org", "enrol-device", device.string()});
    CHECK(again.exitCode == 5);
    CHECK(again.err.find("revoked") != std::string::npos);
    // The device, not told, captures on and hands over: the office takes the bundle, refuses
    // what came after the revocation and says so in the receipt.
    REQUIRE(s.inspector({"finding", "add", "--inspection", s.inspection, "--title", "撤销后的记录"}).exitCode == 0);
    fs::path later = s.inspector.dir / "later.xsbundle";
    REQUIRE(s.inspector({"handover", "export", "--inspection", s.inspection, "--out", later.string()}).exitCode == 0);
    auto imported = s.office({"handover", "import", later.string(), "--json"});
    REQUIRE_MESSAGE(imported.exitCode == 0, imported.err);
    json summary = json::parse(imported.out);
    REQUIRE(summary["change_sets_refused"].size() >= 1);
    CHECK(summary["change_sets_refused"][0]["reason"].get<std::string>().find("revoked") != std::string::npos);
    json refused = s.office.jsonOf({"refused"});
    CHECK(refused.size() == summary["change_sets_refused"].size());
    json findings = s.office.jsonOf({"finding", "list"});
    for (const auto& f : findings) CHECK(f["title"] != "撤销后的记录");
    auto v = s.office({"verify"});
    CHECK(v.exitCode == 0);
    CHECK(v.out.find("refused: change set") != std::string::npos);
}

TEST_CASE("replica rules: confirm keeps what was captured after the export and the office records the acknowledgement") {
    HandoverScene s;
    fs::path bundle = s.bundle();
    fs::path receipt = s.office.dir / "r.json";
    REQUIRE(s.office({"handover", "import", bundle.string(), "--receipt", receipt.string()}).exitCode == 0);
    writeAll(s.inspector.dir / "later.jpg", "导出后拍的照片");
    auto later = s.inspector({"finding", "add", "--inspection", s.inspection, "--title", "导出后的问题", "--evidence",
                              (s.inspector.dir / "later.jpg").string()});
    REQUIRE(later.exitCode == 0);
    auto partial = s.inspector({"handover", "confirm", receipt.string()});
    REQUIRE_MESSAGE(partial.exitCode == 0, partial.err);
    CHECK(partial.out.find("2 items were captured after this export: export again") != std::string::npos);
    CHECK(s.inspector({"finding", "show", later.out.substr(0, 36)}).exitCode == 0);
    REQUIRE(s.inspector({"evidence", "export", xs::crypto::toHex(xs::crypto::sha256(xs::crypto::asBytes(std::string("导出后拍的照片")))),
                         "--out", (s.inspector.dir / "back.jpg").string()})
                .exitCode == 0);
    CHECK(s.inspector.jsonOf({"verify"})["ok"] == true);
    // Again, covering everything: the inspection is shredded; the office records the ack.
    fs::path second = s.inspector.dir / "second.xsbundle";
    REQUIRE(s.inspector({"handover", "export", "--inspection", s.inspection, "--out", second.string()}).exitCode == 0);
    fs::path receipt2 = s.office.dir / "r2.json";
    REQUIRE(s.office({"handover", "import", second.string(), "--receipt", receipt2.string()}).exitCode == 0);
    fs::path ack = s.inspector.dir / "ack.json";
    auto whole = s.inspector({"handover", "confirm", receipt2.string(), "--ack-out", ack.string()});
    REQUIRE_MESSAGE(whole.exitCode == 0, whole.err);
    CHECK(whole.out.find("no longer opens on this device") != std::string::npos);
    CHECK(s.inspector.jsonOf({"finding", "list"}).empty());
    auto recorded = s.office({"handover", "acknowledge", ack.string(), "--json"});
    REQUIRE_MESSAGE(recorded.exitCode == 0, recorded.err);
    json acks = s.office.jsonOf({"handover", "acks"});
    REQUIRE(acks.size() == 1);  // one record per device and inspection: the partial one, then the whole one
    CHECK(acks[0]["keys_destroyed"] == true);
    CHECK(acks[0]["scope"] == s.inspection);
    CHECK(acks[0]["device"] == s.inspector.jsonOf({"identity", "show"})["device_id"]);
    CHECK(s.office.jsonOf({"verify"})["ok"] == true);
}

TEST_CASE("replica rules: evidence attached on the office is pending on the inspector - its export and verify go on") {
    HandoverScene s;
    REQUIRE(s.office({"handover", "import", s.bundle().string()}).exitCode == 0);
    writeAll(s.office.dir / "verification.pdf", "核查验证材料");
    auto attached = s.office({"finding", "attach", s.findingId, "--evidence", (s.office.dir / "verification.pdf").string(),
                              "--purpose", "verification"});
    REQUIRE_MESSAGE(attached.exitCode == 0, attached.err);
    // The office's records reach the inspector in a new enrolment file.
    REQUIRE(s.office({"org", "export-enrolment", "--out", (s.office.dir / "e2.json").string()}).exitCode == 0);
    REQUIRE(s.inspector({"org", "enrol", (s.office.dir / "e2.json").string()}).exitCode == 0);
    auto v = s.inspector({"verify"});
    CHECK(v.exitCode == 0);
    CHECK(v.out.find("pending: evidence") != std::string::npos);
    auto again = s.inspector({"handover", "export", "--inspection", s.inspection, "--out", (s.inspector.dir / "again.xsbundle").string()});
    CHECK_MESSAGE(again.exitCode == 0, again.err);
    auto imported = s.office({"handover", "import", (s.inspector.dir / "again.xsbundle").string()});
    CHECK(imported.exitCode == 0);
    CHECK(s.office.jsonOf({"verify"})["ok"] == true);
}

TEST_CASE("replica rules: org show works on every store and a second org enrol keeps the owner") {
    HandoverScene s;
    CHECK(s.office({"org", "show"}).exitCode == 0);
    CHECK(s.inspector({"org", "show"}).exitCode == 0);
    json before = s.inspector.jsonOf({"identity", "show"});
    REQUIRE(s.office({"org", "export-enrolment", "--out", (s.office.dir / "e2.json").string()}).exitCode == 0);
    REQUIRE(s.inspector({"org", "enrol", (s.office.dir / "e2.json").string()}).exitCode == 0);
    json after = s.inspector.jsonOf({"identity", "show"});
    CHECK(after["person_id"] == before["person_id"]);
    CHECK(s.inspector({"finding", "add", "--inspection", s.inspection, "--title", "二次登记后"}).exitCode == 0);
}

TEST_CASE("replica rules: a device file claiming the office's own person is not enrolled - and nested files are refused unparsed") {
    Cli office;
    office.makeOffice();
    Cli impostor;
    impostor.init("吴敏", "audit_office");
    // An audit-office store of its own: its identity file names the office's person.
    fs::path device = impostor.dir / "device.json";
    REQUIRE(impostor({"identity", "export", "--out", device.string()}).exitCode == 0);
    auto r = office({"org", "enrol-device", device.string()});
    CHECK(r.exitCode == 5);
    CHECK(r.err.find("audit office's own person") != std::string::npos);
    // A file nested 100,000 deep (org import, enrolment) is refused before any parser recurses.
    writeAll(office.dir / "deep.json", std::string(100000, '[') + std::string(100000, ']'));
    auto deep = office({"org", "import", (office.dir / "deep.json").string()});
    CHECK(deep.exitCode == 5);
    CHECK(deep.err.find("nested deeper") != std::string::npos);
    auto deepEnrol = impostor({"org", "enrol", (office.dir / "deep.json").string()});
    CHECK(deepEnrol.exitCode == 5);
    CHECK(deepEnrol.err.find("nested deeper") != std::string::npos);
    writeAll(office.dir / "deep.jsonl", "{\"title\":" + std::string(50000, '[') + "\n");
    auto deepLine = office({"finding", "import", (office.dir / "deep.jsonl").string()});
    CHECK(deepLine.exitCode == 5);
}

// ---------------------------------------------------------------- careless use (issue 10)

TEST_CASE("careless use: an output path that is or is inside the store is refused - and the store still opens") {
    Cli cli;
    std::string inspection = cli.setUp();
    writeAll(cli.dir / "scan.pdf", "%PDF-1.4 扫描件");
    auto add = cli({"finding", "add", "--inspection", inspection, "--title", "t", "--evidence", (cli.dir / "scan.pdf").string()});
    REQUIRE_MESSAGE(add.exitCode == 0, add.err);
    std::string hash = cli.jsonOf({"finding", "list"})[0]["evidence"][0];
    const auto before = snapshot(cli.store, "lockout.json");
    fs::path link = cli.dir / "link-to-db";
    fs::create_hard_link(cli.store / "store.db", link);
    for (const fs::path& out : {cli.store / "store.db", cli.store / "keyfile.json", cli.store / "new.bin", cli.store,
                                cli.store / "evidence" / "x", cli.dir / "store" / ".." / "store" / "keyfile.json",
                                fs::path("/dev/null"), link}) {
        CAPTURE(out);
        auto e = cli({"evidence", "export", hash, "--out", out.string()});
        CHECK(e.exitCode == 5);
        auto h = cli({"handover", "export", "--inspection", inspection, "--out", out.string()});
        CHECK(h.exitCode == 5);
        auto i = cli({"identity", "export", "--out", out.string()});
        CHECK(i.exitCode == 5);
    }
    CHECK(snapshot(cli.store, "lockout.json") == before);
    CHECK(cli.jsonOf({"verify"})["ok"] == true);
    auto fine = cli({"evidence", "export", hash, "--out", (cli.dir / "copy.pdf").string()});
    CHECK(fine.exitCode == 0);
    CHECK(readAll(cli.dir / "copy.pdf") == "%PDF-1.4 扫描件");
}

TEST_CASE("careless use: finding import checks every line against the store before committing any") {
    Cli cli;
    std::string inspection = cli.setUp();
    std::string good = json{{"inspection", inspection}, {"title", "第一行"}}.dump();
    std::string unknown = json{{"inspection", "01234567-89ab-7def-8123-456789abcdef"}, {"title", "第二行"}}.dump();
    std::string tooLong = json{{"inspection", inspection}, {"title", std::string(400, 'x')}}.dump();
    for (const std::string& bad : {unknown, tooLong}) {
        writeAll(cli.dir / "imp.jsonl", good + "\n" + bad + "\n");
        auto r = cli({"finding", "import", (cli.dir / "imp.jsonl").string()});
        CHECK(r.exitCode != 0);
        CHECK(r.err.find("line 2") != std::string::npos);
        CHECK(r.err.find("nothing imported") != std::string::npos);
        CHECK(r.out.empty());
        CHECK(cli.jsonOf({"finding", "list"}).empty());
    }
}

TEST_CASE("careless use: import evidence resolves beside the import file - never a system file or one outside its folder") {
    Cli cli;
    std::string inspection = cli.setUp();
    fs::create_directories(cli.dir / "batch");
    writeAll(cli.dir / "batch" / "photo.jpg", "照片内容");
    writeAll(cli.dir / "outside.txt", "秘密");
    auto line = [&](const std::string& evidence) {
        return json{{"inspection", inspection}, {"title", "带证据"}, {"evidence", {evidence}}}.dump() + "\n";
    };
    for (const std::string& bad : {std::string("/proc/self/environ"), std::string("/etc/passwd"), std::string("../outside.txt"),
                                   (cli.dir / "outside.txt").string(), std::string("/dev/zero")}) {
        CAPTURE(bad);
        writeAll(cli.dir / "batch" / "imp.jsonl", line("photo.jpg") + line(bad));
        auto r = cli({"finding", "import", (cli.dir / "batch" / "imp.jsonl").string()});
        CHECK(r.exitCode == 5);
        CHECK(r.err.find("nothing imported") != std::string::npos);
    }
    CHECK(cli.jsonOf({"finding", "list"}).empty());
    // A relative path names the file beside the import file, whatever the working directory.
    writeAll(cli.dir / "batch" / "imp.jsonl", line("photo.jpg"));
    auto ok = cli({"finding", "import", (cli.dir / "batch" / "imp.jsonl").string()});
    REQUIRE_MESSAGE(ok.exitCode == 0, ok.err);
    json list = cli.jsonOf({"finding", "list"});
    REQUIRE(list.size() == 1);
    REQUIRE(list[0]["evidence"].size() == 1);
    // A person adding a finding by hand cannot attach a kernel file either.
    auto kernelFile = cli({"finding", "add", "--inspection", inspection, "--title", "t", "--evidence", "/proc/self/environ"});
    CHECK(kernelFile.exitCode == 5);
}

TEST_CASE("careless use: the capture window is the organisation's day whatever the process's TZ") {
    Cli cli;
    std::string inspection = cli.setUp();
    auto nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    int shanghai = xs::app::dayAt(nowMs, 480);
    auto create = [&](int start, const std::string& unit) {
        auto r = cli({"inspection", "create", "--unit", unit, "--start", xs::app::formatDate(start), "--days", "1", "--team", "W02,W03"});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        cli.signAgreement(r.out.substr(0, 36));  // on its team: the agreement first (article 7(4))
        return r.out.substr(0, 36);
    };
    std::string tomorrow = create(shanghai + 1, "E05");
    std::string yesterday = create(shanghai - 1, "E06");
    // UTC+14 is a day ahead of Shanghai from 18:00 Shanghai time; UTC-12 a day behind until 20:00:
    // at any hour one of the two would let a capture outside the window through on process time.
    for (const auto& [tz, id] : {std::pair{std::string("Etc/GMT-14"), tomorrow}, std::pair{std::string("Etc/GMT+12"), yesterday},
                                 std::pair{std::string("Pacific/Kiritimati"), tomorrow}}) {
        CAPTURE(tz);
        auto r = cli({"finding", "add", "--inspection", id, "--title", "窗口外"}, {{"TZ", tz}});
        CHECK(r.exitCode == 5);
        CHECK(r.err.find("on-site window") != std::string::npos);
    }
    auto inside = cli({"finding", "add", "--inspection", inspection, "--title", "窗口内"}, {{"TZ", "Etc/GMT+12"}});
    CHECK(inside.exitCode == 0);
}

TEST_CASE("careless use: numbers parse strictly") {
    Cli cli;
    std::string inspection = cli.setUp();
    for (const char* days : {"7x", "3 weeks", " 5", "", "0x5", "5.0"}) {
        CAPTURE(days);
        CHECK(cli({"inspection", "create", "--unit", "E07", "--start", "2026-01-05", "--days", days}).exitCode == 2);
        CHECK(cli({"inspection", "extend", inspection, "--days", days, "--reason", "r"}).exitCode == 2);
    }
    Cli other;
    CHECK(other({"init", "--name", "x", "--role", "audit_office", "--kdf-memory-kib", "8192k"}).exitCode == 2);
    CHECK_FALSE(fs::exists(other.store / "keyfile.json"));
}

TEST_CASE("careless use: control characters another device wrote are escaped when printed") {
    Cli cli;
    std::string inspection = cli.setUp();
    const std::string title = "标题\x1b[2J\x1b]0;pwn\a\r\xc2\x9b" "6n尾";
    auto add = cli({"finding", "add", "--inspection", inspection, "--title", title, "--description", "第一行\n第二行\t制表"});
    REQUIRE_MESSAGE(add.exitCode == 0, add.err);
    std::string id = add.out.substr(0, 36);
    for (const auto& args : {std::vector<std::string>{"finding", "list"}, std::vector<std::string>{"finding", "show", id}}) {
        auto r = cli(args);
        REQUIRE(r.exitCode == 0);
        CHECK(r.out.find('\x1b') == std::string::npos);
        CHECK(r.out.find('\a') == std::string::npos);
        CHECK(r.out.find('\r') == std::string::npos);
        CHECK(r.out.find("\xc2\x9b") == std::string::npos);
        CHECK(r.out.find("标题\\x1b[2J\\x1b]0;pwn\\x07\\x0d\\u009b6n尾") != std::string::npos);
    }
    auto show = cli({"finding", "show", id});
    CHECK(show.out.find("第一行\n第二行\t制表") != std::string::npos);  // newlines and tabs are text
    // JSON keeps the exact text.
    CHECK(cli.jsonOf({"finding", "show", id})["title"] == title);
}

TEST_CASE("agreement: show prints the text, sign signs once, list says who signed when - and nothing of the inspection opens before") {
    Cli office;
    office.store = office.dir / "office";
    office.makeOffice();
    Cli lead;
    lead.enrolWith(office.store, "郑华", "working_group_lead");
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    auto created = lead({"inspection", "create", "--unit", "E03", "--start", xs::app::formatDate(xs::app::dayAt(now.count(), 480) - 1)});
    REQUIRE_MESSAGE(created.exitCode == 0, created.err);
    const std::string id = created.out.substr(0, 36);

    auto listed = lead.jsonOf({"inspection", "list"});
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["agreement_required"] == true);
    CHECK(listed[0]["agreement_signed"] == false);
    // Before signing: capture and listing the inspection exit 5 saying what to run.
    auto add = lead({"finding", "add", "--inspection", id, "--title", "未签协议"});
    CHECK(add.exitCode == 5);
    CHECK(containsBytes(add.err, "xunshenctl agreement show " + id));
    CHECK(containsBytes(add.err, "xunshenctl agreement sign " + id));
    CHECK(lead({"finding", "list", "--inspection", id}).exitCode == 5);

    auto shown = lead({"agreement", "show", id});
    REQUIRE_MESSAGE(shown.exitCode == 0, shown.err);
    CHECK(containsBytes(shown.out, "巡审工作保密协议"));
    CHECK(containsBytes(shown.out, "Confidentiality agreement"));
    CHECK(containsBytes(shown.out, "v1"));
    CHECK(containsBytes(shown.out, "未签署"));
    auto text = lead.jsonOf({"agreement", "show", id});
    CHECK(text["signed"] == false);
    CHECK(text["version"] == "v1");
    const std::string zh = text["text_zh"];
    CHECK(text["text_sha256"] == xs::crypto::toHex(xs::crypto::sha256(xs::crypto::asBytes(zh))));

    auto signedIt = lead({"agreement", "sign", id});
    REQUIRE_MESSAGE(signedIt.exitCode == 0, signedIt.err);
    CHECK(containsBytes(signedIt.out, "已签署"));
    text = lead.jsonOf({"agreement", "show", id});
    CHECK(text["signed"] == true);
    const std::int64_t at = text["signed_at_ms"];
    CHECK(std::abs(at - static_cast<std::int64_t>(now.count())) < 600'000);
    // Signing again: exit 0, and the first signature stands.
    REQUIRE(lead({"agreement", "sign", id}).exitCode == 0);
    CHECK(lead.jsonOf({"agreement", "show", id})["signed_at_ms"] == at);
    listed = lead.jsonOf({"inspection", "list"});
    CHECK(listed[0]["agreement_signed"] == true);
    auto list = lead.jsonOf({"agreement", "list", id});
    REQUIRE(list.size() == 1);
    CHECK(list[0]["person_name"] == "郑华");
    CHECK(list[0]["inspection_id"] == id);
    CHECK(list[0]["signed_at_ms"] == at);
    CHECK(lead.jsonOf({"agreement", "list"}).size() == 1);
    auto plain = lead({"agreement", "list"});
    CHECK(containsBytes(plain.out, "郑华"));
    // Now the inspection opens to the lead.
    add = lead({"finding", "add", "--inspection", id, "--title", "签署后的问题"});
    CHECK_MESSAGE(add.exitCode == 0, add.err);
    CHECK(lead.jsonOf({"finding", "list", "--inspection", id}).size() == 1);

    // The office is not asked to sign, and is refused when it tries; usage and unknown inspections.
    auto officeSigns = lead.at(office.store, {"agreement", "sign", id});
    CHECK(officeSigns.exitCode == 4);  // the office has not received the plan: no such inspection there
    CHECK(lead({"agreement", "show", "no-such-inspection"}).exitCode == 4);
    CHECK(lead({"agreement"}).exitCode == 2);
    CHECK(lead({"agreement", "sign"}).exitCode == 2);
}
