// The scripted demo: creates a store from assets/demo and walks one inspection through capture,
// narrating each step. Uses only the Workspace API, so it exercises the same paths as the CLI.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include "app/workspace.h"

namespace xs::app {

constexpr const char* kDemoPassphrase = "demo-口令-2026";

struct DemoOptions {
    std::filesystem::path store;
    std::string passphrase;
    crypto::Argon2Params kdf;
    std::filesystem::path assets;  // assets/demo; empty: the source tree's
};

// The demo: the audit office's store `<store>-office` imports the organisation and enrols the
// working-group lead's device, whose store `<store>` then walks one inspection through capture.
// Returns a summary (stores, inspection id, finding ids). Refused if a store exists there.
AResult<Json> runDemo(const DemoOptions& options, const std::function<void(const std::string&)>& say);

std::filesystem::path defaultAssetsDir();
std::filesystem::path demoOfficeStore(const std::filesystem::path& store);  // <store>-office

// The handover walkthrough (README): in `dir`, an audit-office store `office/`, two inspectors'
// stores, their bundles `<name>.xsbundle`, and the office identity `office.agekey`; both bundles
// imported. Uses the same functions as the CLI commands of the walkthrough.
AResult<Json> runHandoverDemo(const DemoOptions& options, const std::filesystem::path& dir,
                              const std::function<void(const std::string&)>& say);

}  // namespace xs::app
