// Fuzzes the enrolment file reader (app/enrolment.h acceptEnrolment) on a throw-away workspace made
// once per process (cheap Argon2, a directory under $TMPDIR removed at exit), not enrolled, so an
// input can only be refused; the function leaves the store unchanged then. Each input is read twice:
// as a whole enrolment file (a signature by another key stops at the signature), and as an
// enrolment body that this target signs with the fixed key of fuzz_util.h and wraps as
// exportEnrolment does, so that the checks behind the signature (issue time, change sets, the
// apply session) are fuzzed too. The committed bodies name that key as the office's signing key.
#include <stdlib.h>

#include <filesystem>
#include <memory>

#include "app/enrolment.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace xs;

std::filesystem::path g_dir;
std::unique_ptr<app::Workspace> g_ws;

void removeDir() {
    g_ws.reset();
    std::error_code ec;
    if (!g_dir.empty()) std::filesystem::remove_all(g_dir, ec);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "xs-fuzz-enrolment-XXXXXX").string();
    XS_FUZZ_CHECK(mkdtemp(tmpl.data()) != nullptr);
    g_dir = tmpl;
    std::atexit(removeDir);
    crypto::Argon2Params cheap{.iterations = 1, .memoryKiB = 8192, .parallelism = 1};
    auto ws = app::Workspace::init(g_dir / "store", "fuzz passphrase", "Fuzz Member", app::Role::WorkingGroupMember, cheap);
    if (!ws) {
        std::fprintf(stderr, "enrolment_fuzz: cannot make the workspace: %s\n", ws.message().c_str());
        std::abort();
    }
    g_ws = std::move(*ws);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto& signer = fuzz::FixedSigner::instance();
    const std::string text(fuzz::textOf(data, size));
    (void)app::acceptEnrolment(*g_ws, text);
    std::string wrapped;
    try {
        wrapped = app::Json{{"format", "xunshen-enrolment-signed"}, {"body", text}, {"signature", signer.signHex(text)}}.dump(2);
    } catch (const app::Json::exception&) {
        return 0;  // not UTF-8: no enrolment body can be (and JSON cannot carry it)
    }
    (void)app::acceptEnrolment(*g_ws, wrapped);
    return 0;
}
