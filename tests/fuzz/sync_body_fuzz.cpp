// The sync protocol's bodies from outside: a push body (what the server parses from any enrolled
// device) and a pull answer (what a client parses from the server). Either parses within bounds
// or is refused with a message; never a crash.
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
    return 0;
}
