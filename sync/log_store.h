// The op log's storage, behind the narrowest interface that chain admission (sync/trust.h)
// needs: change sets by id and by (device, seq), each one's causal past, the change sets held for
// a missing predecessor, and fork records. A client keeps it in its SQLCipher store
// (SqliteLogStore, sync/oplog.cpp); a server keeps the same in SQLite or PostgreSQL; tests keep
// it in memory. Implementations are not required to be thread-safe.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>
#include "sync/changeset.h"
#include "sync/error.h"

namespace xs::sync {

// What admission needs of a stored change set.
struct StoredLink {
    std::string id;
    std::int64_t seq = 0;
    crypto::Bytes hash;
    std::uint64_t hlc = 0;
};

class LogStore {
public:
    virtual ~LogStore() = default;
    // The hash of a stored change set, if this store holds it.
    virtual SResult<std::optional<crypto::Bytes>> hashOf(const std::string& changeSetId) = 0;
    virtual SResult<std::optional<StoredLink>> linkAt(const std::string& device, std::int64_t seq) = 0;
    virtual SResult<std::int64_t> lastSeq(const std::string& device) = 0;  // 0: none
    // Whether a stored change set has an op of this id.
    virtual SResult<bool> hasOp(const std::string& opId) = 0;
    // The causal past of a stored change set (its own device at seq - 1).
    virtual SResult<VersionVector> versionVectorOf(const std::string& changeSetId) = 0;
    // Stores a change set that admission accepted, with its causal past and verdict ("" =
    // accepted, else why its ops were refused). Refused change sets are stored too: they are
    // signed evidence of the attempt and links of their device's chain.
    virtual SStatus append(const ChangeSet& cs, const VersionVector& vv, const std::string& verdict, bool local) = 0;
    virtual SStatus setVerdict(const std::string& changeSetId, const std::string& verdict) = 0;
    // Change sets waiting for something (a predecessor, a dep, their device's registration).
    virtual SStatus hold(const ChangeSet& cs, const std::string& reason) = 0;
    virtual SResult<std::vector<ChangeSet>> held() = 0;
    virtual SStatus unhold(const std::string& changeSetId) = 0;
    virtual SStatus recordFork(const ChangeSet& cs, const std::string& detail) = 0;
};

}  // namespace xs::sync
