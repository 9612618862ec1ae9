// The offline handover (DESIGN.md "Sync"): one file, a standard age v1 file addressed to the
// audit office key, whose plaintext is an archive of a manifest signed by the inspector's device,
// the change sets, and the evidence files. Export and import stream: memory stays bounded by the
// largest change set, whatever the evidence volume. Format: docs/FORMATS.md "Handover bundle".
#pragma once
#include <filesystem>
#include <string>
#include "app/workspace.h"

namespace xs::app {

// Inspector side: needs an enrolled store (the office key pinned). Prints nothing; returns a
// summary (change sets, evidence files, bytes).
AResult<Json> exportHandover(Workspace& ws, const std::string& inspection, const std::filesystem::path& out);

// Audit office side: decrypts with the office key, verifies the manifest signature, every
// change set's signature and chain and every evidence hash, then applies everything in one
// transaction. Any failure refuses the whole bundle with one line naming the reason and leaves the
// store unchanged. Importing the same bundle again changes nothing.
// The result's "receipt" is the office-signed receipt text (bundle hash, counts, time).
AResult<Json> importHandover(Workspace& ws, const std::filesystem::path& bundle);

// Field device: verifies the office's signed receipt for the bundle last exported here and then
// wipes that inspection's evidence files from this device, recording what and when (verify
// lists it). Findings' text stays in the encrypted database until per-channel keys exist to
// crypto-shred it (handover issue, item 4).
AResult<Json> confirmHandover(Workspace& ws, const std::string& receiptText);

}  // namespace xs::app
