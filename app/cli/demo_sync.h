// `xunshenctl demo-sync --dir DIR`: the online walkthrough (README "Online, as a person types
// it") with real processes. A real xunshen-server on a free 127.0.0.1 port; an audit office, two
// inspectors, the working-group lead and the inspected unit's head, each a store of its own; the
// immediate-fix path from capture to the lead seeing the unit head's acknowledgement; a sync
// round on every device; the server stopped with SIGTERM. Every step is this same xunshenctl
// (/proc/self/exe) run as a child process, exactly the command a person would type, so the demo
// goes through the session like any other front end and holds no policy of its own.
//
// Left behind in DIR: server/ (the server's data directory; `xunshen-server run --data DIR/server`
// serves it again on the same port), server.log, exchange/ (the identity and enrolment files that
// went between the devices and the office) and one store per device: office/, inspector-a/,
// inspector-b/, lead/, unit-head/.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/error.h"

namespace xs::app::cli {

struct DemoSyncOptions {
    std::filesystem::path dir;         // must not exist, or be an empty directory
    std::string passphrase;            // every store's; given to each step as XUNSHEN_PASSPHRASE
    bool printPassphrase = false;      // the demo's own passphrase: shown in the closing commands
    std::vector<std::string> kdfArgs;  // --kdf-* options for each `init` (empty: the defaults)
    std::filesystem::path assets;      // holds org.json (assets/demo)
    std::filesystem::path self;        // the xunshenctl to run for each step (/proc/self/exe)
};

// Where xunshen-server is: $XUNSHEN_SERVER if set, else beside `self`, else ../sync/ of it (the
// build tree: build/release/app/xunshenctl, build/release/sync/xunshen-server), else on $PATH.
AResult<std::filesystem::path> findServerBinary(const std::filesystem::path& self);

// Runs the walkthrough, telling each step through `say` (a line each, Chinese first). Returns a
// summary: dir, server {data, url, pin, log, exit_code}, stores {name: dir}, inspection, findings,
// notice, acknowledged, verified {name: bool}. Refused if DIR is not empty. The server is stopped
// on every path out, failures included, and gets SIGTERM should this process be killed first.
AResult<nlohmann::json> runDemoSync(const DemoSyncOptions& options, const std::function<void(const std::string&)>& say);

}  // namespace xs::app::cli
