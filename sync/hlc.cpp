#include "sync/hlc.h"
#include "sync/env.h"

#include <algorithm>
#include <chrono>

namespace xs::sync {

std::int64_t SystemClock::nowMs() const { return wallClockMs(); }

const SystemClock& SystemClock::instance() {
    static const SystemClock clock;
    return clock;
}

std::uint64_t HlcClock::tick() {
    auto physical = hlcPack(static_cast<std::uint64_t>(std::max<std::int64_t>(0, m_clock->nowMs())), 0);
    // Counter overflow carries into the millisecond field, which keeps values strictly increasing.
    m_last = std::max(physical, m_last + 1);
    return m_last;
}

void HlcClock::observe(std::uint64_t remote) { m_last = std::max(m_last, remote); }

}  // namespace xs::sync
