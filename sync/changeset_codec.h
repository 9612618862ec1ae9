// Canonical encodings of ops and change sets: what a device signs, what chains its change sets,
// and the JSON form change sets travel in (bundles, held change sets). Byte layouts in
// docs/FORMATS.md ("Signed change sets").
#pragma once
#include "crypto/hash.h"
#include "sync/oplog.h"

namespace xs::sync {

constexpr std::uint8_t kChangeSetSuite = 1;  // XS1: SHA-256 + Ed25519

// SHA-256 over an op's header and body: the sealed bytes in an encrypted channel, so a replica
// without the channel key still verifies signatures and chains.
crypto::Digest opHash(const Op& op);
// The op header, the associated data of its sealed body.
crypto::Bytes opAssociatedData(const Op& op);
// The bytes the author device signs: the change set header, the previous change set's hash
// (32 zero bytes for seq 1) and the hash of every op in order.
crypto::Bytes signingInput(const ChangeSet& cs);

Json changeSetToJson(const ChangeSet& cs);
// Strict: every field present with its type; Invalid otherwise.
SResult<ChangeSet> changeSetFromJson(const Json& j);

}  // namespace xs::sync
