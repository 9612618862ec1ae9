// Fuzzes a handover bundle's manifest (sync/bundle_archive.h): the input is the manifest's JSON
// text, checked as importBundle checks it before its signature (parseManifestHead) and after
// (parseManifestLists). Invariant: a manifest that passes is an object whose listed evidence
// sizes and change set hashes came from the text.
#include "sync/bundle_archive.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace xs;
    auto manifest = sync::parseManifestHead(fuzz::textOf(data, size));
    if (!manifest) return 0;
    XS_FUZZ_CHECK(manifest->is_object());
    auto lists = sync::parseManifestLists(*manifest);
    if (!lists) return 0;
    XS_FUZZ_CHECK(lists->changeSets.size() <= (*manifest)["change_sets"].size());
    XS_FUZZ_CHECK(lists->evidence.size() <= (*manifest)["evidence"].size());
    return 0;
}
