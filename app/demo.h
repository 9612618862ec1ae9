// The scripted demo: creates a store from assets/demo and walks one inspection through capture,
// narrating each step. Uses the workspace the session wraps, so it exercises the CLI's paths.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <nlohmann/json.hpp>
#include "app/error.h"
#include "crypto/kdf.h"

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
AResult<nlohmann::json> runDemo(const DemoOptions& options, const std::function<void(const std::string&)>& say);

std::filesystem::path defaultAssetsDir();
std::filesystem::path demoOfficeStore(const std::filesystem::path& store);  // <store>-office

// The handover walkthrough (README): in `dir`, an audit-office store `office/`, two inspectors'
// stores, their bundles `<name>.xsbundle`, and the office identity `office.agekey`; both bundles
// imported. Uses the same functions as the CLI commands of the walkthrough.
AResult<nlohmann::json> runHandoverDemo(const DemoOptions& options, const std::filesystem::path& dir,
                              const std::function<void(const std::string&)>& say);

}  // namespace xs::app
