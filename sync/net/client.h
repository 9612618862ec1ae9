// The client side of the sync protocol (docs/PROTOCOL.md) over libcurl: HTTPS only, the server's
// certificate pinned (the pin from the enrolment file), every request signed by this device.
//
// A round: hello (the server's version vector and limits) -> push every change set this store
// holds beyond it, oldest first, in batches -> pull everything after this store's cursor until
// caught up, each batch applied through the one apply path (sync/apply.h) in one transaction
// together with the new cursor. Interrupted anywhere, the next round carries on: pushes are
// idempotent by change-set id, and the cursor only moves with what it covers.
// One SyncClient per store connection, used from one thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "sync/net/protocol.h"
#include "sync/oplog.h"

namespace xs::sync::net {

struct Endpoint {
    std::string url;  // https://host:port
    std::string pin;  // base64 SHA-256 of the server certificate's public key
};

struct HttpAnswer {
    long status = 0;
    std::string body;
};

// One signed HTTPS connection (kept alive between requests).
class Connection {
public:
    // Invalid: not an https URL, or no pin.
    static SResult<std::unique_ptr<Connection>> open(const Endpoint& endpoint, const DeviceIdentity& identity);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    // A signed request. Unavailable: no connection or no answer in time (also 5xx: try later);
    // Corrupt: the certificate does not match the pin. Any answer the server gave is returned.
    // extraHeaders: "Name: value" lines added to the signed ones.
    SResult<HttpAnswer> request(const std::string& method, const std::string& target, const std::string& body,
                                long timeoutSeconds, const std::vector<std::string>& extraHeaders = {});
    // A 2xx answer's JSON, or the error the server's JSON body names.
    SResult<Json> call(const std::string& method, const std::string& target, const std::string& body, long timeoutSeconds,
                       const std::vector<std::string>& extraHeaders = {});
    // A fixed timestamp and nonce for the next request: the join fetch, whose mac covers the
    // timestamp it carries; and the replay and staleness tests.
    void setNextStamp(std::int64_t timestampMs, std::string nonce);
    // While *flag is true, a request in flight stops (Cancelled): the sync worker cuts a
    // long-poll short when there is something local to send. Null: never.
    void setInterrupt(const std::atomic<bool>* flag) { m_interrupt = flag; }
    const Endpoint& endpoint() const { return m_endpoint; }
    std::uint64_t bytesSent() const { return m_sent; }
    std::uint64_t bytesReceived() const { return m_received; }

private:
    Connection(Endpoint endpoint, const DeviceIdentity& identity) : m_endpoint(std::move(endpoint)), m_identity(identity) {}
    Endpoint m_endpoint;
    const DeviceIdentity& m_identity;
    void* m_curl = nullptr;
    std::optional<std::pair<std::int64_t, std::string>> m_nextStamp;
    const std::atomic<bool>* m_interrupt = nullptr;
    std::uint64_t m_sent = 0, m_received = 0;
};

struct ServerHello {
    int protocol = 0;
    std::int64_t cursor = 0;
    VersionVector versionVector;
    std::uint64_t maxEvidenceBytes = 0;
    int longPollSeconds = 0;
    std::int64_t forks = 0;  // the audit office's device: the latest fork report's seq
    std::int64_t ownSeq = 0;  // this device's chain head, as asked
    std::string ownId;        // the server's change set at ownSeq of this device's chain ("" none)
};

struct RoundReport {
    std::size_t pushed = 0;    // change sets sent that the server stored
    std::size_t pulled = 0;    // change sets received
    std::size_t applied = 0;   // of those, newly accepted here
    std::size_t refused = 0;   // received, stored, refused by a rule here
    std::vector<ChainIssue> held;  // waiting for something after the round
    std::vector<std::string> arrived;  // ids of the change sets received, in order
    std::int64_t cursor = 0;
    // The audit office's device: forks the server reported, confirmed by this store's own judge
    // (and recorded here: `verify` lists them), and reports it could not confirm.
    std::vector<ChainIssue> forks;
    std::vector<std::string> unconfirmedForks;
};

class SyncClient {
public:
    SyncClient(std::unique_ptr<Connection> connection, OpLog& log, Store& store)
        : m_conn(std::move(connection)), m_log(log), m_store(store) {}
    SResult<ServerHello> hello();
    // One round. waitSeconds > 0: when there was nothing to pull, the first pull long-polls that
    // long for something new (`sync --watch`). afterBatch (optional) is called after each pulled
    // batch is committed, with the ids it brought.
    SResult<RoundReport> round(int waitSeconds = 0,
                               const std::function<void(const std::vector<std::string>&)>& afterBatch = {});
    Connection& connection() { return *m_conn; }
    // Only the plaintext change sets (devices, memberships, epochs: this device's channel keys),
    // from where the last keys fetch or pull stopped: a device far behind opens what arrives
    // next without waiting for the whole backlog. Applied like a pull; the encrypted work comes
    // as withheld links, made whole by the next pull.
    struct KeysReport {
        std::size_t changeSets = 0;  // whole (plaintext) ones received
        int keysGained = 0;
        std::int64_t cursor = 0;
    };
    SResult<KeysReport> keys();

private:
    SStatus pushMissing(const VersionVector& server, RoundReport& report);
    SStatus takeForkReports(std::int64_t latest, RoundReport& report);
    std::unique_ptr<Connection> m_conn;
    OpLog& m_log;
    Store& m_store;
};

// The meta key holding this store's pull cursor for the server at `url`.
std::string cursorMetaKey(const std::string& url);
// The meta key holding the highest seq of this device's own chain the server at `url` has (as of
// the last round's push): what is beyond it waits to be sent.
std::string pushedSeqMetaKey(const std::string& url);
// The meta key holding where this store's last keys fetch from the server at `url` stopped.
std::string keysCursorMetaKey(const std::string& url);
// The meta key holding the last fork report of the server at `url` this store has judged.
std::string forksSeenMetaKey(const std::string& url);
// The meta key holding the per-file evidence limit the server announced at the last hello.
constexpr const char* kEvidenceLimitMetaKey = "server_max_evidence_bytes";

// The server's whole access log (the audit office's device only), paged, each page checked to
// continue the one before (Corrupt if it does not: sync/net/protocol.h verifyAccessLog).
SResult<std::vector<AccessLogEntry>> fetchAccessLog(Connection& conn);

// ---- online enrolment (docs/PROTOCOL.md "Online enrolment"); the code's keys: protocol.h.
// The office: files an invitation; the presentations waiting; answers one (a framed answer).
SStatus fileInvite(Connection& conn, const InviteKeys& keys, std::int64_t expiresMs);
SResult<std::vector<WaitingPresentation>> waitingPresentations(Connection& conn);
SStatus answerInvite(Connection& conn, const std::string& id, const std::string& framedAnswer);
// The new device (its requests are signed by a key the server does not know yet; the code's
// server key admits them): presents itself (Forbidden when another device used the code;
// NotFound: no such code, or expired), then asks for the answer: nullopt while the office has
// not answered, else the framed answer as the server holds it (open it with openJoinAnswer).
SStatus presentToInvite(Connection& conn, const InviteKeys& keys, const std::string& presentation);
SResult<std::optional<std::string>> fetchJoinAnswer(Connection& conn, const InviteKeys& keys);

// Evidence blobs, resumable (the tus core idea: ask the server's offset, continue from it).
// `progress(done, total)` after each chunk; returning false stops (Cancelled).
using TransferProgress = std::function<bool(std::uint64_t done, std::uint64_t total)>;
struct BlobUpload {
    std::string id;       // hex SHA-256 of the file
    std::string channel;  // whose members may download it
    std::uint64_t size = 0;
    std::filesystem::path file;
};
// Sends what the server does not hold yet. Unavailable when the connection fails (call again
// later: it continues where the server's copy ends); Invalid with the server's reason when it
// refuses (too large, not a member); Corrupt if the file changed under the upload.
SStatus uploadBlob(Connection& conn, const BlobUpload& blob, const TransferProgress& progress = {});
// Fetches blob `id` into `partial`, appending from the size it has (a download that stopped
// continues); at the end its SHA-256 must be `id` (Corrupt, and `partial` removed, if not).
SStatus downloadBlob(Connection& conn, const std::string& id, const std::filesystem::path& partial,
                     const TransferProgress& progress = {});

}  // namespace xs::sync::net
