// The HTTPS sync protocol's constants and its request signature, shared by the client engine
// (sync/net/client.h) and xunshen-server (sync/server/). docs/PROTOCOL.md says the same in prose;
// change both together, and bump kProtocolVersion for anything an old peer would misread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "sync/changeset.h"
#include "sync/error.h"

namespace xs::sync::net {

// Every request carries kHeaderProtocol; a server refuses a version below kMinProtocolVersion
// with 426 and error "client_outdated" (the UI says: update the app).
constexpr int kProtocolVersion = 1;
constexpr int kMinProtocolVersion = 1;

// Routes. Everything but health is signed.
constexpr const char* kRouteHealth = "/v1/health";   // GET: {"ok":true,"protocol":1}
constexpr const char* kRouteHello = "/v1/hello";     // GET: handshake, limits, the server's version vector
constexpr const char* kRoutePush = "/v1/push";       // POST {"changesets":[...]}
constexpr const char* kRoutePull = "/v1/pull";       // GET ?after=N&limit=M&wait=S
// GET ?after=N&limit=M: the pull answer with only the plaintext (org, sys) change sets whole —
// the devices, memberships and epochs that hand this device its channel keys — and every
// encrypted one as a withheld link.
constexpr const char* kRouteKeys = "/v1/keys";
// Evidence blobs, /v1/evidence/<64 hex>: GET .../status; POST ?channel=C&size=N&offset=O with a
// chunk as the body; GET ?offset=O&length=L for bytes of a complete blob.
constexpr const char* kRouteEvidence = "/v1/evidence/";
constexpr const char* kRouteAccessLog = "/v1/access-log";  // GET ?after=N (the audit office only)
// Change sets refused as forks (a copied device), kept whole for the audit office: GET ?after=N
// (the office only); its hello says the latest report's seq as "forks".
constexpr const char* kRouteForks = "/v1/forks";
// Online enrolment by one-time code (docs/PROTOCOL.md "Online enrolment"). The audit office's
// device (signed requests): POST kRouteInvites {"id","verifier","expires_ms"} registers a code;
// GET kRouteInvites lists the presentations waiting; POST kRouteInvites/<id>/answer with the
// framed answer. The new device (not enrolled yet, so authenticated by the code instead, in
// kHeaderInviteMac): POST kRouteJoin<id> with its presentation; GET kRouteJoin<id> for the answer.
constexpr const char* kRouteInvites = "/v1/invites";
constexpr const char* kRouteJoin = "/v1/join/";

// Request headers.
constexpr const char* kHeaderProtocol = "X-Xs-Protocol";
constexpr const char* kHeaderDevice = "X-Xs-Device";
constexpr const char* kHeaderTimestamp = "X-Xs-Timestamp";  // Unix ms, decimal
constexpr const char* kHeaderNonce = "X-Xs-Nonce";          // 32 lowercase hex digits, fresh per request
constexpr const char* kHeaderSignature = "X-Xs-Signature";  // hex Ed25519 over requestSigningInput
constexpr const char* kHeaderInviteMac = "X-Xs-Invite-Mac";  // hex HMAC by the code's server key (join routes)

// Bounds (the server announces the ones a client must respect in /v1/hello).
constexpr std::size_t kMaxRequestBytes = 32u << 20;         // any request body
constexpr std::size_t kMaxPushChangeSets = 2000;            // per push
constexpr std::size_t kPushTargetBytes = 4u << 20;          // a client cuts its pushes near this size
constexpr std::size_t kMaxPullChangeSets = 2000;            // per pull answer
constexpr std::size_t kPullTargetBytes = 4u << 20;          // a server cuts its pull answers near this size
constexpr std::size_t kMaxResponseBytes = 64u << 20;        // a client reads no longer answer
constexpr std::int64_t kMaxClockSkewMs = 5LL * 60 * 1000;   // |server clock - request timestamp|
constexpr int kMaxLongPollSeconds = 60;
constexpr std::size_t kNonceHexChars = 32;
constexpr std::size_t kMaxDeviceIdChars = 64;
constexpr std::size_t kEvidenceChunkBytes = 8u << 20;       // the most one evidence request moves
constexpr std::size_t kMaxAccessEntries = 5000;             // per access-log answer
constexpr std::size_t kMaxForkReports = 500;                // per forks answer
constexpr std::size_t kMaxPresentationBytes = 64u << 10;    // a join presentation
constexpr std::size_t kMaxWaitingInvites = 200;             // presentations listed per answer
constexpr std::int64_t kMaxInviteHours = 7 * 24;            // the longest an invitation stays valid

// What the device signs: "xs-request-v1" 0x00 || 0x01 (suite) || lp(method) || lp(target) ||
// u64(timestamp ms) || lp(device) || lp(nonce) || SHA-256(body). target is the path with its
// query string exactly as sent; lp = u32 big-endian length, then the bytes.
crypto::Bytes requestSigningInput(std::string_view method, std::string_view target, std::int64_t timestampMs,
                                  std::string_view device, std::string_view nonce, const crypto::Digest& bodyHash);

// The bodies of outside input, strictly parsed and bounded (Invalid naming the problem):
// a push body {"changesets": [...]} (at most kMaxPushChangeSets), and a pull answer
// {"changesets": [...], "cursor": N, "more": bool} (at most kMaxPullChangeSets).
SResult<std::vector<ChangeSet>> parsePushBody(std::string_view body);
struct PullAnswer {
    std::vector<ChangeSet> changeSets;
    std::int64_t cursor = 0;
    bool more = false;
};
SResult<PullAnswer> parsePullAnswer(std::string_view body);

// One entry of the server's access log, as hashed: text is a JSON object {"seq", "time_ms",
// "device", "action" ("pull" | "keys" | "evidence" | "join"), "channels", "range", "prev"} and hash = hex
// SHA-256(text); prev is the hash of the entry before (64 zeros for the first).
struct AccessLogEntry {
    std::int64_t seq = 0;
    std::string text;
    std::string hash;
};
std::string accessLogGenesis();  // 64 zeros
// An access-log answer {"entries": [{"seq","text","hash"}...], "more": bool}, bounded.
struct AccessLogAnswer {
    std::vector<AccessLogEntry> entries;
    bool more = false;
};
SResult<AccessLogAnswer> parseAccessLogAnswer(std::string_view body);
// Checks that `entries` continue the log from (afterSeq, afterHash): consecutive seqs, each
// entry's hash its text's, each naming the one before. Corrupt naming the first bad entry.
SStatus verifyAccessLog(const std::vector<AccessLogEntry>& entries, std::int64_t afterSeq, const std::string& afterHash);

// A forks answer {"forks": [{"seq", "device", "changeset": {change set JSON}, "detail",
// "time_ms"}...], "more": bool}, bounded; each change set strictly parsed.
struct ForkAnswerEntry {
    std::int64_t seq = 0;
    ChangeSet changeSet;
    std::string detail;
    std::int64_t timeMs = 0;
};
struct ForksAnswer {
    std::vector<ForkAnswerEntry> forks;
    bool more = false;
};
SResult<ForksAnswer> parseForksAnswer(std::string_view body);

// ---- online enrolment by one-time code
// A code is 20 symbols of Crockford's base32 (100 random bits), shown as four groups of five.
// From it: the invitation's id (what the server files it under), the server key (the server
// holds it: it admits only presentations and fetches made with the code) and the office key
// (only the office and the new device hold it: the server cannot forge a presentation the
// office accepts, nor an answer the device accepts). Each is HKDF-SHA256(code, salt
// "xunshen-invite-v1", info "id" | "server" | "office").
constexpr std::size_t kInviteCodeSymbols = 20;
std::string newInviteCode();  // "ABCDE-FGHJK-MNPQR-STVWX"
// The code as typed (any case, spaces and dashes ignored, O read as 0 and I, L as 1) in its
// canonical 20 symbols, or Invalid.
SResult<std::string> normaliseInviteCode(std::string_view typed);
struct InviteKeys {
    std::string id;             // 64 lowercase hex
    crypto::SecretBytes server;  // 32 bytes
    crypto::SecretBytes office;  // 32 bytes
};
InviteKeys inviteKeys(const std::string& canonicalCode);
// The kHeaderInviteMac values: over a presentation body, and over a fetch of the answer (the
// request's kHeaderTimestamp, so an overheard one goes stale). Hex HMAC-SHA256.
std::string joinPresentMac(crypto::ByteView serverKey, const std::string& id, std::string_view body);
std::string joinFetchMac(crypto::ByteView serverKey, const std::string& id, std::int64_t timestampMs);
// The presentation: {"device": "<the device's identity file, as text>", "mac": HMAC by the office
// key over it}; and the answer, framed as "<64 hex mac>\n<the enrolment file>", the mac by the
// office key over the presentation and the enrolment file.
std::string presentationBody(crypto::ByteView officeKey, const std::string& id, const std::string& deviceFileText);
struct Presentation {
    std::string deviceFileText;
    std::string mac;
};
SResult<Presentation> parsePresentation(std::string_view body);  // shape and bounds only
bool presentationAuthentic(crypto::ByteView officeKey, const std::string& id, const Presentation& p);
std::string joinAnswer(crypto::ByteView officeKey, const std::string& id, std::string_view presentation,
                       const std::string& enrolmentText);
// The enrolment file of an answer, if its mac is the office key's over `presentation`; Corrupt
// otherwise (altered on the way or by the server), Invalid when it is not framed as above.
SResult<std::string> openJoinAnswer(crypto::ByteView officeKey, const std::string& id, std::string_view presentation,
                                    std::string_view answer);
// The office's filing of an invitation {"id": 64 hex, "verifier": 64 hex (the server key),
// "expires_ms": N}, strictly parsed (the server checks the expiry against its clock).
struct InviteFiling {
    std::string id;
    crypto::Bytes serverKey;
    std::int64_t expiresMs = 0;
};
SResult<InviteFiling> parseInviteFiling(std::string_view body);
// The office's list of presentations waiting: {"waiting": [{"id", "presentation"}...]}.
struct WaitingPresentation {
    std::string id;
    std::string presentation;
};
SResult<std::vector<WaitingPresentation>> parseWaitingPresentations(std::string_view body);

}  // namespace xs::sync::net
