// xunshen-server's protocol layer (docs/PROTOCOL.md): HTTPS through cpp-httplib, every request
// but health signed by an enrolled device, each route a thin parse -> ServerStore -> answer.
// Domain-agnostic: it reads change-set headers, chains and the sys records, never a body.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include "sync/server/server_store.h"

namespace httplib {
class SSLServer;
struct Request;
struct Response;
}  // namespace httplib

namespace xs::sync::server {

struct ServerConfig {
    std::string host = "127.0.0.1";
    int port = 8443;                      // 0: any free port (tests)
    int longPollSeconds = 25;             // the longest a pull waits for something new
    // Connections served at once: each connected device holds one while it long-polls or keeps its
    // connection alive, so a bureau's devices all online at once need as many.
    int threads = 256;
    std::uint64_t maxEvidenceBytes = 256ull << 20;  // per evidence file, announced in /v1/hello
    std::string logLevel = "info";        // info: a line per request; error: failed ones; off
};

// Reads `key = value` lines (# comments) from a config file; Invalid names the bad line.
SResult<ServerConfig> parseServerConfig(const std::string& text);
// The config file `init` writes: every setting with its default, each explained.
std::string defaultServerConfigText(const ServerConfig& config);

class Server {
public:
    Server(std::unique_ptr<ServerStore> store, ServerConfig config, const std::string& certPath,
           const std::string& keyPath);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds the listening socket; returns the port (the one chosen when config.port is 0).
    SResult<int> bind();
    // Serves until stop(): blocks. Requests in flight when stop() is called finish first.
    SStatus serve();
    // From any thread (a signal-handling one): stops accepting, wakes long-polls.
    void stop();

private:
    struct Caller;
    void routes();
    bool authenticate(const httplib::Request& req, httplib::Response& res, Caller& caller);
    void hello(const httplib::Request& req, httplib::Response& res);
    void push(const httplib::Request& req, httplib::Response& res);
    void pull(const httplib::Request& req, httplib::Response& res);
    void keys(const httplib::Request& req, httplib::Response& res);
    void feed(const httplib::Request& req, httplib::Response& res, bool keysOnly);
    void evidenceStatus(const httplib::Request& req, httplib::Response& res);
    void evidenceUpload(const httplib::Request& req, httplib::Response& res);
    void evidenceDownload(const httplib::Request& req, httplib::Response& res);
    void accessLog(const httplib::Request& req, httplib::Response& res);
    void forks(const httplib::Request& req, httplib::Response& res);
    // Online enrolment: the office files codes and answers presentations; the new device presents.
    void inviteCreate(const httplib::Request& req, httplib::Response& res);
    void invitesWaiting(const httplib::Request& req, httplib::Response& res);
    void inviteAnswer(const httplib::Request& req, httplib::Response& res);
    void joinPresent(const httplib::Request& req, httplib::Response& res);
    void joinFetch(const httplib::Request& req, httplib::Response& res);
    bool protocolSupported(const httplib::Request& req, httplib::Response& res);
    // May `caller` read the blob of `channel`? (the office's device, or a member now)
    SResult<bool> mayReadChannel(const Caller& caller, const std::string& channel);
    void log(const httplib::Request& req, const httplib::Response& res);

    std::unique_ptr<ServerStore> m_store;
    ServerConfig m_config;
    std::unique_ptr<httplib::SSLServer> m_http;
    std::mutex m_storeMutex;  // the embedded store is one connection: one request in it at a time
    std::mutex m_waitMutex;
    std::condition_variable m_arrived;  // a push stored something, or stopping
    std::atomic<std::int64_t> m_cursor{0};
    std::atomic<std::int64_t> m_presentations{0};  // counts join presentations: wakes the office's long-poll
    std::atomic<bool> m_stopping{false};
};

}  // namespace xs::sync::server
