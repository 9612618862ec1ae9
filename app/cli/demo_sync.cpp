#include "app/cli/demo_sync.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "app/model.h"

extern char** environ;

namespace xs::app::cli {
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

constexpr int kNotRunning = -1000;

struct Ran {
    int code = kNotRunning;  // exit code, or -signal
    std::string out, err;
};

int decodeStatus(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return kNotRunning;
}

// The environment of a child: ours without the passphrases and the store, and with `passphrase`
// (for the xunshenctl steps) when it is not empty.
std::vector<std::string> childEnvironment(const std::string& passphrase) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        std::string key = kv.substr(0, kv.find('='));
        if (key == "XUNSHEN_PASSPHRASE" || key == "XUNSHEN_NEW_PASSPHRASE" || key == "XUNSHEN_STORE") continue;
        env.push_back(std::move(kv));
    }
    if (!passphrase.empty()) env.push_back("XUNSHEN_PASSPHRASE=" + passphrase);
    return env;
}

// Starts `program args` with stdin from /dev/null and stdout/stderr on the given descriptors,
// SIGPIPE back to its default. With `dieWithParent` it gets SIGTERM should this process end
// first (killed, or its stdout closed under it), so no server outlives the demo. Returns its
// pid, or -1.
pid_t spawn(const fs::path& program, const std::vector<std::string>& args, const std::vector<std::string>& env,
            int outFd, int errFd, bool dieWithParent = false) {
    std::vector<std::string> argvText = {program.string()};
    argvText.insert(argvText.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (auto& a : argvText) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> envText = env;
    for (auto& e : envText) envp.push_back(e.data());
    envp.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid != 0) return pid;  // the parent, or -1
    if (dieWithParent && (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)) _exit(127);
    signal(SIGPIPE, SIG_DFL);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(outFd, 1);
    dup2(errFd, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
}

// Runs a program to its end, its stdout and stderr collected.
Ran runCaptured(const fs::path& program, const std::vector<std::string>& args, const std::vector<std::string>& env) {
    Ran r;
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0) return r;
    if (pipe2(err, O_CLOEXEC) != 0) {
        ::close(out[0]);
        ::close(out[1]);
        return r;
    }
    const pid_t pid = spawn(program, args, env, out[1], err[1]);
    ::close(out[1]);
    ::close(err[1]);
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open = 2;
    char buf[65536];
    while (pid > 0 && open > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
                continue;
            }
            ::close(fds[i].fd);
            fds[i].fd = -1;
            --open;
        }
    }
    for (auto& f : fds)
        if (f.fd >= 0) ::close(f.fd);
    if (pid > 0) {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        r.code = decodeStatus(status);
    }
    return r;
}

// A loopback port that was free a moment ago (the server binds it next).
AResult<int> freeLoopbackPort() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(AppError::Failed, "no socket for finding a free port");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
              ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    ::close(fd);
    if (!ok) return fail(AppError::Failed, "no free port on 127.0.0.1");
    return static_cast<int>(ntohs(a.sin_port));
}

std::string readText(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool isExecutableFile(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

// A word for a shell: quoted when it holds anything but plain characters.
std::string shellWord(const std::string& s) {
    bool plain = !s.empty();
    for (unsigned char c : s)
        if (!(std::isalnum(c) || c == '/' || c == '.' || c == '-' || c == '_' || c == ':' || c >= 0x80)) plain = false;
    if (plain) return s;
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// The first line of a child's stderr, for a failure message.
std::string firstLine(const std::string& text) {
    std::string t = text.substr(0, text.find('\n'));
    return t.empty() ? std::string("(nothing on stderr)") : t;
}

// The xunshen-server child: started on a data directory, its stderr appended to a log;
// stopped with SIGTERM (SIGKILL if it has not stopped 30 s later) by stop() or the destructor.
class ServerChild {
public:
    ServerChild() = default;
    ServerChild(const ServerChild&) = delete;
    ServerChild& operator=(const ServerChild&) = delete;
    ~ServerChild() { stop(); }

    // Returns once the log says it listens (30 s at most).
    AStatus start(const fs::path& binary, const fs::path& data, const fs::path& log,
                  const std::vector<std::string>& env) {
        int logFd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (logFd < 0 || devnull < 0) {
            if (logFd >= 0) ::close(logFd);
            if (devnull >= 0) ::close(devnull);
            return fail(AppError::Failed, "cannot write " + log.string());
        }
        const std::size_t before = readText(log).size();
        m_pid = spawn(binary, {"run", "--data", data.string()}, env, devnull, logFd, true);
        ::close(logFd);
        ::close(devnull);
        if (m_pid < 0) return fail(AppError::Failed, "cannot start " + binary.string());
        for (int i = 0; i < 3000; ++i) {
            std::string text = readText(log);
            if (text.find("\"event\":\"listening\"", before) != std::string::npos) return {};
            int status = 0;
            if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
                m_pid = -1;
                return fail(AppError::Failed, "xunshen-server exited at start: " + firstLine(text.substr(before)));
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        stop();
        return fail(AppError::Failed, "xunshen-server did not start listening within 30 s (see " + log.string() + ")");
    }

    // SIGTERM and wait: its exit code (0 is a clean stop), -signal, or kNotRunning.
    int stop() {
        if (m_pid <= 0) return kNotRunning;
        ::kill(m_pid, SIGTERM);
        int status = 0;
        for (int i = 0; i < 3000; ++i) {
            pid_t got = waitpid(m_pid, &status, WNOHANG);
            if (got == m_pid || (got < 0 && errno != EINTR)) break;
            if (i == 2999) {
                ::kill(m_pid, SIGKILL);
                waitpid(m_pid, &status, 0);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        m_pid = -1;
        return decodeStatus(status);
    }
    bool running() const { return m_pid > 0; }
    pid_t pid() const { return m_pid; }

private:
    pid_t m_pid = -1;  // > 0 while it runs
};

// One person's device in the demo: its folder under DIR, the person of the demo organisation
// (assets/demo/org.json) and the role, and how the narration names them.
struct Device {
    const char* dir;
    const char* name;
    const char* role;
    const char* label;
};

const Device kOffice = {"office", "吴敏", "audit_office", "审计办公室"};
const Device kInspectorA = {"inspector-a", "冯磊", "working_group_member", "检查组成员 A"};
const Device kInspectorB = {"inspector-b", "何芳", "working_group_member", "检查组成员 B"};
const Device kLead = {"lead", "郑华", "working_group_lead", "工作组组长"};
const Device kUnitHead = {"unit-head", "高峰", "unit_head", "区固体废物与化学品管理中心负责人"};  // unit E03
const Device* const kEnrolled[] = {&kInspectorA, &kInspectorB, &kLead, &kUnitHead};
const Device* const kEveryDevice[] = {&kOffice, &kInspectorA, &kInspectorB, &kLead, &kUnitHead};

std::string who(const Device& d) {
    return std::string(d.label) + " " + d.name;
}

// The walkthrough as a sequence of steps, each a method; the first failing step ends it (the
// server is stopped by m_server's destructor on the way out).
class DemoSync {
public:
    DemoSync(const DemoSyncOptions& o, const std::function<void(const std::string&)>& say, fs::path serverBinary)
        : m_o(o),
          m_say(say),
          m_serverBinary(std::move(serverBinary)),
          m_env(childEnvironment(o.passphrase)),
          m_serverEnv(childEnvironment("")) {}

    AResult<Json> run() {
        for (auto step : {&DemoSync::makeOffice, &DemoSync::startServer, &DemoSync::enrolDevices,
                          &DemoSync::planInspection, &DemoSync::captureFindings, &DemoSync::reviewAndIssue,
                          &DemoSync::unitHeadAcknowledges, &DemoSync::leadSeesAcknowledgement,
                          &DemoSync::syncEveryDevice, &DemoSync::stopServer, &DemoSync::verifyEveryStore}) {
            if (auto s = (this->*step)(); !s) return s.error();
        }
        howToLook();
        Json stores = Json::object();
        for (const Device* d : kEveryDevice) stores[d->dir] = store(*d).string();
        return Json{{"dir", m_o.dir.string()},
                    {"server",
                     {{"data", (m_o.dir / "server").string()},
                      {"url", m_url},
                      {"pin", m_pin},
                      {"log", (m_o.dir / "server.log").string()},
                      {"exit_code", m_serverExit}}},
                    {"stores", stores},
                    {"inspection", m_inspection},
                    {"findings", Json::array({m_immediateFinding, m_otherFinding})},
                    {"notice", m_notice},
                    {"acknowledged", m_acknowledged},
                    {"verified", m_verified}};
    }

private:
    fs::path store(const Device& d) const { return m_o.dir / d.dir; }
    fs::path exchange(const std::string& file) const { return m_o.dir / "exchange" / file; }

    // One xunshenctl step on a device's store: its stdout, or a failure naming the command.
    AResult<std::string> ctl(const Device& d, const std::vector<std::string>& args) {
        std::vector<std::string> full = {"--store", store(d).string()};
        full.insert(full.end(), args.begin(), args.end());
        Ran r = runCaptured(m_o.self, full, m_env);
        if (r.code == 0) return r.out;
        std::string command = "xunshenctl";
        for (const auto& a : full) command += " " + shellWord(a);
        AppError code = r.code > 0 && r.code <= static_cast<int>(AppError::Offline) ? static_cast<AppError>(r.code)
                                                                                    : AppError::Failed;
        return fail(code,
                    "demo-sync stopped: `" + command + "` exited " + std::to_string(r.code) + ": " + firstLine(r.err));
    }
    AResult<Json> ctlJson(const Device& d, std::vector<std::string> args) {
        args.push_back("--json");
        auto out = ctl(d, args);
        if (!out) return out.error();
        Json j = Json::parse(*out, nullptr, false);
        if (j.is_discarded())
            return fail(AppError::Failed, "demo-sync: the output of `" + args.front() + "` is not JSON");
        return j;
    }
    // What a step printed, indented under the narration.
    void relay(const std::string& out) {
        std::istringstream lines(out);
        for (std::string line; std::getline(lines, line);)
            if (!line.empty()) m_say("      " + line);
    }
    // A sync round on a device, told by its last line (sent, received), or with every arrival.
    enum class Tell { Summary, Arrivals };
    AStatus syncDevice(const Device& d, Tell tell = Tell::Summary, std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"sync"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto out = ctl(d, args);
        if (!out) return out.error();
        std::string text = *out;
        while (!text.empty() && text.back() == '\n') text.pop_back();
        if (tell == Tell::Summary) text = text.substr(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
        m_say("   同步 sync " + who(d) + ":");
        relay(text);
        return {};
    }
    AStatus initStore(const Device& d) {
        std::vector<std::string> args = {"init", "--name", d.name, "--role", d.role};
        args.insert(args.end(), m_o.kdfArgs.begin(), m_o.kdfArgs.end());
        auto out = ctl(d, args);
        if (!out) return out.error();
        return {};
    }
    std::string idOf(const Json& j) const {
        return j.is_object() && j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>() : "";
    }

    AStatus makeOffice() {
        std::error_code ec;
        fs::create_directories(m_o.dir / "exchange", ec);
        if (ec) return fail(AppError::Failed, "cannot create " + (m_o.dir / "exchange").string() + ": " + ec.message());
        m_say("1. 审计办公室 The audit office's store " + store(kOffice).string() + " for " + kOffice.name +
              ": organisation imported from org.json, office key made");
        XS_TRY_APP(initStore(kOffice));
        if (auto r = ctl(kOffice, {"org", "import", (m_o.assets / "org.json").string()}); !r) return r.error();
        auto key = ctlJson(kOffice, {"org", "create-office-key"});
        if (!key) return key.error();
        m_say("   office key fingerprint " + key->value("fingerprint", std::string("?")));
        if (auto r = ctl(kOffice, {"identity", "export", "--out", exchange("office-identity.json").string()}); !r)
            return r.error();
        return {};
    }

    AStatus startServer() {
        auto port = freeLoopbackPort();
        if (!port) return port.error();
        const fs::path data = m_o.dir / "server";
        m_say("2. 同步服务器 xunshen-server init --data " + data.string() + " --listen 127.0.0.1:" +
              std::to_string(*port) + " (" + m_serverBinary.string() + "), trusting the office's identity file");
        Ran init = runCaptured(m_serverBinary,
                               {"init", "--data", data.string(), "--office", exchange("office-identity.json").string(),
                                "--listen", "127.0.0.1:" + std::to_string(*port)},
                               m_serverEnv);
        if (init.code != 0)
            return fail(AppError::Failed, "demo-sync stopped: xunshen-server init exited " + std::to_string(init.code) +
                                              ": " + firstLine(init.err));
        auto field = [&](const std::string& name) {
            auto at = init.out.find(name + ": ");
            if (at == std::string::npos) return std::string();
            at += name.size() + 2;
            return init.out.substr(at, init.out.find('\n', at) - at);
        };
        m_url = field("url");
        m_pin = field("pin");
        if (m_url.empty() || m_pin.empty())
            return fail(AppError::Failed, "demo-sync stopped: xunshen-server init printed no url or pin");
        XS_TRY_APP(m_server.start(m_serverBinary, data, m_o.dir / "server.log", m_serverEnv));
        m_say("   xunshen-server run --data " + data.string() + " — a separate process (pid " +
              std::to_string(m_server.pid()) + "), listening on " + m_url + ", certificate pin " + m_pin +
              "; its log: " + (m_o.dir / "server.log").string());
        return syncDevice(kOffice, Tell::Summary, {"--server", m_url, "--pin", m_pin});
    }

    AStatus enrolDevices() {
        m_say(
            "3. 登记设备 Each device: its store, its identity file to the office, the office's signed enrolment file "
            "(with the server's URL and pin) back; the unit head's online, with a one-time code");
        for (const Device* d : kEnrolled) {
            XS_TRY_APP(initStore(*d));
            if (d == &kUnitHead) {
                XS_TRY_APP(enrolOnline(*d, "H03"));
                continue;
            }
            const std::string device = exchange(std::string(d->dir) + ".device.json").string();
            const std::string enrolment = exchange(std::string(d->dir) + ".enrolment.json").string();
            if (auto r = ctl(*d, {"identity", "export", "--out", device}); !r) return r.error();
            auto enrolled = ctlJson(kOffice, {"org", "enrol-device", device});
            if (!enrolled) return enrolled.error();
            if (auto r = ctl(kOffice, {"org", "export-enrolment", "--out", enrolment, "--server-url", m_url,
                                       "--tls-pin", m_pin});
                !r)
                return r.error();
            if (auto r = ctl(*d, {"org", "enrol", enrolment}); !r) return r.error();
            m_say("   " + who(*d) + " → " + store(*d).string() + " (device fingerprint " +
                  enrolled->value("fingerprint", std::string("?")) + ")");
        }
        return syncDevice(kOffice);  // the server learns the new devices
    }

    // The unit head's device enrols online instead: the office's one-time code, given by hand.
    AStatus enrolOnline(const Device& d, const std::string& personCode) {
        auto invite = ctlJson(kOffice, {"org", "invite", "--person", personCode, "--hours", "1"});
        if (!invite) return invite.error();
        const std::string code = invite->value("code", std::string());
        m_say("   " + who(d) + " enrols online: the office's `org invite --person " + personCode + "` gives the code " + code +
              " (with the server URL and pin), read out to the person");
        const std::vector<std::string> join = {"org", "join", "--server", m_url, "--pin", m_pin, "--code", code, "--wait", "0"};
        // Presented; the office has not answered yet (exit 10): its next sync enrols the device.
        auto first = ctl(d, join);
        if (first || first.code() != AppError::Offline) return first ? Error<AppError>{AppError::Failed, "demo-sync: org join answered before the office synced"} : first.error();
        XS_TRY_APP(syncDevice(kOffice));
        auto joined = ctlJson(d, join);
        if (!joined) return joined.error();
        m_say("   " + who(d) + " → " + store(d).string() + " (device fingerprint " +
              joined->value("device_fingerprint", std::string("?")) + ", enrolled by code)");
        return {};
    }

    AStatus planInspection() {
        const int today = dayAt(
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count(),
            zoneOffsetMinutes(kDefaultTimeZone).value_or(480));
        m_deadline = formatDate(today + 7);
        XS_TRY_APP(syncDevice(kLead));
        auto id = ctlJson(kLead, {"inspection", "create", "--unit", "E03", "--start", formatDate(today - 1), "--team",
                                  "W02,W03", "--lead", "W01"});
        if (!id) return id.error();
        m_inspection = idOf(*id);
        m_say("4. 计划 " + who(kLead) +
              " plans the inspection of 区固体废物与化学品管理中心 (E03) with 冯磊 and 何芳, on site from " +
              formatDate(today - 1) + " (id " + m_inspection + ")");
        XS_TRY_APP(syncDevice(kLead));
        for (const Device* d : {&kInspectorA, &kInspectorB, &kUnitHead}) XS_TRY_APP(syncDevice(*d));
        // Article 7(4): each of the working group reads and signs the confidentiality agreement
        // before first opening the inspection; the office sees who signed when. 冯磊 (inspector-a,
        // the store `./run demo` opens the client on) has not yet: the client asks him first.
        for (const Device* d : {&kLead, &kInspectorB}) {
            if (auto r = ctl(*d, {"agreement", "sign", m_inspection}); !r) return r.error();
            XS_TRY_APP(syncDevice(*d));
        }
        XS_TRY_APP(syncDevice(kOffice));
        auto signedBy = ctlJson(kOffice, {"agreement", "list", m_inspection});
        if (!signedBy) return signedBy.error();
        std::string names;
        for (const auto& a : *signedBy) names += (names.empty() ? "" : ", ") + a.value("person_name", std::string("?"));
        m_say("   保密协议 " + who(kLead) + " and " + who(kInspectorB) +
              " sign the confidentiality agreement; the office's list shows " + std::to_string(signedBy->size()) + " signatures (" +
              names + "); " + who(kInspectorA) + " has not signed yet, and nothing of the inspection opens to him until he does");
        return {};
    }

    AStatus captureFindings() {
        auto a = ctlJson(kInspectorB, {"finding", "add", "--inspection", m_inspection, "--title", "危废暂存间台账缺失",
                                       "--description", "现场检查发现危险废物暂存间无出入库台账", "--severity", "high",
                                       "--immediate-fix"});
        if (!a) return a.error();
        m_immediateFinding = idOf(*a);
        if (auto r = ctl(kInspectorB, {"finding", "transition", m_immediateFinding, "--to", "submitted"}); !r)
            return r.error();
        m_say("5. 现场记录 " + who(kInspectorB) +
              " captures \"危废暂存间台账缺失\" [立行立改] and submits it for review (id " + m_immediateFinding + ")");
        auto b = ctlJson(kInspectorB, {"finding", "add", "--inspection", m_inspection, "--title", "食堂采购票据不全",
                                       "--description", "2026年食堂采购发票与入库单数量不一致"});
        if (!b) return b.error();
        m_otherFinding = idOf(*b);
        m_say("   " + who(kInspectorB) + " captures \"食堂采购票据不全\" (id " + m_otherFinding + ")");
        return syncDevice(kInspectorB, Tell::Arrivals);
    }

    AStatus reviewAndIssue() {
        XS_TRY_APP(syncDevice(kLead, Tell::Arrivals));
        if (auto r = ctl(kLead, {"finding", "transition", m_immediateFinding, "--to", "confirmed"}); !r)
            return r.error();
        auto n = ctlJson(
            kLead, {"notice", "issue", "--finding", m_immediateFinding, "--problem", "危险废物暂存间未建立出入库台账",
                    "--action", "立即建立台账并补录本年度出入库记录", "--deadline", m_deadline});
        if (!n) return n.error();
        m_notice = idOf(*n);
        m_say("6. 研判并通知 " + who(kLead) +
              " confirms the finding (研判) and issues the immediate-fix notice to the unit, deadline " + m_deadline +
              " (id " + m_notice + ")");
        return syncDevice(kLead);
    }

    AStatus unitHeadAcknowledges() {
        m_say("7. 签收 " + who(kUnitHead) + " syncs: the notice arrives");
        XS_TRY_APP(syncDevice(kUnitHead, Tell::Arrivals));
        auto findings = ctlJson(kUnitHead, {"finding", "list"});
        if (!findings) return findings.error();
        m_say("   findings readable on the unit head's device: " + std::to_string(findings->size()) +
              " (it holds the inspection's unit key, never the team key)");
        auto ack = ctl(kUnitHead, {"notice", "ack", m_notice});
        if (!ack) return ack.error();
        m_say("   " + std::string(kUnitHead.name) + " acknowledges it (notice ack):");
        relay(*ack);
        return syncDevice(kUnitHead);
    }

    AStatus leadSeesAcknowledgement() {
        m_say("8. 回执 " + who(kLead) + " syncs and sees the acknowledgement");
        XS_TRY_APP(syncDevice(kLead, Tell::Arrivals));
        auto shown = ctlJson(kLead, {"notice", "show", m_notice});
        if (!shown) return shown.error();
        m_acknowledged = shown->value("acknowledged", false);
        if (!m_acknowledged)
            return fail(AppError::Failed,
                        "demo-sync: the lead's device does not show the unit head's acknowledgement (未签收)");
        auto text = ctl(kLead, {"notice", "list"});
        if (!text) return text.error();
        relay(*text);
        return {};
    }

    AStatus syncEveryDevice() {
        m_say("9. 全部同步 A sync round on every device");
        for (const Device* d : kEveryDevice) XS_TRY_APP(syncDevice(*d));
        return {};
    }

    AStatus stopServer() {
        m_serverExit = m_server.stop();
        m_say("10. 停止服务器 xunshen-server stopped with SIGTERM (exit code " + std::to_string(m_serverExit) +
              "); its data stays in " + (m_o.dir / "server").string());
        if (m_serverExit != 0)
            return fail(AppError::Failed, "demo-sync: xunshen-server did not stop cleanly (see " +
                                              (m_o.dir / "server.log").string() + ")");
        return {};
    }

    AStatus verifyEveryStore() {
        m_say("11. 校验 verify on every store");
        bool all = true;
        for (const Device* d : kEveryDevice) {
            std::vector<std::string> full = {"--store", store(*d).string(), "verify"};
            Ran r = runCaptured(m_o.self, full, m_env);
            m_verified[d->dir] = r.code == 0;
            all = all && r.code == 0;
            std::string last = r.out;
            while (!last.empty() && last.back() == '\n') last.pop_back();
            last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
            m_say("   " + std::string(d->dir) + ": " + (last.empty() ? firstLine(r.err) : last));
        }
        if (!all) return fail(AppError::Failed, "demo-sync: a store failed verification (see above)");
        return {};
    }

    void howToLook() {
        const std::string ctlPath = shellWord(m_o.self.string());
        auto line = [&](const Device& d, const std::string& args, const std::string& why) {
            m_say("  " + ctlPath + " --store " + shellWord(store(d).string()) + " " + args + "   # " + why);
        };
        m_say("");
        m_say("查看各设备 How to look at each store (every store's passphrase is the same):");
        m_say(m_o.printPassphrase ? "  export XUNSHEN_PASSPHRASE=" + shellWord(m_o.passphrase)
                                  : std::string("  (XUNSHEN_PASSPHRASE as you set it for this demo)"));
        line(kLead, "notice show " + m_notice, "已签收, with who and when");
        line(kLead, "finding list", "the inspection's findings, both inspectors'");
        line(kUnitHead, "notice list", "the unit head: the notice");
        line(kUnitHead, "finding list", "empty: the unit never reads the team's findings");
        line(kOffice, "finding show " + m_immediateFinding, "the office reads the team's data too");
        line(kInspectorB, "history " + m_immediateFinding,
             "every change of the finding, on the other inspector's device");
        for (const Device* d : kEveryDevice) line(*d, "verify", "integrity, op log, evidence");
        m_say("  " + shellWord(m_serverBinary.string()) + " run --data " + shellWord((m_o.dir / "server").string()) +
              " &   # serve it again on " + m_url + ", then sync any store");
    }

    DemoSyncOptions m_o;
    std::function<void(const std::string&)> m_say;
    fs::path m_serverBinary;
    std::vector<std::string> m_env;        // the xunshenctl steps' environment
    std::vector<std::string> m_serverEnv;  // the server's: no passphrase
    ServerChild m_server;
    std::string m_url, m_pin, m_deadline;
    std::string m_inspection, m_immediateFinding, m_otherFinding, m_notice;
    bool m_acknowledged = false;
    int m_serverExit = kNotRunning;
    Json m_verified = Json::object();
};

}  // namespace

AResult<fs::path> findServerBinary(const fs::path& self) {
    if (const char* env = std::getenv("XUNSHEN_SERVER"); env && *env) {
        if (isExecutableFile(env)) return fs::path(env);
        return fail(AppError::NotFound, std::string("XUNSHEN_SERVER=") + env + " is not an executable file");
    }
    for (const fs::path& p :
         {self.parent_path() / "xunshen-server", self.parent_path().parent_path() / "sync" / "xunshen-server"})
        if (isExecutableFile(p)) return p;
    if (const char* path = std::getenv("PATH")) {
        std::istringstream dirs(path);
        for (std::string dir; std::getline(dirs, dir, ':');)
            if (!dir.empty() && isExecutableFile(fs::path(dir) / "xunshen-server"))
                return fs::path(dir) / "xunshen-server";
    }
    return fail(AppError::NotFound,
                "xunshen-server not found: set XUNSHEN_SERVER, or install it beside " + self.string() + " or on PATH");
}

AResult<Json> runDemoSync(const DemoSyncOptions& options, const std::function<void(const std::string&)>& say) {
    DemoSyncOptions o = options;
    std::error_code ec;
    o.dir = fs::absolute(o.dir, ec).lexically_normal();
    if (ec) return fail(AppError::Failed, "cannot resolve " + options.dir.string());
    if (fs::exists(o.dir, ec)) {
        if (!fs::is_directory(o.dir, ec)) return refused(o.dir.string() + " exists and is not a directory");
        if (!fs::is_empty(o.dir, ec))
            return refused(
                o.dir.string() +
                " is not empty: demo-sync makes a fresh server and five stores there; give a new or empty directory");
    }
    if (!isExecutableFile(o.self))
        return fail(AppError::NotFound, "cannot find this xunshenctl (" + o.self.string() + ")");
    if (!fs::exists(o.assets / "org.json", ec)) return fail(AppError::NotFound, "no org.json in " + o.assets.string());
    auto server = findServerBinary(o.self);
    if (!server) return server.error();
    fs::create_directories(o.dir, ec);
    if (ec) return fail(AppError::Failed, "cannot create " + o.dir.string() + ": " + ec.message());
    // A closed stdout (`demo-sync | head`) must not kill us before the server is stopped.
    struct sigaction ignore {
    }, before{};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &before);
    AResult<Json> result = DemoSync(o, say, *server).run();
    sigaction(SIGPIPE, &before, nullptr);
    return result;
}

}  // namespace xs::app::cli
