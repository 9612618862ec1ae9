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

#include "app/enrolment.h"
#include "app/workspace.h"
#include "crypto/kdf.h"

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

// The lead's store (measured), enrolled by an audit office beside it (set-up only).
std::string setUpStore(const fs::path& dir, const crypto::Argon2Params& kdf) {
    auto office = app::Workspace::init(dir.string() + "-office", kPass, "吴敏", app::Role::AuditOffice, kdf);
    if (!office) die(office.message());
    json org = {{"units", {{{"code", "E01"}, {"name", "区生态环境监测站"}}}},
                {"people", {{{"code", "W01"}, {"name", "郑华"}, {"role", "working_group_lead"}},
                            {{"code", "W02"}, {"name", "冯磊"}, {"role", "working_group_member"}}}}};
    if (auto r = (*office)->importOrg(org); !r) die(r.message());
    if (auto k = app::createOfficeKey(**office); !k) die(k.message());
    auto ws = app::Workspace::init(dir, kPass, "郑华", app::Role::WorkingGroupLead, kdf);
    if (!ws) die(ws.message());
    app::Workspace& w = **ws;
    auto device = app::devicePublicJson(w);
    if (!device) die(device.message());
    if (auto e = app::enrolDevice(**office, *device); !e) die(e.message());
    auto file = app::exportEnrolment(**office, "", "");
    if (!file) die(file.message());
    if (auto a = app::acceptEnrolment(w, *file); !a) die(a.message());
    app::InspectionInput in;
    in.unit = "E01";
    in.start = app::formatDate(w.today() - 1);
    auto id = w.createInspection(in);
    if (!id) die(id.message());
    // On its team as its planner: the confidentiality agreement first (article 7(4)).
    if (auto s = w.signAgreement(*id); !s) die(s.message());
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
    struct Table { const char* select; const char* insert; };
    // Rows grouped by change set. Projection rows are found through the ops of the change set
    // (each lookup uses a primary-key prefix: kind, record_id).
    const std::vector<Table> tables = {
        {"SELECT id, device, seq, hlc, prev_hash, hash, signature, deps, vv, op_count, local, verdict FROM changesets WHERE id = ?1",
         "INSERT INTO changesets (id, device, seq, hlc, prev_hash, hash, signature, deps, vv, op_count, local, verdict)"
         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
        {"SELECT id, changeset, idx, channel, kind, record_id, hlc, device, epoch, body FROM ops WHERE changeset = ?1",
         "INSERT INTO ops (id, changeset, idx, channel, kind, record_id, hlc, device, epoch, body)"
         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
        {"SELECT kind, record_id, field, op_id, hlc, device, seq, value, winner FROM field_versions WHERE kind = ?2 AND record_id = ?3 AND op_id = ?4",
         "INSERT INTO field_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"},
        {"SELECT kind, record_id, field, op_id, base_op FROM field_bases WHERE kind = ?2 AND record_id = ?3 AND op_id = ?4",
         "INSERT INTO field_bases VALUES (?, ?, ?, ?, ?)"},
        {"SELECT id, inspection_id, title, description, category, audit_category, severity, tags, immediate_fix, responsible_person, status, author, created_at FROM findings WHERE ?2 = 'finding' AND id = ?3 AND ?4 = ?4",
         "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
    };
    // Load everything first so that only the inserts are timed.
    using Rows = std::vector<std::vector<std::string>>;
    std::vector<std::vector<Rows>> batches;  // change set -> table -> rows
    auto ids = src.prepare("SELECT id FROM changesets WHERE local = 1 ORDER BY seq");
    std::vector<std::string> changeSets;
    while (*ids->step()) changeSets.push_back(ids->text(0));
    auto collect = [](sync::Stmt& s, Rows& rows) {
        while (*s.step()) {
            std::vector<std::string> row;
            // Cells keep their storage class: "\x01N" null, "\x02<digits>" integer, "\x03<bytes>"
            // blob, else text.
            for (int i = 0; i < s.columnCount(); ++i) {
                if (s.isNull(i)) row.push_back("\x01N");
                else if (s.columnType(i) == 1) row.push_back("\x02" + std::to_string(s.int64(i)));
                else if (s.columnType(i) == 4) {
                    crypto::Bytes b = s.blob(i);
                    row.push_back("\x03" + std::string(b.begin(), b.end()));
                }
                else row.push_back(s.text(i));
            }
            rows.push_back(std::move(row));
        }
    };
    for (const auto& cs : changeSets) {
        std::vector<Rows> perTable(tables.size());
        for (std::size_t t = 0; t < 2; ++t) {
            auto s = src.prepare(tables[t].select);
            s->bind(1, cs);
            collect(*s, perTable[t]);
        }
        for (const auto& op : perTable[1]) {  // id, changeset, idx, channel, kind, record_id, ...
            for (std::size_t t = 2; t < tables.size(); ++t) {
                auto s = src.prepare(tables[t].select);
                s->bind(1, cs).bind(2, op[4]).bind(3, op[5]).bind(4, op[0]);
                collect(*s, perTable[t]);
            }
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
                    int p = static_cast<int>(i + 1);
                    if (row[i] == "\x01N") s->bindNull(p);
                    else if (!row[i].empty() && row[i][0] == '\x02') s->bind(p, std::int64_t{std::stoll(row[i].substr(1))});
                    else if (!row[i].empty() && row[i][0] == '\x03') s->bindBlob(p, crypto::asBytes(row[i]).subspan(1));
                    else s->bind(p, row[i]);
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

        // Open+unlock: Workspace::open (key file, Argon2id, unwrap, SQLCipher key, migrations check,
        // op log state) and the first read; the KDF time is measured inside the same open.
        std::vector<double> opens, kdfs, excluding;
        for (int i = 0; i < 5; ++i) {
            auto t1 = Clock::now();
            auto again = app::Workspace::open(dir, kPass);
            if (!again) die(again.message());
            auto count = (*again)->store().db().prepare("SELECT count(*) FROM findings");
            if (!count || !*count->step() || count->int64(0) < bulk) die("store lost findings");
            double total = msSince(t1);
            double kdfMs = (*again)->store().openTimings().kdfMs;
            opens.push_back(total);
            kdfs.push_back(kdfMs);
            excluding.push_back(total - kdfMs);
        }
        out["open_total_ms"] = percentile(opens, 0.5);
        out["kdf_ms"] = percentile(kdfs, 0.5);
        out["open_excluding_kdf_ms"] = percentile(excluding, 0.5);
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
