// The desktop client's logic without a window (app/ui/model): the string table, the glyph set,
// the Findings filter, the intents and their refusals, the script parser and runner.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <thread>
#include <unistd.h>

#include "app/ui/model/controller.h"
#include "app/ui/model/file_picker.h"
#include "app/ui/model/options.h"
#include "app/ui/model/script.h"
#include "app/ui/model/strings.h"
#include "tests/sync/sync_test_util.h"

namespace xs::ui {
namespace {

namespace fs = std::filesystem;
constexpr const char* kPass = "口令 passphrase 2026";

Strings table() {
    auto s = Strings::load(fs::path(XS_SOURCE_DIR) / "assets/i18n/strings.json");
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.message()));
    return *s;
}

// Waits (polling, as the loop does each frame) until an unlock has finished.
void settle(Controller& c) {
    for (int i = 0; i < 2000 && (c.busy() || i == 0); ++i) {
        c.poll(0);
        if (c.busy()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    REQUIRE_FALSE(c.busy());
}

app::FindingView finding(std::string id, std::string title, std::string description, app::FindingCategory cat,
                         app::Severity sev, app::FindingStatus status) {
    app::FindingView f;
    f.id = std::move(id);
    f.title = std::move(title);
    f.description = std::move(description);
    f.category = cat;
    f.severity = sev;
    f.status = status;
    return f;
}

TEST_CASE("ui strings: the table has both languages, labels keep the key as their id") {
    Strings s = table();
    CHECK(std::string(s.text("unlock.button")) == "解锁");
    CHECK(std::string(s.label("unlock.button")) == "解锁###unlock.button");
    s.setLang(Lang::En);
    CHECK(std::string(s.text("unlock.button")) == "Unlock");
    CHECK(std::string(s.label("unlock.button")) == "Unlock###unlock.button");
    CHECK(s.format("findings.count", {{"shown", "1"}, {"total", "4"}}) == "Showing 1 of 4");
    CHECK(s.missingLookups() == 0);
    CHECK(std::string(s.text("no.such.key")) == "no.such.key");
    CHECK(s.missingLookups() == 1);
}

TEST_CASE("ui strings: an entry without English is refused with its key") {
    auto s = Strings::parse(R"({"a": {"zh": "甲", "en": "A"}, "b": {"zh": "乙"}})");
    REQUIRE_FALSE(s.ok());
    CHECK(s.message().find("\"b\"") != std::string::npos);
    CHECK_FALSE(Strings::parse("[1, 2]").ok());
}

TEST_CASE("ui strings: every label the views ask for of the domain's enums is in the table") {
    Strings s = table();
    using namespace app;
    for (auto c : {FindingCategory::MainResponsibility, FindingCategory::EightPointRules,
                   FindingCategory::FinancialDiscipline, FindingCategory::Other}) {
        CHECK_MESSAGE(s.has(labelKey(c)), labelKey(c));
        CHECK(std::string(s.text(labelKey(c))) == label(c));  // the same Chinese as the CLI's
    }
    for (auto v : {Severity::Low, Severity::Medium, Severity::High}) {
        CHECK_MESSAGE(s.has(labelKey(v)), labelKey(v));
        CHECK(std::string(s.text(labelKey(v))) == label(v));
    }
    for (auto v : {FindingStatus::Draft, FindingStatus::Submitted, FindingStatus::Confirmed, FindingStatus::Returned,
                   FindingStatus::FedBack, FindingStatus::Rectifying, FindingStatus::Rectified, FindingStatus::Closed}) {
        CHECK_MESSAGE(s.has(labelKey(v)), labelKey(v));
        CHECK(std::string(s.text(labelKey(v))) == label(v));
    }
    for (auto v : {FindingTag::Common, FindingTag::Trending, FindingTag::Emerging}) {
        CHECK_MESSAGE(s.has(labelKey(v)), labelKey(v));
        CHECK(std::string(s.text(labelKey(v))) == label(v));
    }
    for (const char* key : {"view.unlock", "view.findings", "error.locked", "error.not_found", "error.refused",
                            "error.failed", "unlock.no_store", "unlock.empty_passphrase", "status.no_server"})
        CHECK_MESSAGE(s.has(key), key);
}

TEST_CASE("ui file dialog: folders first, hidden files left out, up and down, a file is the answer") {
    sync::test::TempDir tmp;
    fs::create_directories(tmp.path() / "U盘" / "证据");
    fs::create_directories(tmp.path() / ".cache");
    auto write = [](const fs::path& p, std::size_t n) {
        std::ofstream(p, std::ios::binary) << std::string(n, 'x');
    };
    write(tmp.path() / "b-照片.jpg", 2048);
    write(tmp.path() / "a-台账.xlsx", 10);
    write(tmp.path() / ".hidden", 1);
    write(tmp.path() / "U盘" / "证据" / "凭证.pdf", 3);

    FilePicker p;
    p.open((tmp.path() / "none-such.txt").string(), false, "/");  // the folder of the field's path
    REQUIRE(p.isOpen());
    CHECK(p.folder() == tmp.path());
    CHECK(p.problem().empty());
    REQUIRE(p.entries().size() == 3);
    CHECK(p.entries()[0].name == "U盘");
    CHECK(p.entries()[0].folder);
    CHECK(p.entries()[1].name == "a-台账.xlsx");
    CHECK(p.entries()[1].size == 10);
    CHECK(p.entries()[2].name == "b-照片.jpg");
    CHECK(p.entries()[2].size == 2048);
    CHECK_FALSE(p.enter("U盘").has_value());  // a folder opens
    CHECK_FALSE(p.enter("证据").has_value());
    REQUIRE(p.entries().size() == 1);
    CHECK_FALSE(p.enter("no-such").has_value());  // refused, said, nothing moved
    CHECK_FALSE(p.problem().empty());
    CHECK(p.folder() == tmp.path() / "U盘" / "证据");
    CHECK_FALSE(p.enter("..").has_value());
    CHECK(p.folder() == tmp.path() / "U盘");
    CHECK(p.problem().empty());
    CHECK_FALSE(p.enter("..").has_value());
    auto chosen = p.enter("b-照片.jpg");
    REQUIRE(chosen.has_value());
    CHECK(*chosen == tmp.path() / "b-照片.jpg");
    CHECK_FALSE(p.isOpen());

    // A folder target: a file only shows what is there; the folder is the answer, with the name kept.
    p.open(tmp.path().string(), true, "/");
    CHECK(p.folder() == tmp.path());
    CHECK_FALSE(p.enter("a-台账.xlsx").has_value());
    CHECK(p.isOpen());
    CHECK(p.pickFolder("移交.age") == tmp.path() / "移交.age");
    CHECK_FALSE(p.isOpen());
    // A folder that cannot be read keeps the listing shown and says why.
    p.open(tmp.path().string(), false, "/");
    fs::permissions(tmp.path() / "U盘", fs::perms::none);
    const bool root = ::geteuid() == 0;  // root reads it anyway
    CHECK_FALSE(p.enter("U盘").has_value());
    if (!root) {
        CHECK(p.folder() == tmp.path());
        CHECK_FALSE(p.problem().empty());
    }
    fs::permissions(tmp.path() / "U盘", fs::perms::owner_all);
}

TEST_CASE("ui file dialog: a folder of more files than it lists says so") {
    sync::test::TempDir tmp;
    for (std::size_t i = 0; i < FilePicker::kMaxEntries + 3; ++i) std::ofstream(tmp.path() / ("f" + std::to_string(i)));
    FilePicker p;
    p.open(tmp.path().string(), false, "/");
    CHECK(p.entries().size() == FilePicker::kMaxEntries);
    CHECK(p.truncated());
}

TEST_CASE("ui handover: where the shred acknowledgement stands - by hand, waiting, on the server only after a round past the wipe") {
    HandoverModel h;
    StatusModel st;
    CHECK(h.ackDelivery(st) == "none");
    h.confirmed = app::HandoverConfirmView{};
    h.confirmed->wipe.wipedAt = 1'790'000'000;  // seconds
    CHECK(h.ackDelivery(st) == "by_hand");  // no server known
    st.haveServer = true;
    st.sync.lastSuccessMs = 1'790'000'000'500;  // within the wipe's second: maybe before it
    st.sync.waitingChangeSets = 0;
    CHECK(h.ackDelivery(st) == "waiting");
    st.sync.lastSuccessMs = 1'790'000'001'000;
    st.sync.waitingChangeSets = 1;  // the acknowledgement's change set not sent yet
    CHECK(h.ackDelivery(st) == "waiting");
    st.sync.waitingChangeSets = 0;
    CHECK(h.ackDelivery(st) == "on_server");
}

TEST_CASE("ui glyphs: UTF-8 decoding and the set's generation") {
    CHECK(decodeUtf8("a账簿") == U"a账簿");
    CHECK(decodeUtf8("\xE8\xB4") == U"\uFFFD\uFFFD");  // cut short
    GlyphSet g;
    CHECK(g.add("履职"));
    const auto gen = g.generation();
    CHECK_FALSE(g.add("职履\n"));
    CHECK(g.generation() == gen);
    CHECK(g.add("贿赂"));
    CHECK(g.generation() == gen + 1);
    CHECK(g.codepoints().count(U'赂') == 1);
    CHECK(g.codepoints().count(U'\n') == 0);
}

TEST_CASE("ui findings: the filter matches text and labels in either language, every word, any case") {
    Strings s = table();
    using namespace app;
    FindingsModel m;
    m.setFindings({finding("1", "公务接待未严格执行审批制度", "12批次公务接待无事前审批单", FindingCategory::EightPointRules,
                           Severity::High, FindingStatus::Draft),
                   finding("2", "固定资产账实不符", "监测设备5台在账簿中已报废", FindingCategory::FinancialDiscipline,
                           Severity::Medium, FindingStatus::Submitted),
                   finding("3", "Meeting minutes incomplete", "", FindingCategory::MainResponsibility, Severity::Low,
                           FindingStatus::Confirmed)},
                  s);
    CHECK(m.visible().size() == 3);
    m.setFilter("账簿");
    REQUIRE(m.visible().size() == 1);
    CHECK(m.rows()[m.visible()[0]].id == "2");
    m.setFilter("严重");  // a severity label, Chinese
    REQUIRE(m.visible().size() == 1);
    CHECK(m.rows()[m.visible()[0]].id == "1");
    m.setFilter("HIGH");  // the same label in English, any case
    REQUIRE(m.visible().size() == 1);
    CHECK(m.rows()[m.visible()[0]].id == "1");
    m.setFilter("meeting  CONFIRMED");  // every word must match
    REQUIRE(m.visible().size() == 1);
    CHECK(m.rows()[m.visible()[0]].id == "3");
    m.setFilter("meeting 账");
    CHECK(m.visible().empty());
    m.setFilter("");
    CHECK(m.visible().size() == 3);
}

TEST_CASE("ui findings: the tag filter and the tags field's spelling") {
    Strings s = table();
    using namespace app;
    auto a = finding("1", "公务接待超标准", "", FindingCategory::EightPointRules, Severity::High, FindingStatus::Draft);
    a.tags = {FindingTag::Common, FindingTag::Emerging};
    auto b = finding("2", "固定资产账实不符", "", FindingCategory::FinancialDiscipline, Severity::Medium, FindingStatus::Draft);
    b.tags = {FindingTag::Trending};
    auto c = finding("3", "会议记录不全", "", FindingCategory::MainResponsibility, Severity::Low, FindingStatus::Draft);
    FindingsModel m;
    m.setFindings({a, b, c}, s);
    m.setTag(FindingTag::Emerging);
    REQUIRE(m.visible().size() == 1);
    CHECK(m.rows()[m.visible()[0]].id == "1");
    m.setTag(FindingTag::Trending);
    REQUIRE(m.visible().size() == 1);
    CHECK(m.rows()[m.visible()[0]].id == "2");
    m.setFilter("会议");  // and the text filter on top: nothing
    CHECK(m.visible().empty());
    m.setTag(std::nullopt);
    CHECK(m.visible().size() == 1);
    m.setFilter("苗头性");  // a tag's label is searchable text too, in either language
    REQUIRE(m.visible().size() == 1);
    CHECK(m.rows()[m.visible()[0]].id == "1");
    m.setFilter("trending");
    REQUIRE(m.visible().size() == 1);
    CHECK(m.rows()[m.visible()[0]].id == "2");

    CHECK(joinTags({FindingTag::Emerging, FindingTag::Common}) == "common,emerging");
    CHECK(joinTags({}).empty());
    auto parsed = parseTags(" emerging, common ,common");
    REQUIRE(parsed.has_value());
    CHECK(joinTags(*parsed) == "common,emerging");
    REQUIRE(parseTags("").has_value());
    CHECK(parseTags("")->empty());
    CHECK_FALSE(parseTags("common,urgent").has_value());
}

TEST_CASE("ui findings: typing on narrows only the rows shown, and always agrees with filtering afresh") {
    Strings s = table();
    using namespace app;
    std::vector<FindingView> list;
    const std::vector<std::string> words = {"财务", "报销", "账簿", "公务", "接待", "Meeting", "资产", "审批"};
    for (int i = 0; i < 300; ++i)
        list.push_back(finding(std::to_string(i), words[static_cast<std::size_t>(i) % words.size()] + words[static_cast<std::size_t>(i * 7 / 3) % words.size()],
                               "第" + std::to_string(i) + "号 " + words[static_cast<std::size_t>(i * 5) % words.size()],
                               static_cast<FindingCategory>(i % 4), static_cast<Severity>(i % 3), static_cast<FindingStatus>(i % 8)));
    FindingsModel typing;
    typing.setFindings(list, s);
    typing.setSort(SortKey::Title, true);
    for (const std::string& text : {std::string("财务 报销 high"), std::string("meeting CONF"), std::string("第1 资"), std::string("账簿 其他")}) {
        std::string typed;
        for (std::size_t i = 0; i < text.size();) {
            std::size_t n = 1;  // a whole UTF-8 character at a time, as a person types
            while (i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) ++n;
            typed += text.substr(i, n);
            i += n;
            typing.setFilter(typed);
            FindingsModel fresh;
            fresh.setFindings(list, s);
            fresh.setSort(SortKey::Title, true);
            fresh.setFilter(typed);
            CHECK_MESSAGE(typing.visible() == fresh.visible(), typed);
        }
        // And deleting back to nothing.
        while (!typed.empty()) {
            std::size_t cut = typed.size() - 1;
            while (cut > 0 && (static_cast<unsigned char>(typed[cut]) & 0xC0) == 0x80) --cut;
            typed.resize(cut);
            typing.setFilter(typed);
            FindingsModel fresh;
            fresh.setFindings(list, s);
            fresh.setSort(SortKey::Title, true);
            fresh.setFilter(typed);
            CHECK_MESSAGE(typing.visible() == fresh.visible(), typed);
        }
    }
    CHECK(typing.visible().size() == list.size());
}

TEST_CASE("ui controller: intents that make no sense where the client stands are refused, not applied") {
    Strings s = table();
    Controller c(s, "");
    c.post(ShowView{ViewId::Findings});
    c.post(EditField{Field::Filter, "账"});
    c.post(Press{Button::Lock});
    auto problems = c.applyIntents();
    CHECK(problems.size() == 3);
    CHECK(c.view() == ViewId::Unlock);
    CHECK(c.findings().filter().empty());
}

TEST_CASE("ui controller: unlocking a directory without a store is refused next to the button") {
    Strings s = table();
    sync::test::TempDir tmp;
    Controller c(s, (tmp / "nothing").string());
    c.post(EditField{Field::Passphrase, kPass});
    c.post(Press{Button::Unlock});
    CHECK(c.applyIntents().empty());
    settle(c);
    CHECK(c.unlockState().refusalKey == "unlock.no_store");
    CHECK(c.state()["refusal"] == "unlock.no_store");
    CHECK_FALSE(c.unlocked());
}

TEST_CASE("ui controller: a wrong passphrase is refused, the right one opens the findings view, lock returns") {
    Strings s = table();
    sync::test::TempDir tmp;
    const fs::path dir = tmp / "store";
    {
        auto created = app::Session::create(dir, kPass, "李明", app::Role::WorkingGroupLead, sync::test::cheapKdf());
        REQUIRE_MESSAGE(created.ok(), (created.ok() ? std::string() : created.message()));
    }
    Controller c(s, dir);
    c.post(EditField{Field::Passphrase, "not the passphrase"});
    c.post(Press{Button::Unlock});
    CHECK(c.applyIntents().empty());
    CHECK(c.busy());
    settle(c);
    CHECK(c.unlockState().refusalKey == "error.locked");
    CHECK_FALSE(c.unlockState().refusalDetail.empty());
    CHECK(c.unlockState().passphrase.empty());  // wiped once used
    CHECK(c.view() == ViewId::Unlock);

    c.post(EditField{Field::Passphrase, kPass});
    c.post(Press{Button::Unlock});
    CHECK(c.applyIntents().empty());
    settle(c);
    CHECK(c.unlocked());
    CHECK(c.view() == ViewId::Enrol);  // a store the office has not enrolled can only enrol
    CHECK(c.state()["enrolled"] == "no");
    CHECK(c.views() == std::vector<ViewId>{ViewId::Enrol, ViewId::Settings});
    CHECK(c.unlockState().refusalKey.empty());
    CHECK(c.status().unlocked);
    CHECK_FALSE(c.status().haveServer);  // a new store knows no server: offline only
    CHECK(c.findings().rows().empty());

    c.post(ShowView{ViewId::Findings});  // not before enrolment
    CHECK(c.applyIntents().size() == 1);
    c.post(SetLanguage{Lang::En});
    c.post(EditField{Field::Code, "台账"});
    CHECK(c.applyIntents().empty());
    CHECK(c.state()["lang"] == "en");
    CHECK(c.glyphs().codepoints().count(U'台') == 1);  // typed text gets its glyphs too

    c.post(Press{Button::Lock});
    CHECK(c.applyIntents().empty());
    CHECK_FALSE(c.unlocked());
    CHECK(c.view() == ViewId::Unlock);
    CHECK(c.findings().rows().empty());
}

TEST_CASE("ui controller: auto-lock after the inactivity it is set to, on an injected clock - activity and intents put it off") {
    Strings s = table();
    sync::test::TempDir tmp;
    const fs::path dir = tmp / "store";
    {
        auto created = app::Session::create(dir, kPass, "李明", app::Role::WorkingGroupLead, sync::test::cheapKdf());
        REQUIRE(created.ok());
    }
    Controller c(s, dir);
    CHECK(c.autoLockMs() == 10 * 60 * 1000);  // the default
    CHECK_FALSE(c.lockDueMs());                // locked: nothing to lock
    c.setAutoLock(60'000);
    c.post(EditField{Field::Passphrase, kPass});
    c.post(Press{Button::Unlock});
    CHECK(c.applyIntents().empty());
    settle(c);  // polls at t = 0: the inactivity clock starts at the unlock
    REQUIRE(c.unlocked());
    REQUIRE(c.lockDueMs());
    CHECK(*c.lockDueMs() == 60'000);
    c.poll(59'999);
    CHECK(c.unlocked());
    c.noteActivity(50'000);  // input through the window
    c.poll(100'000);
    CHECK(c.unlocked());
    CHECK(*c.lockDueMs() == 110'000);
    c.poll(105'000);
    c.post(EditField{Field::Code, "账"});  // an intent is activity too (a script's line, a click)
    CHECK(c.applyIntents().empty());
    CHECK(*c.lockDueMs() == 165'000);
    c.poll(164'999);
    CHECK(c.unlocked());
    CHECK(c.poll(165'000));  // due: locked, every key dropped with the session
    CHECK_FALSE(c.unlocked());
    CHECK(c.view() == ViewId::Unlock);
    CHECK(c.unlockState().refusalKey == "unlock.auto_locked");
    CHECK(c.findings().rows().empty());
    CHECK_FALSE(c.lockDueMs());
    CHECK(s.has("unlock.auto_locked"));
    // 0: never.
    c.setAutoLock(0);
    c.post(EditField{Field::Passphrase, kPass});
    c.post(Press{Button::Unlock});
    CHECK(c.applyIntents().empty());
    settle(c);
    REQUIRE(c.unlocked());
    c.poll(std::int64_t{1} << 50);
    CHECK(c.unlocked());
}

TEST_CASE("ui script: unknown lines and bad arguments are refused with their line number") {
    auto ok = parseScript("# a comment\n\npassphrase-env XUNSHEN_PASSPHRASE\npress unlock\nview findings\n"
                          "type filter 台账 审批\nscreenshot findings\nlang en\nexpect shown 1\n");
    REQUIRE(ok.ok());
    REQUIRE(ok->size() == 7);
    CHECK((*ok)[3].verb == "type");
    CHECK((*ok)[3].arg == "filter");
    CHECK((*ok)[3].rest == "台账 审批");
    CHECK((*ok)[3].line == 6);

    auto bad = parseScript("press unlock\nclick somewhere\n");
    REQUIRE_FALSE(bad.ok());
    CHECK((bad.code() == app::AppError::Usage));
    CHECK(bad.message().find("line 2") != std::string::npos);
    CHECK_FALSE(parseScript("press nothing").ok());
    CHECK_FALSE(parseScript("view elsewhere").ok());
    CHECK_FALSE(parseScript("lang fr").ok());
    CHECK_FALSE(parseScript("type colour red").ok());
    CHECK_FALSE(parseScript("screenshot ../escape").ok());
}

TEST_CASE("ui script: the runner waits for frames, performs through intents and fails on what cannot be done") {
    Strings s = table();
    Controller c(s, "");
    auto steps = parseScript("lang en\nexpect lang en\nscreenshot first\npassphrase-env NOT_SET_ANYWHERE\n");
    REQUIRE(steps.ok());
    ScriptRunner r(*steps, [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
    using K = ScriptRunner::Next::Kind;
    CHECK(r.afterFrame(c).kind == K::Wait);  // the first frame has not settled
    CHECK(r.afterFrame(c).kind == K::Wait);  // lang en performed
    CHECK(c.lang() == Lang::En);
    CHECK(r.afterFrame(c).kind == K::Wait);
    auto shot = r.afterFrame(c);  // expect holds, then the screenshot
    CHECK(shot.kind == K::Screenshot);
    CHECK(shot.text == "first");
    CHECK(r.afterFrame(c).kind == K::Wait);
    auto failed = r.afterFrame(c);
    CHECK(failed.kind == K::Failed);
    CHECK(failed.text.find("line 4") != std::string::npos);

    auto view = parseScript("view findings\n");
    REQUIRE(view.ok());
    ScriptRunner locked(*view);
    locked.afterFrame(c);
    auto refused = locked.afterFrame(c);
    CHECK(refused.kind == K::Failed);
    CHECK(refused.text.find("needs an unlocked store") != std::string::npos);

    auto expect = parseScript("expect view findings\n");
    REQUIRE(expect.ok());
    ScriptRunner wrong(*expect);
    wrong.afterFrame(c);
    CHECK(wrong.afterFrame(c).kind == K::Failed);
}

TEST_CASE("ui options: the command line") {
    auto o = parseOptions({"--store", "/tmp/s", "--script", "a.txt", "--screenshot-dir", "shots", "--size", "1024x700",
                           "--lang", "en"});
    REQUIRE(o.ok());
    CHECK(o->store == "/tmp/s");
    CHECK(o->width == 1024);
    CHECK(o->height == 700);
    CHECK(o->lang == Lang::En);
    CHECK_FALSE(parseOptions({"--script", "a.txt"}).ok());  // needs --screenshot-dir
    CHECK_FALSE(parseOptions({"--size", "big"}).ok());
    CHECK_FALSE(parseOptions({"--frobnicate", "1"}).ok());
    auto files = parseOptions({"--state-file", "s.json", "--timings", "t.jsonl"});
    REQUIRE(files.ok());
    CHECK(files->stateFile == "s.json");
    CHECK(files->timingsFile == "t.jsonl");
    CHECK_FALSE(parseOptions({"--state-file"}).ok());
}

TEST_CASE("ui script: wait idles for whole seconds, then the script goes on") {
    CHECK_FALSE(parseScript("wait").ok());
    CHECK_FALSE(parseScript("wait 0").ok());
    CHECK_FALSE(parseScript("wait 1.5").ok());
    CHECK_FALSE(parseScript("wait 3601").ok());
    CHECK_FALSE(parseScript("wait 2 more").ok());
    Strings s = table();
    Controller c(s, "");
    auto steps = parseScript("wait 12\nlang en\n");
    REQUIRE(steps.ok());
    ScriptRunner r(*steps);
    using K = ScriptRunner::Next::Kind;
    CHECK(r.afterFrame(c).kind == K::Wait);
    auto idle = r.afterFrame(c);
    CHECK(idle.kind == K::Idle);
    CHECK(idle.seconds == 12);
    CHECK(r.afterFrame(c).kind == K::Wait);  // the window draws before the next line
    CHECK(r.afterFrame(c).kind == K::Wait);  // lang en performed
    CHECK(c.lang() == Lang::En);
}

}  // namespace
}  // namespace xs::ui
