// The online e2e tests' world: an audit office, a real xunshen-server trusting it, and people of
// the demo organisation enrolled online-ready through the CLI (tests/e2e/cli_fixture.h).
#pragma once
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/cli_fixture.h"
#include "tests/e2e/process.h"

namespace xs::test {
namespace {

std::string today() {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    return xs::app::formatDate(xs::app::dayAt(now.count(), 480) - 1);
}

// An audit office, a server trusting it, and people enrolled online-ready (the enrolment file
// carries the server's URL and pin).
struct SyncWorld {
    Cli office;
    TempDir serverDir;
    std::unique_ptr<ServerProcess> server;
    std::map<std::string, std::unique_ptr<Cli>> people;

    SyncWorld() {
        office.makeOffice();
        fs::path officeId = office.dir / "office-identity.json";
        REQUIRE(office({"identity", "export", "--out", officeId.string()}).exitCode == 0);
        server = std::make_unique<ServerProcess>(serverDir / "server", officeId);
        server->start();
        auto r = office({"sync", "--server", server->url(), "--pin", server->pin()});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    }
    // Enrols `name` (of the demo organisation) in `role`; the office syncs the registration.
    Cli& enrol(const std::string& name, const std::string& role) {
        auto& c = people[name];
        c = std::make_unique<Cli>();
        c->init(name, role);
        fs::path device = c->dir / "device.json";
        REQUIRE(c->operator()({"identity", "export", "--out", device.string()}).exitCode == 0);
        auto r = office({"org", "enrol-device", device.string()});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        fs::path enrolment = c->dir / "enrolment.json";
        r = office({"org", "export-enrolment", "--out", enrolment.string(), "--server-url", server->url(), "--tls-pin",
                    server->pin()});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        r = (*c)({"org", "enrol", enrolment.string()});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        sync(office);
        return *c;
    }
    // The lead plans an inspection of E03 with W02 (冯磊) on the team, today; the lead and
    // `others` sync it, and those of them on its working group sign its confidentiality agreement
    // (article 7(4)) and sync that. Returns its id.
    static std::string inspectionFor(const Cli& lead, const std::vector<const Cli*>& others) {
        sync(lead);
        auto r = lead({"inspection", "create", "--unit", "E03", "--start", today(), "--team", "W02"});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        const std::string id = r.out.substr(0, 36);
        sync(lead);
        std::vector<const Cli*> all = {&lead};
        all.insert(all.end(), others.begin(), others.end());
        signAll(id, all);
        return id;
    }
    // Those of `who` on the inspection's working group sign its confidentiality agreement
    // (article 7(4)), as they would before first opening it; then everyone of them syncs twice,
    // so each holds every signature.
    static void signAll(const std::string& inspection, const std::vector<const Cli*>& who) {
        for (const Cli* c : who) {
            sync(*c);
            if (c->jsonOf({"inspection", "show", inspection})["agreement_required"] == true) {
                c->signAgreement(inspection);
                sync(*c);
            }
        }
        for (const Cli* c : who) sync(*c);
    }
    static json sync(const Cli& c) {
        auto r = c({"sync", "--json"});
        REQUIRE_MESSAGE(r.exitCode == 0, r.err);
        return json::parse(r.out.substr(r.out.rfind("\n{") == std::string::npos ? 0 : r.out.rfind("\n{") + 1));
    }
};

}  // namespace
}  // namespace xs::test
