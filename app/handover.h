// The offline handover as the procedure uses it (DESIGN.md "Sync"; the format is sync/bundle.h):
// who may export and import, which inspection's evidence a bundle carries, what the office's
// receipt says, and what the field device may then destroy. Formats: docs/FORMATS.md.
#pragma once
#include <filesystem>
#include <string>
#include "app/task.h"
#include "app/workspace.h"

namespace xs::app {

// Inspector side: needs an enrolled store. A bundle carries every change set of this store and
// the evidence files of the inspection held here (evidence attached elsewhere and not received
// is skipped, not an error). Records what it covered, for the receipt. Returns a summary.
// With `progress`: its bytes move as the evidence is sealed, and a cancel stops the export
// (Cancelled; no bundle, nothing recorded).
AResult<Json> exportHandover(Workspace& ws, const std::string& inspection, const std::filesystem::path& out,
                             Progress* progress = nullptr);

// Audit office side: verifies and applies a bundle through the one apply path, all or nothing
// (sync::importBundle). The result's "receipt" is the office-signed receipt text: what was applied,
// which change sets were refused by a rule (kept, never projected), and which evidence the office
// still lacks for the inspection (attached on a device that has not handed it over).
// With `progress`: its bytes move as the bundle is read; a cancel stops the import (Cancelled;
// nothing changes).
AResult<Json> importHandover(Workspace& ws, const std::filesystem::path& bundle, Progress* progress = nullptr);

// Field device: verifies the office's receipt for the bundle last exported here, then destroys
// exactly what it covers. If nothing of the inspection was captured here after that export, the
// inspection is crypto-shredded: its channel keys, the subkeys their envelopes to this device were
// sealed to, its evidence key and files; otherwise only the evidence files the receipt covers go,
// and the result says how many items came after the export ("export again"). Either way the
// device commits a signed shred acknowledgement to its chain; the result's "ack" is the file that
// carries it (and this device's change sets the office lacks) to the office.
AResult<Json> confirmHandover(Workspace& ws, const std::string& receiptText);

// Audit office: applies a device's shred acknowledgement file. Returns the acknowledgements on
// record for that device.
AResult<Json> acceptShredAcknowledgement(Workspace& ws, const std::string& ackText);

}  // namespace xs::app
