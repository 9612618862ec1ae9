// xunshen: the desktop client. Makes the window and runs the loop; everything else is in app/ui.
#include <cstdio>
#include <string>
#include <vector>
#include "app/ui/window.h"

int main(int argc, char** argv) {
    auto options = xs::ui::parseOptions(std::vector<std::string>(argv + 1, argv + argc));
    if (!options) {
        std::fprintf(stderr, "xunshen: %s\n%s", options.message().c_str(), xs::ui::usage());
        return 2;
    }
    if (options->help) {
        std::fputs(xs::ui::usage(), stdout);
        return 0;
    }
    return xs::ui::runClient(*options);
}
