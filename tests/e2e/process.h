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

std::string cliPath();  // build tree's xunshenctl

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
