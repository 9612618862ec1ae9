// Fuzzes `finding import`'s reading of a JSON-lines file (app/cli/cli.cpp): every line not blank is
// parsed as bounded JSON (parseBoundedJson) and strictly as a finding (FindingInput::fromJson),
// stopping at the first refusal as the command does. Invariant: an accepted finding has an
// inspection, a title that is not blank and no empty evidence path.
#include "app/workspace.h"
#include "sync/changeset_codec.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace xs;
    std::string_view rest = fuzz::textOf(data, size);
    std::size_t lineNo = 0;
    while (!rest.empty()) {
        std::size_t end = rest.find('\n');
        std::string_view line = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
        ++lineNo;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        auto parsed = sync::parseBoundedJson(line, 1 << 20, "line " + std::to_string(lineNo));
        if (!parsed) return 0;
        auto in = app::FindingInput::fromJson(*parsed);
        if (!in) return 0;
        XS_FUZZ_CHECK(!in->inspection.empty());
        XS_FUZZ_CHECK(in->title.find_first_not_of(" \t\r\n") != std::string::npos);
        for (const auto& e : in->evidence) XS_FUZZ_CHECK(!e.empty());
    }
    return 0;
}
