// The organisation's trust anchors, set up offline (DESIGN.md "Keys"):
// - the audit office's store is the registrar: its device key signs every device registration,
//   and every replica pins it;
// - the audit office key: an X25519 key pair created on that store; its private half stays
//   there (exportable as an age identity so Debian's `age` can open handover bundles);
// - a device enrols by its identity file (public keys, subkeys it signed); the office binds it to
//   a person of the organisation in a signed registration record in the op log;
// - the enrolment file: the registrar's key, the office key, the server URL and TLS pin when there
//   is one, and every change set the office holds (the organisation, plans, registrations,
//   channel keys), signed by the office device. It goes through the one apply path.
// A store accepts an enrolment file only if its signature verifies, only from the office it first
// accepted, and never one older than the last it accepted. Format: docs/FORMATS.md "Enrolment file".
#pragma once
#include <filesystem>
#include <string>
#include "app/workspace.h"
#include "sync/identity.h"
#include "sync/net/client.h"

namespace xs::app {

struct OfficeKeyInfo {
    std::string publicKeyHex;   // X25519
    std::string ageRecipient;   // age1…
    std::string fingerprint;
};

// Refused unless this is the audit office's store, the registrar every replica pins.
AStatus requireRegistrar(Workspace& ws);
// Audit office only; refused if the key already exists.
AResult<OfficeKeyInfo> createOfficeKey(Workspace& ws);
AResult<OfficeKeyInfo> officeKey(Workspace& ws);  // NotFound when this store has none
// The office private key, on the audit-office store that made it (NotFound elsewhere).
AResult<crypto::SecretBytes> officePrivateKey(Workspace& ws);
// Writes AGE-SECRET-KEY-1… (mode 0600). Audit office only.
AStatus exportOfficeAgeIdentity(Workspace& ws, const std::filesystem::path& out);

// This device's public identity as JSON, for the office to enrol.
AResult<Json> devicePublicJson(Workspace& ws);
// A device identity file (`identity export`, docs/FORMATS.md), strictly parsed, with its subkey
// signature and (when present) its fingerprint checked; needs no store. Refused otherwise.
struct DeviceFile {
    sync::DevicePublic device;
    std::string personName;
    Role role = Role::WorkingGroupMember;
};
AResult<DeviceFile> parseDeviceFile(const Json& devicePublic);
// Office: registers a device from its exported public identity (strictly parsed) for the person
// of the organisation it names (parseDeviceFile first) (by name and role, or `person` as a code or id when names repeat).
// A revoked device's keys are refused, whatever id they come under.
AResult<Json> enrolDevice(Workspace& ws, const Json& devicePublic, const std::string& person = {});
// Office: the signed enrolment file's text.
AResult<std::string> exportEnrolment(Workspace& ws, const std::string& serverUrl, const std::string& tlsPin);
// Any store: verifies and accepts an enrolment file; unchanged on any failure.
AResult<Json> acceptEnrolment(Workspace& ws, const std::string& text);

// ---- online enrolment by one-time code (docs/PROTOCOL.md "Online enrolment")
// The office makes a code for a person; the server learns only the code's id and server key.
// The new device presents its identity file with the code; the office's next sync round (the
// sync worker wakes for it) enrols that device for the person the invitation names and answers
// with the signed enrolment file, under a mac only the code's holders can make. The device
// accepts it through acceptEnrolment, as it would the file from a USB stick.
struct InviteRecord {
    std::string id;       // 64 hex (the server's name for it)
    std::string code;     // only when just made: it is not kept
    std::string personId, personName;
    std::int64_t createdMs = 0, expiresMs = 0;
    // created (not filed at the server yet) | sent | enrolled | answered | refused |
    // refused-answered | answer-failed (enrolled, but the server took no answer: give the file by
    // hand) | filing-refused (the server would not file it: make another)
    std::string state;
    std::string deviceId, fingerprint, problem;
};
// Audit office: a new invitation for `person` (code or id), valid `hours` (1 to 168). It is filed
// at the server at once when the server can be reached, else with the next sync round.
AResult<InviteRecord> createInvite(Workspace& ws, const std::string& person, int hours);
AResult<std::vector<InviteRecord>> listInvites(Workspace& ws);
// True when this store has invitations a sync round must serve (cheap: a count).
AResult<bool> invitesPending(Workspace& ws);
// Audit office, in a sync round before the push: files new invitations, then enrols the devices
// presented for them (each registration is a change set the round's push takes along).
struct InviteRoundReport {
    int filed = 0, enrolled = 0, answered = 0, refused = 0;
};
AStatus serveInvites(Workspace& ws, sync::net::Connection& conn, InviteRoundReport& report);
// Only the filing (what `org invite` does at once; the enrolling is the sync round's).
AStatus fileInvites(Workspace& ws, sync::net::Connection& conn, InviteRoundReport& report);
// After the push (the server knows the registrations): the answers, each an enrolment file
// naming this server, or the reason a presentation was refused.
AStatus answerInvites(Workspace& ws, sync::net::Connection& conn, const sync::net::Endpoint& server, InviteRoundReport& report);
// The new device: presents itself with `code` at `server` and waits up to waitSeconds for the
// office's answer. nullopt: not answered yet (run it again with the same code). The accepted
// enrolment's summary (acceptEnrolment) otherwise, with "device_fingerprint" added.
AResult<std::optional<Json>> joinByCode(Workspace& ws, const sync::net::Endpoint& server, const std::string& code,
                                        int waitSeconds);

}  // namespace xs::app
