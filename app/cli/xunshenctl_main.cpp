#include <sys/stat.h>

#include "app/cli/cli.h"

int main(int argc, char** argv) {
    ::umask(077);  // store files, exports and temporaries are the person's alone
    return xs::app::cli::run(std::vector<std::string>(argv + 1, argv + argc));
}
