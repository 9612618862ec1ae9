// The organisation's trust anchors, set up offline (DESIGN.md "Keys"):
// - the audit office key: an X25519 key pair created on an audit-office store; its private half
//   stays there (exportable as an age identity so Debian's `age` can open handover bundles);
// - the enrolment file: the office key, the office device's signing key, the server URL and TLS
//   pin when there is one, and every enrolled device's public keys, signed by the office device.
// A store accepts an enrolment file only if its signature verifies, and once it has accepted one
// it accepts later files only from the same office. Format: docs/FORMATS.md "Enrolment file".
#pragma once
#include <filesystem>
#include <string>
#include "app/workspace.h"

namespace xs::app {

struct OfficeKeyInfo {
    std::string publicKeyHex;   // X25519
    std::string ageRecipient;   // age1…
    std::string fingerprint;
};

// Audit office only; refused if the key already exists.
AResult<OfficeKeyInfo> createOfficeKey(Workspace& ws);
AResult<OfficeKeyInfo> officeKey(Workspace& ws);  // NotFound when this store has none
// The office private key, on the audit-office store that made it (NotFound elsewhere).
AResult<crypto::SecretBytes> officePrivateKey(Workspace& ws);
// Writes AGE-SECRET-KEY-1… (mode 0600). Audit office only.
AStatus exportOfficeAgeIdentity(Workspace& ws, const std::filesystem::path& out);

// This device's public identity as JSON, for the office to enrol.
Json devicePublicJson(Workspace& ws);
// Office: registers a device from its exported public identity (strictly parsed).
AResult<Json> enrolDevice(Workspace& ws, const Json& devicePublic);
// Office: the signed enrolment file's text.
AResult<std::string> exportEnrolment(Workspace& ws, const std::string& serverUrl, const std::string& tlsPin);
// Any store: verifies and accepts an enrolment file; unchanged on any failure.
AResult<Json> acceptEnrolment(Workspace& ws, const std::string& text);

}  // namespace xs::app
