#include "crypto/bytes.h"

#include <openssl/crypto.h>

#include <cstring>
#include <new>
#include <utility>

namespace xs::crypto {

SecretBytes::SecretBytes(std::size_t size) {
    if (size == 0) return;
    m_data = new std::uint8_t[size]();
    m_size = size;
}

SecretBytes::SecretBytes(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return;
    m_data = new std::uint8_t[size];
    m_size = size;
    std::memcpy(m_data, data, size);
}

SecretBytes::~SecretBytes() { wipe(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : m_data(std::exchange(other.m_data, nullptr)), m_size(std::exchange(other.m_size, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
        wipe();
        m_data = std::exchange(other.m_data, nullptr);
        m_size = std::exchange(other.m_size, 0);
    }
    return *this;
}

void SecretBytes::wipe() {
    if (m_data != nullptr) {
        OPENSSL_cleanse(m_data, m_size);
        delete[] m_data;
    }
    m_data = nullptr;
    m_size = 0;
}

}  // namespace xs::crypto
