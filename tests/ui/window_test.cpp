// The real client in a real (virtual) window: `xunshen --script` under xvfb-run with Mesa's
// software OpenGL on a demo store, through the same intents a click posts. Checks each PNG (it
// exists, has the window's size, is not blank) and the state the actions should leave. Skipped
// (exit 77) only when xvfb-run is not installed.
#include <doctest/doctest.h>

#include <cstdlib>
#include <set>
#include <unistd.h>
#include <nlohmann/json.hpp>
#include <stb_image.h>

#include "tests/e2e/process.h"

namespace xs::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kPassphrase = "correct horse 电池 staple";
constexpr int kWidth = 1280, kHeight = 800;

std::string findOnPath(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/bin:/bin";
    std::size_t at = 0;
    while (at <= p.size()) {
        std::size_t colon = p.find(':', at);
        if (colon == std::string::npos) colon = p.size();
        fs::path candidate = fs::path(p.substr(at, colon - at)) / name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
        at = colon + 1;
    }
    return {};
}

std::string xvfbRun() {
    static const std::string found = findOnPath("xvfb-run");
    if (found.empty()) {
        MESSAGE("xvfb-run is not installed (Debian package xvfb): skipped");
        std::exit(77);  // ctest SKIP_RETURN_CODE
    }
    return found;
}

std::string clientPath() { return std::string(XS_BINARY_DIR) + "/app/ui/xunshen"; }

RunResult runClient(const fs::path& store, const fs::path& script, const fs::path& shots) {
    return runProgram(xvfbRun(),
                      {"-a", "-s", "-screen 0 1600x1000x24", "/usr/bin/env", "LIBGL_ALWAYS_SOFTWARE=1", clientPath(),
                       "--store", store.string(), "--script", script.string(), "--screenshot-dir", shots.string(),
                       "--size", std::to_string(kWidth) + "x" + std::to_string(kHeight)},
                      {{"XUNSHEN_PASSPHRASE", kPassphrase}});
}

json readJson(const fs::path& file) {
    REQUIRE_MESSAGE(fs::exists(file), file.string());
    return json::parse(readAll(file));
}

// The PNG exists, is the window's size and shows something: many distinct colours (text is
// antialiased), not one flat fill.
void checkPng(const fs::path& file) {
    INFO(file.string());
    REQUIRE(fs::exists(file));
    int w = 0, h = 0, n = 0;
    unsigned char* px = stbi_load(file.c_str(), &w, &h, &n, 3);
    REQUIRE(px != nullptr);
    CHECK(w == kWidth);
    CHECK(h == kHeight);
    std::set<std::uint32_t> colours;
    for (int i = 0; i < w * h; ++i)
        colours.insert(std::uint32_t{px[3 * i]} << 16 | std::uint32_t{px[3 * i + 1]} << 8 | px[3 * i + 2]);
    stbi_image_free(px);
    CHECK(colours.size() >= 32);
}

struct DemoStore {
    TempDir dir;
    fs::path store = dir / "store";
    json findings;
    DemoStore() {
        std::map<std::string, std::string> env = {{"XUNSHEN_PASSPHRASE", kPassphrase}};
        auto r = runProgram(cliPath(), {"--store", store.string(), "demo", "--kdf-memory-kib", "8192", "--kdf-iterations",
                                        "1", "--kdf-parallelism", "1"},
                            env);
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        r = runProgram(cliPath(), {"--store", store.string(), "finding", "list", "--json"}, env);
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        json parsed = json::parse(r.out);
        findings = parsed.is_array() ? parsed : parsed["findings"];
        REQUIRE(findings.size() >= 2);
    }
    // The titles of the findings whose title or description holds `text`, in list order.
    std::vector<std::string> titlesWith(const std::string& text) const {
        std::vector<std::string> out;
        for (const auto& f : findings) {
            const std::string title = f["title"].get<std::string>();
            const std::string description = f.value("description", std::string());
            if (title.find(text) != std::string::npos || description.find(text) != std::string::npos) out.push_back(title);
        }
        return out;
    }
};

TEST_CASE("ui window: unlock refused, unlock, findings filtered in Chinese, switched to English, each screenshotted") {
    xvfbRun();
    DemoStore demo;
    const auto expected = demo.titlesWith("账");
    REQUIRE_FALSE(expected.empty());
    REQUIRE(expected.size() < demo.findings.size());  // the filter has something to hide

    fs::path script = demo.dir / "script.txt";
    fs::path shots = demo.dir / "shots";
    writeAll(script,
             "# a wrong passphrase first: refused, next to the button\n"
             "type passphrase this is not it\n"
             "press unlock\n"
             "expect refusal error.locked\n"
             "screenshot unlock-refused\n"
             "passphrase-env XUNSHEN_PASSPHRASE\n"
             "press unlock\n"
             "expect view findings\n"
             "screenshot findings\n"
             "type filter 账\n"
             "expect shown " + std::to_string(expected.size()) + "\n"
             "screenshot findings-filtered\n"
             "lang en\n"
             "screenshot findings-en\n");
    auto r = runClient(demo.store, script, shots);
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);

    for (const char* name : {"unlock-refused", "findings", "findings-filtered", "findings-en"})
        checkPng(shots / (std::string(name) + ".png"));

    json refused = readJson(shots / "unlock-refused.json");
    CHECK(refused["view"] == "unlock");
    CHECK(refused["unlocked"] == "no");
    CHECK(refused["refusal"] == "error.locked");
    CHECK(refused["lang"] == "zh");

    json all = readJson(shots / "findings.json");
    CHECK(all["view"] == "findings");
    CHECK(all["unlocked"] == "yes");
    CHECK(all["rows"] == std::to_string(demo.findings.size()));
    CHECK(all["shown"] == all["rows"]);

    json filtered = readJson(shots / "findings-filtered.json");
    CHECK(filtered["filter"] == "账");
    CHECK(filtered["titles"].get<std::vector<std::string>>() == expected);
    CHECK(filtered["missing_glyphs"] == 0);

    json last = readJson(shots / "state.json");
    CHECK(last["lang"] == "en");
    CHECK(last["view"] == "findings");
    CHECK(last["filter"] == "账");  // the language switch kept the filter
    CHECK(last["shown"] == std::to_string(expected.size()));
}

TEST_CASE("ui window: an action the client cannot perform fails the run with its line") {
    xvfbRun();
    TempDir dir;
    fs::path script = dir / "script.txt";
    writeAll(script, "lang en\nview findings\n");
    auto r = runClient(dir / "no-store", script, dir / "shots");
    CHECK(r.exitCode == 1);
    CHECK(r.err.find("line 2") != std::string::npos);
    CHECK(r.err.find("needs an unlocked store") != std::string::npos);
}

TEST_CASE("ui window: an unknown script line is refused before any window opens") {
    TempDir dir;
    fs::path script = dir / "script.txt";
    writeAll(script, "press unlock\nclick the red button\n");
    // No xvfb-run: the script is read before the display is needed.
    auto r = runProgram(clientPath(), {"--store", (dir / "s").string(), "--script", script.string(), "--screenshot-dir",
                                       (dir / "shots").string()});
    CHECK(r.exitCode == 2);
    CHECK(r.err.find("line 2: unknown action") != std::string::npos);
}

}  // namespace
}  // namespace xs::test
