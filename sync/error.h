#pragma once
#include "crypto/result.h"

namespace xs::sync {

enum class SyncError {
    WrongPassphrase,  // the key file did not unwrap: wrong passphrase (or a damaged key file)
    NotFound,         // store, record or evidence does not exist
    AlreadyExists,    // creating over an existing store
    Corrupt,          // integrity or authenticity check failed on local data
    Io,               // filesystem error
    Database,         // SQLite/SQLCipher reported an error
    Crypto,           // a crypto primitive failed unexpectedly
    Invalid,          // malformed input (an op, a field name, a key file)
    Forbidden,        // well-formed but not allowed: a write outside the author's channels, no key
    Busy,             // another process held the store's write lock for longer than the busy timeout
    DiskFull,         // the filesystem (or the database) has no room left: nothing was written
    Cancelled,        // the caller asked long work to stop (a progress callback said so)
    Unavailable,      // the sync server could not be reached or did not answer in time (offline)
};

template <typename T>
using SResult = Result<T, SyncError>;
using SStatus = Status<SyncError>;

}  // namespace xs::sync
