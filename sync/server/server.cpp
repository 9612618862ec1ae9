#include "sync/server/server.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

#include <httplib.h>

#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "sync/changeset_codec.h"
#include "sync/env.h"
#include "sync/net/protocol.h"

namespace xs::sync::server {
namespace {

using Clock = std::chrono::steady_clock;
thread_local Clock::time_point t_started;  // set before routing, read by the logger (same thread)
thread_local std::string t_device;         // the authenticated caller, for the log line

void answer(httplib::Response& res, int status, const Json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
}
// Every refusal: a 4xx (or 5xx) with a JSON body naming the problem.
void refuse(httplib::Response& res, int status, const std::string& code, const std::string& message) {
    answer(res, status, Json{{"error", code}, {"message", message}});
}
int statusOf(SyncError e) {
    switch (e) {
        case SyncError::Invalid: return 400;
        case SyncError::Corrupt: return 422;
        case SyncError::Forbidden: return 403;
        case SyncError::NotFound: return 404;
        case SyncError::Busy: return 503;
        case SyncError::DiskFull: return 507;
        default: return 500;
    }
}
const char* codeOf(SyncError e) {
    switch (e) {
        case SyncError::Invalid: return "malformed";
        case SyncError::Corrupt: return "not_authentic";
        case SyncError::Forbidden: return "forbidden";
        case SyncError::NotFound: return "not_found";
        case SyncError::Busy: return "busy";
        case SyncError::DiskFull: return "disk_full";
        default: return "server_error";
    }
}
void refuse(httplib::Response& res, const Error<SyncError>& e) { refuse(res, statusOf(e.code), codeOf(e.code), e.message); }

bool isLowerHex(const std::string& s) { return s.find_first_not_of("0123456789abcdef") == std::string::npos; }

// A non-negative decimal integer of at most 18 digits, or nullopt.
std::optional<std::int64_t> decimal(const std::string& s) {
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::stoll(s);
}

// A request's timestamp within the allowed skew of this server's clock.
bool freshTimestamp(std::optional<std::int64_t> ts) {
    const std::int64_t now = wallClockMs();
    return ts && *ts <= now + net::kMaxClockSkewMs && *ts >= now - net::kMaxClockSkewMs;
}

std::string isoNow() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string trim(const std::string& s) {
    auto b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return {};
    auto e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}

}  // namespace

struct Server::Caller {
    std::string device;
    bool registrar = false;
};

// ---- config

SResult<ServerConfig> parseServerConfig(const std::string& text) {
    if (text.size() > 64 * 1024) return fail(SyncError::Invalid, "the config file is longer than 64 KiB");
    ServerConfig c;
    std::istringstream in(text);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        std::string t = trim(line);
        if (t.empty() || t[0] == '#') continue;
        auto eq = t.find('=');
        auto bad = [&](const std::string& why) { return fail(SyncError::Invalid, "config line " + std::to_string(n) + ": " + why); };
        if (eq == std::string::npos) return bad("expected key = value");
        std::string key = trim(t.substr(0, eq)), value = trim(t.substr(eq + 1));
        auto number = [&](std::int64_t lo, std::int64_t hi) -> std::optional<std::int64_t> {
            auto v = decimal(value);
            if (!v || *v < lo || *v > hi) return std::nullopt;
            return v;
        };
        if (key == "listen") {
            auto colon = value.rfind(':');
            auto port = colon == std::string::npos ? std::nullopt : decimal(value.substr(colon + 1));
            if (colon == 0 || !port || *port > 65535) return bad("listen wants ADDRESS:PORT");
            c.host = value.substr(0, colon);
            c.port = static_cast<int>(*port);
        } else if (key == "long_poll_seconds") {
            auto v = number(0, net::kMaxLongPollSeconds);
            if (!v) return bad("long_poll_seconds must be 0 to " + std::to_string(net::kMaxLongPollSeconds));
            c.longPollSeconds = static_cast<int>(*v);
        } else if (key == "threads") {
            auto v = number(2, 4096);
            if (!v) return bad("threads must be 2 to 4096");
            c.threads = static_cast<int>(*v);
        } else if (key == "max_evidence_bytes") {
            auto v = number(1, std::int64_t{1} << 40);
            if (!v) return bad("max_evidence_bytes must be 1 to 2^40");
            c.maxEvidenceBytes = static_cast<std::uint64_t>(*v);
        } else if (key == "log_level") {
            if (value != "info" && value != "error" && value != "off") return bad("log_level is info, error or off");
            c.logLevel = value;
        } else {
            return bad("unknown setting \"" + key + "\"");
        }
    }
    return c;
}

std::string defaultServerConfigText(const ServerConfig& c) {
    std::ostringstream o;
    o << "# xunshen-server configuration (read at start; restart to apply a change).\n"
         "# Lines are `key = value`; `#` starts a comment.\n\n"
         "# Address and port to serve HTTPS on. The enrolment file carries the URL devices use.\n"
      << "listen = " << c.host << ":" << c.port << "\n\n"
      << "# The longest a pull waits for something new before answering empty (0 to "
      << net::kMaxLongPollSeconds << ").\n"
      << "long_poll_seconds = " << c.longPollSeconds << "\n\n"
      << "# Connections served at once: each device online holds one while it long-polls or keeps\n"
         "# its connection alive (a device that finds none free waits, and may report the server\n"
         "# offline). At least the number of devices that may be online together, with room.\n"
      << "threads = " << c.threads << "\n\n"
      << "# The largest evidence file accepted, in bytes (announced to clients, which check it\n"
         "# before a finding is finalised).\n"
      << "max_evidence_bytes = " << c.maxEvidenceBytes << "\n\n"
      << "# info: one JSON line per request on stderr (never content); error: failed requests only; off.\n"
      << "log_level = " << c.logLevel << "\n";
    return o.str();
}

// ---- server

Server::Server(std::unique_ptr<ServerStore> store, ServerConfig config, const std::string& certPath,
               const std::string& keyPath)
    : m_store(std::move(store)), m_config(std::move(config)),
      m_http(std::make_unique<httplib::SSLServer>(certPath.c_str(), keyPath.c_str())) {
    int threads = m_config.threads;
    m_http->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
    m_http->set_payload_max_length(net::kMaxRequestBytes);
    m_http->set_read_timeout(30, 0);
    m_http->set_write_timeout(30, 0);
    m_http->set_keep_alive_timeout(30);
    // Answers are small and requests alternate: without this every answer waited out Nagle's
    // delayed-ACK stall (about 40 ms per request on loopback, measured by bench_sync).
    m_http->set_tcp_nodelay(true);
    routes();
}

Server::~Server() = default;

SResult<int> Server::bind() {
    if (!m_http->is_valid()) return fail(SyncError::Invalid, "the TLS key or certificate could not be loaded");
    auto c = m_store->cursor();
    if (!c) return c.error();
    m_cursor = *c;
    int port = m_config.port == 0 ? m_http->bind_to_any_port(m_config.host)
                                  : (m_http->bind_to_port(m_config.host, m_config.port) ? m_config.port : -1);
    if (port <= 0)
        return fail(SyncError::Io, "cannot listen on " + m_config.host + ":" + std::to_string(m_config.port));
    return port;
}

SStatus Server::serve() {
    if (!m_http->listen_after_bind() && !m_stopping) return fail(SyncError::Io, "the listening socket failed");
    return {};
}

void Server::stop() {
    m_stopping = true;
    {
        std::lock_guard lock(m_waitMutex);
    }
    m_arrived.notify_all();
    m_http->stop();
}

void Server::routes() {
    m_http->set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
        t_started = Clock::now();
        t_device.clear();
        return httplib::Server::HandlerResponse::Unhandled;
    });
    m_http->set_logger([this](const httplib::Request& req, const httplib::Response& res) { log(req, res); });
    m_http->set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return;
        if (res.status == 413) refuse(res, 413, "too_large", "the request body is longer than the server accepts");
        else if (res.status == 404) refuse(res, 404, "no_such_route", "no such route (see docs/PROTOCOL.md)");
        else refuse(res, res.status, "http_error", "the request could not be served");
    });
    m_http->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        refuse(res, 500, "server_error", "the server failed on this request; nothing was stored");
    });
    m_http->Get(net::kRouteHealth, [](const httplib::Request&, httplib::Response& res) {
        answer(res, 200, Json{{"ok", true}, {"protocol", net::kProtocolVersion}});
    });
    m_http->Get(net::kRouteHello, [this](const httplib::Request& req, httplib::Response& res) { hello(req, res); });
    m_http->Post(net::kRoutePush, [this](const httplib::Request& req, httplib::Response& res) { push(req, res); });
    m_http->Get(net::kRoutePull, [this](const httplib::Request& req, httplib::Response& res) { pull(req, res); });
    m_http->Get(net::kRouteKeys, [this](const httplib::Request& req, httplib::Response& res) { keys(req, res); });
    const std::string blob = std::string(net::kRouteEvidence) + "([0-9a-f]{64})";
    m_http->Get(blob + "/status", [this](const httplib::Request& req, httplib::Response& res) { evidenceStatus(req, res); });
    m_http->Post(blob, [this](const httplib::Request& req, httplib::Response& res) { evidenceUpload(req, res); });
    m_http->Get(blob, [this](const httplib::Request& req, httplib::Response& res) { evidenceDownload(req, res); });
    m_http->Get(net::kRouteAccessLog, [this](const httplib::Request& req, httplib::Response& res) { accessLog(req, res); });
    m_http->Get(net::kRouteForks, [this](const httplib::Request& req, httplib::Response& res) { forks(req, res); });
    m_http->Post(net::kRouteInvites, [this](const httplib::Request& req, httplib::Response& res) { inviteCreate(req, res); });
    m_http->Get(net::kRouteInvites, [this](const httplib::Request& req, httplib::Response& res) { invitesWaiting(req, res); });
    m_http->Post(std::string(net::kRouteInvites) + "/([0-9a-f]{64})/answer",
                 [this](const httplib::Request& req, httplib::Response& res) { inviteAnswer(req, res); });
    const std::string join = std::string(net::kRouteJoin) + "([0-9a-f]{64})";
    m_http->Post(join, [this](const httplib::Request& req, httplib::Response& res) { joinPresent(req, res); });
    m_http->Get(join, [this](const httplib::Request& req, httplib::Response& res) { joinFetch(req, res); });
}

bool Server::protocolSupported(const httplib::Request& req, httplib::Response& res) {
    auto version = decimal(req.get_header_value(net::kHeaderProtocol));
    if (!version) {
        refuse(res, 400, "no_protocol", std::string("the request has no ") + net::kHeaderProtocol + " header");
        return false;
    }
    if (*version < net::kMinProtocolVersion) {
        answer(res, 426, Json{{"error", "client_outdated"},
                              {"message", "this app is too old for the server: update it (protocol " +
                                              std::to_string(*version) + ", the server needs " +
                                              std::to_string(net::kMinProtocolVersion) + " or later)"},
                              {"min_protocol", net::kMinProtocolVersion}});
        return false;
    }
    return true;
}

// Protocol version, then who signed it, over exactly what, how recently, and never before.
bool Server::authenticate(const httplib::Request& req, httplib::Response& res, Caller& caller) {
    if (!protocolSupported(req, res)) return false;
    const std::string device = req.get_header_value(net::kHeaderDevice);
    const std::string nonce = req.get_header_value(net::kHeaderNonce);
    const std::string sigHex = req.get_header_value(net::kHeaderSignature);
    auto ts = decimal(req.get_header_value(net::kHeaderTimestamp));
    if (device.empty() || device.size() > net::kMaxDeviceIdChars || !ts || nonce.size() != net::kNonceHexChars ||
        !isLowerHex(nonce) || sigHex.size() != 128 || !isLowerHex(sigHex)) {
        refuse(res, 401, "unsigned", "the request's signature headers are missing or malformed");
        return false;
    }
    const std::int64_t now = wallClockMs();
    if (!freshTimestamp(ts)) {
        refuse(res, 401, "stale_timestamp", "the request's time is more than 5 minutes from the server's: check the device clock");
        return false;
    }
    std::optional<DeviceAuth> auth;
    {
        std::lock_guard lock(m_storeMutex);
        auto a = m_store->deviceAuth(device);
        if (!a) {
            refuse(res, a.error());
            return false;
        }
        auth = std::move(*a);
    }
    if (!auth) {
        refuse(res, 403, "unknown_device", "this device is not enrolled here (has the audit office synced its enrolment?)");
        return false;
    }
    if (auth->revoked) {
        refuse(res, 403, "revoked_device", "this device has been revoked by the audit office");
        return false;
    }
    auto sig = crypto::fromHex(sigHex);
    auto input = net::requestSigningInput(req.method, req.target, *ts, device, nonce, crypto::sha256(crypto::asBytes(req.body)));
    if (!sig || !crypto::ed25519Verify(auth->signKey, input, *sig)) {
        refuse(res, 401, "bad_signature", "the request's signature does not verify with the device's key");
        return false;
    }
    {
        std::lock_guard lock(m_storeMutex);
        auto fresh = m_store->claimNonce(device, nonce, *ts, now - 2 * net::kMaxClockSkewMs);
        if (!fresh) {
            refuse(res, fresh.error());
            return false;
        }
        if (!*fresh) {
            refuse(res, 409, "replayed_request", "this request was received before (its nonce is used)");
            return false;
        }
    }
    caller.device = device;
    caller.registrar = auth->registrar;
    t_device = device;
    return true;
}

void Server::hello(const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!authenticate(req, res, caller)) return;
    for (const auto& [k, v] : req.params)
        if (k != "seq") return refuse(res, 400, "malformed", "unknown hello parameter \"" + k + "\"");
    auto ownSeq = req.has_param("seq") ? decimal(req.get_param_value("seq")) : std::optional<std::int64_t>(0);
    if (!ownSeq) return refuse(res, 400, "malformed", "hello takes seq (the caller's chain head) as a non-negative integer");
    std::lock_guard lock(m_storeMutex);
    auto vv = m_store->versionVector();
    if (!vv) return refuse(res, vv.error());
    std::string ownId;
    if (*ownSeq > 0) {
        auto id = m_store->changeSetIdAt(caller.device, *ownSeq);
        if (!id) return refuse(res, id.error());
        ownId = id->value_or("");
    }
    Json hello{{"protocol", net::kProtocolVersion},
                {"min_protocol", net::kMinProtocolVersion},
                {"server_time_ms", wallClockMs()},
                {"cursor", m_cursor.load()},
                {"version_vector", versionVectorToJson(*vv)},
                {"own_id", ownId},
                {"limits",
                 {{"max_request_bytes", net::kMaxRequestBytes},
                  {"max_push_changesets", net::kMaxPushChangeSets},
                  {"max_pull_changesets", net::kMaxPullChangeSets},
                  {"max_evidence_bytes", m_config.maxEvidenceBytes},
                  {"long_poll_seconds", m_config.longPollSeconds}}}};
    // The audit office learns of forks (copied devices) with every round.
    if (caller.registrar) {
        auto last = m_store->lastForkSeq();
        if (!last) return refuse(res, last.error());
        hello["forks"] = *last;
    }
    answer(res, 200, hello);
}

void Server::forks(const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!authenticate(req, res, caller)) return;
    if (!caller.registrar) return refuse(res, 403, "forbidden", "only the audit office's device reads the fork reports");
    for (const auto& [k, v] : req.params)
        if (k != "after") return refuse(res, 400, "malformed", "unknown forks parameter \"" + k + "\"");
    auto after = decimal(req.has_param("after") ? req.get_param_value("after") : "0");
    if (!after) return refuse(res, 400, "malformed", "forks takes after as a non-negative integer");
    std::lock_guard lock(m_storeMutex);
    auto list = m_store->forksAfter(*after, net::kMaxForkReports);
    if (!list) return refuse(res, list.error());
    // Written around each stored change set's JSON, as pushed.
    std::string body = "{\"forks\":[";
    for (std::size_t i = 0; i < list->size(); ++i) {
        const auto& f = (*list)[i];
        if (i) body += ',';
        body += "{\"seq\":" + std::to_string(f.seq) + ",\"device\":" + Json(f.device).dump() + ",\"changeset\":" +
                f.changeSetJson + ",\"detail\":" + Json(f.detail).dump() + ",\"time_ms\":" + std::to_string(f.timeMs) + "}";
    }
    body += std::string("],\"more\":") + (list->size() == net::kMaxForkReports ? "true" : "false") + "}";
    res.status = 200;
    res.set_content(body, "application/json");
}

void Server::push(const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!authenticate(req, res, caller)) return;
    auto parsed = net::parsePushBody(req.body);
    if (!parsed) return refuse(res, 400, "malformed", parsed.error().message);
    std::vector<ChangeSet> batch = std::move(*parsed);
    SResult<PushOutcome> out = fail(SyncError::Invalid, "");
    {
        std::lock_guard lock(m_storeMutex);
        out = m_store->push(batch);
        if (out) m_cursor = out->cursor;
    }
    if (!out) return refuse(res, out.error());
    if (!out->stored.empty()) {
        { std::lock_guard lock(m_waitMutex); }
        m_arrived.notify_all();
    }
    Json held = Json::array(), refused = Json::array();
    // Only the chains this push touched: another device's chain state is not the caller's to see.
    std::set<std::string> pushedBy;
    for (const auto& cs : batch) pushedBy.insert(cs.device);
    for (const auto& [device, detail] : out->held)
        if (pushedBy.count(device)) held.push_back({{"device", device}, {"detail", detail}});
    for (const auto& [id, reason] : out->refused) refused.push_back({{"id", id}, {"reason", reason}});
    answer(res, 200, Json{{"stored", out->stored}, {"known", out->known}, {"held", held}, {"refused", refused},
                          {"cursor", out->cursor}});
}

void Server::pull(const httplib::Request& req, httplib::Response& res) { feed(req, res, false); }
void Server::keys(const httplib::Request& req, httplib::Response& res) { feed(req, res, true); }

namespace {
// The channel a sys op hands `device` a key of, if it does: its membership record (which may carry
// the envelopes of the epochs before it joined) or an epoch with an envelope to it.
std::optional<std::string> keyChannelFor(const Op& op, const std::string& device, bool registrar) {
    if (op.channel != kSysChannel || (op.kind != kEpochKind && op.kind != kMemberKind)) return std::nullopt;
    const auto bar = op.recordId.find('|');
    if (bar == std::string::npos) return std::nullopt;
    const std::string channel = op.recordId.substr(0, bar);
    if (registrar) return channel;  // the office key opens every epoch
    if (op.kind == kMemberKind) return op.recordId.substr(bar + 1) == device ? std::optional<std::string>(channel) : std::nullopt;
    // Envelope recipients are "device:<id>#<subkey>" (sync/channels.cpp).
    const std::string needle = "\"device:" + device + "#";
    const std::string_view body(reinterpret_cast<const char*>(op.body.data()), op.body.size());
    return body.find(needle) != std::string_view::npos ? std::optional<std::string>(channel) : std::nullopt;
}
}  // namespace

// pull (everything the device may read, whole) and keys (the plaintext org and sys change sets
// whole, among them those that hand it channel keys; every encrypted one as a withheld link).
void Server::feed(const httplib::Request& req, httplib::Response& res, bool keysOnly) {
    Caller caller;
    if (!authenticate(req, res, caller)) return;
    const char* what = keysOnly ? "keys" : "pull";
    for (const auto& [k, v] : req.params)
        if (k != "after" && k != "limit" && (keysOnly || k != "wait"))
            return refuse(res, 400, "malformed", std::string("unknown ") + what + " parameter \"" + k + "\"");
    auto param = [&](const char* name, std::int64_t dflt) -> std::optional<std::int64_t> {
        if (!req.has_param(name)) return dflt;
        return decimal(req.get_param_value(name));
    };
    auto after = param("after", 0);
    auto limit = param("limit", static_cast<std::int64_t>(net::kMaxPullChangeSets));
    auto wait = param("wait", 0);
    if (!after || !limit || !wait || *limit < 1)
        return refuse(res, 400, "malformed", "pull takes after, limit (1 or more) and wait as non-negative integers");
    const std::size_t maxCount = std::min<std::size_t>(static_cast<std::size_t>(*limit), net::kMaxPullChangeSets);
    const int waitSeconds = static_cast<int>(std::min<std::int64_t>(*wait, m_config.longPollSeconds));
    // Long-poll: wait until the feed grows past `after`, the wait ends, or the server stops.
    // The office's device also wakes for a join presentation: it answers those in its rounds.
    const std::int64_t presentations = m_presentations.load();
    if (waitSeconds > 0 && m_cursor.load() <= *after) {
        std::unique_lock lock(m_waitMutex);
        m_arrived.wait_for(lock, std::chrono::seconds(waitSeconds), [&] {
            return m_stopping.load() || m_cursor.load() > *after ||
                   (caller.registrar && m_presentations.load() != presentations);
        });
    }
    std::vector<FeedEntry> entries;
    std::set<std::string> channels;
    {
        std::lock_guard lock(m_storeMutex);
        auto e = m_store->feedAfter(*after, maxCount, caller.device);
        if (!e) return refuse(res, e.error());
        entries = std::move(*e);
        auto c = m_store->channelsOf(caller.device);
        if (!c) return refuse(res, c.error());
        channels = std::move(*c);
    }
    // The answer is written by hand around each change set's JSON, so each is serialised once.
    std::string list;
    std::set<std::string> delivered;
    std::int64_t cursor = *after;
    bool more = entries.size() == maxCount;
    for (const auto& e : entries) {
        if (list.size() >= net::kPullTargetBytes) {
            more = true;
            break;
        }
        cursor = e.seq;
        if (e.changeSet.device == caller.device) continue;  // it has its own
        if (!list.empty()) list += ',';
        // Need-to-know: a change set of an encrypted channel this device is not a member of
        // goes withheld (its chain link, no op); the audit office's device gets everything.
        const std::string& channel = e.changeSet.ops.empty() ? std::string() : e.changeSet.ops.front().channel;
        bool whole = caller.registrar || !isEncryptedChannel(channel) || channels.count(channel) > 0;
        if (keysOnly) {
            // The plaintext records whole (devices, memberships and epochs: what a key is judged
            // by), every encrypted channel's work withheld.
            whole = !isEncryptedChannel(channel);
            if (whole)
                for (const auto& op : e.changeSet.ops)
                    if (auto c = keyChannelFor(op, caller.device, caller.registrar)) delivered.insert(*c);
        } else if (whole && !channel.empty()) {
            delivered.insert(channel);
        }
        list += changeSetToJson(whole ? e.changeSet : withheldCopy(e.changeSet)).dump();
    }
    // Who saw what: every pull, with the channels it delivered and the feed range it covered.
    {
        std::lock_guard lock(m_storeMutex);
        auto logged = m_store->logAccess(caller.device, what, {delivered.begin(), delivered.end()},
                                         std::to_string(*after) + ".." + std::to_string(cursor));
        if (!logged) return refuse(res, logged.error());
    }
    res.status = 200;
    res.set_content("{\"changesets\":[" + list + "],\"cursor\":" + std::to_string(cursor) +
                        ",\"more\":" + (more ? "true" : "false") + "}",
                    "application/json");
}

SResult<bool> Server::mayReadChannel(const Caller& caller, const std::string& channel) {
    if (caller.registrar) return true;
    auto channels = m_store->channelsOf(caller.device);
    if (!channels) return channels.error();
    return channels->count(channel) > 0;
}

namespace {
Json blobJson(const BlobState& st) {
    return Json{{"size", st.size}, {"offset", st.offset}, {"complete", st.complete}};
}
}  // namespace

void Server::evidenceStatus(const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!authenticate(req, res, caller)) return;
    const std::string id = req.matches[1];
    std::lock_guard lock(m_storeMutex);
    auto st = m_store->blobState(id);
    if (!st) return refuse(res, st.error());
    // Someone else's channel is answered as nothing there: its existence is not told.
    if (*st) {
        auto may = mayReadChannel(caller, (*st)->channel);
        if (!may) return refuse(res, may.error());
        if (*may) return answer(res, 200, blobJson(**st));
    }
    refuse(res, 404, "not_found", "no evidence " + id.substr(0, 12) + " here (upload it from offset 0)");
}

void Server::evidenceUpload(const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!authenticate(req, res, caller)) return;
    const std::string id = req.matches[1];
    // A chunk is bytes: a form-encoded body would be read as parameters by the HTTP layer.
    if (req.get_header_value("Content-Type") != "application/octet-stream")
        return refuse(res, 415, "wrong_content_type", "an evidence chunk is sent as application/octet-stream");
    for (const auto& [k, v] : req.params)
        if (k != "channel" && k != "size" && k != "offset")
            return refuse(res, 400, "malformed", "unknown evidence parameter \"" + k + "\"");
    const std::string channel = req.get_param_value("channel");
    auto size = decimal(req.get_param_value("size"));
    auto offset = decimal(req.get_param_value("offset"));
    if (!isEncryptedChannel(channel) || !size || !offset)
        return refuse(res, 400, "malformed", "an evidence upload takes channel (an inspection's channel), size and offset");
    if (static_cast<std::uint64_t>(*size) > m_config.maxEvidenceBytes)
        return answer(res, 413, Json{{"error", "evidence_too_large"},
                                     {"message", "this evidence file is " + std::to_string(*size) +
                                                     " bytes; the server accepts at most " +
                                                     std::to_string(m_config.maxEvidenceBytes)},
                                     {"max_evidence_bytes", m_config.maxEvidenceBytes}});
    if (req.body.size() > net::kEvidenceChunkBytes)
        return refuse(res, 413, "too_large", "an evidence chunk is at most " + std::to_string(net::kEvidenceChunkBytes) + " bytes");
    std::lock_guard lock(m_storeMutex);
    auto may = mayReadChannel(caller, channel);
    if (!may) return refuse(res, may.error());
    if (!*may) return refuse(res, 403, "not_a_member", "this device is not a member of the channel it uploads evidence to");
    auto out = m_store->blobAppend(id, channel, static_cast<std::uint64_t>(*size), static_cast<std::uint64_t>(*offset),
                                   crypto::asBytes(req.body));
    if (!out) return refuse(res, out.error());
    if (out->offsetMismatch) {
        Json body = blobJson(out->state);
        body["error"] = "offset_mismatch";
        body["message"] = "the upload continues at offset " + std::to_string(out->state.offset);
        return answer(res, 409, body);
    }
    answer(res, 200, blobJson(out->state));
}

void Server::evidenceDownload(const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!authenticate(req, res, caller)) return;
    const std::string id = req.matches[1];
    for (const auto& [k, v] : req.params)
        if (k != "offset" && k != "length") return refuse(res, 400, "malformed", "unknown evidence parameter \"" + k + "\"");
    auto offset = decimal(req.has_param("offset") ? req.get_param_value("offset") : "0");
    auto length = decimal(req.has_param("length") ? req.get_param_value("length") : std::to_string(net::kEvidenceChunkBytes));
    if (!offset || !length || *length < 1 || static_cast<std::size_t>(*length) > net::kEvidenceChunkBytes)
        return refuse(res, 400, "malformed", "an evidence download takes offset and length (1 to " +
                                                 std::to_string(net::kEvidenceChunkBytes) + ")");
    std::lock_guard lock(m_storeMutex);
    auto st = m_store->blobState(id);
    if (!st) return refuse(res, st.error());
    bool may = false;
    if (*st) {
        auto m = mayReadChannel(caller, (*st)->channel);
        if (!m) return refuse(res, m.error());
        may = *m;
    }
    if (!may || !(*st)->complete) return refuse(res, 404, "not_found", "no complete evidence " + id.substr(0, 12) + " here");
    auto bytes = m_store->blobRead(id, static_cast<std::uint64_t>(*offset), static_cast<std::size_t>(*length));
    if (!bytes) return refuse(res, bytes.error());
    auto logged = m_store->logAccess(caller.device, "evidence", {(*st)->channel},
                                     id + "@" + std::to_string(*offset) + "+" + std::to_string(bytes->size()));
    if (!logged) return refuse(res, logged.error());
    res.status = 200;
    res.set_content(std::string(bytes->begin(), bytes->end()), "application/octet-stream");
}

void Server::accessLog(const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!authenticate(req, res, caller)) return;
    if (!caller.registrar) return refuse(res, 403, "forbidden", "only the audit office's device reads the access log");
    for (const auto& [k, v] : req.params)
        if (k != "after") return refuse(res, 400, "malformed", "unknown access-log parameter \"" + k + "\"");
    auto after = decimal(req.has_param("after") ? req.get_param_value("after") : "0");
    if (!after) return refuse(res, 400, "malformed", "access-log takes after as a non-negative integer");
    std::lock_guard lock(m_storeMutex);
    auto entries = m_store->accessAfter(*after, net::kMaxAccessEntries);
    if (!entries) return refuse(res, entries.error());
    Json list = Json::array();
    for (const auto& e : *entries) list.push_back({{"seq", e.seq}, {"text", e.text}, {"hash", e.hash}});
    answer(res, 200, Json{{"entries", list}, {"more", entries->size() == net::kMaxAccessEntries}});
}

// ---- online enrolment (docs/PROTOCOL.md "Online enrolment")

void Server::inviteCreate(const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!authenticate(req, res, caller)) return;
    if (!caller.registrar) return refuse(res, 403, "forbidden", "only the audit office's device issues invitations");
    auto filing = net::parseInviteFiling(req.body);
    if (!filing) return refuse(res, 400, "malformed", filing.error().message);
    const std::int64_t now = wallClockMs();
    // The office's clock may run up to the allowed skew ahead of this one.
    if (filing->expiresMs <= now || filing->expiresMs > now + net::kMaxInviteHours * 3600 * 1000 + net::kMaxClockSkewMs)
        return refuse(res, 400, "malformed", "an invitation expires in the future, within " + std::to_string(net::kMaxInviteHours) + " hours");
    std::lock_guard lock(m_storeMutex);
    auto made = m_store->inviteCreate(filing->id, filing->serverKey, filing->expiresMs);
    if (!made) return refuse(res, made.error());
    answer(res, 201, Json{{"id", filing->id}, {"expires_ms", filing->expiresMs}});
}

void Server::invitesWaiting(const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!authenticate(req, res, caller)) return;
    if (!caller.registrar) return refuse(res, 403, "forbidden", "only the audit office's device answers invitations");
    if (!req.params.empty()) return refuse(res, 400, "malformed", "the invitations list takes no parameters");
    std::lock_guard lock(m_storeMutex);
    auto waiting = m_store->invitesWaiting(wallClockMs(), net::kMaxWaitingInvites);
    if (!waiting) return refuse(res, waiting.error());
    Json list = Json::array();
    for (const auto& [id, presentation] : *waiting) list.push_back({{"id", id}, {"presentation", presentation}});
    answer(res, 200, Json{{"waiting", list}});
}

void Server::inviteAnswer(const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!authenticate(req, res, caller)) return;
    if (!caller.registrar) return refuse(res, 403, "forbidden", "only the audit office's device answers invitations");
    const std::string id = req.matches[1];
    // The server cannot check the office's mac (it has not the office key): only the framing.
    if (req.body.size() < 66 || req.body[64] != '\n' || !isLowerHex(req.body.substr(0, 64)))
        return refuse(res, 400, "malformed", "an answer is <64 hex mac>\\n<enrolment file>");
    std::lock_guard lock(m_storeMutex);
    auto done = m_store->inviteAnswer(id, req.body);
    if (!done) return refuse(res, done.error());
    answer(res, 200, Json{{"id", id}, {"answered", true}});
}

namespace {
bool macMatches(const std::string& want, const std::string& got) {
    return crypto::constantTimeEqual(crypto::asBytes(want), crypto::asBytes(got));
}

// The join requests are signed like every other, by the key of the identity file presented: so a
// presentation proves its maker holds that device's private key, and only that device fetches
// the answer (not another holder of the code). The device file's own checks are the office's.
bool signedByPresented(const httplib::Request& req, const std::string& presentationBody) {
    auto p = net::parsePresentation(presentationBody);
    if (!p) return false;
    auto d = parseBoundedJson(p->deviceFileText, net::kMaxPresentationBytes, "device file");
    if (!d || !d->is_object() || !d->contains("device_id") || !(*d)["device_id"].is_string() ||
        !d->contains("sign_public_key") || !(*d)["sign_public_key"].is_string())
        return false;
    auto key = crypto::fromHex((*d)["sign_public_key"].get<std::string>());
    const std::string device = req.get_header_value(net::kHeaderDevice);
    const std::string nonce = req.get_header_value(net::kHeaderNonce);
    auto ts = decimal(req.get_header_value(net::kHeaderTimestamp));
    auto sig = crypto::fromHex(req.get_header_value(net::kHeaderSignature));
    if (!key || key->size() != 32 || !sig || sig->size() != 64 || !ts || device != (*d)["device_id"].get<std::string>()) return false;
    auto input = net::requestSigningInput(req.method, req.target, *ts, device, nonce, crypto::sha256(crypto::asBytes(req.body)));
    return crypto::ed25519Verify(*key, input, *sig).ok();
}
}  // namespace

void Server::joinPresent(const httplib::Request& req, httplib::Response& res) {
    if (!protocolSupported(req, res)) return;
    const std::string id = req.matches[1];
    t_device = "join:" + id.substr(0, 12);
    if (req.body.size() > net::kMaxPresentationBytes)
        return refuse(res, 413, "too_large", "a presentation is at most " + std::to_string(net::kMaxPresentationBytes) + " bytes");
    std::lock_guard lock(m_storeMutex);
    auto st = m_store->invite(id);
    if (!st) return refuse(res, st.error());
    // No such code and an expired one answer alike: the id tells nothing to a guesser.
    if (!*st || (*st)->expiresMs <= wallClockMs())
        return refuse(res, 404, "no_such_invitation", "no such invitation, or it has expired: check the code, or ask the audit office for a new one");
    if (!macMatches(net::joinPresentMac((*st)->serverKey, id, req.body), req.get_header_value(net::kHeaderInviteMac)))
        return refuse(res, 401, "bad_invite_mac", "the request is not made with this invitation's code");
    auto parsed = net::parsePresentation(req.body);
    if (!parsed) return refuse(res, 400, "malformed", parsed.error().message);
    if (!freshTimestamp(decimal(req.get_header_value(net::kHeaderTimestamp))))
        return refuse(res, 401, "stale_timestamp", "the request's time is more than 5 minutes from the server's: check the device clock");
    if (!signedByPresented(req, req.body))
        return refuse(res, 401, "bad_signature", "a presentation is signed by the key of the device it presents");
    auto first = m_store->invitePresent(id, req.body);
    if (!first) return refuse(res, first.error());
    if (!*first)
        return refuse(res, 409, "invitation_used", "this invitation has been used by another device: ask the audit office for a new one");
    {
        std::lock_guard wait(m_waitMutex);
        ++m_presentations;
    }
    m_arrived.notify_all();
    answer(res, 202, Json{{"id", id}, {"answered", !(*st)->answer.empty()}});
}

void Server::joinFetch(const httplib::Request& req, httplib::Response& res) {
    if (!protocolSupported(req, res)) return;
    const std::string id = req.matches[1];
    t_device = "join:" + id.substr(0, 12);
    if (!req.params.empty()) return refuse(res, 400, "malformed", "a join fetch takes no parameters");
    auto ts = decimal(req.get_header_value(net::kHeaderTimestamp));
    const std::int64_t now = wallClockMs();
    if (!freshTimestamp(ts))
        return refuse(res, 401, "stale_timestamp", "the request's time is more than 5 minutes from the server's: check the device clock");
    std::lock_guard lock(m_storeMutex);
    auto st = m_store->invite(id);
    if (!st) return refuse(res, st.error());
    if (!*st || ((*st)->answer.empty() && (*st)->expiresMs <= now))
        return refuse(res, 404, "no_such_invitation", "no such invitation, or it has expired: check the code, or ask the audit office for a new one");
    if (!macMatches(net::joinFetchMac((*st)->serverKey, id, *ts), req.get_header_value(net::kHeaderInviteMac)))
        return refuse(res, 401, "bad_invite_mac", "the request is not made with this invitation's code");
    if ((*st)->presentation.empty())
        return refuse(res, 409, "not_presented", "present this device with the code first");
    if (!signedByPresented(req, (*st)->presentation))
        return refuse(res, 401, "not_the_presenter", "only the device that presented itself with this code fetches the answer");
    if ((*st)->answer.empty()) return answer(res, 202, Json{{"id", id}, {"answered", false}});
    // Who saw what: an enrolment file carries the organisation and its registrations.
    auto logged = m_store->logAccess("join:" + id.substr(0, 12), "join", {}, id);
    if (!logged) return refuse(res, logged.error());
    res.status = 200;
    res.set_content((*st)->answer, "text/plain");
}

void Server::log(const httplib::Request& req, const httplib::Response& res) {
    if (m_config.logLevel == "off" || (m_config.logLevel == "error" && res.status < 400)) return;
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t_started).count();
    Json line{{"time", isoNow()},     {"device", t_device},          {"method", req.method},
              {"route", req.path},    {"status", res.status},        {"bytes_in", req.body.size()},
              {"bytes_out", res.body.size()}, {"ms", std::round(ms * 100) / 100}};
    std::string text = line.dump() + "\n";
    std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace xs::sync::server
