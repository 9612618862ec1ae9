#include "sync/uuid.h"

#include <chrono>

#include "crypto/encoding.h"
#include "crypto/random.h"

namespace xs::sync {

SResult<std::string> newUuidV7At(std::int64_t unixMs) {
    std::uint8_t b[16];
    if (!crypto::randomFill(b, sizeof b)) return fail(SyncError::Crypto, "random number generator failed");
    auto ms = static_cast<std::uint64_t>(unixMs);
    for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
    b[6] = static_cast<std::uint8_t>(0x70 | (b[6] & 0x0f));
    b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3f));
    std::string hex = crypto::toHex(crypto::ByteView(b, 16));
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
           hex.substr(20);
}

SResult<std::string> newUuidV7() {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    return newUuidV7At(now.count());
}

bool isUuid(const std::string& t) {
    if (t.size() != 36) return false;
    for (std::size_t i = 0; i < t.size(); ++i) {
        char c = t[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

}  // namespace xs::sync
