// Fuzzes the organisation file (app/workspace.h parseOrgFile), what `org import` checks before it
// writes: bounded JSON (16 MiB, as the command reads it), then every unit, person and round. Units
// the "store" knows: the codes starting with "known-". Invariants: an accepted file has something
// in it, unique unit and person codes, and rounds of three years.
#include <set>

#include "app/workspace.h"
#include "sync/changeset_codec.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace xs;
    auto j = sync::parseBoundedJson(fuzz::textOf(data, size), 16 * 1024 * 1024, "the organisation file");
    if (!j) return 0;
    auto file = app::parseOrgFile(*j, [](const std::string& code) { return code.rfind("known-", 0) == 0; });
    if (!file) return 0;
    XS_FUZZ_CHECK(!file->units.empty() || !file->people.empty() || !file->rounds.empty());
    std::set<std::string> units, people;
    for (const auto& u : file->units) XS_FUZZ_CHECK(!u.code.empty() && !u.name.empty() && !u.kind.empty() && units.insert(u.code).second);
    for (const auto& p : file->people) {
        XS_FUZZ_CHECK(!p.code.empty() && !p.name.empty() && people.insert(p.code).second);
        XS_FUZZ_CHECK(app::parseEnum<app::Role>(p.role).has_value());
    }
    for (const auto& r : file->rounds) XS_FUZZ_CHECK(!r.name.empty() && r.endYear - r.startYear == 2);
    return 0;
}
