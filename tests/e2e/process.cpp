#include "tests/e2e/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "crypto/encoding.h"
#include "crypto/hash.h"

extern char** environ;

namespace xs::test {
namespace fs = std::filesystem;
namespace {

std::vector<std::string> buildEnv(const std::map<std::string, std::string>& extra) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        auto eq = kv.find('=');
        if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    env.erase("XUNSHEN_PASSPHRASE");
    env.erase("XUNSHEN_STORE");
    for (const auto& [k, v] : extra) env[k] = v;
    std::vector<std::string> out;
    for (const auto& [k, v] : env) out.push_back(k + "=" + v);
    return out;
}

int spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& extra, int outFd, int errFd) {
    std::vector<std::string> full = {cliPath()};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<std::string> env = buildEnv(extra);
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        int devnull = ::open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(outFd, 1);
        dup2(errFd, 2);
        setsid();  // no controlling terminal: the CLI cannot prompt
        std::vector<char*> argv, envp;
        for (auto& a : full) argv.push_back(a.data());
        argv.push_back(nullptr);
        for (auto& e : env) envp.push_back(e.data());
        envp.push_back(nullptr);
        execve(argv[0], argv.data(), envp.data());
        _exit(127);
    }
    return pid;
}

int decodeStatus(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return -1000;
}

}  // namespace

std::string cliPath() { return std::string(XS_BINARY_DIR) + "/app/xunshenctl"; }

RunResult run(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    int pid = spawn(args, env, out[1], err[1]);
    ::close(out[1]);
    ::close(err[1]);
    RunResult r;
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open = 2;
    char buf[65536];
    while (open > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
            ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open;
            } else {
                (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
            }
        }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    r.exitCode = decodeStatus(status);
    return r;
}

Child::Child(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    m_pid = spawn(args, env, out[1], devnull);
    ::close(out[1]);
    ::close(devnull);
    m_out = out[0];
}

Child::~Child() {
    if (m_pid > 0) {
        ::kill(m_pid, SIGKILL);
        wait();
    }
    if (m_out >= 0) ::close(m_out);
}

bool Child::readLines(std::vector<std::string>& lines, int timeoutMs) {
    if (m_eof) return false;
    pollfd p{m_out, POLLIN, 0};
    if (poll(&p, 1, timeoutMs) <= 0) return true;
    char buf[65536];
    ssize_t n = ::read(m_out, buf, sizeof buf);
    if (n <= 0) {
        m_eof = true;
        return false;
    }
    m_partial.append(buf, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = m_partial.find('\n')) != std::string::npos) {
        lines.push_back(m_partial.substr(0, nl));
        m_partial.erase(0, nl + 1);
    }
    return true;
}

void Child::kill9() {
    if (m_pid > 0) ::kill(m_pid, SIGKILL);
}

int Child::wait() {
    if (m_pid <= 0) return -1;
    int status = 0;
    waitpid(m_pid, &status, 0);
    m_pid = -1;
    return decodeStatus(status);
}

TempDir::TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "xs-e2e-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    m_path = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(m_path, ec);
}

std::string readAll(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void writeAll(const fs::path& file, const std::string& data) {
    std::ofstream out(file, std::ios::binary);
    out << data;
}

std::map<std::string, std::string> snapshot(const fs::path& dir, const std::string& skip) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        if (!skip.empty() && e.path().filename() == skip) continue;
        std::string data = readAll(e.path());
        out[fs::relative(e.path(), dir).string()] = crypto::toHex(crypto::sha256(crypto::asBytes(data)));
    }
    return out;
}

}  // namespace xs::test
