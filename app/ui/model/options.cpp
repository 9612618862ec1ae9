#include "app/ui/model/options.h"

#include <cstdlib>
#include "app/model.h"

namespace xs::ui {

const char* usage() {
    return "usage: xunshen [--store DIR] [--lang zh|en] [--size WxH] [--script FILE --screenshot-dir DIR]\n"
           "               [--state-file FILE] [--timings FILE]\n";
}

app::AResult<Options> parseOptions(const std::vector<std::string>& args) {
    Options o;
    auto bad = [](const std::string& why) { return xs::fail(app::AppError::Usage, why); };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            o.help = true;
            continue;
        }
        if (i + 1 >= args.size()) return bad(a + ": unknown, or a value is missing");
        const std::string& v = args[++i];
        if (a == "--store") {
            o.store = v;
        } else if (a == "--script") {
            o.script = v;
        } else if (a == "--screenshot-dir") {
            o.screenshotDir = v;
        } else if (a == "--state-file") {
            o.stateFile = v;
        } else if (a == "--timings") {
            o.timingsFile = v;
        } else if (a == "--lang") {
            auto l = parseLang(v);
            if (!l) return bad("--lang: zh or en, not " + v);
            o.lang = *l;
        } else if (a == "--size") {
            auto x = v.find('x');
            auto w = x == std::string::npos ? std::nullopt : app::parseInteger(std::string_view(v).substr(0, x), 200, 8192);
            auto h = x == std::string::npos ? std::nullopt : app::parseInteger(std::string_view(v).substr(x + 1), 200, 8192);
            if (!w || !h) return bad("--size: WIDTHxHEIGHT in pixels (200 to 8192), not " + v);
            o.width = static_cast<int>(*w);
            o.height = static_cast<int>(*h);
            o.sizeGiven = true;
        } else {
            return bad(a + ": unknown option");
        }
    }
    if (o.script.empty() != o.screenshotDir.empty()) return bad("--script and --screenshot-dir go together");
    if (o.store.empty())
        if (const char* env = std::getenv("XUNSHEN_STORE")) o.store = env;
    return o;
}

}  // namespace xs::ui
