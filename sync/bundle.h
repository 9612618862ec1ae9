// The offline handover bundle (DESIGN.md "Sync"): one standard age v1 file addressed to the
// audit office key, whose plaintext is an archive of a manifest signed by the author device,
// every change set of the author's store (complete chains, so each verifies), and the evidence
// files of one scope. Export and import stream over both cores in bounded memory. The receipt
// is the office's signed statement of what it applied. Formats: docs/FORMATS.md "Handover
// bundle" and "Handover receipt". The app decides who may export and import, which scope and
// which files; this layer knows no inspection.
#pragma once
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>
#include "sync/apply.h"
#include "sync/bundle_archive.h"
#include "sync/oplog.h"
#include "sync/store.h"

namespace xs::sync {

constexpr int kReceiptVersion = 3;

struct BundleEvidence {
    std::string hash;
    std::uint64_t size = 0;
};

struct BundleExportRequest {
    std::filesystem::path out;
    crypto::Bytes officeKey;           // X25519 public key the age file is addressed to
    EvidenceScope scope;               // the files below are read from it
    std::vector<BundleEvidence> evidence;
    Json manifestExtra = Json::object();  // the app's fields (organisation, person, ...)
    // Called as the evidence streams (bytes sealed so far, of all evidence bytes); false stops
    // the export with Cancelled and nothing is written.
    std::function<bool(std::uint64_t done, std::uint64_t total)> progress;
};

struct BundleExportResult {
    std::string headerDigest;   // hex SHA-256 of the age header and payload nonce (names the file)
    std::string manifestHash;   // hex SHA-256 of the signed manifest text (names the content)
    VersionVector covered;      // the change sets the bundle holds: device -> last seq
    std::size_t changeSets = 0;
    std::size_t evidenceFiles = 0;
    std::uint64_t bytes = 0;
};

// Writes every change set of the log and the requested evidence into one age file, durably
// (written, fsynced, renamed into place). Invalid if the store changes while it is written.
SResult<BundleExportResult> exportBundle(OpLog& log, Store& store, const BundleExportRequest& request);

struct BundleImportResult {
    Json manifest;              // without its lists
    std::string authorDevice;
    std::string scope;
    std::string headerDigest;
    std::string manifestHash;
    std::size_t changeSets = 0;  // in the bundle
    std::size_t ops = 0;
    std::vector<BundleEvidence> evidence;  // received and kept
    std::vector<BundleEvidence> dropped;   // received but kept by no policy (see keepEvidence)
    ApplyReport report;         // what the apply session did (applied, known, refused, ...)
};

// What the app decides about an import: the key of the manifest's scope (after checking the
// manifest's own fields), and, once every change set is applied, which received files to keep
// (say, those an accepted record names).
struct BundleImportPolicy {
    std::function<SResult<EvidenceScope>(const std::string& scope, const Json& manifest)> scopeKey;
    std::function<SResult<bool>(const std::string& scope, const std::string& hash)> keepEvidence;
    // Called as the bundle is read (bytes of it, of its size); false stops the import with
    // Cancelled and nothing changes.
    std::function<bool(std::uint64_t done, std::uint64_t total)> progress;
};

// Decrypts with the office key, verifies the manifest signature and every hash it lists, and
// applies the change sets through one ApplySession while the evidence streams into the manifest's
// scope (scopeKey gives its key: the stored one, or a new one that is stored with the import, see
// Store::newEvidenceScope); commits only after every evidence file is durable. Refuses the whole
// bundle (nothing changes; fork records stay) when anything is malformed, tampered, out of order,
// not addressed to this office, from an unregistered author, or when a change set forks or would
// be held (an honest bundle carries complete chains, so a gap means something was withheld).
// Refused change sets (signed, admitted, against a rule) are kept and reported. Errors: Invalid
// (the bundle), Forbidden (not for this office / unknown author), Corrupt (a fork), I/O.
SResult<BundleImportResult> importBundle(OpLog& log, Store& store, const crypto::SecretBytes& officeSecret,
                                         const std::filesystem::path& bundle, const BundleImportPolicy& policy);

// The office's receipt: `body` (its fields, docs/FORMATS.md) signed by the office device.
std::string signReceipt(const DeviceIdentity& office, const Json& body);
// Verifies a receipt's signature with the office's signing key; Invalid (malformed) or Forbidden
// (signature) otherwise. Returns the body.
SResult<Json> openReceipt(const std::string& text, crypto::ByteView officeSignKey);

}  // namespace xs::sync
