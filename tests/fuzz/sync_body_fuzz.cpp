// The sync protocol's bodies from outside: a push body (what the server parses from any enrolled
// device), a pull answer and an access-log answer (what a client parses from the server; the log
// is also verified as a chain). Each parses within bounds or is refused with a message; never a
// crash. (Evidence chunks are opaque bytes: the server only counts and hashes them.)
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sync/net/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto push = xs::sync::net::parsePushBody(text);
    if (!push && push.error().message.empty()) __builtin_trap();
    auto pull = xs::sync::net::parsePullAnswer(text);
    if (!pull && pull.error().message.empty()) __builtin_trap();
    auto log = xs::sync::net::parseAccessLogAnswer(text);
    if (!log && log.error().message.empty()) __builtin_trap();
    if (log) {
        auto v = xs::sync::net::verifyAccessLog(log->entries, 0, xs::sync::net::accessLogGenesis());
        if (!v && v.error().message.empty()) __builtin_trap();
    }
    return 0;
}
