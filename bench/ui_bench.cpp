// GUI benchmark (issue 12 item 7): the desktop client on a store of 10,000 findings.
//
//   frames  headless, in this process (app/ui/headless.h): a real ImGui context with the client's
//           font set-up and no GL backend; per frame poll → fonts → NewFrame → drawFrame → Render → applyIntents,
//           as app/ui/window.cpp does minus GL. The filter is typed one character per frame
//           through ImGui's input queue (a realistic "财务 报销 high"), then deleted one
//           Backspace per frame; then the full list is scrolled one wheel notch per frame; then
//           frames with no input. p50/p95/max of the whole frame and of each part.
//   window  the real `xunshen` on a private Xvfb (Mesa llvmpipe: software rendering), with
//           --timings and a script: launch → first frame of the unlock view (several launches),
//           unlock done → first frame after unlock (the KDF excluded: it ends before "unlocked"),
//           idle CPU over 10 s (utime+stime from /proc while the script `wait`s), where the
//           main thread blocks (/proc/<pid>/syscall), GL frame times while the filter changes,
//           and peak RSS (VmHWM).
//
// Prints a table and one JSON line; the store is built once per --dir (docs/BENCHMARKS.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "app/demo.h"
#include "app/enrolment.h"
#include "app/workspace.h"
#include "app/ui/headless.h"
#include "tests/ui/x_session.h"

using namespace xs;
using namespace xs::ui;
using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kPass = "bench 口令 passphrase";
constexpr const char* kFilter = "财务 报销 high";
constexpr int kWidth = 1280, kHeight = 800;

[[noreturn]] void die(const std::string& what) {
    std::cerr << "bench_ui: " << what << "\n";
    std::exit(1);
}

double msSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
std::int64_t steadyNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

json stats(const std::vector<double>& v) {
    return {{"n", v.size()},
            {"p50", percentile(v, 0.50)},
            {"p95", percentile(v, 0.95)},
            {"max", v.empty() ? 0.0 : *std::max_element(v.begin(), v.end())}};
}

std::string replaceAll(std::string s, const std::string& from, const std::string& to) {
    for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
    return s;
}

// ---- the store: the demo's office and lead (assets/demo/org.json), one inspection, N findings

struct Template {
    app::FindingCategory category;
    const char* auditCategory;
    const char* title;
    const char* description;
};

const std::vector<Template>& templates() {
    using C = app::FindingCategory;
    static const std::vector<Template> t = {
        {C::MainResponsibility, "", "党组织会议记录不完整", "{year}年支部委员会会议记录缺少议题讨论情况，{n}次会议未记录表决结果，{unit}未按要求整改。"},
        {C::MainResponsibility, "", "意识形态工作责任制落实不到位", "{year}年度{unit}未专题研究意识形态工作，{n}项重点任务无工作台账。"},
        {C::MainResponsibility, "", "“三重一大”事项未集体决策", "{unit}涉及{amount}万元的设备购置由主要负责人个人决定，未经领导班子集体研究。"},
        {C::MainResponsibility, "", "上轮巡察整改落实不彻底", "上轮巡察反馈的{n}个问题中有{m}个未按期完成整改，整改台账记录与实际不符。"},
        {C::MainResponsibility, "", "干部选拔任用程序不规范", "{year}年{unit}提拔{m}名干部未经民主推荐，考察材料缺少履职情况评价。"},
        {C::MainResponsibility, "", "履职尽责不到位，监管存在盲区", "{unit}对下属{n}个站点的日常监管流于形式，{m}次检查无记录。"},
        {C::EightPointRules, "", "公务接待未严格执行审批制度", "{year}年度{n}批次公务接待无事前审批单，其中{m}批次超标准接待，涉及金额{amount}万元。"},
        {C::EightPointRules, "", "违规发放津贴补贴", "{unit}以加班费名义向{n}名职工发放补贴{amount}万元，无考勤记录支撑。"},
        {C::EightPointRules, "", "公车私用问题突出", "{n}次用车无派车单，行车记录显示{m}次在节假日使用，驾驶员为{person}。"},
        {C::EightPointRules, "", "差旅费报销超标准", "{n}人次差旅住宿费超出标准，多报销{amount}万元，财务审核未发现。"},
        {C::EightPointRules, "", "违规收受礼品礼金", "{person}在{year}年春节期间收受管理服务对象购物卡{m}张，价值{amount}万元。"},
        {C::EightPointRules, "", "会议费报销不规范", "{year}年{n}次会议费报销无会议通知和签到表，涉及金额{amount}万元。"},
        {C::FinancialDiscipline, "special_funds", "专项资金未专款专用", "大气污染防治专项资金{amount}万元被用于办公楼维修，未履行调整审批程序。"},
        {C::FinancialDiscipline, "procurement", "政府采购未按规定公开招标", "{unit}将{amount}万元的监测设备采购拆分为{n}个合同，规避公开招标。"},
        {C::FinancialDiscipline, "expenditure", "财务报销凭证不全", "{n}笔财务报销无发票原件，涉及金额{amount}万元，经办人和审核人未签字。"},
        {C::FinancialDiscipline, "internal_control", "账簿设置不规范，存在账外资金", "{unit}将租金收入{amount}万元存放于账外，未纳入单位账簿核算。"},
        {C::FinancialDiscipline, "state_assets", "固定资产账实不符", "盘点发现{n}台设备有账无物，{m}台设备有物无账，涉及原值{amount}万元。"},
        {C::FinancialDiscipline, "budget_execution", "往来款项长期挂账未清理", "{n}笔往来款挂账超过三年，合计{amount}万元，未及时清理核销。"},
        {C::FinancialDiscipline, "construction_projects", "工程项目结算审核不严", "{unit}改造工程结算多计工程量，多支付{amount}万元，监理签字缺失。"},
        {C::FinancialDiscipline, "revenue", "非税收入未及时上缴", "{year}年{unit}收取的检测费{amount}万元滞留单位账户{n}个月。"},
        {C::Other, "", "档案管理混乱", "{unit}{year}年度{n}卷文书档案未归档，借阅登记缺失。"},
        {C::Other, "", "合同管理不规范", "{n}份合同未经法律审核即签订，{m}份合同无签订日期。"},
        {C::Other, "", "信息公开不及时", "{unit}{year}年度预决算信息公开滞后{n}天，公开内容不完整。"},
        {C::Other, "", "内部控制制度缺失", "{unit}未建立印章使用登记制度，{m}次用印无审批。"},
    };
    return t;
}

const std::vector<std::string>& units() {
    static const std::vector<std::string> u = {"区生态环境监测站", "区生态环境保护综合行政执法大队", "区固体废物与化学品管理中心",
                                               "区辐射环境监督站", "区生态环境信息中心", "区环境科学研究所",
                                               "区机动车排污监控中心", "区生态环境宣传教育中心"};
    return u;
}

const std::vector<std::string>& people() {
    static const std::vector<std::string> p = {"办公室负责人", "财务科科长", "站长", "副站长", "综合科科长", "出纳", "监测科科长"};
    return p;
}

app::FindingInput finding(const std::string& inspection, int i, std::mt19937& rng) {
    auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    const Template& t = templates()[pick(templates().size())];
    static const std::vector<std::string> qualifiers = {"", "", "", "（2024年度）", "（2025年度）", "（下属单位）", "（整改后复发）"};
    app::FindingInput f;
    f.inspection = inspection;
    f.title = std::string(t.title) + qualifiers[pick(qualifiers.size())];
    std::string d = t.description;
    d = replaceAll(d, "{year}", std::to_string(2023 + static_cast<int>(pick(3))));
    d = replaceAll(d, "{n}", std::to_string(3 + pick(40)));
    d = replaceAll(d, "{m}", std::to_string(1 + pick(9)));
    d = replaceAll(d, "{amount}", std::to_string(1 + pick(90)) + "." + std::to_string(pick(100)));
    d = replaceAll(d, "{unit}", units()[pick(units().size())]);
    d = replaceAll(d, "{person}", people()[pick(people().size())]);
    f.description = d + "（底稿第" + std::to_string(i + 1) + "号）";
    f.category = t.category;
    f.auditCategory = t.auditCategory;
    const auto s = pick(10);
    f.severity = s < 3 ? app::Severity::High : s < 8 ? app::Severity::Medium : app::Severity::Low;
    f.tags = {pick(3) == 0 ? app::FindingTag::Trending : pick(2) ? app::FindingTag::Common : app::FindingTag::Emerging};
    f.immediateFix = pick(10) == 0;
    f.responsiblePerson = people()[pick(people().size())];
    return f;
}

// The store at dir/store (office at dir/store-office), reused when dir/store.done says it holds
// `count` findings. Statuses: ~55% draft, ~25% submitted, ~13% confirmed, ~7% returned.
fs::path buildStore(const fs::path& dir, int count) {
    const fs::path store = dir / "store", done = dir / "store.done";
    if (fs::exists(done)) {
        std::ifstream in(done);
        int n = 0;
        in >> n;
        if (n == count) return store;
    }
    fs::remove_all(store);
    fs::remove_all(app::demoOfficeStore(store));
    fs::create_directories(dir);
    const crypto::Argon2Params kdf{.iterations = 1, .memoryKiB = 8192, .parallelism = 1};  // the policy's minimum
    if (auto p = app::Session::checkKdfPolicy(kdf); !p) die(p.message());
    const auto t0 = Clock::now();
    std::ifstream orgIn(app::defaultAssetsDir() / "org.json");
    json org = json::parse(orgIn, nullptr, false);
    if (org.is_discarded()) die("cannot read assets/demo/org.json");
    auto office = app::Workspace::init(app::demoOfficeStore(store), kPass, "吴敏", app::Role::AuditOffice, kdf);
    if (!office) die(office.message());
    if (auto r = (*office)->importOrg(org); !r) die(r.message());
    if (auto k = app::createOfficeKey(**office); !k) die(k.message());
    auto ws = app::Workspace::init(store, kPass, "郑华", app::Role::WorkingGroupLead, kdf);
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
    in.start = app::formatDate(w.today() - 2);
    in.days = 7;
    in.team = {"W02", "W03", "T01"};
    in.lead = "W01";
    auto inspection = w.createInspection(in);
    if (!inspection) die(inspection.message());
    // The lead reads and signs the confidentiality agreement before the inspection opens (article 7(4)).
    if (auto signedIt = w.signAgreement(*inspection); !signedIt) die(signedIt.message());
    std::mt19937 rng(20261203);
    for (int i = 0; i < count; ++i) {
        auto id = w.addFinding(finding(*inspection, i, rng));
        if (!id) die(id.message());
        const auto r = rng() % 100;
        if (r >= 55) {
            if (auto s = w.transitionFinding(*id, app::FindingStatus::Submitted); !s) die(s.message());
            if (r >= 93) {
                if (auto s = w.transitionFinding(*id, app::FindingStatus::Returned); !s) die(s.message());
            } else if (r >= 80) {
                if (auto s = w.transitionFinding(*id, app::FindingStatus::Confirmed); !s) die(s.message());
            }
        }
        if ((i + 1) % 1000 == 0) std::cerr << "store: " << i + 1 << "/" << count << " findings, " << msSince(t0) / 1000 << " s\n";
    }
    std::ofstream(done) << count << "\n";
    return store;
}

// ---- headless frames

struct Parts {
    std::vector<double> total, poll, fonts, newFrame, draw, render, apply;
};

// One frame of the headless client; its parts appended to `p` (when given).
void frame(HeadlessClient& h, Parts* p, const HeadlessInput& input = {}) {
    std::string problem;
    const FrameParts f = h.frame(input, problem);
    if (!problem.empty()) die(problem);
    if (!p) return;
    p->total.push_back(f.total());
    p->poll.push_back(f.poll);
    p->fonts.push_back(f.fonts);
    p->newFrame.push_back(f.newFrame);
    p->draw.push_back(f.draw);
    p->render.push_back(f.render);
    p->apply.push_back(f.apply);
}

json partsJson(const Parts& p) {
    return {{"total_ms", stats(p.total)}, {"poll_ms", stats(p.poll)},     {"fonts_ms", stats(p.fonts)},
            {"new_frame_ms", stats(p.newFrame)}, {"draw_ms", stats(p.draw)}, {"render_ms", stats(p.render)},
            {"apply_ms", stats(p.apply)}};
}

std::vector<std::string> utf8Chars(const std::string& s) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        const std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        out.push_back(s.substr(i, n));
        i += n;
    }
    return out;
}

json runFrames(const fs::path& store, int rounds) {
    auto strings = Strings::load(Strings::defaultFile());
    if (!strings) die(strings.message());
    HeadlessClient h(*strings, store, kWidth, kHeight);
    Controller& c = h.controller();
    c.setAutoLock(0);
    json out;

    // The unlock view's first frame (the font atlas: common + GB2312 + the string table).
    Parts first;
    frame(h, &first);
    out["first_unlock_frame_ms"] = first.total[0];
    c.post(EditField{Field::Passphrase, kPass});
    c.post(Press{Button::Unlock});
    if (!c.applyIntents().empty()) die("unlock refused");
    // The frame whose poll() takes the finished unlock (findings read, rows built; then the atlas
    // rebuilt with the data's characters) is the first frame after unlock.
    while (!c.unlocked()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        Parts p;
        frame(h, &p);
        if (c.unlocked()) out["first_unlocked_frame"] = partsJson(p);
        if (!c.busy() && !c.unlocked()) die("unlock refused: " + c.state().dump());
    }
    // The lead's home is Today: the findings view is a click away (its rows are built already).
    c.post(ShowView{ViewId::Findings});
    if (!c.applyIntents().empty() || c.view() != ViewId::Findings) die("the findings view did not open");
    frame(h, nullptr);
    out["rows"] = c.findings().rows().size();
    out["atlas_px"] = {h.atlasWidth(), h.atlasHeight()};
    out["atlas_glyphs"] = h.atlasGlyphs();
    for (int i = 0; i < 5; ++i) frame(h, nullptr);  // the filter field takes the keyboard focus

    const auto chars = utf8Chars(kFilter);
    Parts typing, deleting, keyUp, scrolling, idle;
    std::size_t shownAtFull = 0;
    for (int r = 0; r < rounds; ++r) {
        for (const auto& ch : chars) {
            frame(h, &typing, {ch, false, 0});
        }
        if (c.findings().filter() != kFilter) die("typed \"" + std::string(kFilter) + "\", the filter is \"" + c.findings().filter() + "\"");
        shownAtFull = c.findings().visible().size();
        for (std::size_t i = 0; i < chars.size(); ++i) {
            frame(h, &deleting, {"", true, 0});
            frame(h, &keyUp);
        }
        if (!c.findings().filter().empty()) die("backspaced, the filter is still \"" + c.findings().filter() + "\"");
    }
    out["filter"] = kFilter;
    out["shown_with_filter"] = shownAtFull;
    out["typing"] = partsJson(typing);
    out["deleting"] = partsJson(deleting);
    out["key_up"] = partsJson(keyUp);

    // Where typing's time goes: FindingsModel::setFilter alone over the 10,000 rows, for each
    // prefix of the filter, against the floor of the same search with the filter lower-cased and
    // split once (not per row, as matches() does).
    {
        FindingsModel model = c.findings();
        std::vector<double> setFilterMs, floorMs;
        std::string prefix;
        std::size_t sink = 0;
        for (int r = 0; r < rounds; ++r) {
            prefix.clear();
            for (const auto& ch : chars) {
                prefix += ch;
                auto t = Clock::now();
                model.setFilter(prefix);
                setFilterMs.push_back(msSince(t));
                t = Clock::now();
                std::vector<std::string> words;
                for (std::size_t at = 0; at < prefix.size();) {
                    std::size_t end = std::min(prefix.find(' ', at), prefix.size());
                    if (end > at) words.push_back(prefix.substr(at, end - at));  // ASCII here is lower-case
                    at = end + 1;
                }
                for (const auto& row : model.rows()) {
                    bool all = true;
                    for (const auto& w : words) all = all && row.haystack.find(w) != std::string::npos;
                    sink += all;
                }
                floorMs.push_back(msSince(t));
            }
        }
        out["set_filter_ms"] = stats(setFilterMs);
        out["search_floor_ms"] = stats(floorMs);
        out["search_floor_matches"] = sink;
    }

    for (int i = 0; i < 40 * rounds; ++i) {
        frame(h, &scrolling, {"", false, -1.0f});
    }
    out["scrolled_px"] = h.hoveredScrollY();
    out["scrolling"] = partsJson(scrolling);
    for (int i = 0; i < 10 * rounds; ++i) frame(h, &idle);
    out["idle_redraw"] = partsJson(idle);
    // This process: the store (when built in this run: also its set-up), the rows, ImGui and the
    // atlas (its 8-bit alpha; the window's GL backend converts it to RGBA32 as well), no GL.
    out["peak_rss_mib"] = static_cast<double>(test::peakRssKiB(static_cast<int>(::getpid()))) / 1024.0;
    return out;
}

// ---- the real window under Xvfb

std::vector<json> readTimings(const fs::path& file) {
    std::vector<json> lines;
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        json j = json::parse(line, nullptr, false);
        if (!j.is_discarded()) lines.push_back(std::move(j));
    }
    return lines;
}

std::optional<std::int64_t> eventNs(const std::vector<json>& lines, const std::string& event) {
    for (const auto& l : lines)
        if (l.value("event", "") == event) return l["ns"].get<std::int64_t>();
    return std::nullopt;
}

std::string readSmall(const fs::path& p) {
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void writeScript(const fs::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) die("cannot write " + file.string());
}

std::string clientPath() { return std::string(XS_BINARY_DIR) + "/app/ui/xunshen"; }

json runWindow(const fs::path& store, const fs::path& work, int launches) {
    fs::create_directories(work);
    test::Xvfb x(kWidth, kHeight, work / "xvfb.log");
    const std::map<std::string, std::string> env = {
        {"DISPLAY", x.display()}, {"LIBGL_ALWAYS_SOFTWARE", "1"}, {"XUNSHEN_PASSPHRASE", kPass}};
    auto start = [&](const std::string& name, const std::string& script) {
        writeScript(work / (name + ".script"), script);
        return std::vector<std::string>{clientPath(), "--store", store.string(), "--size", std::to_string(kWidth) + "x" + std::to_string(kHeight),
                                        "--script", (work / (name + ".script")).string(), "--screenshot-dir", (work / name).string(),
                                        "--timings", (work / (name + ".timings")).string()};
    };
    json out;
    out["display"] = x.display();

    // Launch → first frame of the unlock view.
    std::vector<double> firstFrame, toRunClient;
    for (int i = 0; i < launches; ++i) {
        auto argv = start("launch", "wait 1\n");
        const std::int64_t t0 = steadyNs();
        test::GuiProcess p(argv, env, work / "launch.log");
        auto rc = p.wait(60000);
        if (rc != 0) die("xunshen (launch) failed: " + readSmall(work / "launch.log"));
        auto t = readTimings(work / "launch.timings");
        auto ff = eventNs(t, "first_frame"), st = eventNs(t, "start");
        if (!ff || !st) die("no first_frame in the timings");
        firstFrame.push_back(static_cast<double>(*ff - t0) / 1e6);
        toRunClient.push_back(static_cast<double>(*st - t0) / 1e6);
    }
    out["launch_to_first_frame_ms"] = stats(firstFrame);
    out["launch_to_first_frame_runs_ms"] = firstFrame;
    out["launch_to_run_client_ms"] = stats(toRunClient);

    // Unlock (after a second on the unlock view, as a person reads it and types: the client
    // completes its font atlas in such a pause), idle, the filter changing, the end.
    std::string script = "wait 1\npassphrase-env XUNSHEN_PASSPHRASE\npress unlock\nexpect view today\nview findings\nwait 15\n";
    const auto chars = utf8Chars(kFilter);
    for (int r = 0; r < 3; ++r) {
        std::string typed;
        for (const auto& ch : chars) script += "type filter " + (typed += ch) + "\n";
        for (std::size_t i = chars.size(); i-- > 0;) {
            typed.resize(typed.size() - chars[i].size());
            script += typed.empty() ? "type filter\n" : "type filter " + typed + "\n";
        }
    }
    script += "wait 2\n";
    auto argv = start("main", script);
    test::GuiProcess p(argv, env, work / "main.log");
    const fs::path timings = work / "main.timings";
    std::optional<std::int64_t> shown;
    long long hwm = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (!shown && Clock::now() < deadline) {
        if (p.wait(50)) die("xunshen ended early: " + readSmall(work / "main.log"));
        shown = eventNs(readTimings(timings), "first_unlocked_frame");
    }
    if (!shown) die("no findings frame within 120 s");
    std::this_thread::sleep_for(std::chrono::seconds(2));  // the eager frames after the last event
    const long long ticks0 = test::cpuTicks(p.pid());
    const std::int64_t idle0 = steadyNs();
    const std::string syscall = readSmall("/proc/" + std::to_string(p.pid()) + "/syscall");
    const std::string wchan = readSmall("/proc/" + std::to_string(p.pid()) + "/wchan");
    std::this_thread::sleep_for(std::chrono::seconds(10));
    const long long ticks1 = test::cpuTicks(p.pid());
    const std::int64_t idle1 = steadyNs();
    hwm = std::max(hwm, test::peakRssKiB(p.pid()));
    while (!p.wait(100)) hwm = std::max(hwm, test::peakRssKiB(p.pid()));
    if (p.wait(0) != 0) die("xunshen (main) failed: " + readSmall(work / "main.log"));

    auto t = readTimings(timings);
    const double idleS = static_cast<double>(idle1 - idle0) / 1e9;
    out["idle_seconds"] = idleS;
    out["idle_cpu_percent"] = 100.0 * static_cast<double>(ticks1 - ticks0) / static_cast<double>(test::clockTicksPerSecond()) / idleS;
    out["idle_main_thread_syscall"] = syscall.substr(0, syscall.find(' '));
    out["idle_main_thread_wchan"] = wchan;
    int idleFrames = 0;
    std::vector<double> glFrame, glDraw;
    const std::int64_t idleEnd = *shown + 15'000'000'000LL;
    for (const auto& l : t) {
        if (l.value("event", "") != "frame") continue;
        const auto ns = l["ns"].get<std::int64_t>();
        if (ns >= idle0 && ns <= idle1) ++idleFrames;
        if (ns > idleEnd && l["view"] == "findings") {
            glFrame.push_back(l["frame_ms"].get<double>());
            glDraw.push_back(l["draw_ms"].get<double>());
        }
    }
    out["idle_frames_drawn"] = idleFrames;
    auto unlocked = eventNs(t, "unlocked");
    if (!unlocked) die("no unlocked event in the timings");
    out["unlocked_to_first_unlocked_frame_ms"] = static_cast<double>(*shown - *unlocked) / 1e6;
    out["gl_frame_ms"] = stats(glFrame);
    out["gl_draw_ms"] = stats(glDraw);
    out["peak_rss_mib"] = static_cast<double>(hwm) / 1024.0;
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    int count = 10000, rounds = 20, launches = 5;
    bool frames = true, window = true;
    fs::path dir;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value for " + a);
            return argv[++i];
        };
        if (a == "--findings") count = std::stoi(next());
        else if (a == "--rounds") rounds = std::stoi(next());
        else if (a == "--launches") launches = std::stoi(next());
        else if (a == "--dir") dir = next();
        else if (a == "--frames-only") window = false;
        else if (a == "--window-only") frames = false;
        else die("usage: bench_ui [--findings N] [--rounds N] [--launches N] [--dir DIR] [--frames-only | --window-only]");
    }
    if (dir.empty()) dir = fs::temp_directory_path() / "xs-bench-ui";
    const auto t0 = Clock::now();
    const fs::path store = buildStore(dir, count);
    json out = {{"findings", count}, {"store_build_s", msSince(t0) / 1000}};
    if (frames) out["frames"] = runFrames(store, rounds);
    if (window) out["window"] = runWindow(store, dir / "window", launches);

    std::printf("GUI benchmark: %d findings\n", count);
    if (frames) {
        const json& f = out["frames"];
        std::printf("\nheadless frames (poll+fonts+NewFrame+drawFrame+Render+applyIntents), ms   p50     p95     max\n");
        for (const char* k : {"typing", "deleting", "key_up", "scrolling", "idle_redraw"})
            std::printf("  %-12s %5zu frames                                       %7.3f %7.3f %7.3f\n", k,
                        f[k]["total_ms"]["n"].get<std::size_t>(), f[k]["total_ms"]["p50"].get<double>(),
                        f[k]["total_ms"]["p95"].get<double>(), f[k]["total_ms"]["max"].get<double>());
        std::printf("  typing, by part (p50/p95):");
        for (const char* part : {"poll_ms", "fonts_ms", "new_frame_ms", "draw_ms", "render_ms", "apply_ms"})
            std::printf(" %s %.3f/%.3f", part, f["typing"][part]["p50"].get<double>(), f["typing"][part]["p95"].get<double>());
        std::printf("\n  FindingsModel::setFilter alone p50/p95 %.3f/%.3f ms; the same search, filter split once: %.3f/%.3f ms",
                    f["set_filter_ms"]["p50"].get<double>(), f["set_filter_ms"]["p95"].get<double>(),
                    f["search_floor_ms"]["p50"].get<double>(), f["search_floor_ms"]["p95"].get<double>());
        std::printf("\n  atlas %dx%d px, %d glyphs; this process's peak RSS %.1f MiB", f["atlas_px"][0].get<int>(),
                    f["atlas_px"][1].get<int>(), f["atlas_glyphs"].get<int>(), f["peak_rss_mib"].get<double>());
        std::printf("\n  first unlock frame %.1f ms; first frame after unlock %.1f ms (poll %.1f, fonts %.1f); scrolled %.0f px\n",
                    f["first_unlock_frame_ms"].get<double>(), f["first_unlocked_frame"]["total_ms"]["max"].get<double>(),
                    f["first_unlocked_frame"]["poll_ms"]["max"].get<double>(), f["first_unlocked_frame"]["fonts_ms"]["max"].get<double>(),
                    f["scrolled_px"].get<double>());
    }
    if (window) {
        const json& w = out["window"];
        std::printf("\nwindow (Xvfb, Mesa llvmpipe software rendering)\n");
        std::printf("  launch → first frame (unlock view)   p50 %.1f  max %.1f ms (%d launches)\n",
                    w["launch_to_first_frame_ms"]["p50"].get<double>(), w["launch_to_first_frame_ms"]["max"].get<double>(), launches);
        std::printf("  unlocked → first frame after unlock      %.1f ms\n", w["unlocked_to_first_unlocked_frame_ms"].get<double>());
        std::printf("  idle CPU over %.1f s                 %.3f %% (%d frames drawn; main thread in syscall %s, %s)\n",
                    w["idle_seconds"].get<double>(), w["idle_cpu_percent"].get<double>(), w["idle_frames_drawn"].get<int>(),
                    w["idle_main_thread_syscall"].get<std::string>().c_str(), w["idle_main_thread_wchan"].get<std::string>().c_str());
        std::printf("  GL frame while the filter changes    p50 %.2f  p95 %.2f  max %.2f ms (NewFrame→Render p95 %.2f)\n",
                    w["gl_frame_ms"]["p50"].get<double>(), w["gl_frame_ms"]["p95"].get<double>(), w["gl_frame_ms"]["max"].get<double>(),
                    w["gl_draw_ms"]["p95"].get<double>());
        std::printf("  peak RSS (VmHWM)                     %.1f MiB\n", w["peak_rss_mib"].get<double>());
    }
    std::cout << "\nraw: " << out.dump() << std::endl;
    return 0;
}
