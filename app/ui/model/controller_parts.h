// What the controller's files share (app/ui/model/controller*.cpp). Internal to the model.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include "app/error.h"
#include "app/task.h"

namespace xs::ui::parts {

inline std::string lowerAscii(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// The string-table key of a session error's kind.
inline const char* errorKey(app::AppError e) {
    switch (e) {
        case app::AppError::Locked: return "error.locked";
        case app::AppError::NotFound: return "error.not_found";
        case app::AppError::Refused: return "error.refused";
        case app::AppError::Tampered: return "error.tampered";
        case app::AppError::Busy: return "error.busy";
        case app::AppError::DiskFull: return "error.disk_full";
        case app::AppError::Cancelled: return "error.cancelled";
        case app::AppError::Offline: return "error.offline";
        default: return "error.failed";
    }
}

// Overwrites a secret before its memory is given back.
inline void wipe(std::string& s) {
    volatile char* p = s.data();
    for (std::size_t i = 0; i < s.size(); ++i) p[i] = 0;
    s.clear();
}

inline bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// A task's result once it has finished (the pointer is reset then); nullopt while it runs or
// when there is none.
template <typename T>
std::optional<app::AResult<T>> takeFinished(std::shared_ptr<app::Task<T>>& task) {
    if (!task || !task->finished()) return std::nullopt;
    auto r = task->wait();
    task.reset();
    return r;
}

}  // namespace xs::ui::parts
