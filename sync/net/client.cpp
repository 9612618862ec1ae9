#include "sync/net/client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

#include <curl/curl.h>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "sync/apply.h"
#include "sync/changeset_codec.h"
#include "sync/env.h"
#include "sync/file_io.h"
#include "sync/net/protocol.h"

namespace xs::sync::net {
namespace {

struct Sink {
    std::string* body;
    bool overflow = false;
};

std::size_t collect(char* data, std::size_t size, std::size_t n, void* user) {
    auto* sink = static_cast<Sink*>(user);
    if (sink->body->size() + size * n > kMaxResponseBytes) {
        sink->overflow = true;
        return 0;  // aborts the transfer
    }
    sink->body->append(data, size * n);
    return size * n;
}

void initCurlOnce() {
    static const bool done = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
    (void)done;
}

// The error a server's JSON refusal names, as this module's error.
Error<SyncError> refusal(const HttpAnswer& a) {
    std::string code, message;
    auto j = parseBoundedJson(a.body, 64 * 1024, "server answer");
    if (j && j->is_object()) {
        code = j->value("error", "");
        message = j->value("message", "");
    }
    if (message.empty()) message = "the server answered HTTP " + std::to_string(a.status);
    message = "server: " + message + (code.empty() ? "" : " (" + code + ")");
    if (a.status == 426) return fail(SyncError::Forbidden, message);
    if (a.status == 401 || a.status == 403 || a.status == 409) return fail(SyncError::Forbidden, message);
    if (a.status == 422) return fail(SyncError::Corrupt, message);
    if (a.status == 404) return fail(SyncError::NotFound, message);
    if (a.status >= 500 || a.status == 429) return fail(SyncError::Unavailable, message);
    return fail(SyncError::Invalid, message);
}

std::int64_t intOf(const Json& j, const char* key) {
    return j.contains(key) && j[key].is_number_integer() ? j[key].get<std::int64_t>() : -1;
}

}  // namespace

std::string cursorMetaKey(const std::string& url) { return "sync_cursor:" + url; }
std::string pushedSeqMetaKey(const std::string& url) { return "sync_pushed_seq:" + url; }
std::string forksSeenMetaKey(const std::string& url) { return "sync_forks_seen:" + url; }
std::string keysCursorMetaKey(const std::string& url) { return "sync_keys_cursor:" + url; }

namespace {
int interrupted(void* flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<const std::atomic<bool>*>(flag)->load() ? 1 : 0;
}
}  // namespace

SResult<std::unique_ptr<Connection>> Connection::open(const Endpoint& endpoint, const DeviceIdentity& identity) {
    if (endpoint.url.rfind("https://", 0) != 0 || endpoint.url.size() > 2048)
        return fail(SyncError::Invalid, "the server URL must be https://HOST:PORT");
    auto pin = crypto::fromBase64(endpoint.pin);
    if (!pin || pin->size() != 32)
        return fail(SyncError::Invalid, "no valid certificate pin for the server (it comes with the enrolment file)");
    initCurlOnce();
    std::unique_ptr<Connection> c(new Connection(endpoint, identity));
    c->m_curl = curl_easy_init();
    if (!c->m_curl) return fail(SyncError::Crypto, "libcurl could not start");
    return c;
}

Connection::~Connection() {
    if (m_curl) curl_easy_cleanup(static_cast<CURL*>(m_curl));
}

void Connection::setNextStamp(std::int64_t timestampMs, std::string nonce) { m_nextStamp.emplace(timestampMs, std::move(nonce)); }

SResult<HttpAnswer> Connection::request(const std::string& method, const std::string& target, const std::string& body,
                                        long timeoutSeconds, const std::vector<std::string>& extraHeaders) {
    CURL* curl = static_cast<CURL*>(m_curl);
    std::int64_t ts = wallClockMs();
    std::string nonce;
    if (m_nextStamp) {
        std::tie(ts, nonce) = *m_nextStamp;
        m_nextStamp.reset();
    } else {
        auto r = crypto::randomBytes(16);
        if (!r) return fail(SyncError::Crypto, "no random nonce");
        nonce = crypto::toHex(*r);
    }
    const std::string& device = m_identity.publicInfo().id;
    auto sig = m_identity.sign(requestSigningInput(method, target, ts, device, nonce, crypto::sha256(crypto::asBytes(body))));
    if (!sig) return sig.error();

    curl_slist* headers = nullptr;
    auto add = [&](const std::string& h) { headers = curl_slist_append(headers, h.c_str()); };
    add(std::string(kHeaderProtocol) + ": " + std::to_string(kProtocolVersion));
    add(std::string(kHeaderDevice) + ": " + device);
    add(std::string(kHeaderTimestamp) + ": " + std::to_string(ts));
    add(std::string(kHeaderNonce) + ": " + nonce);
    add(std::string(kHeaderSignature) + ": " + crypto::toHex(*sig));
    const bool framed = target.rfind(kRouteInvites, 0) == 0 && target.size() > 7 && target.substr(target.size() - 7) == "/answer";
    add(target.rfind(kRouteEvidence, 0) == 0 ? "Content-Type: application/octet-stream"
        : framed                             ? "Content-Type: text/plain"
                                             : "Content-Type: application/json");
    for (const auto& h : extraHeaders) add(h);
    add("Expect:");

    HttpAnswer answer;
    Sink sink{&answer.body};
    const std::string url = m_endpoint.url + target;
    const std::string pin = "sha256//" + m_endpoint.pin;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    // The pin is the trust: the certificate is self-signed, so no CA chain or host name is checked.
    curl_easy_setopt(curl, CURLOPT_PINNEDPUBLICKEY, pin.c_str());
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeoutSeconds);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    // No Accept-Encoding: sealed bodies do not compress, and the server's brotli at its default
    // quality cost 4.8 s per 3 MB pull answer (measured); plain transfer is faster on any LAN.
    if (method == "POST") {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    } else if (method != "GET") {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    if (m_interrupt) {
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, interrupted);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(m_interrupt));
    }
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    m_sent += body.size();
    m_received += answer.body.size();
    if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
        return fail(SyncError::Corrupt, "the server's certificate does not match the pin from the enrolment file: not talking to it");
    if (sink.overflow) return fail(SyncError::Invalid, "the server's answer is longer than a client reads");
    if (rc == CURLE_ABORTED_BY_CALLBACK) return fail(SyncError::Cancelled, "the request was interrupted");
    if (rc != CURLE_OK) return fail(SyncError::Unavailable, std::string("cannot reach the server: ") + curl_easy_strerror(rc));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
    return answer;
}

SResult<Json> Connection::call(const std::string& method, const std::string& target, const std::string& body,
                               long timeoutSeconds, const std::vector<std::string>& extraHeaders) {
    auto a = request(method, target, body, timeoutSeconds, extraHeaders);
    if (!a) return a.error();
    if (a->status < 200 || a->status >= 300) return refusal(*a);
    auto j = parseBoundedJson(a->body, kMaxResponseBytes, "server answer");
    if (!j) return j.error();
    if (!j->is_object()) return fail(SyncError::Invalid, "the server's answer is not a JSON object");
    return std::move(*j);
}

// ---- rounds

SResult<ServerHello> SyncClient::hello() {
    // With this device's chain head, so the server says which change set it holds there.
    auto mine = m_log.versionVector();
    if (!mine) return mine.error();
    const auto own = mine->find(m_log.deviceId());
    const std::int64_t ownSeq = own == mine->end() ? 0 : own->second;
    auto j = m_conn->call("GET", std::string(kRouteHello) + "?seq=" + std::to_string(ownSeq), "", 30);
    if (!j) return j.error();
    ServerHello h;
    h.protocol = static_cast<int>(intOf(*j, "protocol"));
    h.cursor = intOf(*j, "cursor");
    if (h.protocol < 1 || h.cursor < 0 || !j->contains("version_vector") || !j->contains("limits") ||
        !(*j)["limits"].is_object())
        return fail(SyncError::Invalid, "the server's hello is malformed");
    auto vv = versionVectorFromJson((*j)["version_vector"]);
    if (!vv) return vv.error();
    h.versionVector = std::move(*vv);
    const Json& limits = (*j)["limits"];
    auto maxEvidence = intOf(limits, "max_evidence_bytes");
    auto longPoll = intOf(limits, "long_poll_seconds");
    if (maxEvidence < 0 || longPoll < 0) return fail(SyncError::Invalid, "the server's limits are malformed");
    h.forks = j->contains("forks") ? intOf(*j, "forks") : 0;
    h.ownSeq = ownSeq;
    if (j->contains("own_id") && (*j)["own_id"].is_string()) h.ownId = (*j)["own_id"].get<std::string>();
    if (h.forks < 0) return fail(SyncError::Invalid, "the server's hello is malformed (forks)");
    h.maxEvidenceBytes = static_cast<std::uint64_t>(maxEvidence);
    h.longPollSeconds = static_cast<int>(longPoll);
    return h;
}

SStatus SyncClient::pushMissing(const VersionVector& server, RoundReport& report) {
    auto mine = m_log.versionVector();
    if (!mine) return mine.error();
    // What the server lacks, oldest first (hlc, device, seq): each change set's past before it.
    std::vector<std::tuple<std::uint64_t, std::string, std::int64_t, std::string>> order;
    for (const auto& [device, seq] : *mine) {
        auto it = server.find(device);
        std::int64_t theirs = it == server.end() ? 0 : it->second;
        if (seq <= theirs) continue;
        auto ids = m_log.changeSetIdsAfter(device, theirs);
        if (!ids) return ids.error();
        for (const auto& id : *ids) {
            auto cs = m_log.changeSet(id);
            if (!cs) return cs.error();
            if (cs->isWithheld()) continue;  // a copy for reading: only whole change sets are pushed
            order.emplace_back(cs->hlc, cs->device, cs->seq, id);
        }
    }
    std::sort(order.begin(), order.end());
    std::size_t i = 0;
    while (i < order.size()) {
        std::string body = "{\"changesets\":[";
        std::size_t n = 0;
        while (i < order.size() && n < kMaxPushChangeSets && body.size() < kPushTargetBytes) {
            auto cs = m_log.changeSet(std::get<3>(order[i]));
            if (!cs) return cs.error();
            if (n) body += ',';
            body += changeSetToJson(*cs).dump();
            ++n;
            ++i;
        }
        body += "]}";
        auto j = m_conn->call("POST", kRoutePush, body, 120);
        if (!j) return j.error();
        if (j->contains("stored") && (*j)["stored"].is_array()) report.pushed += (*j)["stored"].size();
    }
    return {};
}

SResult<RoundReport> SyncClient::round(int waitSeconds, const std::function<void(const std::vector<std::string>&)>& afterBatch) {
    auto h = hello();
    if (!h) return h.error();
    RoundReport report;
    XS_TRY(m_store.setMeta(kEvidenceLimitMetaKey, std::to_string(h->maxEvidenceBytes)));
    auto mine = m_log.versionVector();
    if (!mine) return mine.error();
    // The server's change set at this device's head must be this store's: if it is another, this
    // store is a copy of a device that went on elsewhere (or a backup restored). Push the head
    // anyway: the server refuses it as a fork and reports it to the audit office.
    if (!h->ownId.empty()) {
        auto local = m_log.changeSetIdAt(m_log.deviceId(), h->ownSeq);
        if (!local) return local.error();
        if (*local && **local != h->ownId) {
            auto cs = m_log.changeSet(**local);
            if (!cs) return cs.error();
            auto j = m_conn->call("POST", kRoutePush, "{\"changesets\":[" + changeSetToJson(*cs).dump() + "]}", 120);
            if (j) return fail(SyncError::Corrupt, "fork: the server holds another change set at seq " + std::to_string(h->ownSeq) +
                                                       " of this device's chain and still took this one");
            return fail(SyncError::Corrupt, "fork: the server holds another change set at seq " + std::to_string(h->ownSeq) +
                                                " of this device's chain: this store is a copy of a device that went on "
                                                "elsewhere (or a restored backup); the audit office is told (" + j.message() + ")");
        }
    }
    XS_TRY(pushMissing(h->versionVector, report));
    // Everything of this device's own chain up to here is on the server now.
    const auto own = mine->find(m_log.deviceId());
    XS_TRY(m_store.setMeta(pushedSeqMetaKey(m_conn->endpoint().url), std::to_string(own == mine->end() ? 0 : own->second)));

    const std::string key = cursorMetaKey(m_conn->endpoint().url);
    std::int64_t cursor = 0;
    auto stored = m_store.meta(key);
    if (stored) {
        try {
            cursor = std::stoll(*stored);
        } catch (...) {
            cursor = 0;
        }
    } else if (stored.error().code != SyncError::NotFound) {
        return stored.error();
    }
    for (bool first = true;; first = false) {
        // Long-poll only the first pull of a round, and only when the server has nothing newer.
        int wait = first && h->cursor <= cursor ? std::min(waitSeconds, h->longPollSeconds) : 0;
        const std::string target = std::string(kRoutePull) + "?after=" + std::to_string(cursor) +
                                   "&limit=" + std::to_string(kMaxPullChangeSets) + "&wait=" + std::to_string(wait);
        auto a = m_conn->request("GET", target, "", wait + 120);
        if (!a) return a.error();
        if (a->status < 200 || a->status >= 300) return refusal(*a);
        auto answer = parsePullAnswer(a->body);
        if (!answer) return answer.error();
        const std::int64_t next = answer->cursor;
        if (next < cursor) return fail(SyncError::Invalid, "the server's pull cursor went back");
        std::vector<ChangeSet>& batch = answer->changeSets;
        if (!batch.empty() || next != cursor) {
            auto session = ApplySession::begin(m_log);
            if (!session) return session.error();
            for (const auto& cs : batch) {
                auto r = (*session)->add(cs);
                if (!r) return fail(r.error().code, "change set " + cs.id + " from the server: " + r.error().message);
            }
            auto done = (*session)->commit([&] { return m_store.setMeta(key, std::to_string(next)); });
            if (!done) return done.error();
            report.applied += done->applied;
            report.refused += done->refused.size();
            report.held = done->held;
        }
        std::vector<std::string> ids;
        for (const auto& cs : batch) ids.push_back(cs.id);
        report.pulled += ids.size();
        report.arrived.insert(report.arrived.end(), ids.begin(), ids.end());
        cursor = next;
        if (afterBatch && !ids.empty()) afterBatch(ids);
        if (!answer->more) break;
    }
    report.cursor = cursor;
    // The audit office's device: the server's fork reports, judged here (after the pull, so this
    // store holds the chain each one contradicts).
    if (h->forks > 0) XS_TRY(takeForkReports(h->forks, report));
    return report;
}

namespace {
std::int64_t metaInt(Store& store, const std::string& key) {
    auto m = store.meta(key);
    if (!m) return 0;
    try {
        return std::stoll(*m);
    } catch (...) {
        return 0;
    }
}
}  // namespace

SResult<SyncClient::KeysReport> SyncClient::keys() {
    const std::string& url = m_conn->endpoint().url;
    const std::string key = keysCursorMetaKey(url);
    std::int64_t cursor = std::max(metaInt(m_store, key), metaInt(m_store, cursorMetaKey(url)));
    KeysReport report;
    for (;;) {
        const std::string target = std::string(kRouteKeys) + "?after=" + std::to_string(cursor) + "&limit=" + std::to_string(kMaxPullChangeSets);
        auto a = m_conn->request("GET", target, "", 120);
        if (!a) return a.error();
        if (a->status != 200) return refusal(*a);
        auto answer = parsePullAnswer(a->body);
        if (!answer) return answer.error();
        if (answer->cursor < cursor) return fail(SyncError::Invalid, "the server's keys cursor went back");
        auto session = ApplySession::begin(m_log);
        if (!session) return session.error();
        for (const auto& cs : answer->changeSets) {
            auto r = (*session)->add(cs);
            if (!r) return fail(r.error().code, "change set " + cs.id + " from the server: " + r.error().message);
            if (!cs.isWithheld()) ++report.changeSets;
        }
        const std::int64_t next = answer->cursor;
        auto done = (*session)->commit([&] { return m_store.setMeta(key, std::to_string(next)); });
        if (!done) return done.error();
        report.keysGained += done->keysGained;
        cursor = next;
        if (!answer->more) break;
    }
    report.cursor = cursor;
    return report;
}

SStatus SyncClient::takeForkReports(std::int64_t latest, RoundReport& report) {
    const std::string key = forksSeenMetaKey(m_conn->endpoint().url);
    std::int64_t seen = metaInt(m_store, key);
    while (seen < latest) {
        auto a = m_conn->request("GET", std::string(kRouteForks) + "?after=" + std::to_string(seen), "", 120);
        if (!a) return a.error();
        if (a->status != 200) return refusal(*a);
        auto page = parseForksAnswer(a->body);
        if (!page) return page.error();
        if (page->forks.empty()) break;
        {
            // Each refused change set through this store's own judge: a fork it confirms is
            // recorded here (the record outlives the session, which is never committed: the
            // forked change set itself is never accepted).
            auto session = ApplySession::begin(m_log);
            if (!session) return session.error();
            for (const auto& f : page->forks) {
                if (f.seq <= seen) return fail(SyncError::Invalid, "the server's fork reports went back");
                seen = f.seq;
                auto r = (*session)->add(f.changeSet);
                if (!r && r.code() == SyncError::Corrupt && r.message().rfind("fork: ", 0) == 0) {
                    report.forks.push_back({f.changeSet.device, "fork", r.message().substr(6)});
                } else if (!r && (r.code() == SyncError::Io || r.code() == SyncError::Busy || r.code() == SyncError::DiskFull)) {
                    return r.error();  // this store's trouble: the report is judged again next round
                } else {
                    report.unconfirmedForks.push_back(
                        "the server reports a fork of device " + f.changeSet.device + " (" + f.detail +
                        ") that this store cannot confirm" + (r ? std::string(": it does not hold the other branch") : ": " + r.message()));
                }
            }
        }
        XS_TRY(m_store.setMeta(key, std::to_string(seen)));
        if (!page->more) break;
    }
    return {};
}

namespace {

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

Error<SyncError> ioError(const std::string& what) { return fail(SyncError::Io, what + ": " + std::strerror(errno)); }

std::string blobTarget(const std::string& id) { return std::string(kRouteEvidence) + id; }

}  // namespace

SResult<std::vector<AccessLogEntry>> fetchAccessLog(Connection& conn) {
    std::vector<AccessLogEntry> all;
    for (;;) {
        const std::int64_t after = all.empty() ? 0 : all.back().seq;
        auto a = conn.request("GET", std::string(kRouteAccessLog) + "?after=" + std::to_string(after), "", 120);
        if (!a) return a.error();
        if (a->status != 200) return refusal(*a);
        auto page = parseAccessLogAnswer(a->body);
        if (!page) return page.error();
        XS_TRY(verifyAccessLog(page->entries, after, all.empty() ? accessLogGenesis() : all.back().hash));
        all.insert(all.end(), page->entries.begin(), page->entries.end());
        if (!page->more || page->entries.empty()) return all;
    }
}

// ---- online enrolment

SStatus fileInvite(Connection& conn, const InviteKeys& keys, std::int64_t expiresMs) {
    Json body{{"id", keys.id}, {"verifier", crypto::toHex(keys.server.view())}, {"expires_ms", expiresMs}};
    auto j = conn.call("POST", kRouteInvites, body.dump(), 60);
    if (!j) return j.error();
    return {};
}

SResult<std::vector<WaitingPresentation>> waitingPresentations(Connection& conn) {
    auto a = conn.request("GET", kRouteInvites, "", 60);
    if (!a) return a.error();
    if (a->status != 200) return refusal(*a);
    return parseWaitingPresentations(a->body);
}

SStatus answerInvite(Connection& conn, const std::string& id, const std::string& framedAnswer) {
    auto j = conn.call("POST", std::string(kRouteInvites) + "/" + id + "/answer", framedAnswer, 120);
    if (!j) return j.error();
    return {};
}

SStatus presentToInvite(Connection& conn, const InviteKeys& keys, const std::string& presentation) {
    auto a = conn.request("POST", kRouteJoin + keys.id, presentation, 60,
                          {std::string(kHeaderInviteMac) + ": " + joinPresentMac(keys.server, keys.id, presentation)});
    if (!a) return a.error();
    if (a->status != 202) return refusal(*a);
    return {};
}

SResult<std::optional<std::string>> fetchJoinAnswer(Connection& conn, const InviteKeys& keys) {
    // The mac covers the timestamp the request carries: set both here.
    const std::int64_t ts = wallClockMs();
    auto nonce = crypto::randomBytes(16);
    if (!nonce) return fail(SyncError::Crypto, "no random nonce");
    conn.setNextStamp(ts, crypto::toHex(*nonce));
    auto a = conn.request("GET", kRouteJoin + keys.id, "", 120,
                          {std::string(kHeaderInviteMac) + ": " + joinFetchMac(keys.server, keys.id, ts)});
    if (!a) return a.error();
    if (a->status == 202) return std::optional<std::string>();
    if (a->status != 200) return refusal(*a);
    return std::optional<std::string>(std::move(a->body));
}

SStatus uploadBlob(Connection& conn, const BlobUpload& blob, const TransferProgress& progress) {
    // Where the server's copy ends (404: nothing yet).
    std::uint64_t offset = 0;
    auto st = conn.request("GET", blobTarget(blob.id) + "/status", "", 60);
    if (!st) return st.error();
    if (st->status == 200) {
        auto j = parseBoundedJson(st->body, 4096, "evidence status");
        if (!j || !j->is_object() || intOf(*j, "offset") < 0 || !j->contains("complete") || !(*j)["complete"].is_boolean())
            return fail(SyncError::Invalid, "the server's evidence status is malformed");
        if ((*j)["complete"].get<bool>()) return {};
        offset = static_cast<std::uint64_t>(intOf(*j, "offset"));
    } else if (st->status != 404) {
        return refusal(*st);
    }
    if (offset > blob.size) return fail(SyncError::Invalid, "the server holds more of this evidence than it has");
    Fd f{::open(blob.file.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) return ioError("cannot open " + blob.file.string());
    std::string chunk;
    for (;;) {
        if (progress && !progress(offset, blob.size)) return fail(SyncError::Cancelled, "the upload was stopped");
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kEvidenceChunkBytes, blob.size - offset));
        chunk.resize(n);
        std::size_t have = 0;
        while (have < n) {
            ssize_t r = ::pread(f.fd, chunk.data() + have, n - have, static_cast<off_t>(offset + have));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) return ioError("cannot read " + blob.file.string());
            if (r == 0) return fail(SyncError::Corrupt, blob.file.string() + " became shorter during the upload");
            have += static_cast<std::size_t>(r);
        }
        const std::string target = blobTarget(blob.id) + "?channel=" + blob.channel + "&size=" + std::to_string(blob.size) +
                                   "&offset=" + std::to_string(offset);
        auto a = conn.request("POST", target, chunk, 300);
        if (!a) return a.error();
        auto j = parseBoundedJson(a->body, 64 * 1024, "evidence answer");
        if (a->status == 409 && j && j->is_object() && intOf(*j, "offset") >= 0) {
            offset = static_cast<std::uint64_t>(intOf(*j, "offset"));  // the server's copy ends elsewhere
            if (offset > blob.size) return fail(SyncError::Invalid, "the server holds more of this evidence than it has");
            continue;
        }
        if (a->status != 200) return refusal(*a);
        if (!j || !j->is_object() || intOf(*j, "offset") < 0 || !j->contains("complete") || !(*j)["complete"].is_boolean())
            return fail(SyncError::Invalid, "the server's evidence answer is malformed");
        if ((*j)["complete"].get<bool>()) {
            if (progress) (void)progress(blob.size, blob.size);
            return {};
        }
        offset = static_cast<std::uint64_t>(intOf(*j, "offset"));
        if (offset > blob.size) return fail(SyncError::Invalid, "the server holds more of this evidence than it has");
    }
}

SStatus downloadBlob(Connection& conn, const std::string& id, const std::filesystem::path& partial,
                     const TransferProgress& progress) {
    auto st = conn.call("GET", blobTarget(id) + "/status", "", 60);
    if (!st) return st.error();
    if (intOf(*st, "size") < 0 || !st->contains("complete") || !(*st)["complete"].is_boolean())
        return fail(SyncError::Invalid, "the server's evidence status is malformed");
    if (!(*st)["complete"].get<bool>()) return fail(SyncError::NotFound, "evidence " + id.substr(0, 12) + " is not on the server yet");
    const auto total = static_cast<std::uint64_t>(intOf(*st, "size"));
    Fd f{envCreate(partial.string(), O_WRONLY | O_CLOEXEC, 0600)};
    if (f.fd < 0) return ioError("cannot open " + partial.string());
    struct stat info{};
    if (::fstat(f.fd, &info) != 0) return ioError("cannot stat " + partial.string());
    auto offset = static_cast<std::uint64_t>(info.st_size);
    if (offset > total) {  // not a prefix of this blob: start again
        if (::ftruncate(f.fd, 0) != 0) return ioError("cannot truncate " + partial.string());
        offset = 0;
    }
    while (offset < total) {
        auto a = conn.request("GET", blobTarget(id) + "?offset=" + std::to_string(offset) + "&length=" +
                                         std::to_string(kEvidenceChunkBytes), "", 300);
        if (!a) return a.error();
        if (a->status != 200) return refusal(*a);
        if (a->body.empty() || offset + a->body.size() > total)
            return fail(SyncError::Invalid, "the server's piece of evidence is empty or runs past its size");
        if (!a->body.empty() && envPwrite(f.fd, a->body.data(), a->body.size(), static_cast<std::int64_t>(offset),
                                          partial.string()) != static_cast<long>(a->body.size()))
            return errno == ENOSPC ? fail(SyncError::DiskFull, "the disk is full") : ioError("cannot write " + partial.string());
        offset += a->body.size();
        if (progress && !progress(offset, total)) return fail(SyncError::Cancelled, "the download was stopped");
    }
    if (envFsync(f.fd, partial.string()) != 0) return ioError("cannot sync " + partial.string());
    auto sum = sha256OfFile(partial);
    if (!sum) return sum.error();
    if (*sum != id) {
        (void)envUnlink(partial.string());
        return fail(SyncError::Corrupt, "evidence " + id.substr(0, 12) + " from the server does not hash to its id");
    }
    return {};
}

}  // namespace xs::sync::net
