// xunshenctl: the command line for the whole core (see README "Command line"). Exit codes:
// 0 ok, 1 failure, 2 usage, 3 wrong passphrase/locked, 4 not found, 5 refused by a rule.
// Errors are one line on stderr; data goes to stdout (JSON with --json).
#pragma once
#include <string>
#include <vector>

namespace xs::app::cli {

int run(const std::vector<std::string>& args);

}  // namespace xs::app::cli
