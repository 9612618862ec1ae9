// xunshen-server: init a data directory, or serve it (docs/PROTOCOL.md, docs/guides/server.md).
//   xunshen-server init --data DIR --office FILE [--listen ADDR:PORT] [--name HOST] [--cert F --key F]
//   xunshen-server run --data DIR
//   xunshen-server pin --data DIR
// The data directory: server.conf (every setting, commented), store.key (the store's secret,
// 0600: the service starts unattended), store/ (SQLCipher), tls/key.pem (0600) and tls/cert.pem.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include "crypto/encoding.h"
#include "crypto/random.h"
#include "crypto/x509.h"
#include "sync/changeset_codec.h"
#include "sync/env.h"
#include "sync/file_io.h"
#include "sync/identity.h"
#include "sync/server/server.h"
#include "sync/uuid.h"

namespace fs = std::filesystem;
using namespace xs;
using namespace xs::sync;

namespace {

constexpr const char* kUsage =
    "usage: xunshen-server init --data DIR --office FILE [--listen ADDR:PORT] [--name HOST] [--cert FILE --key FILE]\n"
    "       xunshen-server run --data DIR\n"
    "       xunshen-server pin --data DIR\n"
    "  init   creates DIR: the server's encrypted store trusting the audit office whose device\n"
    "         identity file (xunshenctl identity export) is FILE, a TLS key and self-signed\n"
    "         certificate for HOST (or the given ones), and server.conf; prints the certificate pin\n"
    "  run    serves HTTPS until SIGTERM or SIGINT\n"
    "  pin    prints the certificate pin again (for xunshenctl enrol export --pin)\n";

int failWith(const std::string& message, int code = 1) {
    std::cerr << "xunshen-server: " << message << "\n";
    return code;
}

std::string text(const crypto::Bytes& b) { return std::string(b.begin(), b.end()); }

// The office device's identity file: only what the server needs (id and signing key), checked.
SResult<std::pair<TrustRoot, std::string>> readOfficeFile(const fs::path& path) {
    auto bytes = readFile(path, 64 * 1024);
    if (!bytes) return bytes.error();
    auto j = parseBoundedJson(text(*bytes), 64 * 1024, "office identity file");
    if (!j) return j.error();
    auto str = [&](const char* k) -> std::string {
        return j->is_object() && j->contains(k) && (*j)[k].is_string() ? (*j)[k].get<std::string>() : std::string();
    };
    if (str("format") != "xunshen-device")
        return fail(SyncError::Invalid, "not a device identity file (xunshenctl identity export on the audit office's store)");
    if (str("role") != "audit_office") return fail(SyncError::Invalid, "the identity file is not the audit office's");
    DevicePublic pub;
    pub.id = str("device_id");
    auto sign = crypto::fromHex(str("sign_public_key"));
    auto kx = crypto::fromHex(str("exchange_public_key"));
    if (!isUuid(pub.id) || !sign || sign->size() != 32 || !kx || kx->size() != 32)
        return fail(SyncError::Invalid, "the identity file's device id or keys are malformed");
    pub.signKey = *sign;
    pub.exchangeKey = *kx;
    std::string fp = fingerprint(pub);
    if (!str("fingerprint").empty() && str("fingerprint") != fp)
        return fail(SyncError::Invalid, "the identity file's fingerprint does not match its keys");
    return std::make_pair(TrustRoot{pub.id, pub.signKey}, fp);
}

SResult<std::string> pinOf(const fs::path& dir) {
    auto cert = readFile(dir / "tls" / "cert.pem", 1 << 20);
    if (!cert) return cert.error();
    auto pin = crypto::publicKeyPin(text(*cert));
    if (!pin) return fail(SyncError::Invalid, "tls/cert.pem: " + pin.error().message);
    return *pin;
}

int init(std::map<std::string, std::string>& o) {
    const fs::path dir = o["--data"];
    if (o["--office"].empty()) return failWith("init needs --office FILE (the audit office's identity file)", 2);
    if (o.count("--cert") != o.count("--key")) return failWith("--cert and --key go together", 2);
    if (fs::exists(dir / "server.conf") || fs::exists(dir / "store"))
        return failWith(dir.string() + " already holds a server");
    auto office = readOfficeFile(o["--office"]);
    if (!office) return failWith(o["--office"] + ": " + office.error().message);
    server::ServerConfig config;
    if (o.count("--listen")) {
        auto c = server::parseServerConfig("listen = " + o["--listen"]);
        if (!c) return failWith("--listen wants ADDRESS:PORT", 2);
        config.host = c->host;
        config.port = c->port;
    }
    const std::string host = o.count("--name") ? o["--name"] : config.host;
    crypto::TlsIdentity tls;
    if (o.count("--cert")) {
        auto key = readFile(o["--key"], 1 << 20);
        auto cert = readFile(o["--cert"], 1 << 20);
        if (!key || !cert) return failWith("cannot read --cert/--key");
        tls = {text(*key), text(*cert)};
        if (!crypto::publicKeyPin(tls.certPem)) return failWith(o["--cert"] + ": no PEM certificate");
    } else {
        auto made = crypto::selfSignedTlsIdentity(host, 3650);
        if (!made) return failWith("TLS: " + made.error().message);
        tls = std::move(*made);
    }
    auto secret = crypto::randomBytes(32);
    if (!secret) return failWith("no random source");
    const std::string secretHex = crypto::toHex(*secret);
    std::error_code ec;
    fs::create_directories(dir / "tls", ec);
    if (ec) return failWith("cannot create " + dir.string() + ": " + ec.message());
    fs::permissions(dir, fs::perms::owner_all, ec);
    auto write = [](const fs::path& p, const std::string& t) { return writeFileAtomic(p, crypto::asBytes(t)); };
    if (!write(dir / "store.key", secretHex + "\n") || !write(dir / "tls" / "key.pem", tls.keyPem) ||
        !write(dir / "tls" / "cert.pem", tls.certPem) || !write(dir / "server.conf", server::defaultServerConfigText(config)))
        return failWith("cannot write into " + dir.string());
    fs::permissions(dir / "tls" / "cert.pem", fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                                  fs::perms::others_read, ec);
    auto st = server::createSqliteServerStore(dir / "store", secretHex, office->first);
    if (!st) return failWith("store: " + st.error().message);
    auto pin = pinOf(dir);
    if (!pin) return failWith(pin.error().message);
    std::cout << "server data directory: " << dir.string() << "\n"
              << "trusting audit office device " << office->first.device << "\n"
              << "  fingerprint " << office->second << " (compare it with the office's screen)\n"
              << "url: https://" << host << ":" << config.port << "\n"
              << "pin: " << *pin << "\n";
    return 0;
}

int run(std::map<std::string, std::string>& o) {
    const fs::path dir = o["--data"];
    auto conf = readFile(dir / "server.conf", 64 * 1024);
    if (!conf) return failWith(dir.string() + "/server.conf: " + conf.error().message + " (run init first)");
    auto config = server::parseServerConfig(text(*conf));
    if (!config) return failWith("server.conf: " + config.error().message);
    auto secret = readFile(dir / "store.key", 4096);
    if (!secret) return failWith("store.key: " + secret.error().message);
    std::string key = text(*secret);
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();

    // Signals go to one thread, which stops the server; every other thread blocks them.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    signal(SIGPIPE, SIG_IGN);

    auto store = server::openSqliteServerStore(dir / "store", key);
    if (!store) return failWith("store: " + store.error().message);
    server::Server srv(std::move(*store), *config, (dir / "tls" / "cert.pem").string(), (dir / "tls" / "key.pem").string());
    auto port = srv.bind();
    if (!port) return failWith(port.error().message);
    std::cerr << Json{{"time_ms", wallClockMs()}, {"event", "listening"}, {"host", config->host}, {"port", *port}}.dump()
              << std::endl;
    std::thread waiter([&] {
        int sig = 0;
        sigwait(&sigs, &sig);
        srv.stop();
    });
    auto served = srv.serve();
    if (!served) {
        pthread_kill(waiter.native_handle(), SIGTERM);
        waiter.join();
        return failWith(served.error().message);
    }
    waiter.join();
    std::cerr << Json{{"time_ms", wallClockMs()}, {"event", "stopped"}}.dump() << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << kUsage;
        return 2;
    }
    const std::string cmd = argv[1];
    std::map<std::string, std::string> o;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) != 0 || i + 1 >= argc) return failWith("unexpected argument " + a + "\n" + kUsage, 2);
        o[a] = argv[++i];
    }
    for (const auto& [k, v] : o)
        if (k != "--data" && k != "--office" && k != "--listen" && k != "--name" && k != "--cert" && k != "--key")
            return failWith("unknown option " + k, 2);
    if (o["--data"].empty()) return failWith("--data DIR is required\n" + std::string(kUsage), 2);
    if (cmd == "init") return init(o);
    if (cmd == "run") return run(o);
    if (cmd == "pin") {
        auto pin = pinOf(o["--data"]);
        if (!pin) return failWith(pin.error().message);
        std::cout << *pin << "\n";
        return 0;
    }
    std::cerr << kUsage;
    return 2;
}
