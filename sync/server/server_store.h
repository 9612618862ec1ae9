// What xunshen-server keeps, behind the narrowest interface its protocol layer (server.h) needs,
// so that a PostgreSQL backend (several stateless servers on one database) can replace the
// embedded one without touching the protocol: no SQL, no SQLite type and no single-writer
// assumption above this line. Each call is one transaction of its own. The signed bytes are kept
// as they were signed (each op's body); the server holds no channel key and never opens a body.
//
// The embedded backend (openSqliteServerStore) is a SQLCipher store whose data key lives in a key
// file readable by the service user only, so the service starts unattended; a stolen disk without
// that file leaks nothing, and with it only ciphertext and routing metadata.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>
#include "sync/changeset.h"
#include "sync/error.h"
#include "sync/trust.h"

namespace xs::sync::server {

// Whom a request claims to come from, as the registrar's records say.
struct DeviceAuth {
    crypto::Bytes signKey;
    bool revoked = false;
    bool registrar = false;  // the audit office's device (the trust root)
};

struct PushOutcome {
    std::vector<std::string> stored;  // newly stored, in feed order (refused-by-rule ones too: they are chain links)
    std::vector<std::string> known;   // already here
    std::vector<std::pair<std::string, std::string>> held;     // device, what it waits for
    std::vector<std::pair<std::string, std::string>> refused;  // id, the rule (stored, ops not projected)
    std::int64_t cursor = 0;          // the feed position after this push
};

struct FeedEntry {
    std::int64_t seq = 0;  // position in the server's feed
    ChangeSet changeSet;
};

class ServerStore {
public:
    virtual ~ServerStore() = default;
    // nullopt: not registered here (yet).
    virtual SResult<std::optional<DeviceAuth>> deviceAuth(const std::string& device) = 0;
    // Records a request nonce; false if this device used it before (a replay). Forgets nonces
    // older than forgetBeforeMs (requests that old are refused by their timestamp anyway).
    virtual SResult<bool> claimNonce(const std::string& device, const std::string& nonce, std::int64_t timestampMs,
                                     std::int64_t forgetBeforeMs) = 0;
    // Admits, verifies (signature, chain, the author's right to write each op's kind in its
    // channel) and stores a batch, all in one transaction: on an error nothing of it is stored
    // (Invalid: malformed; Corrupt: a bad signature or a fork, which is recorded).
    virtual SResult<PushOutcome> push(const std::vector<ChangeSet>& batch) = 0;
    // Feed entries after `after`, at most maxCount, in feed order (causal: a change set's past
    // comes before it).
    virtual SResult<std::vector<FeedEntry>> feedAfter(std::int64_t after, std::size_t maxCount) = 0;
    virtual SResult<std::int64_t> cursor() = 0;
    // The encrypted channels `device` is a member of now (the sys records' channel membership).
    virtual SResult<std::set<std::string>> channelsOf(const std::string& device) = 0;
    // device -> highest seq stored of its chain.
    virtual SResult<VersionVector> versionVector() = 0;
};

// The embedded backend in `dir` (created by createSqliteServerStore), opened with `secret` (the
// contents of the service's key file).
SResult<std::unique_ptr<ServerStore>> openSqliteServerStore(const std::filesystem::path& dir, const std::string& secret);
// A new store trusting `root` (the audit office's device). AlreadyExists if one is there.
SStatus createSqliteServerStore(const std::filesystem::path& dir, const std::string& secret, const TrustRoot& root);

}  // namespace xs::sync::server
