// Fuzzes the device identity file (app/enrolment.h parseDeviceFile), what `org enrol-device` reads
// before it looks at the store: bounded JSON (64 KiB, as the command reads it), strict fields, the
// subkey signature and the fingerprint. Invariant: an accepted file has 32-byte keys, 1 to
// kMaxSubkeys subkeys of 32 bytes and a person name.
#include "app/enrolment.h"
#include "sync/changeset_codec.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace xs;
    auto j = sync::parseBoundedJson(fuzz::textOf(data, size), 64 * 1024, "the device file");
    if (!j) return 0;
    auto file = app::parseDeviceFile(*j);
    if (!file) return 0;
    XS_FUZZ_CHECK(file->device.signKey.size() == 32 && file->device.exchangeKey.size() == 32);
    XS_FUZZ_CHECK(!file->device.subkeys.empty() && file->device.subkeys.size() <= static_cast<std::size_t>(sync::kMaxSubkeys));
    for (const auto& k : file->device.subkeys) XS_FUZZ_CHECK(k.size() == 32);
    XS_FUZZ_CHECK(!file->personName.empty());
    return 0;
}
