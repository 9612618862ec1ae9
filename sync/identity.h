// This device's identity: an Ed25519 signing key and an X25519 key-agreement key, created on the
// device when its store is created. The private halves live only inside the encrypted store
// (table device_secrets) and are loaded into wiping memory; the public halves are registered in
// `devices` beside those of other devices this store has come to know.
#pragma once
#include <string>
#include "crypto/bytes.h"
#include "sync/store.h"

namespace xs::sync {

struct DevicePublic {
    std::string id;             // the device's UUIDv7 (author of its ops)
    crypto::Bytes signKey;      // Ed25519 public key, 32 bytes
    crypto::Bytes exchangeKey;  // X25519 public key, 32 bytes
};

// A fingerprint people can compare aloud: 8 groups of 5 decimal digits (about 132 bits) of
// SHA-256("xunshen-device-fingerprint-v1" || sign key || exchange key).
std::string fingerprint(const DevicePublic& device);

class DeviceIdentity {
public:
    // Loads this store's identity, creating it (inside a transaction) on first use.
    static SResult<DeviceIdentity> loadOrCreate(Store& store, const std::string& deviceId);

    const DevicePublic& publicInfo() const { return m_public; }
    SResult<crypto::Bytes> sign(crypto::ByteView message) const;
    const crypto::SecretBytes& exchangePrivateKey() const { return m_exchangePrivate; }

private:
    DevicePublic m_public;
    crypto::SecretBytes m_signPrivate;
    crypto::SecretBytes m_exchangePrivate;
};

}  // namespace xs::sync
