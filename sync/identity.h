// This device's identity: an Ed25519 signing key, an X25519 key that identifies it, and
// kSubkeys X25519 subkeys, all created on the device when its store is created. A channel's key
// is wrapped to one subkey per member device (never to the long-term key), so destroying the
// subkey with the channel's keys leaves nothing on the device that opens that channel's
// envelopes, wherever copies of them are (docs/FORMATS.md "Key hierarchy"). The private halves
// live only inside the encrypted store (table device_secrets: "ed25519", "x25519", "subkey:<n>")
// and are loaded into wiping memory; the office learns the public halves from the device's
// identity file and registers them in the op log.
#pragma once
#include <string>
#include <vector>
#include "crypto/bytes.h"
#include "sync/store.h"

namespace xs::sync {

constexpr int kSubkeys = 32;

struct DevicePublic {
    std::string id;             // the device's UUIDv7 (author of its ops)
    crypto::Bytes signKey;      // Ed25519 public key, 32 bytes
    crypto::Bytes exchangeKey;  // X25519 public key, 32 bytes
    std::vector<crypto::Bytes> subkeys;  // X25519 public keys, one per channel membership
};

// The bytes a device signs to vouch for its subkeys: "xs-subkeys-v1" 0x00 || device id (lp) ||
// u32 count || each 32-byte key.
crypto::Bytes subkeysSigningInput(const DevicePublic& device);

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
    // Ed25519 over subkeysSigningInput(publicInfo()).
    SResult<crypto::Bytes> signSubkeys() const { return sign(subkeysSigningInput(m_public)); }

private:
    DevicePublic m_public;
    crypto::SecretBytes m_signPrivate;
    crypto::SecretBytes m_exchangePrivate;
};

}  // namespace xs::sync
