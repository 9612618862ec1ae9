#pragma once
#include "crypto/result.h"
#include "sync/error.h"

namespace xs::app {

// Each code maps to one xunshenctl exit code (docs in README).
enum class AppError {
    Failed = 1,    // anything else (I/O, database, crypto)
    Usage = 2,     // bad command line
    Locked = 3,    // wrong passphrase or store locked
    NotFound = 4,  // no such record, store or file
    Refused = 5,   // a rule of the procedure or a validation refused the request
    Tampered = 6,  // stored data failed an integrity or authenticity check (damaged or altered)
    Busy = 7,      // another program kept the store locked: nothing changed, try again
    DiskFull = 8,  // the disk has no room left: nothing was written
    Cancelled = 9, // a long task was cancelled: what it had finished stays, nothing half-done
    Offline = 10,  // the sync server could not be reached: local work is kept and sent later
};

template <typename T>
using AResult = Result<T, AppError>;
using AStatus = Status<AppError>;

// A refusal by a rule of the procedure or a validation; the message says which.
inline Error<AppError> refused(const std::string& why) { return {AppError::Refused, "refused: " + why}; }

inline Error<AppError> fromSync(const Error<sync::SyncError>& e) {
    switch (e.code) {
        case sync::SyncError::WrongPassphrase: return {AppError::Locked, e.message};
        case sync::SyncError::NotFound: return {AppError::NotFound, e.message};
        case sync::SyncError::Invalid: return {AppError::Refused, e.message};
        case sync::SyncError::Forbidden: return {AppError::Refused, e.message};
        case sync::SyncError::Corrupt: return {AppError::Tampered, e.message};
        case sync::SyncError::Busy: return {AppError::Busy, e.message};
        case sync::SyncError::DiskFull: return {AppError::DiskFull, e.message};
        case sync::SyncError::Cancelled: return {AppError::Cancelled, e.message};
        case sync::SyncError::Unavailable: return {AppError::Offline, e.message};
        default: return {AppError::Failed, e.message};
    }
}

// Propagate a sync-layer error as an app error.
#define XS_TRY_SYNC(expr)                                           \
    do {                                                            \
        auto xs_try_sync_ = (expr);                                 \
        if (!xs_try_sync_) return ::xs::app::fromSync(xs_try_sync_.error()); \
    } while (0)

#define XS_TRY_APP(expr)                              \
    do {                                              \
        auto xs_try_app_ = (expr);                    \
        if (!xs_try_app_) return xs_try_app_.error(); \
    } while (0)

}  // namespace xs::app
