// The demo store the client's window tests open: `xunshenctl demo` (the lead 郑华's store, one
// inspection walked through) made with a cheap KDF, and its findings as `finding list --json`
// gives them (tests/ui/window_test.cpp, tests/ui/xdotool_test.cpp).
#pragma once
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "tests/e2e/process.h"

namespace xs::test {

struct DemoStore {
    TempDir dir;
    std::filesystem::path store = dir / "store";
    nlohmann::json findings;
    explicit DemoStore(const std::string& passphrase) {
        const std::map<std::string, std::string> env = {{"XUNSHEN_PASSPHRASE", passphrase}};
        auto r = runProgram(cliPath(), {"--store", store.string(), "demo", "--kdf-memory-kib", "8192", "--kdf-iterations",
                                        "1", "--kdf-parallelism", "1"},
                            env);
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        r = runProgram(cliPath(), {"--store", store.string(), "finding", "list", "--json"}, env);
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        nlohmann::json parsed = nlohmann::json::parse(r.out);
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

}  // namespace xs::test
