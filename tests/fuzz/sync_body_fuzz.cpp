// The sync protocol's bodies from outside: a push body (what the server parses from any enrolled
// device), a pull answer and an access-log answer (what a client parses from the server; the log
// is also verified as a chain). Each parses within bounds or is refused with a message; never a
// crash; so do the online-enrolment bodies. (Evidence chunks are opaque bytes: the server only counts and hashes them.)
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
    auto forks = xs::sync::net::parseForksAnswer(text);
    if (!forks && forks.error().message.empty()) __builtin_trap();
    // Online enrolment: a presentation (the server parses it from anyone holding a code), the
    // office's list of presentations, and an answer (the device opens it from the server).
    auto presentation = xs::sync::net::parsePresentation(text);
    if (!presentation && presentation.error().message.empty()) __builtin_trap();
    auto filing = xs::sync::net::parseInviteFiling(text);
    if (!filing && filing.error().message.empty()) __builtin_trap();
    auto waiting = xs::sync::net::parseWaitingPresentations(text);
    if (!waiting && waiting.error().message.empty()) __builtin_trap();
    static const auto keys = xs::sync::net::inviteKeys("00000000000000000000");
    auto answer = xs::sync::net::openJoinAnswer(keys.office, keys.id, "{}", text);
    if (!answer && answer.error().message.empty()) __builtin_trap();
    return 0;
}
