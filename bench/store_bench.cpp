// Store benchmark: the capture workload on the encrypted store, built twice from the same code —
// bench_store (SQLCipher, the product) and bench_store_plain (plain SQLite, comparison only).
// Each binary prints one JSON object; `bench_store --compare build/.../bench_store_plain` runs
// both in alternating rounds and prints them side by side with ratios (docs/BENCHMARKS.md).
//
// Measured:
//   capture   durable single captures through Workspace::addFinding (one change set, fsync'd)
//   bulk      N findings imported as `finding import` does (one durable commit per line)
//   raw       the very rows that import wrote, re-inserted with bare prepared INSERTs into a fresh
//             database of the same kind, same commit granularity and pragmas (the floor)
//   open      Workspace::open on the store holding N findings, and the Argon2id cost alone
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/workspace.h"
#include "crypto/kdf.h"
#include "crypto/random.h"

using namespace xs;
using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double msSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

[[noreturn]] void die(const std::string& what) {
    std::cerr << "bench_store: " << what << "\n";
    std::exit(1);
}

const char* kPass = "bench passphrase";

std::string setUpStore(const fs::path& dir, const crypto::Argon2Params& kdf) {
    auto ws = app::Workspace::init(dir, kPass, "郑华", app::Role::WorkingGroupLead, kdf);
    if (!ws) die(ws.message());
    app::Workspace& w = **ws;
    json org = {{"units", {{{"code", "E01"}, {"name", "区生态环境监测站"}}}},
                {"people", {{{"code", "W02"}, {"name", "冯磊"}, {"role", "working_group_member"}}}}};
    if (auto r = w.importOrg(org); !r) die(r.message());
    app::InspectionInput in;
    in.unit = "E01";
    in.start = app::formatDate(w.today() - 1);
    auto id = w.createInspection(in);
    if (!id) die(id.message());
    return *id;
}

app::FindingInput finding(const std::string& inspection, int i) {
    app::FindingInput f;
    f.inspection = inspection;
    f.title = "公务接待未严格执行审批制度 #" + std::to_string(i);
    f.description = "2025年度12批次公务接待无事前审批单，其中3批次超标准接待，涉及金额1.86万元。现场核查记录第" +
                    std::to_string(i) + "号，经办人已签字确认。";
    f.category = app::FindingCategory::EightPointRules;
    f.severity = i % 3 == 0 ? app::Severity::High : app::Severity::Medium;
    f.tags = {app::FindingTag::Trending};
    f.immediateFix = i % 5 == 0;
    f.responsiblePerson = "办公室负责人";
    return f;
}

// Re-inserts every row of the op log and projection tables into a fresh database, one transaction
// per change set — the bare cost of writing what the import wrote.
double rawInsert(sync::Store& source, const fs::path& dir) {
    auto target = sync::Store::create(dir, kPass, {.iterations = 1, .memoryKiB = 8192, .parallelism = 1});
    if (!target) die(target.message());
    if (auto s = (*target)->migrate(app::appMigrations()); !s) die(s.message());
    sync::Db& src = source.db();
    sync::Db& dst = (*target)->db();
    struct Table { const char* select; const char* insert; const char* key; };
    // Rows grouped by change set: ops by changeset; projection rows by the op that wrote them.
    const std::vector<Table> tables = {
        {"SELECT id, device, seq, hlc, op_count, local FROM changesets WHERE id = ?1",
         "INSERT INTO changesets VALUES (?, ?, ?, ?, ?, ?)", ""},
        {"SELECT id, changeset, idx, channel, kind, record_id, hlc, device, body FROM ops WHERE changeset = ?1",
         "INSERT INTO ops VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ""},
        {"SELECT v.kind, v.record_id, v.field, v.op_id, v.hlc, v.device, v.value FROM field_versions v JOIN ops o ON o.id = v.op_id WHERE o.changeset = ?1",
         "INSERT INTO field_versions VALUES (?, ?, ?, ?, ?, ?, ?)", ""},
        {"SELECT b.kind, b.record_id, b.field, b.op_id, b.base_op FROM field_bases b JOIN ops o ON o.id = b.op_id WHERE o.changeset = ?1",
         "INSERT INTO field_bases VALUES (?, ?, ?, ?, ?)", ""},
        {"SELECT r.kind, r.record_id, r.field, r.value, r.op_id, r.hlc, r.device FROM record_fields r JOIN ops o ON o.id = r.op_id WHERE o.changeset = ?1",
         "INSERT INTO record_fields VALUES (?, ?, ?, ?, ?, ?, ?)", ""},
        {"SELECT f.id, f.inspection_id, f.title, f.description, f.category, f.audit_category, f.severity, f.tags, f.immediate_fix, f.responsible_person, f.status, f.author, f.created_at FROM findings f JOIN ops o ON o.record_id = f.id AND o.kind = 'finding' WHERE o.changeset = ?1",
         "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ""},
    };
    // Load everything first so that only the inserts are timed.
    std::vector<std::vector<std::vector<std::vector<std::string>>>> batches;  // changeset -> table -> rows -> cells
    auto ids = src.prepare("SELECT id FROM changesets WHERE local = 1 ORDER BY seq");
    std::vector<std::string> changeSets;
    while (*ids->step()) changeSets.push_back(ids->text(0));
    for (const auto& cs : changeSets) {
        std::vector<std::vector<std::vector<std::string>>> perTable;
        for (const auto& t : tables) {
            auto s = src.prepare(t.select);
            s->bind(1, cs);
            std::vector<std::vector<std::string>> rows;
            while (*s->step()) {
                std::vector<std::string> row;
                for (int i = 0; i < s->columnCount(); ++i) row.push_back(s->isNull(i) ? std::string("\x01NULL") : s->text(i));
                rows.push_back(std::move(row));
            }
            perTable.push_back(std::move(rows));
        }
        batches.push_back(std::move(perTable));
    }
    auto t0 = Clock::now();
    for (const auto& batch : batches) {
        auto tx = sync::Transaction::begin(dst);
        if (!tx) die(tx.message());
        for (std::size_t t = 0; t < tables.size(); ++t) {
            for (const auto& row : batch[t]) {
                auto s = dst.prepare(tables[t].insert);
                for (std::size_t i = 0; i < row.size(); ++i) {
                    if (row[i] == "\x01NULL") s->bindNull(static_cast<int>(i + 1));
                    else s->bind(static_cast<int>(i + 1), row[i]);
                }
                if (auto r = s->run(); !r) die(r.message());
            }
        }
        if (auto c = tx->commit(); !c) die(c.message());
    }
    return msSince(t0);
}

json runOnce(const fs::path& base, int captures, int bulk) {
    crypto::Argon2Params kdf;  // the product default: the open figure excludes it explicitly
    json out;
    out["variant"] = sync::Db::encrypted() ? "sqlcipher" : "sqlite";

    // Durable single captures.
    {
        fs::path dir = base / "capture";
        std::string inspection = setUpStore(dir, kdf);
        auto ws = app::Workspace::open(dir, kPass);
        if (!ws) die(ws.message());
        std::vector<double> times;
        for (int i = 0; i < captures; ++i) {
            auto t0 = Clock::now();
            auto id = (*ws)->addFinding(finding(inspection, i));
            times.push_back(msSince(t0));
            if (!id) die(id.message());
        }
        out["capture_p50_ms"] = percentile(times, 0.50);
        out["capture_p99_ms"] = percentile(times, 0.99);
        out["captures"] = captures;
    }

    // Bulk import, then the raw insert floor, then open.
    {
        fs::path dir = base / "bulk";
        std::string inspection = setUpStore(dir, kdf);
        auto ws = app::Workspace::open(dir, kPass);
        if (!ws) die(ws.message());
        // Like `finding import`: the lines are parsed and checked up front, then committed one by one.
        std::vector<app::FindingInput> inputs;
        for (int i = 0; i < bulk; ++i) inputs.push_back(finding(inspection, i));
        auto t0 = Clock::now();
        for (const auto& in : inputs)
            if (auto id = (*ws)->addFinding(in); !id) die(id.message());
        out["bulk_ms"] = msSince(t0);
        out["bulk_findings"] = bulk;
        // Only the import's own change sets: drop set-up rows from the comparison by counting.
        out["raw_insert_ms"] = rawInsert((*ws)->store(), base / "raw");
        ws->reset();

        std::vector<double> opens;
        for (int i = 0; i < 5; ++i) {
            auto t1 = Clock::now();
            auto again = app::Workspace::open(dir, kPass);
            if (!again) die(again.message());
            auto count = (*again)->store().db().prepare("SELECT count(*) FROM findings");
            if (!count || !*count->step() || count->int64(0) < bulk) die("store lost findings");
            opens.push_back(msSince(t1));
        }
        std::vector<double> kdfs;
        auto salt = crypto::randomBytes(16);
        for (int i = 0; i < 5; ++i) {
            auto t2 = Clock::now();
            auto k = crypto::argon2id(kPass, *salt, kdf);
            if (!k) die("argon2 failed");
            kdfs.push_back(msSince(t2));
        }
        out["open_total_ms"] = percentile(opens, 0.5);
        out["kdf_ms"] = percentile(kdfs, 0.5);
        out["open_excluding_kdf_ms"] = std::max(0.0, percentile(opens, 0.5) - percentile(kdfs, 0.5));
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    int captures = 500;
    int bulk = 10000;
    int rounds = 2;
    std::string compare;
    fs::path base;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value for " + a);
            return argv[++i];
        };
        if (a == "--captures") captures = std::stoi(next());
        else if (a == "--bulk") bulk = std::stoi(next());
        else if (a == "--rounds") rounds = std::stoi(next());
        else if (a == "--compare") compare = next();
        else if (a == "--dir") base = next();
        else die("usage: bench_store [--captures N] [--bulk N] [--rounds N] [--dir DIR] [--compare PLAIN_BINARY]");
    }
    if (base.empty()) {
        std::string tmpl = (fs::temp_directory_path() / "xs-bench-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) die("mkdtemp failed");
        base = tmpl;
    }
    if (compare.empty()) {
        fs::remove_all(base / "run");
        json r = runOnce(base / "run", captures, bulk);
        fs::remove_all(base / "run");
        std::cout << r.dump() << std::endl;
        return 0;
    }
    // Alternate the two variants so that drift in the machine's load hits both alike.
    std::vector<json> cipher, plain;
    for (int round = 0; round < rounds; ++round) {
        std::string cmd = compare + " --captures " + std::to_string(captures) + " --bulk " + std::to_string(bulk) +
                          " --dir " + (base / "plain").string();
        FILE* p = popen(cmd.c_str(), "r");
        if (!p) die("cannot run " + compare);
        std::string text;
        char buf[4096];
        while (std::size_t n = fread(buf, 1, sizeof buf, p)) text.append(buf, n);
        if (pclose(p) != 0) die(compare + " failed");
        plain.push_back(json::parse(text));
        fs::remove_all(base / "run");
        cipher.push_back(runOnce(base / "run", captures, bulk));
        fs::remove_all(base / "run");
        std::cerr << "round " << round + 1 << "/" << rounds << " done\n";
    }
    fs::remove_all(base);
    auto median = [](const std::vector<json>& runs, const char* key) {
        std::vector<double> v;
        for (const auto& r : runs) v.push_back(r[key].get<double>());
        return percentile(v, 0.5);
    };
    std::printf("store benchmark: %d durable captures, bulk import of %d findings, median of %d alternating rounds\n\n",
                captures, bulk, rounds);
    std::printf("%-34s %12s %12s %8s\n", "measure", "SQLCipher", "plain SQLite", "ratio");
    for (const char* key : {"capture_p50_ms", "capture_p99_ms", "bulk_ms", "raw_insert_ms", "open_total_ms", "kdf_ms",
                            "open_excluding_kdf_ms"}) {
        double c = median(cipher, key), s = median(plain, key);
        std::printf("%-34s %12.2f %12.2f %8.2f\n", key, c, s, s > 0 ? c / s : 0.0);
    }
    double bulkRatio = median(cipher, "bulk_ms") / median(cipher, "raw_insert_ms");
    std::printf("\ntargets:\n");
    std::printf("  capture p99 SQLCipher / plain        %.2f  (target <= 1.30)\n",
                median(cipher, "capture_p99_ms") / median(plain, "capture_p99_ms"));
    std::printf("  bulk import / raw SQLCipher inserts  %.2f  (target <= 1.10)\n", bulkRatio);
    std::printf("  open+unlock excluding KDF            %.2f ms (target <= 50 ms)\n", median(cipher, "open_excluding_kdf_ms"));
    json all = {{"sqlcipher", cipher}, {"sqlite", plain}};
    std::cout << "\nraw: " << all.dump() << std::endl;
    return 0;
}
