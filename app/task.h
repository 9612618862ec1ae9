// Long work — handover export and import, bulk import, rebuild, verify — off the caller's thread,
// with progress and cancel (the model is ImHex's Task: one thread per task, named state).
//
// The work is a function of a Progress: it reports how far it is and asks whether it was
// cancelled between steps (a cancelled step leaves the store as a failed one would: each commit
// is whole or absent). The caller — a UI thread polling each frame, or the CLI waiting — reads
// state() and progress() from any thread and takes the result once with wait().
//
// Thread-safety: every member may be called from any thread; the work runs on the task's own.
// Destroying a running task cancels it and waits for it.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include "app/error.h"

namespace xs::app {

struct ProgressSnapshot {
    std::uint64_t done = 0;
    std::uint64_t total = 0;  // 0: not known yet
    std::string stage;        // what the work is doing now, for a person
};

// What the work reports on. Thread-safe.
class Progress {
public:
    void set(std::uint64_t done, std::uint64_t total, std::string stage = {}) {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_now.done = done;
        m_now.total = total;
        if (!stage.empty()) m_now.stage = std::move(stage);
    }
    bool cancelled() const { return m_cancelled.load(); }
    // The error a cancelled step returns.
    static Error<AppError> cancelledError() { return {AppError::Cancelled, "cancelled: nothing after the last finished step was done"}; }
    ProgressSnapshot snapshot() const {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_now;
    }
    void cancel() { m_cancelled = true; }

private:
    mutable std::mutex m_mutex;
    ProgressSnapshot m_now;  // guarded by m_mutex
    std::atomic<bool> m_cancelled{false};
};

template <typename T>
class Task {
public:
    enum class State { Running, Done, Failed, Cancelled };
    using Work = std::function<AResult<T>(Progress&)>;

    // Starts `work` on a thread of its own. `name` is what a UI shows ("导出移交包").
    static std::shared_ptr<Task> start(std::string name, Work work) {
        std::shared_ptr<Task> task(new Task(std::move(name)));
        task->m_thread = std::thread([t = task.get(), w = std::move(work)]() mutable { t->run(w); });
        return task;
    }
    ~Task() {
        cancel();
        if (m_thread.joinable()) m_thread.join();
    }
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;

    const std::string& name() const { return m_name; }
    State state() const {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_state;
    }
    bool finished() const { return state() != State::Running; }
    ProgressSnapshot progress() const { return m_progress.snapshot(); }
    void cancel() { m_progress.cancel(); }
    // Waits for the work to end and gives its result (the same result to every caller).
    AResult<T> wait() {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_changed.wait(lock, [&] { return m_state != State::Running; });
        return *m_result;
    }

private:
    explicit Task(std::string name) : m_name(std::move(name)) {}
    void run(Work& work) {
        AResult<T> r = [&]() -> AResult<T> {
            try {
                return work(m_progress);
            } catch (const std::exception& e) {  // nothing crosses the task's boundary
                return fail(AppError::Failed, std::string("internal error in ") + m_name + ": " + e.what());
            }
        }();
        std::lock_guard<std::mutex> lock(m_mutex);
        m_state = r ? State::Done : (r.code() == AppError::Cancelled ? State::Cancelled : State::Failed);
        m_result.emplace(std::move(r));
        m_changed.notify_all();
    }

    const std::string m_name;
    Progress m_progress;
    mutable std::mutex m_mutex;
    std::condition_variable m_changed;  // m_state left Running
    State m_state = State::Running;     // guarded by m_mutex
    std::optional<AResult<T>> m_result; // guarded by m_mutex; set when m_state leaves Running
    std::thread m_thread;
};

}  // namespace xs::app
