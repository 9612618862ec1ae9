// A private X server and GUI processes on it, for what drives or measures the real client window
// (tests/ui/xdotool_test.cpp, bench/ui_bench.cpp): Xvfb picks a free display itself
// (-displayfd), so parallel runs never share one, and a started process's pid is known (for
// /proc/<pid>/stat and status).
//
// Thread-safety: none needed (one test thread).
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace xs::test {

// Whether `name` is an executable on PATH; its path, or empty.
std::string findOnPath(const std::string& name);

// A started program; SIGKILLed and reaped on destruction if still running.
class GuiProcess {
public:
    // `env` is added to (and overrides) this process's environment; stdout and stderr go to `log`.
    GuiProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
               const std::filesystem::path& log);
    ~GuiProcess();
    GuiProcess(const GuiProcess&) = delete;
    GuiProcess& operator=(const GuiProcess&) = delete;
    int pid() const { return m_pid; }
    // The exit code (or -signal) once it ended within `timeoutMs`; nullopt while it runs.
    std::optional<int> wait(int timeoutMs);
    void kill9();

private:
    int m_pid = -1;
    std::optional<int> m_exit;
};

// Xvfb on a display of its choosing, 24-bit, `width`x`height`, never reset (a keymap set before
// a client connects stays); killed on destruction. Throws
// std::runtime_error when it does not come up within 20 s.
class Xvfb {
public:
    Xvfb(int width, int height, const std::filesystem::path& log);
    ~Xvfb();
    Xvfb(const Xvfb&) = delete;
    Xvfb& operator=(const Xvfb&) = delete;
    const std::string& display() const { return m_display; }  // ":N"

private:
    int m_pid = -1;
    std::string m_display;
};

// Ticks (utime + stime, /proc/<pid>/stat) and clock ticks per second; VmHWM in KiB (status).
long long cpuTicks(int pid);
long clockTicksPerSecond();
long long peakRssKiB(int pid);

}  // namespace xs::test
