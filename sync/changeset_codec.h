// Canonical encodings of ops and change sets: what a device signs, what chains its change sets,
// and the JSON form change sets travel in (bundles, enrolment files, held change sets). Every
// hash is over bytes that are stored and sent as they are (an op's body), never over a
// re-serialisation, so any implementation verifies a signature byte for byte. Byte layouts in
// docs/FORMATS.md ("Signed change sets").
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include "crypto/hash.h"
#include "sync/changeset.h"
#include "sync/error.h"
#include "sync/suite.h"

namespace xs::sync {

constexpr std::uint8_t kChangeSetSuite = kSuiteXs1;  // sync/suite.h; for a change set: SHA-256 + Ed25519
constexpr int kChangeSetVersion = 2;         // "xs-changeset-v2": with causal deps, body bytes hashed as stored

// Bounds for what another replica sends (each change set is hostile until judged).
constexpr std::size_t kMaxOpsPerChangeSet = 10000;
constexpr std::size_t kMaxOpBody = 1 << 20;        // 1 MiB of field changes in one op
constexpr std::size_t kMaxDeps = 4096;
constexpr int kMaxJsonDepth = 32;                   // nesting of any JSON this code parses from outside

// Parses JSON text from outside: refuses more than maxBytes, nesting deeper than kMaxJsonDepth
// (checked before the parser recurses) and malformed text, with a message naming `what`.
SResult<Json> parseBoundedJson(std::string_view text, std::size_t maxBytes, const std::string& what);

// The JSON text of field changes: [{"f": field, "v": value, "b": [base op ids]}...] (b omitted
// when empty). The bytes an op's body holds in clear.
std::string encodeChanges(const std::vector<FieldChange>& changes);
// Strict and bounded; Invalid on anything else.
SResult<std::vector<FieldChange>> decodeChanges(std::string_view body);

// SHA-256 over an op's header and its body bytes (sealed in an encrypted channel, so a replica
// without the channel key still verifies signatures and chains).
crypto::Digest opHash(const Op& op);
// The op header, the associated data of its sealed body.
crypto::Bytes opAssociatedData(const Op& op);
// The bytes the author device signs: the change set header, the previous change set's hash
// (32 zero bytes for seq 1), the deps and the hash of every op in order.
crypto::Bytes signingInput(const ChangeSet& cs);
// SHA-256(signingInput(cs)): the change set's identity in chains and deps.
crypto::Bytes changeSetHash(const ChangeSet& cs);

Json changeSetToJson(const ChangeSet& cs);
// The withheld form of a whole change set (ChangeSet::withheld): the same hash and signature.
ChangeSet withheldCopy(const ChangeSet& cs);
// Strict: every field present with its type, within the bounds above; Invalid otherwise. Ops of
// plaintext channels get `changes` parsed from their body. Sets `hash`.
SResult<ChangeSet> changeSetFromJson(const Json& j);

Json versionVectorToJson(const VersionVector& vv);
SResult<VersionVector> versionVectorFromJson(const Json& j);

}  // namespace xs::sync
