// Runs the real xunshenctl binary for end-to-end tests: arguments, extra environment, captured
// stdout/stderr and exit code; or a child whose stdout is read line by line and can be killed.
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace xs::test {

struct RunResult {
    int exitCode = -1;  // -signal when killed
    std::string out;
    std::string err;
};

std::string cliPath();     // build tree's xunshenctl
std::string serverPath();  // build tree's xunshen-server

// Runs any program (not only xunshenctl) the same way.
RunResult runProgram(const std::string& program, const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env = {});

RunResult run(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {});

// A running child with stdout on a pipe.
class Child {
public:
    Child(const std::vector<std::string>& args, const std::map<std::string, std::string>& env);
    ~Child();
    // Reads complete stdout lines available within `timeoutMs`; returns false at EOF.
    bool readLines(std::vector<std::string>& lines, int timeoutMs);
    void kill9();
    int wait();  // exit code, or -signal
private:
    int m_pid = -1;
    int m_out = -1;
    std::string m_partial;
    bool m_eof = false;
};

// A real xunshen-server on 127.0.0.1, on a port that was free when it was set up (kept across
// restarts, so enrolment files stay valid), its stderr appended to `log()`.
class ServerProcess {
public:
    // Runs `xunshen-server init` in `data`, trusting the office whose identity file is given.
    ServerProcess(const std::filesystem::path& data, const std::filesystem::path& officeIdentity);
    // A server whose data directory was set up elsewhere (`demo-sync` leaves one): start() serves
    // it again on its own configured address; url() and pin() are not known here.
    explicit ServerProcess(const std::filesystem::path& data) : m_data(data) {}
    ~ServerProcess();  // SIGKILL if still running
    void start();      // returns once it listens (throws after 30 s)
    void kill9();      // and reaps it
    int terminate();   // SIGTERM; its exit code
    bool running() const { return m_pid > 0; }
    const std::string& url() const { return m_url; }
    const std::string& pin() const { return m_pin; }
    const std::filesystem::path& data() const { return m_data; }
    std::filesystem::path log() const { return m_data.parent_path() / (m_data.filename().string() + ".log"); }
    int port() const { return m_port; }
private:
    std::filesystem::path m_data;
    int m_port = 0;
    std::string m_url, m_pin;
    int m_pid = -1;
};
int freeLoopbackPort();

// Temporary directory removed on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    const std::filesystem::path& path() const { return m_path; }
    std::filesystem::path operator/(const std::string& name) const { return m_path / name; }
private:
    std::filesystem::path m_path;
};

std::string readAll(const std::filesystem::path& file);
void writeAll(const std::filesystem::path& file, const std::string& data);
// name -> sha256 hex of every regular file under dir, recursively (optionally skipping one name).
std::map<std::string, std::string> snapshot(const std::filesystem::path& dir, const std::string& skip = "");

}  // namespace xs::test
