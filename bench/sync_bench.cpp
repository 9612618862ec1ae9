// Sync benchmark (issue 11, item 11): the product's online sync against a real xunshen-server
// process on loopback HTTPS, set up through xunshenctl as tests/e2e/sync_test.cpp does, with the
// measured rounds driven in-process through the app library (app::Session, the engine behind
// `xunshenctl sync` and the desktop client) unless a measure says otherwise. docs/BENCHMARKS.md,
// "Sync", says what each figure is exactly.
//
//   push/pull   an inspector's first round after `finding import` of N findings (Session::syncOnce:
//               hello, push, pull), and a fresh replica of another team member's first round
//               (pulls everything), against raw HTTPS POSTs and GETs of the very same bodies to a
//               bare httplib::SSLServer in this process with the server's certificate and settings
//   apply       a third fresh replica applies the captured pull answers through the one apply
//               path (sync/apply.h), as SyncClient::round does, without the network
//   incremental rounds with nothing changed, and with 100 findings edited (the editor's round,
//               then the other member's round), through Session::syncOnce (a new connection per
//               round, as the front ends do), through one SyncClient on a kept connection, and
//               as `xunshenctl sync` processes
//   notice      `notice issue` by the lead, then the lead's `sync`, to the unit head's
//               `sync --watch --json` printing it (all real processes)
//   devices     D enrolled devices (stores made in-process through the app library, enrolled
//               by the office) each pushing its C change sets one per request, all at once
#include <stdlib.h>

#include <latch>
#include <numeric>
#include <set>

#include "app/enrolment.h"
#include "app/session.h"
#include "app/workspace.h"
#include "bench/sync_bench_support.h"
#include "sync/apply.h"
#include "sync/changeset_codec.h"
#include "sync/net/client.h"
#include "sync/net/protocol.h"

using namespace xs;
using namespace xs::bench;

namespace {

struct Options {
    int findings = 10000;
    int devices = 50;     // the full figure: --devices 200
    int changes = 100;    // per device
    int rounds = 3;
    int trials = 12;      // notices
    int idle = 10;        // idle rounds per round
    int edits = 100;
    std::set<std::string> only;
    fs::path dir;
    bool keep = false;
    bool wants(const std::string& s) const { return only.empty() || only.count(s); }
};

const crypto::Argon2Params kCheapParams{.iterations = 1, .memoryKiB = 8192, .parallelism = 1};

template <typename R>
auto value(R&& r, const std::string& what) {
    if (!r) die(what + ": " + r.message());
    return std::move(*r);
}

double median(const std::vector<double>& v) { return percentile(v, 0.5); }

// Every figure of the run, by name, one value per round; printed at the end.
struct Results {
    std::map<std::string, std::vector<double>> series;
    std::vector<std::string> order;
    void add(const std::string& key, double v) {
        if (!series.count(key)) order.push_back(key);
        series[key].push_back(v);
    }
    bool has(const std::string& key) const { return series.count(key) > 0; }
    double med(const std::string& key) const { return has(key) ? median(series.at(key)) : -1; }
};

std::string findingLine(const std::string& inspection, int i, const std::string& tag) {
    return json{{"inspection", inspection},
                {"title", "公务接待未严格执行审批制度 " + tag + "-" + std::to_string(i)},
                {"description", "2025年度12批次公务接待无事前审批单，其中3批次超标准接待，涉及金额1.86万元。现场核查记录第" +
                                    std::to_string(i) + "号，经办人已签字确认。"},
                {"severity", i % 3 == 0 ? "high" : "medium"},
                {"responsible_person", "办公室负责人"}}
               .dump() +
           "\n";
}

std::size_t opsIn(const std::vector<sync::ChangeSet>& sets) {
    std::size_t n = 0;
    for (const auto& cs : sets) n += cs.ops.size();
    return n;
}

// ---- push/pull of N findings, the raw transfer, and the apply of the pulled answers

// The bodies the client's pushMissing sends for this store's own change sets (the server lacks
// exactly those), cut by the same rules (kMaxPushChangeSets, kPushTargetBytes).
std::vector<std::string> pushBodies(app::Workspace& ws, std::size_t& changeSets, std::size_t& ops) {
    const std::string me = ws.log().identity().publicInfo().id;
    auto ids = value(ws.log().changeSetIdsAfter(me, 0), "change sets");
    std::vector<std::string> bodies;
    std::string body;
    std::size_t n = 0;
    changeSets = ops = 0;
    for (const auto& id : ids) {
        auto cs = value(ws.log().changeSet(id), "change set");
        if (cs.isWithheld()) continue;
        if (n == sync::net::kMaxPushChangeSets || body.size() >= sync::net::kPushTargetBytes) {
            bodies.push_back(body + "]}");
            n = 0;
        }
        if (n == 0) body = "{\"changesets\":[";
        else body += ',';
        body += sync::changeSetToJson(cs).dump();
        ++n;
        ++changeSets;
        ops += cs.ops.size();
    }
    if (n) bodies.push_back(body + "]}");
    return bodies;
}

// What the server answers a fresh device's pulls from cursor 0 (signed GETs as that device,
// the targets the client uses), until caught up.
std::vector<std::string> capturePulls(app::Workspace& ws, const ServerChild& server, std::size_t& changeSets,
                                      std::size_t& ops) {
    auto conn = value(sync::net::Connection::open({server.url(), server.pin()}, ws.log().identity()), "connection");
    std::vector<std::string> answers;
    std::int64_t cursor = 0;
    changeSets = ops = 0;
    for (;;) {
        const std::string target = std::string(sync::net::kRoutePull) + "?after=" + std::to_string(cursor) +
                                   "&limit=" + std::to_string(sync::net::kMaxPullChangeSets) + "&wait=0";
        auto a = value(conn->request("GET", target, "", 120), "pull");
        if (a.status != 200) die("pull: HTTP " + std::to_string(a.status) + ": " + a.body);
        auto parsed = value(sync::net::parsePullAnswer(a.body), "pull answer");
        changeSets += parsed.changeSets.size();
        ops += opsIn(parsed.changeSets);
        cursor = parsed.cursor;
        answers.push_back(std::move(a.body));
        if (!parsed.more) break;
    }
    return answers;
}

struct ApplyTiming {
    double totalMs = 0, parseMs = 0;
    std::size_t applied = 0;
};

// SyncClient::round's apply of each pulled answer: parse, one ApplySession per answer, the
// cursor committed with it.
ApplyTiming applyAnswers(app::Workspace& ws, const std::string& url, const std::vector<std::string>& answers) {
    ApplyTiming t;
    const std::string key = sync::net::cursorMetaKey(url);
    auto t0 = Clock::now();
    for (const auto& body : answers) {
        auto p0 = Clock::now();
        auto parsed = value(sync::net::parsePullAnswer(body), "pull answer");
        t.parseMs += msSince(p0);
        auto session = value(sync::ApplySession::begin(ws.log()), "apply session");
        for (const auto& cs : parsed.changeSets) value(session->add(cs), "apply " + cs.id);
        const std::int64_t next = parsed.cursor;
        auto done = value(session->commit([&] { return ws.store().setMeta(key, std::to_string(next)); }), "commit");
        t.applied += done.applied;
    }
    t.totalMs = msSince(t0);
    return t;
}

// The push/pull world: office, server, the lead, the inspector who imports, and two fresh
// devices of 何芳 (W03): one pulls through the product, one applies the captured answers.
// Set up and imported once, then kept as a template that every round starts from.
class PushPull {
public:
    PushPull(const Options& o, Results& res) : m_o(o), m_res(res), m_dir(o.dir / "pushpull"), m_world(m_dir) {
        m_lead = m_world.enrol("lead", "郑华", "working_group_lead");
        m_insp = m_world.enrol("insp", "冯磊", "working_group_member");
        m_puller = m_world.enrol("puller", "何芳", "working_group_member");
        m_applier = m_world.enrol("applier", "何芳", "working_group_member");
        m_world.officeSync();
        m_inspection = planInspection(m_lead, "W02,W03");
        m_insp.sync();
        m_insp.must({"agreement", "sign", m_inspection});  // article 7(4), before capturing
        std::string text;
        for (int i = 0; i < o.findings; ++i) text += findingLine(m_inspection, i, "pp");
        const fs::path file = o.dir / "pushpull-import.jsonl";
        test::writeAll(file, text);
        auto t0 = Clock::now();
        m_insp.must({"finding", "import", file.string()});
        std::printf("  set-up: finding import of %d findings took %.1f s (not a measure here: see bench_store)\n",
                    o.findings, msSince(t0) / 1000);
        m_world.server().stop();
        {
            auto ws = value(app::Workspace::open(m_insp.store, kPass), "open inspector");
            m_pushBodies = pushBodies(*ws, m_pushSets, m_pushOps);
        }
        for (const auto& b : m_pushBodies) m_pushBytes += b.size();
        fs::copy(m_dir, m_dir.string() + ".template", fs::copy_options::recursive);
    }

    void round(int r) {
        fs::remove_all(m_dir);
        fs::copy(m_dir.string() + ".template", m_dir, fs::copy_options::recursive);
        ServerChild& server = m_world.server();
        server.start();
        RawServer raw(server.certPem(), server.keyPem());
        const std::string rawUrl = "https://127.0.0.1:" + std::to_string(raw.port());
        const bool rawFirst = r % 2 == 1;
        requestFloor(server, raw);

        for (int side = 0; side < 2; ++side) {
            if ((side == 0) == rawFirst) rawPush(rawUrl, server.pin());
            else productPush();
        }
        auto applier = value(app::Workspace::open(m_applier.store, kPass), "open applier");
        if (m_pullAnswers.empty()) {
            m_pullAnswers = capturePulls(*applier, server, m_pullSets, m_pullOps);
            for (const auto& a : m_pullAnswers) m_pullBytes += a.size();
        }
        raw.setAnswers(m_pullAnswers);
        for (int side = 0; side < 2; ++side) {
            if ((side == 0) == rawFirst) rawPull(rawUrl, server.pin());
            else productPull();
        }
        ApplyTiming t = applyAnswers(*applier, server.url(), m_pullAnswers);
        if (t.applied == 0) die("apply: nothing applied");
        m_applied = t.applied;
        m_res.add("apply_ms", t.totalMs);
        m_res.add("apply_parse_ms", t.parseMs);
        m_res.add("apply_ops_per_s", static_cast<double>(m_pullOps) / (t.totalMs / 1000));
        if (r + 1 < m_o.rounds) server.stop();
    }

    void report() const {
        std::printf("  push: %zu change sets, %zu ops, %zu bodies, %.1f MB; pull: %zu change sets, %zu ops, %zu answers, %.1f MB\n",
                    m_pushSets, m_pushOps, m_pushBodies.size(), static_cast<double>(m_pushBytes) / 1e6, m_pullSets, m_pullOps,
                    m_pullAnswers.size(), static_cast<double>(m_pullBytes) / 1e6);
        std::printf("  apply: %zu of the %zu pulled change sets newly accepted\n", m_applied, m_pullSets);
    }

    // ---- incremental rounds, on the last round's world (server still running)
    void incremental();

    const Cli& inspector() const { return m_insp; }

private:
    // One small request on a kept connection, median of 30: xunshen-server's unsigned health
    // route, the raw server as configured like it, and the raw server with TCP_NODELAY.
    void requestFloor(const ServerChild& server, const RawServer& raw) {
        RawServer fast(server.certPem(), server.keyPem(), true);
        struct Side { const char* key; std::string url, target; };
        const std::vector<Side> sides = {
            {"small_get_server_health_ms", server.url(), sync::net::kRouteHealth},
            {"small_get_raw_ms", "https://127.0.0.1:" + std::to_string(raw.port()), "/tiny"},
            {"small_get_raw_nodelay_ms", "https://127.0.0.1:" + std::to_string(fast.port()), "/tiny"}};
        for (const auto& side : sides) {
            RawClient c(side.url, server.pin());
            c.get(side.target);  // the TLS handshake
            std::vector<double> ms;
            for (int i = 0; i < 30; ++i) {
                auto t0 = Clock::now();
                c.get(side.target);
                ms.push_back(msSince(t0));
            }
            m_res.add(side.key, median(ms));
        }
    }

    void productPush() {
        auto s = value(app::Session::open(m_insp.store, kPass), "open inspector");
        auto t0 = Clock::now();
        auto r = value(s->syncOnce(), "push round");
        double ms = msSince(t0);
        if (static_cast<std::size_t>(r.pushed) != m_pushSets)
            die("push round sent " + std::to_string(r.pushed) + " of " + std::to_string(m_pushSets));
        m_res.add("push_ms", ms);
        m_res.add("push_ops_per_s", static_cast<double>(m_pushOps) / (ms / 1000));
        m_res.add("push_changesets_per_s", static_cast<double>(m_pushSets) / (ms / 1000));
    }
    void rawPush(const std::string& url, const std::string& pin) {
        RawClient c(url, pin);
        auto t0 = Clock::now();
        for (const auto& b : m_pushBodies) c.post("/raw", b);
        double ms = msSince(t0);
        m_res.add("raw_post_ms", ms);
        m_res.add("raw_post_ops_per_s", static_cast<double>(m_pushOps) / (ms / 1000));
    }
    void productPull() {
        auto s = value(app::Session::open(m_puller.store, kPass), "open puller");
        auto t0 = Clock::now();
        auto r = value(s->syncOnce(), "pull round");
        double ms = msSince(t0);
        if (static_cast<std::size_t>(r.pulled) != m_pullSets)
            die("pull round received " + std::to_string(r.pulled) + " of " + std::to_string(m_pullSets));
        m_res.add("pull_ms", ms);
        m_res.add("pull_ops_per_s", static_cast<double>(m_pullOps) / (ms / 1000));
        m_res.add("pull_changesets_per_s", static_cast<double>(m_pullSets) / (ms / 1000));
    }
    void rawPull(const std::string& url, const std::string& pin) {
        RawClient c(url, pin);
        std::size_t bytes = 0;
        auto t0 = Clock::now();
        for (std::size_t i = 0; i < m_pullAnswers.size(); ++i) bytes += c.get("/raw?i=" + std::to_string(i)).size();
        double ms = msSince(t0);
        if (bytes != m_pullBytes) die("raw pull: wrong size");
        m_res.add("raw_get_ms", ms);
        m_res.add("raw_get_ops_per_s", static_cast<double>(m_pullOps) / (ms / 1000));
    }

    const Options& m_o;
    Results& m_res;
    fs::path m_dir;
    World m_world;
    Cli m_lead, m_insp, m_puller, m_applier;
    std::string m_inspection;
    std::vector<std::string> m_pushBodies, m_pullAnswers;
    std::size_t m_applied = 0;
    std::size_t m_pushSets = 0, m_pushOps = 0, m_pushBytes = 0, m_pullSets = 0, m_pullOps = 0, m_pullBytes = 0;
};

void PushPull::incremental() {
    std::vector<std::string> ids;
    {
        auto s = value(app::Session::open(m_insp.store, kPass), "open inspector");
        for (const auto& f : value(s->findings(), "findings")) ids.push_back(f.id);
    }
    if (ids.size() < static_cast<std::size_t>(m_o.edits)) die("too few findings to edit");
    std::size_t next = 0;
    auto edit = [&](auto&& editOne) {
        for (int i = 0; i < m_o.edits; ++i) editOne(ids[next++ % ids.size()]);
    };
    for (int r = 0; r < m_o.rounds; ++r) {
        // Through Session::syncOnce: what xunshenctl and the desktop client call.
        {
            auto insp = value(app::Session::open(m_insp.store, kPass), "open inspector");
            auto other = value(app::Session::open(m_puller.store, kPass), "open puller");
            value(insp->syncOnce(), "warm-up round");
            value(other->syncOnce(), "warm-up round");
            for (int i = 0; i < m_o.idle; ++i) {
                auto t0 = Clock::now();
                auto x = value(insp->syncOnce(), "idle round");
                m_res.add("idle_session_ms", msSince(t0));
                if (x.pushed || x.pulled) die("an idle round moved something");
            }
            edit([&](const std::string& id) {
                app::FindingEdit e;
                e.description = "复核后补充说明 " + std::to_string(r) + "-" + id.substr(30);
                if (auto s = insp->editFinding(id, e); !s) die("edit: " + s.message());
            });
            auto t0 = Clock::now();
            auto x = value(insp->syncOnce(), "edit round");
            m_res.add("edits_push_session_ms", msSince(t0));
            if (x.pushed != m_o.edits) die("edit round pushed " + std::to_string(x.pushed));
            t0 = Clock::now();
            auto y = value(other->syncOnce(), "edit pull round");
            m_res.add("edits_pull_session_ms", msSince(t0));
            if (y.pulled != m_o.edits) die("edit pull round pulled " + std::to_string(y.pulled));
        }
        // One SyncClient on a kept connection: the round without the connection set-up.
        {
            auto ws = value(app::Workspace::open(m_insp.store, kPass), "open inspector");
            ServerChild& server = m_world.server();
            sync::net::SyncClient client(value(sync::net::Connection::open({server.url(), server.pin()}, ws->log().identity()), "connection"),
                                         ws->log(), ws->store());
            value(client.round(), "warm-up round");
            for (int i = 0; i < m_o.idle; ++i) {
                auto t0 = Clock::now();
                auto x = value(client.round(), "idle round");
                m_res.add("idle_kept_ms", msSince(t0));
                if (x.pushed || x.pulled) die("an idle round moved something");
            }
            edit([&](const std::string& id) {
                if (auto s = ws->editFinding(id, json{{"description", "再次复核 " + std::to_string(r) + "-" + id.substr(30)}}); !s)
                    die("edit: " + s.message());
            });
            auto t0 = Clock::now();
            auto x = value(client.round(), "edit round");
            m_res.add("edits_push_kept_ms", msSince(t0));
            if (x.pushed != static_cast<std::size_t>(m_o.edits)) die("edit round pushed " + std::to_string(x.pushed));
        }
        m_puller.sync();
        // The CLI: process start, store open (this store's cheap KDF), one round, exit.
        for (int i = 0; i < m_o.idle; ++i) {
            auto t0 = Clock::now();
            m_insp.must({"sync"});
            m_res.add("idle_cli_ms", msSince(t0));
        }
    }
}

// ---- notice latency

void noticeLatency(const Options& o, Results& res) {
    World w(o.dir / "notice");
    Cli lead = w.enrol("lead", "郑华", "working_group_lead");
    Cli insp = w.enrol("insp", "冯磊", "working_group_member");
    Cli head = w.enrol("head", "高峰", "unit_head");
    w.officeSync();
    const std::string inspection = planInspection(lead, "W02", {"--lead", "W01"});
    insp.sync();
    for (const Cli* who : {&lead, &insp}) who->must({"agreement", "sign", inspection});  // article 7(4)
    std::vector<std::string> findings;
    for (int t = 0; t < o.trials; ++t) {
        std::string id = insp.must({"finding", "add", "--inspection", inspection, "--title", "危废暂存间台账缺失 " + std::to_string(t),
                                    "--description", "现场检查发现危险废物暂存间无出入库台账", "--immediate-fix"})
                             .substr(0, 36);
        insp.must({"finding", "transition", id, "--to", "submitted"});
        findings.push_back(id);
    }
    insp.sync();
    lead.sync();
    for (const auto& id : findings) lead.must({"finding", "transition", id, "--to", "confirmed"});
    lead.sync();
    head.sync();
    test::Child watch({"--store", head.store.string(), "--json", "sync", "--watch"}, head.env());
    std::vector<std::string> lines;
    auto drain = [&](int ms) {
        auto t0 = Clock::now();
        while (msSince(t0) < ms) watch.readLines(lines, 50);
        lines.clear();
    };
    drain(1000);  // the watcher in its long-poll
    for (int t = 0; t < o.trials; ++t) {
        auto t0 = Clock::now();
        std::string notice = lead.must({"notice", "issue", "--finding", findings[t], "--problem", "危险废物暂存间未建立出入库台账",
                                        "--action", "立即建立台账并补录本年度记录", "--deadline", "2099-12-31"})
                                 .substr(0, 36);
        double issued = msSince(t0);
        double synced = -1;
        std::thread leadSync([&] {
            lead.must({"sync"});
            synced = msSince(t0);
        });
        double printed = -1;
        while (printed < 0 && msSince(t0) < 30000) {
            if (!watch.readLines(lines, 20)) die("sync --watch ended");
            for (const auto& l : lines) {
                auto j = json::parse(l, nullptr, false);
                if (j.is_object() && j.value("event", "") == "notice_issued" && j.value("id", "") == notice) printed = msSince(t0);
            }
            lines.clear();
        }
        leadSync.join();
        if (printed < 0) die("the notice was not printed within 30 s");
        res.add("notice_latency_ms", printed);
        res.add("notice_issue_process_ms", issued);
        res.add("notice_sync_process_ms", synced - issued);
        res.add("notice_printed_after_issue_exit_ms", printed - issued);
        drain(500);  // back into its long-poll
    }
    watch.kill9();
    watch.wait();
}

// ---- concurrent devices

struct DeviceLoad {
    std::unique_ptr<app::Workspace> ws;
    std::vector<std::string> bodies;  // one change set each
    std::vector<double> latencies;
    int errors = 0;      // any of the three below
    int failed = 0;      // no 2xx answer (transport error, timeout, refusal)
    int notStored = 0;   // answered, but the change set not among "stored", or "refused"
    int withHeld = 0;    // answered, and the server lists chains it holds (waiting for a link)
    std::string firstError;
};

// One round of `ws` with the server (SyncClient on a new connection, as Session::syncOnce).
sync::net::RoundReport roundOf(app::Workspace& ws, const ServerChild& server) {
    sync::net::SyncClient client(value(sync::net::Connection::open({server.url(), server.pin()}, ws.log().identity()), "connection"),
                                 ws.log(), ws.store());
    return value(client.round(), "round");
}

void devices(const Options& o, Results& res) {
    World w(o.dir / "devices");
    Cli lead = w.enrol("lead", "郑华", "working_group_lead");
    ServerChild& server = w.server();
    auto t0 = Clock::now();
    std::vector<DeviceLoad> load(static_cast<std::size_t>(o.devices));
    {
        // The office enrols every device first, so that the lead's plan wraps the team key to
        // all of them (the lead administers the channel, not the office).
        auto office = value(app::Workspace::open(w.office().store, kPass), "open office");
        const char* names[] = {"冯磊", "何芳", "许杰"};
        for (int i = 0; i < o.devices; ++i) {
            auto& d = load[static_cast<std::size_t>(i)];
            d.ws = value(app::Workspace::init(o.dir / "devices" / ("d" + std::to_string(i)), kPass, names[i % 3],
                                              app::Role::WorkingGroupMember, kCheapParams),
                         "device store");
            value(app::enrolDevice(*office, value(app::devicePublicJson(*d.ws), "device file")), "enrol device");
        }
        const std::string enrolment = value(app::exportEnrolment(*office, server.url(), server.pin()), "enrolment");
        for (auto& d : load) value(app::acceptEnrolment(*d.ws, enrolment), "accept enrolment");
        roundOf(*office, server);
    }
    const std::string inspection = planInspection(lead, "W02,W03,W04");
    for (auto& d : load) {
        roundOf(*d.ws, server);  // the plan and the team key
        if (auto signedIt = d.ws->signAgreement(inspection); !signedIt)  // article 7(4), before capturing
            die("sign the agreement: " + signedIt.message());
    }
    std::printf("  set-up: %d device stores made and enrolled in-process in %.1f s\n", o.devices, msSince(t0) / 1000);
    t0 = Clock::now();
    std::size_t total = 0;
    for (int i = 0; i < o.devices; ++i) {
        auto& d = load[static_cast<std::size_t>(i)];
        for (int c = 0; c < o.changes; ++c) {
            app::FindingInput f;
            f.inspection = inspection;
            f.title = "设备" + std::to_string(i) + " 问题 " + std::to_string(c);
            f.description = "固定资产台账与实物不符，抽查" + std::to_string(c) + "项，差异金额待核实。";
            value(d.ws->addFinding(f), "capture");
        }
        const std::string me = d.ws->log().identity().publicInfo().id;
        for (const auto& id : value(d.ws->log().changeSetIdsAfter(me, 0), "change sets"))
            d.bodies.push_back("{\"changesets\":[" + sync::changeSetToJson(value(d.ws->log().changeSet(id), "cs")).dump() + "]}");
        total += d.bodies.size();
    }
    std::printf("  set-up: %zu change sets captured in %.1f s\n", total, msSince(t0) / 1000);
    const long rssBefore = server.vmKiB("VmRSS");

    std::latch ready(o.devices + 1);
    std::vector<std::thread> threads;
    for (auto& d : load) {
        threads.emplace_back([&d, &server, &ready] {
            auto conn = sync::net::Connection::open({server.url(), server.pin()}, d.ws->log().identity());
            ready.arrive_and_wait();
            if (!conn) {
                d.errors = d.failed = static_cast<int>(d.bodies.size());
                d.firstError = conn.message();
                return;
            }
            for (const auto& body : d.bodies) {
                // A failed request is sent again, as the product's next round would send what
                // the server lacks (pushes are idempotent); each failure counts as an error.
                for (int attempt = 0; attempt < 10; ++attempt) {
                    auto s = Clock::now();
                    auto j = (*conn)->call("POST", sync::net::kRoutePush, body, 120);
                    d.latencies.push_back(msSince(s));
                    const bool failed = !j;
                    const bool notStored = j && ((*j)["stored"].size() != 1 || !(*j)["refused"].empty());
                    const bool withHeld = j && !(*j)["held"].empty();
                    d.failed += failed;
                    d.notStored += notStored;
                    d.withHeld += withHeld;
                    if (failed || notStored || withHeld) {
                        if (!d.errors) {
                            d.firstError = j ? j->dump().substr(0, 600) : j.message();
                            std::fprintf(stderr, "  first error of a device: %s\n", d.firstError.c_str());
                        }
                        ++d.errors;
                    }
                    if (!failed) break;
                }
            }
        });
    }
    ready.arrive_and_wait();
    t0 = Clock::now();
    for (auto& t : threads) t.join();
    const double wallMs = msSince(t0);
    std::vector<double> all;
    int errors = 0, failed = 0, notStored = 0, withHeld = 0;
    for (const auto& d : load) {
        all.insert(all.end(), d.latencies.begin(), d.latencies.end());
        errors += d.errors;
        failed += d.failed;
        notStored += d.notStored;
        withHeld += d.withHeld;
    }
    res.add("devices_requests", static_cast<double>(all.size()));
    res.add("devices_errors", errors);
    res.add("devices_failed_requests", failed);
    res.add("devices_not_stored", notStored);
    res.add("devices_answers_with_held", withHeld);
    res.add("devices_p50_ms", percentile(all, 0.5));
    res.add("devices_p99_ms", percentile(all, 0.99));
    res.add("devices_max_ms", percentile(all, 1.0));
    res.add("devices_requests_per_s", static_cast<double>(all.size()) / (wallMs / 1000));
    res.add("devices_wall_s", wallMs / 1000);
    res.add("server_rss_before_mib", static_cast<double>(rssBefore) / 1024);
    res.add("server_peak_rss_mib", static_cast<double>(server.vmKiB("VmHWM")) / 1024);
}

// ---- report

void printTable(const Results& res) {
    std::printf("\n%-32s %12s %12s %12s  %s\n", "measure", "median", "min", "max", "rounds");
    for (const auto& key : res.order) {
        const auto& v = res.series.at(key);
        std::printf("%-32s %12.2f %12.2f %12.2f  %zu\n", key.c_str(), median(v), *std::min_element(v.begin(), v.end()),
                    *std::max_element(v.begin(), v.end()), v.size());
    }
}

void target(const char* what, double v, const char* unit, bool atLeast, double goal) {
    if (v < 0) return;
    bool met = atLeast ? v >= goal : v <= goal;
    std::printf("  %-44s %10.2f %-5s (goal %s %g %s)  %s\n", what, v, unit, atLeast ? ">=" : "<=", goal, unit, met ? "met" : "MISSED");
}

void printTargets(const Results& r) {
    std::printf("\ntargets:\n");
    target("push ops/s (Session round)", r.med("push_ops_per_s"), "op/s", true, 20000);
    target("pull ops/s (fresh replica's round)", r.med("pull_ops_per_s"), "op/s", true, 20000);
    if (r.has("push_ms") && r.has("raw_post_ms"))
        target("push rate / raw POST rate", 100 * r.med("raw_post_ms") / r.med("push_ms"), "%", true, 50);
    if (r.has("pull_ms") && r.has("raw_get_ms"))
        target("pull rate / raw GET rate", 100 * r.med("raw_get_ms") / r.med("pull_ms"), "%", true, 50);
    target("idle round (Session::syncOnce)", r.med("idle_session_ms"), "ms", false, 5);
    target("idle round (kept connection)", r.med("idle_kept_ms"), "ms", false, 5);
    target("100 edits, editor's round (Session)", r.med("edits_push_session_ms"), "ms", false, 25);
    target("100 edits, editor's round (kept conn.)", r.med("edits_push_kept_ms"), "ms", false, 25);
    target("100 edits, other member's round (Session)", r.med("edits_pull_session_ms"), "ms", false, 25);
    if (r.has("notice_latency_ms"))
        target("notice issue -> printed by sync --watch, p50", percentile(r.series.at("notice_latency_ms"), 0.5), "ms", false, 50);
    target("devices: errors", r.med("devices_errors"), "", false, 0);
    target("devices: request p99", r.med("devices_p99_ms"), "ms", false, 250);
    target("apply of the pulled ops on a fresh replica", r.med("apply_ms") / 1000, "s", false, 2);
}

int usage() {
    std::fprintf(stderr,
                 "usage: bench_sync [--findings N] [--devices N] [--changes N] [--rounds N] [--trials N] [--idle N]\n"
                 "                  [--only pushpull,incremental,notice,devices] [--dir DIR] [--keep] [--quick]\n"
                 "  defaults: --findings 10000 --devices 50 --changes 100 --rounds 3 --trials 12 --idle 10\n"
                 "  --quick   --findings 2000 --devices 20 --rounds 1 --trials 10 --idle 10\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    Options o;
    try {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            auto next = [&]() -> std::string {
                if (i + 1 >= argc) throw std::invalid_argument(a);
                return argv[++i];
            };
            if (a == "--findings") o.findings = std::stoi(next());
            else if (a == "--devices") o.devices = std::stoi(next());
            else if (a == "--changes") o.changes = std::stoi(next());
            else if (a == "--rounds") o.rounds = std::stoi(next());
            else if (a == "--trials") o.trials = std::stoi(next());
            else if (a == "--idle") o.idle = std::stoi(next());
            else if (a == "--dir") o.dir = next();
            else if (a == "--keep") o.keep = true;
            else if (a == "--quick") {
                o.findings = 2000;
                o.devices = 20;
                o.rounds = 1;
                o.trials = 10;
            } else if (a == "--only") {
                std::string list = next();
                for (std::size_t p = 0; p <= list.size();) {
                    auto c = list.find(',', p);
                    if (c == std::string::npos) c = list.size();
                    o.only.insert(list.substr(p, c - p));
                    p = c + 1;
                }
            } else return usage();
        }
    } catch (const std::exception&) {
        return usage();
    }
    if (o.rounds < 1 || o.findings < o.edits || o.devices < 1 || o.trials < 1) return usage();
    if (o.dir.empty()) {
        std::string tmpl = (fs::temp_directory_path() / "xs-bench-sync-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) die("mkdtemp failed");
        o.dir = tmpl;
    } else {
        fs::create_directories(o.dir);
    }

    std::printf("sync benchmark: %d findings, %d devices x %d change sets, %d round(s), %d notice trials, loopback HTTPS\n",
                o.findings, o.devices, o.changes, o.rounds, o.trials);
    std::printf("xunshenctl %s, xunshen-server %s; stores with Argon2id m=8 MiB t=1 p=1 (the tests')\n", test::cliPath().c_str(),
                test::serverPath().c_str());
    Results res;
    if (o.wants("notice")) {
        std::printf("notice latency...\n");
        noticeLatency(o, res);
    }
    if (o.wants("devices")) {
        std::printf("concurrent devices...\n");
        devices(o, res);
    }
    if (o.wants("pushpull") || o.wants("incremental")) {
        std::printf("push/pull...\n");
        PushPull pp(o, res);
        for (int r = 0; r < o.rounds; ++r) {
            std::printf("  round %d\n", r + 1);
            pp.round(r);
        }
        pp.report();
        if (o.wants("incremental")) {
            std::printf("incremental...\n");
            pp.incremental();
        }
    }
    printTable(res);
    printTargets(res);
    if (o.keep) std::printf("\nkept %s\n", o.dir.c_str());
    else fs::remove_all(o.dir);
    return 0;
}
