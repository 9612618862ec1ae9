#include "tests/ui/x_session.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace xs::test {

namespace fs = std::filesystem;

namespace {

int spawnWith(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env, int outFd,
              int extraFd) {
    std::vector<std::string> envStrings;
    for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        if (!env.count(kv.substr(0, kv.find('=')))) envStrings.push_back(kv);
    }
    for (const auto& [k, v] : env) envStrings.push_back(k + "=" + v);
    std::vector<char*> envp, args;
    for (auto& s : envStrings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argvCopy = argv;
    for (auto& a : argvCopy) args.push_back(a.data());
    args.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, outFd, 1);
    posix_spawn_file_actions_adddup2(&actions, outFd, 2);
    if (extraFd >= 0) posix_spawn_file_actions_adddup2(&actions, extraFd, 3);
    int pid = -1;
    const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
    return pid;
}

std::string readProc(int pid, const char* what) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/" + what);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

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

GuiProcess::GuiProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                       const fs::path& log) {
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0) throw std::runtime_error("cannot write " + log.string());
    try {
        m_pid = spawnWith(argv, env, out, -1);
    } catch (...) {
        ::close(out);
        throw;
    }
    ::close(out);
}

GuiProcess::~GuiProcess() {
    if (m_pid > 0 && !m_exit) {
        kill9();
        wait(10000);
    }
}

std::optional<int> GuiProcess::wait(int timeoutMs) {
    if (m_exit) return m_exit;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (true) {
        int status = 0;
        const int r = ::waitpid(m_pid, &status, WNOHANG);
        if (r == m_pid) {
            m_exit = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
            return m_exit;
        }
        if (r < 0 || std::chrono::steady_clock::now() >= until) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

void GuiProcess::kill9() {
    if (m_pid > 0 && !m_exit) ::kill(m_pid, SIGKILL);
}

Xvfb::Xvfb(int width, int height, const fs::path& log) {
    const std::string xvfb = findOnPath("Xvfb");
    if (xvfb.empty()) throw std::runtime_error("Xvfb is not installed (Debian package xvfb)");
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int pid = -1;
    try {
        // -displayfd: Xvfb takes the first free display and writes its number once it listens.
        // -noreset: no server reset when the last client leaves (which would drop a keymap
        // changed before the client under test connects).
        pid = spawnWith({xvfb, "-displayfd", "3", "-screen", "0", std::to_string(width) + "x" + std::to_string(height) + "x24",
                         "-nolisten", "tcp", "-noreset"},
                        {}, out, ready[1]);
    } catch (...) {
        ::close(ready[0]);
        ::close(ready[1]);
        ::close(out);
        throw;
    }
    ::close(ready[1]);
    ::close(out);
    std::string number;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (number.find('\n') == std::string::npos && std::chrono::steady_clock::now() < until) {
        pollfd p{ready[0], POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
        char buf[32];
        const ssize_t n = ::read(ready[0], buf, sizeof buf);
        if (n <= 0) break;
        number.append(buf, static_cast<std::size_t>(n));
    }
    ::close(ready[0]);
    if (number.find('\n') == std::string::npos) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        throw std::runtime_error("Xvfb did not start (see " + log.string() + ")");
    }
    m_display = ":" + number.substr(0, number.find('\n'));
    m_pid = pid;
}

Xvfb::~Xvfb() {
    if (m_pid > 0) {
        ::kill(m_pid, SIGTERM);
        ::waitpid(m_pid, nullptr, 0);
    }
}

long long cpuTicks(int pid) {
    // Fields after the command (which may hold spaces, so split after its closing parenthesis):
    // utime and stime are fields 14 and 15 of the whole line.
    const std::string stat = readProc(pid, "stat");
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stoll(field);
        if (i == 15) stime = std::stoll(field);
    }
    return utime + stime;
}

long clockTicksPerSecond() { return ::sysconf(_SC_CLK_TCK); }

long long peakRssKiB(int pid) {
    std::istringstream status(readProc(pid, "status"));
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
    return -1;
}

}  // namespace xs::test
