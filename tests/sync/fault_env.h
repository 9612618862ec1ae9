// The OS seam's fault-injecting twin (after leveldb's FaultInjectionTestEnv): counts the file
// operations of the kinds it watches and does something to the n-th one — fails it with an errno
// (ENOSPC stays failing, as a full disk does; EIO fails once), cuts a write to half its size (the
// next write then finds the disk full), or ends the process there (a crash: exit_group, nothing
// flushed, no destructor or exit handler run). Its random numbers are a seeded sequence, so that two runs of one
// operation make the same ids. What it does not model: losing writes the kernel had not yet put on
// disk (a power cut rather than a crash).
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include "sync/env.h"

namespace xs::sync::test {

class FaultEnv final : public Env {
public:
    enum class Action { Count, Fail, Short, Crash };
    static constexpr int kCrashExit = 86;  // the exit status of a crash point

    struct Plan {
        Action action = Action::Count;
        std::set<FileOp> ops = {FileOp::Create, FileOp::Write, FileOp::Sync, FileOp::Rename, FileOp::Remove, FileOp::Truncate};
        int nth = 0;      // 1-based, among the operations watched
        int err = EIO;    // Fail
    };

    explicit FaultEnv(Plan plan, std::uint64_t seed = 1) : m_plan(std::move(plan)), m_random(seed) {}

    int beforeFileOp(FileOp op, const std::string& path, std::size_t* bytes) override {
        std::lock_guard lock(m_mutex);
        if (!m_plan.ops.count(op)) return 0;
        ++m_seen;
        if (m_fired) {
            // A full disk stays full; after a short write the next write finds it so.
            if ((m_plan.action == Action::Fail && (m_plan.err == ENOSPC)) || (m_plan.action == Action::Short && op == FileOp::Write))
                return ENOSPC;
            return 0;
        }
        if (m_plan.action == Action::Count || m_seen != m_plan.nth) return 0;
        m_fired = true;
        m_firedAt = std::string(toString(op)) + " " + path;
        switch (m_plan.action) {
            case Action::Fail: return m_plan.err;
            case Action::Short:
                if (op != FileOp::Write || !bytes || *bytes < 2) return ENOSPC;
                *bytes /= 2;
                return 0;
            case Action::Crash:
                ::syscall(SYS_exit_group, kCrashExit);  // no exit handler, no sanitizer report: a crash
                return 0;
            case Action::Count: break;
        }
        return 0;
    }

    bool random(std::uint8_t* out, std::size_t size) override {
        std::lock_guard lock(m_mutex);
        for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(m_random());
        return true;
    }

    int seen() const {
        std::lock_guard lock(m_mutex);
        return m_seen;
    }
    bool fired() const {
        std::lock_guard lock(m_mutex);
        return m_fired;
    }
    std::string firedAt() const {
        std::lock_guard lock(m_mutex);
        return m_firedAt;
    }

private:
    mutable std::mutex m_mutex;
    Plan m_plan;
    std::mt19937_64 m_random;
    int m_seen = 0;
    bool m_fired = false;
    std::string m_firedAt;
};

}  // namespace xs::sync::test
