// Files a person names on the command line or in an import file, checked before they are used:
// an output must not land on the store's own files, and evidence must be an ordinary file, not a
// device, a pipe or a kernel file such as /proc/self/environ.
#pragma once
#include <filesystem>
#include "app/error.h"
#include "crypto/bytes.h"

namespace xs::app {

// Refused when `out` is the store directory, lies inside it (after resolving symlinks and `..`),
// is another name (hard link) of one of the store's files, or exists and is not a regular file
// (a directory, a device such as /dev/null, a pipe): writing there would destroy the store or
// replace something that is not a file.
AStatus checkOutputPath(const std::filesystem::path& storeDir, const std::filesystem::path& out);

// Removes what an earlier write of `out` killed midway left beside it (its orphaned temporary
// files; sync::removeOrphanTempFiles). Best effort: a failure to list the folder is not an error.
void removeOrphansOf(const std::filesystem::path& out);

// checkOutputPath, then an atomic, durable write.
AStatus writeOutputFile(const std::filesystem::path& storeDir, const std::filesystem::path& out, crypto::ByteView data);

// An evidence file to read. `given` is resolved against `baseDir` when relative (the import file's
// folder; empty: the working directory). With `confined`, the file must lie inside `baseDir`
// (after resolving symlinks): an import file someone else wrote names only files beside it. The
// file must be a regular file outside /proc, /sys and /dev. NotFound when it does not exist,
// Refused otherwise. Returns the resolved path.
AResult<std::filesystem::path> checkEvidencePath(const std::filesystem::path& baseDir, const std::filesystem::path& given,
                                                 bool confined);

}  // namespace xs::app
