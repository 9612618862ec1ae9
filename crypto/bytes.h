// Byte buffers. `Bytes` is for public data; `SecretBytes` holds key material: it is wiped with
// OPENSSL_cleanse when destroyed or reassigned, can be moved but not copied (use clone()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xs::crypto {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

class SecretBytes {
public:
    SecretBytes() = default;
    explicit SecretBytes(std::size_t size);                 // zero-filled
    SecretBytes(const std::uint8_t* data, std::size_t size);  // copies, caller wipes its source
    explicit SecretBytes(ByteView data) : SecretBytes(data.data(), data.size()) {}
    ~SecretBytes();

    SecretBytes(const SecretBytes&) = delete;
    SecretBytes& operator=(const SecretBytes&) = delete;
    SecretBytes(SecretBytes&& other) noexcept;
    SecretBytes& operator=(SecretBytes&& other) noexcept;

    SecretBytes clone() const { return SecretBytes(m_data, m_size); }
    void wipe();  // zero and release now

    std::uint8_t* data() { return m_data; }
    const std::uint8_t* data() const { return m_data; }
    std::size_t size() const { return m_size; }
    bool empty() const { return m_size == 0; }
    ByteView view() const { return {m_data, m_size}; }
    operator ByteView() const { return view(); }  // NOLINT(implicit): secrets pass to crypto APIs

private:
    std::uint8_t* m_data = nullptr;
    std::size_t m_size = 0;
};

inline ByteView asBytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace xs::crypto
