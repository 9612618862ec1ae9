// The e2e tests' person at a terminal: xunshenctl on one store with a passphrase in the
// environment, and the set-ups most tests start from (an audit office, an enrolled person, an
// inspection open today).
#pragma once
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/model.h"
#include "tests/e2e/process.h"

namespace xs::test {

using nlohmann::json;
namespace fs = std::filesystem;

inline const char* kPass = "correct horse 电池 staple";

inline const std::vector<std::string> kCheap = {"--kdf-memory-kib", "8192", "--kdf-iterations", "1", "--kdf-parallelism", "1"};

struct Cli {
    TempDir dir;
    fs::path store = dir / "store";
    std::map<std::string, std::string> env = {{"XUNSHEN_PASSPHRASE", kPass}};

    RunResult operator()(std::vector<std::string> args, std::map<std::string, std::string> extra = {}) const {
        return at(store, std::move(args), std::move(extra));
    }
    // The same, on another store (the office's, say).
    RunResult at(const fs::path& s, std::vector<std::string> args, std::map<std::string, std::string> extra = {}) const {
        args.insert(args.begin(), {"--store", s.string()});
        auto e = env;
        for (auto& [k, v] : extra) e[k] = v;
        return run(args, e);
    }
    json jsonOf(std::vector<std::string> args) const {
        args.push_back("--json");
        auto r = (*this)(args);
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        return json::parse(r.out);
    }
    void init(const std::string& name, const std::string& role) const {
        std::vector<std::string> a = {"init", "--name", name, "--role", role};
        a.insert(a.end(), kCheap.begin(), kCheap.end());
        auto r = (*this)(a);
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    }
    // This store as the audit office's: 吴敏, the demo organisation, the office key.
    void makeOffice() const {
        init("吴敏", "audit_office");
        auto r = (*this)({"org", "import", std::string(XS_SOURCE_DIR) + "/assets/demo/org.json"});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        r = (*this)({"org", "create-office-key"});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    }
    // This store for a person of the organisation, enrolled by the office at `office` offline:
    // identity file to the office, enrolment file back.
    void enrolWith(const fs::path& office, const std::string& name, const std::string& role) const {
        init(name, role);
        fs::path device = dir / "device.json";
        REQUIRE((*this)({"identity", "export", "--out", device.string()}).exitCode == 0);
        auto r = at(office, {"org", "enrol-device", device.string()});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        fs::path enrolment = dir / "enrolment.json";
        r = at(office, {"org", "export-enrolment", "--out", enrolment.string()});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        r = (*this)({"org", "enrol", enrolment.string()});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    }
    // A working-group lead's store, enrolled by an audit office (the one at `office`, or a new one
    // beside this store), with an inspection open today whose confidentiality agreement the lead
    // signed (article 7(4)). Returns its id.
    std::string setUp(std::optional<fs::path> office = std::nullopt) const {
        fs::path officeStore = office ? *office : dir / "office";
        if (!office) {
            Cli o;
            o.store = officeStore;
            o.makeOffice();
        }
        enrolWith(officeStore, "郑华", "working_group_lead");
        auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
        std::string start = xs::app::formatDate(xs::app::dayAt(now.count(), 480) - 1);
        auto r = (*this)({"inspection", "create", "--unit", "E03", "--start", start, "--team", "W02,W03"});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        std::string id = r.out.substr(0, r.out.find('\n'));
        REQUIRE(id.size() == 36);
        signAgreement(id);
        return id;
    }
    // Signs the confidentiality agreement of an inspection this store's person is on the working
    // group of, as they would before first opening it.
    void signAgreement(const std::string& inspection) const {
        auto r = (*this)({"agreement", "sign", inspection});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    }
};


}  // namespace xs::test
