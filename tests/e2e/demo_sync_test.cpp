// `xunshenctl demo-sync --dir DIR` end to end: it starts a real xunshen-server, walks five devices
// through the immediate-fix path, stops the server and leaves everything behind for a person to
// look at with the commands it prints.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "tests/e2e/cli_fixture.h"
#include "tests/e2e/process.h"

using namespace xs::test;

namespace {

const std::vector<std::string> kDevices = {"office", "inspector-a", "inspector-b", "lead", "unit-head"};

bool anyProcessNames(const std::string& text) {
    for (const auto& e : fs::directory_iterator("/proc")) {
        const std::string pid = e.path().filename().string();
        if (pid.find_first_not_of("0123456789") != std::string::npos || pid == std::to_string(::getpid())) continue;
        std::string cmdline = readAll(e.path() / "cmdline");
        for (auto& c : cmdline)
            if (c == '\0') c = ' ';
        if (cmdline.find(text) != std::string::npos) return true;
    }
    return false;
}

bool accepts(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

TEST_CASE(
    "demo-sync: a real server and five devices through the immediate-fix path - stores and server data left in DIR, "
    "the server stopped") {
    TempDir tmp;
    const fs::path dir = tmp / "demo";
    const std::map<std::string, std::string> env = {{"XUNSHEN_PASSPHRASE", kPass}};
    std::vector<std::string> args = {"demo-sync", "--dir", dir.string()};
    args.insert(args.end(), kCheap.begin(), kCheap.end());
    auto r = run(args, env);
    REQUIRE_MESSAGE(r.exitCode == 0, (r.out + r.err));
    MESSAGE(r.out);
    // The steps as a person reads them: the notice arriving at the unit head, 已签收 on the lead's.
    CHECK(r.out.find("收到立行立改通知") != std::string::npos);
    CHECK(r.out.find("已签收") != std::string::npos);
    CHECK(r.out.find("--store " + (dir / "unit-head").string() + " notice list") != std::string::npos);
    CHECK(r.out.find(kPass) == std::string::npos);  // a passphrase the person chose is never printed

    // The server's data directory is left, and the server is gone.
    CHECK(fs::exists(dir / "server" / "server.conf"));
    CHECK(fs::exists(dir / "server" / "store"));
    const std::string log = readAll(dir / "server.log");
    CHECK(log.find("\"event\":\"stopped\"") != std::string::npos);
    auto at = log.find("\"port\":");
    REQUIRE(at != std::string::npos);
    const int port = std::stoi(log.substr(at + 7));
    CHECK_FALSE(accepts(port));
    CHECK_FALSE(anyProcessNames((dir / "server").string()));

    // Each device's store, opened with the same passphrase.
    Cli look;
    auto on = [&](const std::string& device, std::vector<std::string> a) {
        a.push_back("--json");
        auto res = look.at(dir / device, a);
        REQUIRE_MESSAGE(res.exitCode == 0, (device + ": " + res.err));
        return json::parse(res.out);
    };
    json notices = on("lead", {"notice", "list"});
    REQUIRE(notices.size() == 1);
    CHECK(notices[0]["acknowledged"] == true);
    CHECK(notices[0]["acknowledged_by_name"] == "高峰");
    CHECK(on("unit-head", {"notice", "list"}) == notices);
    CHECK(on("unit-head", {"finding", "list"}).empty());
    const json findings = on("office", {"finding", "list"});
    CHECK(findings.size() == 2);
    for (const std::string device : {"lead", "inspector-b"}) {
        CAPTURE(device);
        CHECK(on(device, {"finding", "list"}) == findings);
    }
    // 冯磊 has not signed the agreement: his store holds the findings but shows none of them, nor
    // the notice, until he signs (what the client's agreement view does for him).
    CHECK(on("inspector-a", {"finding", "list"}).empty());
    const json agreements = on("office", {"agreement", "list"});
    CHECK(agreements.size() == 2);
    for (const auto& a : agreements) CHECK(a["person_name"] != "冯磊");
    REQUIRE(look.at(dir / "inspector-a", {"agreement", "sign", findings[0]["inspection_id"].get<std::string>()}).exitCode == 0);
    CHECK(on("inspector-a", {"finding", "list"}) == findings);
    for (const auto& device : kDevices) {
        CAPTURE(device);
        CHECK(fs::exists(dir / device / "keyfile.json"));
        auto v = look.at(dir / device, {"verify"});
        CHECK_MESSAGE(v.exitCode == 0, (v.out + v.err));
    }
}

TEST_CASE("demo-sync: a directory that is not empty is refused and left as it was") {
    TempDir dir;
    writeAll(dir / "notes.txt", "mine");
    auto r = run({"demo-sync", "--dir", dir.path().string()}, {{"XUNSHEN_PASSPHRASE", kPass}});
    CHECK(r.exitCode == 5);
    CHECK(r.err.find("not empty") != std::string::npos);
    CHECK(snapshot(dir.path()).size() == 1);
}

TEST_CASE("demo-sync: XUNSHEN_SERVER naming no program is said plainly, before anything is made") {
    TempDir dir;
    auto r = run({"demo-sync", "--dir", (dir / "demo").string()},
                 {{"XUNSHEN_PASSPHRASE", kPass}, {"XUNSHEN_SERVER", (dir / "no-such-server").string()}});
    CHECK(r.exitCode == 4);
    CHECK(r.err.find("XUNSHEN_SERVER") != std::string::npos);
    CHECK_FALSE(fs::exists(dir / "demo"));
}

TEST_CASE("demo-sync: killed while the server runs - the server goes with it") {
    TempDir tmp;
    const fs::path dir = tmp / "demo";
    std::vector<std::string> args = {"demo-sync", "--dir", dir.string()};
    args.insert(args.end(), kCheap.begin(), kCheap.end());
    Child demo(args, {{"XUNSHEN_PASSPHRASE", kPass}});
    std::vector<std::string> lines;
    bool listening = false;
    for (int i = 0; i < 600 && !listening; ++i) {
        REQUIRE(demo.readLines(lines, 100));
        for (const auto& l : lines)
            if (l.find("listening on https://127.0.0.1:") != std::string::npos) listening = true;
    }
    REQUIRE(listening);
    REQUIRE(anyProcessNames((dir / "server").string()));
    demo.kill9();
    CHECK(demo.wait() == -9);
    bool gone = false;
    for (int i = 0; i < 300 && !gone; ++i) {
        gone = !anyProcessNames((dir / "server").string());
        if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(gone);
}
