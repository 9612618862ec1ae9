// Hybrid logical clock (Kulkarni et al.): a 64-bit value, physical Unix milliseconds in the high
// 48 bits and a logical counter in the low 16. Each local event gets a value greater than every
// value this replica has produced or observed, and close to wall time.
#pragma once
#include <cstdint>

namespace xs::sync {

// Time source seam: tests drive a manual clock.
class Clock {
public:
    virtual ~Clock() = default;
    virtual std::int64_t nowMs() const = 0;  // Unix milliseconds
};

class SystemClock final : public Clock {
public:
    std::int64_t nowMs() const override;
    static const SystemClock& instance();
};

class ManualClock final : public Clock {
public:
    explicit ManualClock(std::int64_t ms) : m_ms(ms) {}
    std::int64_t nowMs() const override { return m_ms; }
    void set(std::int64_t ms) { m_ms = ms; }
    void advance(std::int64_t ms) { m_ms += ms; }
private:
    std::int64_t m_ms;
};

constexpr std::uint64_t hlcPack(std::uint64_t ms, std::uint64_t counter) { return (ms << 16) | (counter & 0xffff); }
constexpr std::int64_t hlcMillis(std::uint64_t hlc) { return static_cast<std::int64_t>(hlc >> 16); }

class HlcClock {
public:
    explicit HlcClock(const Clock& clock, std::uint64_t last = 0) : m_clock(&clock), m_last(last) {}
    std::uint64_t tick();                  // a new local timestamp
    void observe(std::uint64_t remote);    // after receiving a remote timestamp
    std::uint64_t last() const { return m_last; }
private:
    const Clock* m_clock;
    std::uint64_t m_last;
};

}  // namespace xs::sync
