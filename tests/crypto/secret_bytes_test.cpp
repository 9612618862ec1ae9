#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <type_traits>

#include "crypto/bytes.h"
#include "crypto/random.h"
#include "tests/crypto/test_util.h"

using namespace xs::crypto;

// SecretBytes allocates with new[]. This binary replaces the array forms of operator new/delete
// (malloc/free underneath, as the defaults) so a test can look at a watched buffer at the moment it
// is released and see whether it was wiped first.
namespace {
std::atomic<const void*> g_watched{nullptr};
std::size_t g_watchedSize = 0;
std::atomic<int> g_watchedWasZero{-1};  // -1: not released yet, 0: had data, 1: all zero

void inspectBeforeFree(void* p) {
    if (p == nullptr || p != g_watched.load()) return;
    const auto* bytes = static_cast<const unsigned char*>(p);
    bool zero = true;
    for (std::size_t i = 0; i < g_watchedSize; ++i) zero = zero && bytes[i] == 0;
    g_watchedWasZero = zero ? 1 : 0;
    g_watched = nullptr;
}

void watch(const void* p, std::size_t size) {
    g_watchedSize = size;
    g_watchedWasZero = -1;
    g_watched = p;
}
}  // namespace

void* operator new[](std::size_t size) {
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    return std::malloc(size == 0 ? 1 : size);
}
void operator delete[](void* p) noexcept {
    inspectBeforeFree(p);
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    inspectBeforeFree(p);
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    inspectBeforeFree(p);
    std::free(p);
}

static_assert(!std::is_copy_constructible_v<SecretBytes>);
static_assert(!std::is_copy_assignable_v<SecretBytes>);
static_assert(std::is_nothrow_move_constructible_v<SecretBytes>);
static_assert(std::is_nothrow_move_assignable_v<SecretBytes>);

TEST_CASE("secret bytes construction and clone") {
    SecretBytes zeros(5);
    CHECK(zeros.size() == 5);
    CHECK(xs::crypto::test::toBytes(zeros) == Bytes(5, 0));
    const Bytes src{1, 2, 3};
    SecretBytes copy(src);
    CHECK(xs::crypto::test::toBytes(copy) == src);
    CHECK(copy.data() != src.data());
    SecretBytes twin = copy.clone();
    CHECK(xs::crypto::test::toBytes(twin) == src);
    CHECK(twin.data() != copy.data());
    SecretBytes none;
    CHECK(none.empty());
    CHECK(none.data() == nullptr);
    CHECK(SecretBytes(std::size_t{0}).empty());
    CHECK(SecretBytes(Bytes{}).empty());
}

TEST_CASE("secret bytes move leaves the source empty") {
    SecretBytes a(Bytes{9, 8, 7});
    const std::uint8_t* p = a.data();
    SecretBytes b(std::move(a));
    CHECK(a.empty());  // NOLINT(bugprone-use-after-move)
    CHECK(a.data() == nullptr);
    CHECK(b.data() == p);
    CHECK(xs::crypto::test::toBytes(b) == Bytes{9, 8, 7});

    SecretBytes c(Bytes{1});
    c = std::move(b);
    CHECK(b.empty());  // NOLINT(bugprone-use-after-move)
    CHECK(b.data() == nullptr);
    CHECK(c.data() == p);
    CHECK(xs::crypto::test::toBytes(c) == Bytes{9, 8, 7});

    c = std::move(c);  // self-move keeps the value
    CHECK(xs::crypto::test::toBytes(c) == Bytes{9, 8, 7});
}

TEST_CASE("secret bytes wipe zeroes before releasing") {
    auto secret = randomSecret(64);
    REQUIRE(secret.ok());
    SecretBytes s = std::move(secret).value();
    s.data()[0] |= 1;  // surely not all zero
    watch(s.data(), s.size());
    s.wipe();
    CHECK(s.empty());
    CHECK(s.data() == nullptr);
    CHECK(g_watchedWasZero.load() == 1);
    s.wipe();  // idempotent
    CHECK(s.empty());
}

TEST_CASE("secret bytes destructor and move assignment wipe") {
    {
        SecretBytes s(Bytes(48, 0xee));
        watch(s.data(), s.size());
    }
    CHECK(g_watchedWasZero.load() == 1);

    SecretBytes target(Bytes(32, 0x11));
    watch(target.data(), target.size());
    target = SecretBytes(Bytes(8, 0x22));
    CHECK(g_watchedWasZero.load() == 1);
    CHECK(xs::crypto::test::toBytes(target) == Bytes(8, 0x22));

    // The hook itself works: a plain new[] buffer released with data is seen as non-zero.
    auto* raw = new std::uint8_t[16];
    for (int i = 0; i < 16; ++i) raw[i] = 0x5a;
    watch(raw, 16);
    delete[] raw;
    CHECK(g_watchedWasZero.load() == 0);
}
