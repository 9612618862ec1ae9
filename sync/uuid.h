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

}  // namespace xs::sync
