// Fuzzes the change-set codec (sync/changeset_codec.h) on what another replica sends: the input is
// JSON text, read as a change set (parseBoundedJson + changeSetFromJson), as a version vector, and
// as an op body (decodeChanges). Invariants: a change set that parses encodes (as text) and parses back
// with the same hash; an op body that decodes encodes and decodes back to the same fields and bases.
#include "sync/changeset_codec.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace xs;
    const std::string_view text = fuzz::textOf(data, size);
    if (auto j = sync::parseBoundedJson(text, std::size_t{16} << 20, "fuzz input")) {
        if (auto cs = sync::changeSetFromJson(*j)) {
            // Through text, as change sets travel (an in-memory Json holds signed integers).
            auto reparsed = sync::parseBoundedJson(sync::changeSetToJson(*cs).dump(), std::size_t{64} << 20, "re-encoded");
            XS_FUZZ_CHECK(reparsed.ok());
            auto again = sync::changeSetFromJson(*reparsed);
            XS_FUZZ_CHECK(again.ok());
            XS_FUZZ_CHECK(again->hash == cs->hash && again->signature == cs->signature && again->ops.size() == cs->ops.size());
        }
        (void)sync::versionVectorFromJson(*j);
    }
    if (auto changes = sync::decodeChanges(text)) {
        auto again = sync::decodeChanges(sync::encodeChanges(*changes));
        XS_FUZZ_CHECK(again.ok());
        XS_FUZZ_CHECK(again->size() == changes->size());
        for (std::size_t i = 0; i < changes->size(); ++i)
            XS_FUZZ_CHECK((*again)[i].field == (*changes)[i].field && (*again)[i].base == (*changes)[i].base);
    }
    return 0;
}
