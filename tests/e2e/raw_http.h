// Requests sent by hand to a real xunshen-server, and edits of its stopped store: the e2e
// tests' tools for hostile and careless clients and for a stolen, altered server disk.
#pragma once
#include <doctest/doctest.h>

#include <curl/curl.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "sync/env.h"
#include "sync/identity.h"
#include "sync/net/protocol.h"
#include "sync/store.h"
#include "tests/e2e/cli_fixture.h"
#include "tests/e2e/process.h"

namespace xs::test {

struct Raw {
    long status = 0;
    std::string body;
};

inline std::size_t collectBody(char* data, std::size_t size, std::size_t n, void* user) {
    static_cast<std::string*>(user)->append(data, size * n);
    return size * n;
}

// One HTTPS request with exactly these headers and body (pinned like the client).
inline Raw rawRequest(const ServerProcess& s, const std::string& method, const std::string& target,
               const std::vector<std::string>& headers, const std::string& body) {
    CURL* curl = curl_easy_init();
    Raw out;
    curl_slist* h = nullptr;
    for (const auto& x : headers) h = curl_slist_append(h, x.c_str());
    h = curl_slist_append(h, "Expect:");
    const std::string url = s.url() + target, pin = "sha256//" + s.pin();
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PINNEDPUBLICKEY, pin.c_str());
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collectBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    if (method == "POST") {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    REQUIRE(curl_easy_perform(curl) == CURLE_OK);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    return out;
}

// Runs `sql` on the stopped server's store, as someone holding its disk and its key file would.
inline void tamperServerStore(const ServerProcess& s, const std::function<void(xs::sync::Db&)>& edit) {
    std::string key = readAll(s.data() / "store.key");
    while (!key.empty() && key.back() == '\n') key.pop_back();
    auto store = xs::sync::Store::open(s.data() / "store", key);
    REQUIRE_MESSAGE(store, store.message());
    edit((*store)->db());
}

inline void execSql(xs::sync::Db& db, const std::string& sql) {
    auto s = db.prepare(sql.c_str());
    REQUIRE_MESSAGE(s, s.message());
    REQUIRE(s->run());
}

// A device's identity, read from its store in this process (the store stays usable by the CLI).
struct DeviceKeys {
    std::unique_ptr<xs::sync::Store> store;
    std::optional<xs::sync::DeviceIdentity> identity;
    explicit DeviceKeys(const Cli& c) {
        auto s = xs::sync::Store::open(c.store, kPass);
        REQUIRE(s);
        store = std::move(*s);
        auto id = store->meta("device_id");
        REQUIRE(id);
        auto ident = xs::sync::DeviceIdentity::loadOrCreate(*store, *id);
        REQUIRE(ident);
        identity.emplace(std::move(*ident));
    }
    const std::string& id() const { return identity->publicInfo().id; }
    // The signature headers for (method, target, signedBody) at `ts` with `nonce`.
    std::vector<std::string> headers(const std::string& method, const std::string& target, const std::string& signedBody,
                                     std::int64_t ts, const std::string& nonce) const {
        namespace net = xs::sync::net;
        auto input = net::requestSigningInput(method, target, ts, id(), nonce, xs::crypto::sha256(xs::crypto::asBytes(signedBody)));
        auto sig = identity->sign(input);
        REQUIRE(sig);
        return {std::string(net::kHeaderProtocol) + ": 1", std::string(net::kHeaderDevice) + ": " + id(),
                std::string(net::kHeaderTimestamp) + ": " + std::to_string(ts), std::string(net::kHeaderNonce) + ": " + nonce,
                std::string(net::kHeaderSignature) + ": " + xs::crypto::toHex(*sig)};
    }
};

inline std::string freshNonce() { return xs::crypto::toHex(*xs::crypto::randomBytes(16)); }
inline std::int64_t nowMs() { return xs::sync::wallClockMs(); }
inline std::string errorOf(const Raw& r) { return json::parse(r.body).value("error", ""); }

// What the server sends this device from the start of its feed, read raw: the body as it came
// over the wire and its JSON.
struct Pulled {
    std::string body;
    json answer;
};
inline Pulled rawPull(const ServerProcess& s, const DeviceKeys& k) {
    const std::string target = "/v1/pull?after=0&limit=2000";
    auto pulled = rawRequest(s, "GET", target, k.headers("GET", target, "", nowMs(), freshNonce()), "");
    REQUIRE(pulled.status == 200);
    return {pulled.body, json::parse(pulled.body)};
}

}  // namespace xs::test
