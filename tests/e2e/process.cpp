#include "tests/e2e/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
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

int spawn(const std::string& program, const std::vector<std::string>& args, const std::map<std::string, std::string>& extra,
          int outFd, int errFd) {
    std::vector<std::string> full = {program};
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
std::string serverPath() { return std::string(XS_BINARY_DIR) + "/sync/xunshen-server"; }

RunResult run(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
    return runProgram(cliPath(), args, env);
}

RunResult runProgram(const std::string& program, const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    int pid = spawn(program, args, env, out[1], err[1]);
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
    m_pid = spawn(cliPath(), args, env, out[1], devnull);
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

int freeLoopbackPort() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw std::runtime_error("no free port");
    ::close(fd);
    return ntohs(a.sin_port);
}

ServerProcess::ServerProcess(const fs::path& data, const fs::path& officeIdentity) : m_data(data) {
    m_port = freeLoopbackPort();
    auto r = runProgram(serverPath(), {"init", "--data", data.string(), "--office", officeIdentity.string(), "--listen",
                                       "127.0.0.1:" + std::to_string(m_port)});
    if (r.exitCode != 0) throw std::runtime_error("xunshen-server init failed: " + r.err);
    auto at = r.out.find("pin: ");
    if (at == std::string::npos) throw std::runtime_error("xunshen-server init printed no pin");
    m_pin = r.out.substr(at + 5, r.out.find('\n', at) - at - 5);
    m_url = "https://127.0.0.1:" + std::to_string(m_port);
}

ServerProcess::~ServerProcess() {
    if (m_pid > 0) kill9();
}

void ServerProcess::start() {
    const std::string logPath = log().string();
    int logFd = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    std::size_t before = readAll(log()).size();
    m_pid = spawn(serverPath(), {"run", "--data", m_data.string()}, {}, devnull, logFd);
    ::close(logFd);
    ::close(devnull);
    for (int i = 0; i < 3000; ++i) {
        std::string text = readAll(log());
        if (text.find("\"event\":\"listening\"", before) != std::string::npos) return;
        int status = 0;
        if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
            m_pid = -1;
            throw std::runtime_error("xunshen-server exited at start: " + text.substr(before));
        }
        usleep(10000);
    }
    throw std::runtime_error("xunshen-server did not start listening within 30 s");
}

void ServerProcess::kill9() {
    if (m_pid <= 0) return;
    ::kill(m_pid, SIGKILL);
    int status = 0;
    waitpid(m_pid, &status, 0);
    m_pid = -1;
}

int ServerProcess::terminate() {
    if (m_pid <= 0) return -1;
    ::kill(m_pid, SIGTERM);
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
