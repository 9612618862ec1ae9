// The sync benchmark's scaffolding (bench/sync_bench.cpp): a real xunshen-server as a child
// process whose pid is known (for its peak RSS), a "world" of an audit office and people set up
// through xunshenctl as tests/e2e/sync_test.cpp does, and the raw side of the transfer
// comparison — a bare cpp-httplib SSLServer with the sync server's own certificate, key and
// settings, and a libcurl client with the sync client's options.
//
// Everything here dies (message on stderr, exit 1) on a failed set-up step: a benchmark that
// carries on after a failure measures something else.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/e2e/process.h"

namespace httplib {
class SSLServer;
}

namespace xs::bench {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

inline constexpr const char* kPass = "bench passphrase 巡审";
// The e2e tests' Argon2id (m = 8 MiB, t = 1, p = 1): set-up is not what is measured.
inline const std::vector<std::string> kCheapKdf = {"--kdf-memory-kib", "8192", "--kdf-iterations", "1",
                                                   "--kdf-parallelism", "1"};

// Also SIGKILLs every xunshen-server child still running.
[[noreturn]] void die(const std::string& what);
double msSince(Clock::time_point t0);
double percentile(std::vector<double> v, double p);  // nearest rank, p in [0, 1]
std::string today();                                   // YYYY-MM-DD in UTC+8

// xunshenctl on one store, the passphrase in its environment.
struct Cli {
    fs::path store;
    test::RunResult run(std::vector<std::string> args) const;
    // The same; dies unless it exits 0. Returns stdout.
    std::string must(std::vector<std::string> args) const;
    // `sync --json`: the round's summary.
    json sync() const;
    std::map<std::string, std::string> env() const;
};

// xunshen-server in `data` (initialised in the constructor, trusting the office identity file),
// on a loopback port chosen once. stderr goes to data + ".log".
class ServerChild {
public:
    ServerChild(fs::path data, const fs::path& officeIdentity);
    ~ServerChild();  // SIGKILL if running
    void start();    // returns once it listens
    void stop();     // SIGTERM, reaped
    pid_t pid() const { return m_pid; }
    const std::string& url() const { return m_url; }
    const std::string& pin() const { return m_pin; }
    fs::path certPem() const { return m_data / "tls" / "cert.pem"; }
    fs::path keyPem() const { return m_data / "tls" / "key.pem"; }
    // From /proc/<pid>/status, in KiB: the peak (VmHWM) and current (VmRSS) resident set.
    long vmKiB(const char* field) const;

private:
    static void forget(pid_t pid);
    fs::path m_data;
    std::string m_url, m_pin;
    pid_t m_pid = -1;
};

// An audit office (the demo organisation, the office key) and a server trusting it, the office
// synced once; people are enrolled through the CLI with enrolment files that carry the server.
class World {
public:
    explicit World(const fs::path& dir);
    const fs::path& dir() const { return m_dir; }
    const Cli& office() const { return m_office; }
    ServerChild& server() { return *m_server; }
    // A new store for `name` (of the demo organisation) in `role`, enrolled by the office; its
    // directory is dir/tag. The office does not sync: call officeSync() after a group.
    Cli enrol(const std::string& tag, const std::string& name, const std::string& role);
    void officeSync() const { m_office.sync(); }

private:
    fs::path m_dir;
    Cli m_office;
    std::unique_ptr<ServerChild> m_server;
};

// The lead plans an inspection of E03 with `team` (codes, comma-separated) on-site from today;
// the lead syncs before and after. Returns its id.
std::string planInspection(const Cli& lead, const std::string& team, const std::vector<std::string>& extra = {});

// The raw side: POST /raw and GET /tiny answer {"ok":true}; GET /raw?i=N answers body N of
// setAnswers(). Same certificate and key as the sync server, same thread count, body limit and
// timeouts, and (unless tcpNoDelay) cpp-httplib's default of Nagle's algorithm on, as
// xunshen-server runs.
class RawServer {
public:
    RawServer(const fs::path& certPem, const fs::path& keyPem, bool tcpNoDelay = false);
    ~RawServer();
    int port() const { return m_port; }
    void setAnswers(std::vector<std::string> answers);

private:
    std::unique_ptr<httplib::SSLServer> m_http;
    std::thread m_thread;
    int m_port = 0;
    std::mutex m_mutex;
    std::vector<std::string> m_answers;  // guarded by m_mutex
};

// One kept-alive libcurl handle with the sync client's options (pinned key, no CA, no
// compression), unsigned.
class RawClient {
public:
    RawClient(const std::string& url, const std::string& pin);
    ~RawClient();
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;
    // The answer's body; dies on anything but 200.
    std::string post(const std::string& target, const std::string& body);
    std::string get(const std::string& target);

private:
    std::string perform(const std::string& target, const std::string* body);
    std::string m_url, m_pin;
    void* m_curl = nullptr;
};

}  // namespace xs::bench
