// UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, 74 random bits. Text form is the
// canonical lowercase 8-4-4-4-12; ids sort roughly by creation time.
#pragma once
#include <cstdint>
#include <string>
#include "sync/error.h"

namespace xs::sync {

SResult<std::string> newUuidV7();
SResult<std::string> newUuidV7At(std::int64_t unixMs);
bool isUuid(const std::string& text);  // canonical lowercase form, any version

// An id only one device can have made: a UUIDv7 whose last 8 bytes are the first 8 bytes of
// SHA-256("xs-owned-id-v1" || 0x00 || device || first 8 bytes of the id), with the variant bits
// set over the top two, so anyone can check which device made it and another device would need a
// 62-bit preimage to make the same id. Channels are named after such
// an id of their admin's, so that nobody else can create a channel of that name, concurrently or
// not (sync/trust.h).
SResult<std::string> newOwnedId(const std::string& device);
bool isOwnedBy(const std::string& id, const std::string& device);

}  // namespace xs::sync
