#include "sync/identity.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/keys.h"

namespace xs::sync {
namespace {

SResult<crypto::SecretBytes> loadSecret(Db& db, const char* name) {
    auto s = db.prepare("SELECT secret FROM device_secrets WHERE name = ?");
    if (!s) return s.error();
    s->bind(1, std::string(name));
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return fail(SyncError::NotFound, std::string("no device secret ") + name);
    return s->secretBlob(0);
}

SStatus saveSecret(Db& db, const char* name, const crypto::SecretBytes& secret) {
    auto s = db.prepare("INSERT INTO device_secrets (name, secret) VALUES (?, ?)");
    if (!s) return s.error();
    s->bind(1, std::string(name)).bindBlob(2, secret.view());
    return s->run();
}

}  // namespace

crypto::Bytes subkeysSigningInput(const DevicePublic& device) {
    crypto::Bytes b;
    const std::string tag = "xs-subkeys-v1";
    b.insert(b.end(), tag.begin(), tag.end());
    b.push_back(0);
    auto u32 = [&](std::uint32_t v) {
        for (int i = 3; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    };
    u32(static_cast<std::uint32_t>(device.id.size()));
    b.insert(b.end(), device.id.begin(), device.id.end());
    u32(static_cast<std::uint32_t>(device.subkeys.size()));
    for (const auto& k : device.subkeys) b.insert(b.end(), k.begin(), k.end());
    return b;
}

std::string fingerprint(const DevicePublic& device) {
    crypto::Bytes input;
    const std::string tag = "xunshen-device-fingerprint-v1";
    input.insert(input.end(), tag.begin(), tag.end());
    input.insert(input.end(), device.signKey.begin(), device.signKey.end());
    input.insert(input.end(), device.exchangeKey.begin(), device.exchangeKey.end());
    crypto::Digest d = crypto::sha256(input);
    std::string out;
    for (int g = 0; g < 8; ++g) {
        // 5 bytes -> 40-bit integer -> 5 decimal digits (mod 100000), as Signal's safety numbers do.
        std::uint64_t v = 0;
        for (int i = 0; i < 5; ++i) v = (v << 8) | d[static_cast<std::size_t>(g * 4 + i) % d.size()];
        char buf[8];
        std::snprintf(buf, sizeof buf, "%05u", static_cast<unsigned>(v % 100000));
        out += (g ? " " : "") + std::string(buf);
    }
    return out;
}

SResult<DeviceIdentity> DeviceIdentity::loadOrCreate(Store& store, const std::string& deviceId) {
    Db& db = store.db();
    DeviceIdentity id;
    id.m_public.id = deviceId;
    auto sign = loadSecret(db, "ed25519");
    if (!sign && sign.code() != SyncError::NotFound) return sign.error();
    if (!sign) {
        auto tx = Transaction::begin(db);
        if (!tx) return tx.error();
        auto ed = crypto::ed25519Generate();
        auto x = crypto::x25519Generate();
        if (!ed || !x) return fail(SyncError::Crypto, "cannot generate device keys");
        XS_TRY(saveSecret(db, "ed25519", ed->privateKey));
        XS_TRY(saveSecret(db, "x25519", x->privateKey));
        nlohmann::json publics = nlohmann::json::array();
        for (int i = 0; i < kSubkeys; ++i) {
            auto sub = crypto::x25519Generate();
            if (!sub) return fail(SyncError::Crypto, "cannot generate device subkeys");
            XS_TRY(saveSecret(db, ("subkey:" + std::to_string(i)).c_str(), sub->privateKey));
            publics.push_back(crypto::toHex(sub->publicKey));
        }
        // The public halves stay known after a subkey's private half is destroyed.
        XS_TRY(store.setMeta("subkeys_public", publics.dump()));
        XS_TRY(tx->commit());
        sign = loadSecret(db, "ed25519");
        if (!sign) return sign.error();
    }
    auto exchange = loadSecret(db, "x25519");
    if (!exchange) return exchange.error();
    auto signPk = crypto::ed25519PublicFromPrivate(*sign);
    auto kxPk = crypto::x25519PublicFromPrivate(*exchange);
    if (!signPk || !kxPk) return fail(SyncError::Corrupt, "device keys in the store are damaged");
    id.m_signPrivate = std::move(*sign);
    id.m_exchangePrivate = std::move(*exchange);
    id.m_public.signKey = std::move(*signPk);
    id.m_public.exchangeKey = std::move(*kxPk);
    auto publics = store.meta("subkeys_public");
    if (!publics) return publics.error();
    auto list = nlohmann::json::parse(*publics, nullptr, false);
    if (!list.is_array() || list.size() != static_cast<std::size_t>(kSubkeys))
        return fail(SyncError::Corrupt, "this device's subkeys are damaged");
    for (const auto& k : list) {
        auto b = k.is_string() ? crypto::fromHex(k.get<std::string>()) : std::nullopt;
        if (!b || b->size() != 32) return fail(SyncError::Corrupt, "this device's subkeys are damaged");
        id.m_public.subkeys.push_back(std::move(*b));
    }
    return id;
}

SResult<crypto::Bytes> DeviceIdentity::sign(crypto::ByteView message) const {
    auto s = crypto::ed25519Sign(m_signPrivate, message);
    if (!s) return fail(SyncError::Crypto, "signing failed: " + s.message());
    return std::move(*s);
}

}  // namespace xs::sync
