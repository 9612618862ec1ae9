#include "sync/uuid.h"

#include <algorithm>
#include <chrono>
#include <mutex>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "sync/env.h"

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
    return newUuidV7At(wallClockMs());
}

namespace {

std::string format(const std::uint8_t* b) {
    std::string hex = crypto::toHex(crypto::ByteView(b, 16));
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" + hex.substr(20);
}

// The last 8 bytes an id with these first 8 bytes has when `device` owns it.
void ownedTail(const std::string& device, const std::uint8_t* head, std::uint8_t* tail) {
    crypto::Bytes input;
    const std::string tag = "xs-owned-id-v1";
    input.insert(input.end(), tag.begin(), tag.end());
    input.push_back(0);
    input.insert(input.end(), device.begin(), device.end());
    input.insert(input.end(), head, head + 8);
    crypto::Digest d = crypto::sha256(input);
    for (int i = 0; i < 8; ++i) tail[i] = d[static_cast<std::size_t>(i)];
    tail[0] = static_cast<std::uint8_t>(0x80 | (tail[0] & 0x3f));
}

}  // namespace

SResult<std::string> newOwnedId(const std::string& device) {
    // The first 8 bytes are all that is free (the rest is the tag), and a UUIDv7 has only 12
    // random bits per millisecond: they are a counter here (RFC 9562, method 1), so this process
    // never makes the same head twice. It starts at a random value below 2048 each millisecond and
    // borrows the next millisecond when it runs out.
    static std::mutex mutex;
    static std::uint64_t lastMs = 0;
    static std::uint32_t counter = 0;
    std::uint8_t r[2];
    if (!crypto::randomFill(r, sizeof r)) return fail(SyncError::Crypto, "random number generator failed");
    std::uint64_t ms;
    std::uint32_t n;
    {
        std::lock_guard lock(mutex);
        auto now = static_cast<std::uint64_t>(wallClockMs());
        if (now > lastMs) {
            lastMs = now;
            counter = ((std::uint32_t{r[0]} << 8) | r[1]) & 0x7ff;
        } else if (++counter > 0xfff) {
            ++lastMs;
            counter = ((std::uint32_t{r[0]} << 8) | r[1]) & 0x7ff;
        }
        ms = lastMs;
        n = counter;
    }
    std::uint8_t b[16];
    for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
    b[6] = static_cast<std::uint8_t>(0x70 | (n >> 8));
    b[7] = static_cast<std::uint8_t>(n & 0xff);
    ownedTail(device, b, b + 8);
    return format(b);
}

bool isOwnedBy(const std::string& id, const std::string& device) {
    if (!isUuid(id)) return false;
    std::string hex = id.substr(0, 8) + id.substr(9, 4) + id.substr(14, 4) + id.substr(19, 4) + id.substr(24);
    auto bytes = crypto::fromHex(hex);
    if (!bytes || bytes->size() != 16) return false;
    std::uint8_t tail[8];
    ownedTail(device, bytes->data(), tail);
    return std::equal(tail, tail + 8, bytes->data() + 8);
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
