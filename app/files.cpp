#include "app/files.h"

#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "sync/file_io.h"

namespace fs = std::filesystem;

namespace xs::app {
namespace {

// Whether `inner` is `outer` or below it; both absolute and lexically normal.
bool isWithin(const fs::path& inner, const fs::path& outer) {
    auto i = inner.begin();
    for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
        if (o->empty()) continue;  // a trailing separator
        if (i == inner.end() || *i != *o) return false;
    }
    return true;
}

fs::path resolved(const fs::path& p) {
    std::error_code ec;
    fs::path r = fs::weakly_canonical(fs::absolute(p, ec), ec);
    return ec ? fs::absolute(p).lexically_normal() : r;
}

bool onKernelFilesystem(const fs::path& p) {
    struct statfs s {};
    if (::statfs(p.c_str(), &s) != 0) return false;
    switch (static_cast<unsigned long>(s.f_type)) {
        case PROC_SUPER_MAGIC:
        case SYSFS_MAGIC:
        case DEBUGFS_MAGIC:
        case SECURITYFS_MAGIC:
        case CGROUP_SUPER_MAGIC:
        case CGROUP2_SUPER_MAGIC:
        case DEVPTS_SUPER_MAGIC:
            return true;
        default:
            return false;
    }
}

}  // namespace

AStatus checkOutputPath(const fs::path& storeDir, const fs::path& out) {
    if (out.empty()) return refused("no output file named");
    fs::path store = resolved(storeDir);
    fs::path target = resolved(out);
    if (isWithin(target, store))
        return refused(out.string() + " is inside the store " + storeDir.string() + ": write it somewhere else");
    struct stat st {};
    if (::stat(out.c_str(), &st) == 0) {
        if (!S_ISREG(st.st_mode)) return refused(out.string() + " exists and is not a regular file");
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(storeDir, ec)) {
            struct stat mine {};
            if (::stat(e.path().c_str(), &mine) == 0 && mine.st_dev == st.st_dev && mine.st_ino == st.st_ino)
                return refused(out.string() + " is another name of the store's file " + e.path().filename().string());
        }
    }
    return {};
}

void removeOrphansOf(const fs::path& out) {
    fs::path dir = out.parent_path().empty() ? fs::path(".") : out.parent_path();
    (void)sync::removeOrphanTempFiles(dir, out.filename().string());
}

AStatus writeOutputFile(const fs::path& storeDir, const fs::path& out, crypto::ByteView data) {
    XS_TRY_APP(checkOutputPath(storeDir, out));
    XS_TRY_SYNC(sync::writeFileAtomic(out, data));
    return {};
}

AResult<fs::path> checkEvidencePath(const fs::path& baseDir, const fs::path& given, bool confined) {
    fs::path p = given.is_relative() && !baseDir.empty() ? baseDir / given : given;
    std::error_code ec;
    auto status = fs::status(p, ec);
    if (ec || !fs::exists(status)) return fail(AppError::NotFound, "no such evidence file " + given.string());
    fs::path real = fs::canonical(p, ec);
    if (ec) return fail(AppError::NotFound, "no such evidence file " + given.string());
    if (confined && !isWithin(real, resolved(baseDir.empty() ? fs::path(".") : baseDir)))
        return refused("evidence file " + given.string() + " is outside the import file's folder " + baseDir.string() +
                       ": an import file names only files beside it");
    if (!fs::is_regular_file(status)) return refused("evidence " + given.string() + " is not a regular file");
    static const fs::path kernel[] = {"/proc", "/sys", "/dev"};
    for (const auto& k : kernel)
        if (isWithin(real, k)) return refused("evidence " + given.string() + " is a system file, not a document");
    if (onKernelFilesystem(real)) return refused("evidence " + given.string() + " is a system file, not a document");
    return real;
}

}  // namespace xs::app
