// Channels: who may read and write which ops, enforced by cryptography (DESIGN.md "Channels").
// This header is the format only (records, envelopes, names), shared by the authorizer
// (sync/trust.h) and the op log; OpLog's channel members live in channels.cpp.
//
// - Every channel but "org" and "sys" is encrypted: each op's body is sealed with AES-256-GCM under
//   the channel's content key of an epoch, the op header as associated data. The key is made by
//   the channel's admin (the device that created it) and reaches readers as KeyEnvelopes, HPKE
//   base mode (RFC 9180, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM), one to the audit
//   office key and one to a per-channel subkey of each member device. The envelopes travel inside
//   the admin's signed change sets, so every replica checks that each epoch is wrapped to exactly
//   the channel's members and the office. A device's long-term keys open nothing: shredding a
//   channel destroys the subkey its envelopes were sealed to (docs/FORMATS.md "Key hierarchy").
// - Membership and keys are plaintext "sys" records, written only by the channel's admin:
//     channel        <channel>            admin, epoch
//     channel_epoch  <channel>|<epoch>    channel, epoch, key_id, keys (an envelope per reader)
//     channel_member <channel>|<device>   channel, device, kinds, subkey, removed[, keys]
// - Devices are "sys" records written only by the registrar (the audit office's device):
//     device         <device>             sign_pk, kx_pk, subkeys, principal[, revoked_seq, revoked_hash]
//   and a device acknowledges what it destroyed with
//     shred_ack      <device>|<scope>     scope, channels, subkeys, receipt, evidence_removed, ...
// Formats byte by byte: docs/FORMATS.md "Channels and key envelopes".
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "crypto/bytes.h"
#include "sync/changeset.h"
#include "sync/error.h"

namespace xs::sync {

constexpr std::uint8_t kChannelSuite = 1;  // AES-256-GCM content keys, HPKE X25519/HKDF-SHA256/AES-256-GCM wraps
constexpr std::size_t kChannelKeySize = 32;
constexpr std::size_t kKeyIdSize = 16;
constexpr int kMaxSubkeys = 64;
// Where a store keeps the audit office key (set by enrolment or create-office-key).
constexpr const char* kOfficePublicKeyMeta = "office_public_key";  // hex
constexpr const char* kOfficeSecretName = "office_x25519";         // device_secrets row (office stores only)
constexpr const char* kOfficeRecipient = "office";

// Record kinds of the sys channel.
constexpr const char* kDeviceKind = "device";
constexpr const char* kChannelKind = "channel";
constexpr const char* kEpochKind = "channel_epoch";
constexpr const char* kMemberKind = "channel_member";
constexpr const char* kShredAckKind = "shred_ack";

struct ChannelMember {
    std::string device;
    std::vector<std::string> kinds = {"*"};  // record kinds it may write; "*" any; empty: read only
};

// A channel key of one epoch, HPKE-sealed to one recipient: the office key (device empty), or
// subkey `subkey` of member device `device`.
struct KeyEnvelope {
    std::string device;  // empty: the office
    int subkey = -1;
    crypto::Bytes enc;      // HPKE encapsulated key, 32 bytes
    crypto::Bytes wrapped;  // the 32-byte key sealed: 48 bytes
    bool toOffice() const { return device.empty(); }
};

// "office" or "device:<id>#<subkey>": what the HPKE info binds.
std::string recipientLabel(const KeyEnvelope& e);
std::string envelopeInfo(const std::string& channel, std::uint32_t epoch, const std::string& recipient);
Json envelopeToJson(const KeyEnvelope& e);
SResult<KeyEnvelope> envelopeFromJson(const Json& j);  // strict
// An entry of the "keys" field of a member record: the key of one epoch for a device that joins
// a channel after it began (every epoch's, so it reads the history as every member does).
struct MemberKey {
    std::uint32_t epoch = 0;
    KeyEnvelope envelope;
};
Json memberKeyToJson(const MemberKey& k);  // {"epoch", "enc", "wrapped"}
SResult<MemberKey> memberKeyFromJson(const Json& j, const std::string& device, int subkey);  // strict
// 16 bytes that name a channel key without revealing it; a recipient checks its opened key.
crypto::Bytes keyId(const std::string& channel, std::uint32_t epoch, crypto::ByteView key);

std::string memberRecordId(const std::string& channel, const std::string& device);
std::string epochRecordId(const std::string& channel, std::uint32_t epoch);
std::string shredAckRecordId(const std::string& device, const std::string& scope);
// A well-formed name of an encrypted channel: lowercase letters, digits, '.', '_', '-'; at most 80.
bool validChannelName(const std::string& channel);

// A device as the registrar recorded it.
struct DeviceRecord {
    std::string id;
    crypto::Bytes signKey;      // Ed25519, 32 bytes
    crypto::Bytes exchangeKey;  // X25519, 32 bytes (identifies the device; no envelope is sealed to it)
    std::vector<crypto::Bytes> subkeys;  // X25519, one per channel membership
    std::string principal;  // whom the device acts for (the app's person id), opaque here
    // Revocation: the last change set of the device that is accepted (seq 0: none). Every later
    // link of its chain is refused, whatever time or position it claims.
    std::optional<std::int64_t> revokedSeq;
    crypto::Bytes revokedHash;
};
// Parses a "device" record's fields (as projected); Corrupt if they are not a registration.
SResult<DeviceRecord> deviceFromRecord(const std::string& id, const Json& fields);

// A channel whose keys this replica destroyed (crypto-shredding after a handover).
struct ShreddedChannel {
    std::string channel;
    std::int64_t atMs = 0;
    std::string reason;
};

}  // namespace xs::sync
