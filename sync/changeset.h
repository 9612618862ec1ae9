// The units of replication: an Op (one record's field changes) and a ChangeSet (one user action's
// ops, signed once by its author device and chained to that device's previous change set).
// Plain data: no SQLite, no keys. The byte layouts are in docs/FORMATS.md ("Signed change sets").
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "crypto/bytes.h"

namespace xs::sync {

using Json = nlohmann::json;

// "org" (the organisation's directory) and "sys" (devices, channel membership, key envelopes) are
// signed but not encrypted: every replica, and the server, reads them to route and to judge
// writes. Every other channel is encrypted (sync/channels.h).
constexpr const char* kOrgChannel = "org";
constexpr const char* kSysChannel = "sys";
inline bool isEncryptedChannel(const std::string& channel) { return channel != kOrgChannel && channel != kSysChannel; }

struct FieldChange {
    std::string field;
    Json value;
    std::vector<std::string> base;  // op ids of the versions this change supersedes
};

struct Op {
    std::string id;  // UUIDv7
    std::string channel;
    std::string kind;
    std::string recordId;
    std::uint64_t hlc = 0;
    std::string device;
    std::uint32_t epoch = 0;  // the channel key's epoch; 0 in the plaintext channels (org, sys)
    // The exact bytes that are hashed, signed, stored and sent: in a plaintext channel the JSON
    // text of the field changes, in an encrypted one nonce(12) || AES-256-GCM(that text) || tag(16).
    crypto::Bytes body;
    // The field changes in clear: parsed from `body`, or opened with the channel key. Empty for a
    // sealed op this replica cannot open.
    std::vector<FieldChange> changes;
};

// One entry of a change set's causal context: the author had applied `device`'s change sets up
// to `seq`, the last of which hashes to `hash`.
struct Dep {
    std::string device;
    std::int64_t seq = 0;
    crypto::Bytes hash;  // 32 bytes
};

// device -> highest sequence number of that device's chain in a causal past.
using VersionVector = std::map<std::string, std::int64_t>;

struct ChangeSet {
    std::string id;  // UUIDv7
    std::string device;
    std::int64_t seq = 0;  // 1, 2, ... per device
    std::uint64_t hlc = 0;
    std::vector<Op> ops;
    crypto::Bytes prevHash;   // hash of this device's change set seq-1; empty for seq 1
    // What the author had seen beyond its previous change set: the entries of its version vector
    // that grew since then, sorted by device. The full causal past is prev's plus these.
    std::vector<Dep> deps;
    crypto::Bytes hash;       // SHA-256(signingInput)
    crypto::Bytes signature;  // Ed25519 by the author device, 64 bytes
    // Need-to-know: a change set of an encrypted channel this replica is not a member of travels
    // "withheld": its header, deps and signature with only the hash (op_hash) of each op, no op.
    // Then `ops` is empty and this holds the op hashes in order. The signature and the chain
    // verify as for the whole change set (they cover only these hashes), so it is a link of its
    // device's chain like any other, with nothing to judge or project.
    std::vector<crypto::Bytes> withheld;
    bool isWithheld() const { return ops.empty() && !withheld.empty(); }
};

}  // namespace xs::sync
