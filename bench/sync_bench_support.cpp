#include "bench/sync_bench_support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>

#include <curl/curl.h>
#include <httplib.h>

#include "app/model.h"
#include "sync/net/protocol.h"

namespace xs::bench {

namespace {
std::mutex g_serversMutex;
std::set<pid_t> g_servers;  // running xunshen-server children, killed by die()
}  // namespace

void die(const std::string& what) {
    std::cerr << "bench_sync: " << what << std::endl;
    {
        std::lock_guard lock(g_serversMutex);
        for (pid_t pid : g_servers) ::kill(pid, SIGKILL);
    }
    std::exit(1);
}

double msSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

std::string today() {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    return app::formatDate(app::dayAt(now.count(), 480) - 1);
}

// ---- Cli

std::map<std::string, std::string> Cli::env() const { return {{"XUNSHEN_PASSPHRASE", kPass}}; }

test::RunResult Cli::run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--store", store.string()});
    return test::run(args, env());
}

std::string Cli::must(std::vector<std::string> args) const {
    auto r = run(args);
    if (r.exitCode != 0) {
        std::string line;
        for (const auto& a : args) line += " " + a;
        die("xunshenctl --store " + store.string() + line + ": exit " + std::to_string(r.exitCode) + ": " + r.err);
    }
    return r.out;
}

json Cli::sync() const {
    std::string out = must({"sync", "--json"});
    auto at = out.rfind("\n{");
    return json::parse(out.substr(at == std::string::npos ? 0 : at + 1));
}

// ---- ServerChild

ServerChild::ServerChild(fs::path data, const fs::path& officeIdentity) : m_data(std::move(data)) {
    const int port = test::freeLoopbackPort();
    auto r = test::runProgram(test::serverPath(), {"init", "--data", m_data.string(), "--office", officeIdentity.string(),
                                                   "--listen", "127.0.0.1:" + std::to_string(port)});
    if (r.exitCode != 0) die("xunshen-server init: " + r.err);
    auto at = r.out.find("pin: ");
    if (at == std::string::npos) die("xunshen-server init printed no pin");
    m_pin = r.out.substr(at + 5, r.out.find('\n', at) - at - 5);
    m_url = "https://127.0.0.1:" + std::to_string(port);
}

ServerChild::~ServerChild() {
    if (m_pid > 0) {
        ::kill(m_pid, SIGKILL);
        int status = 0;
        ::waitpid(m_pid, &status, 0);
        forget(m_pid);
    }
}

void ServerChild::forget(pid_t pid) {
    std::lock_guard lock(g_serversMutex);
    g_servers.erase(pid);
}

void ServerChild::start() {
    const fs::path log = m_data.string() + ".log";
    const std::size_t before = fs::exists(log) ? fs::file_size(log) : 0;
    int logFd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logFd < 0) die("cannot open " + log.string());
    const std::string program = test::serverPath(), data = m_data.string();
    pid_t pid = ::fork();
    if (pid < 0) die("fork failed");
    if (pid == 0) {
        int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(devnull, 0);
        ::dup2(devnull, 1);
        ::dup2(logFd, 2);
        ::setsid();
        ::execl(program.c_str(), program.c_str(), "run", "--data", data.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(logFd);
    m_pid = pid;
    {
        std::lock_guard lock(g_serversMutex);
        g_servers.insert(pid);
    }
    for (int i = 0; i < 3000; ++i) {
        std::string text = test::readAll(log);
        if (text.find("\"event\":\"listening\"", before) != std::string::npos) return;
        int status = 0;
        if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
            m_pid = -1;
            die("xunshen-server exited at start: " + text.substr(std::min(before, text.size())));
        }
        ::usleep(10000);
    }
    die("xunshen-server did not listen within 30 s");
}

void ServerChild::stop() {
    if (m_pid <= 0) return;
    ::kill(m_pid, SIGTERM);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
    forget(m_pid);
    m_pid = -1;
}

long ServerChild::vmKiB(const char* field) const {
    std::ifstream in("/proc/" + std::to_string(m_pid) + "/status");
    std::string line, key = std::string(field) + ":";
    while (std::getline(in, line))
        if (line.rfind(key, 0) == 0) return std::stol(line.substr(key.size()));
    return -1;
}

// ---- World

World::World(const fs::path& dir) : m_dir(dir) {
    fs::create_directories(dir);
    m_office.store = dir / "office";
    std::vector<std::string> init = {"init", "--name", "吴敏", "--role", "audit_office"};
    init.insert(init.end(), kCheapKdf.begin(), kCheapKdf.end());
    m_office.must(init);
    m_office.must({"org", "import", std::string(XS_SOURCE_DIR) + "/assets/demo/org.json"});
    m_office.must({"org", "create-office-key"});
    const fs::path officeId = dir / "office-identity.json";
    m_office.must({"identity", "export", "--out", officeId.string()});
    m_server = std::make_unique<ServerChild>(dir / "server", officeId);
    m_server->start();
    m_office.must({"sync", "--server", m_server->url(), "--pin", m_server->pin()});
}

Cli World::enrol(const std::string& tag, const std::string& name, const std::string& role) {
    Cli c;
    c.store = m_dir / tag;
    std::vector<std::string> init = {"init", "--name", name, "--role", role};
    init.insert(init.end(), kCheapKdf.begin(), kCheapKdf.end());
    c.must(init);
    const fs::path device = m_dir / (tag + "-device.json"), enrolment = m_dir / (tag + "-enrolment.json");
    c.must({"identity", "export", "--out", device.string()});
    m_office.must({"org", "enrol-device", device.string()});
    m_office.must({"org", "export-enrolment", "--out", enrolment.string(), "--server-url", m_server->url(), "--tls-pin",
                   m_server->pin()});
    c.must({"org", "enrol", enrolment.string()});
    return c;
}

std::string planInspection(const Cli& lead, const std::string& team, const std::vector<std::string>& extra) {
    lead.sync();
    std::vector<std::string> args = {"inspection", "create", "--unit", "E03", "--start", today(), "--team", team};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string id = lead.must(args).substr(0, 36);
    lead.sync();
    return id;
}

// ---- RawServer

RawServer::RawServer(const fs::path& certPem, const fs::path& keyPem, bool tcpNoDelay)
    : m_http(std::make_unique<httplib::SSLServer>(certPem.c_str(), keyPem.c_str())) {
    if (!m_http->is_valid()) die("raw server: the TLS key or certificate could not be loaded");
    // As sync/server/server.cpp configures xunshen-server (threads: its default config).
    m_http->new_task_queue = [] { return new httplib::ThreadPool(32); };
    m_http->set_payload_max_length(sync::net::kMaxRequestBytes);
    m_http->set_read_timeout(30, 0);
    m_http->set_write_timeout(30, 0);
    m_http->set_keep_alive_timeout(30);
    m_http->set_tcp_nodelay(tcpNoDelay);
    m_http->Get("/tiny", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("{\"ok\":true}", "application/json");
    });
    m_http->Post("/raw", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("{\"ok\":true}", "application/json");
    });
    m_http->Get("/raw", [this](const httplib::Request& req, httplib::Response& res) {
        std::size_t i = std::stoul(req.get_param_value("i"));
        std::lock_guard lock(m_mutex);
        if (i >= m_answers.size()) {
            res.status = 404;
            return;
        }
        res.set_content(m_answers[i], "application/json");
    });
    m_port = m_http->bind_to_any_port("127.0.0.1");
    if (m_port <= 0) die("raw server: cannot bind");
    m_thread = std::thread([this] { m_http->listen_after_bind(); });
}

RawServer::~RawServer() {
    m_http->stop();
    m_thread.join();
}

void RawServer::setAnswers(std::vector<std::string> answers) {
    std::lock_guard lock(m_mutex);
    m_answers = std::move(answers);
}

// ---- RawClient

namespace {
std::size_t collect(char* data, std::size_t size, std::size_t n, void* user) {
    static_cast<std::string*>(user)->append(data, size * n);
    return size * n;
}
}  // namespace

RawClient::RawClient(const std::string& url, const std::string& pin) : m_url(url), m_pin("sha256//" + pin) {
    static const bool ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    if (!ready) die("libcurl could not start");
    m_curl = curl_easy_init();
}

RawClient::~RawClient() { curl_easy_cleanup(static_cast<CURL*>(m_curl)); }

std::string RawClient::post(const std::string& target, const std::string& body) { return perform(target, &body); }
std::string RawClient::get(const std::string& target) { return perform(target, nullptr); }

// The options of sync/net/client.cpp's Connection::request, minus the signature headers.
std::string RawClient::perform(const std::string& target, const std::string* body) {
    CURL* curl = static_cast<CURL*>(m_curl);
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    std::string answer;
    const std::string url = m_url + target;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_PINNEDPUBLICKEY, m_pin.c_str());
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    }
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200)
        die("raw " + target + ": " + curl_easy_strerror(rc) + ", HTTP " + std::to_string(status));
    return answer;
}

}  // namespace xs::bench
