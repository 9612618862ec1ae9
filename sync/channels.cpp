// Channels: membership records, content keys, key envelopes, sealing of op bodies, write checks
// and crypto-shredding (sync/channels.h). The OpLog members declared there live here.
#include "sync/channels.h"

#include <algorithm>
#include <map>
#include <set>

#include <openssl/crypto.h>

#include "crypto/aead.h"
#include "crypto/encoding.h"
#include "crypto/hpke.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "sync/changeset_codec.h"
#include "sync/oplog.h"
#include "sync/uuid.h"

namespace xs::sync {
namespace {

constexpr std::size_t kChannelKeySize = 32;

void putU32(crypto::Bytes& out, std::uint32_t v) {
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void putStr(crypto::Bytes& out, const std::string& s) {
    putU32(out, static_cast<std::uint32_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
}

std::string memberRecord(const std::string& channel, const std::string& device) { return channel + "|" + device; }

bool kindAllowed(const Json& kinds, const std::string& kind) {
    if (!kinds.is_array()) return false;
    for (const auto& k : kinds)
        if (k.is_string() && (k.get<std::string>() == "*" || k.get<std::string>() == kind)) return true;
    return false;
}

std::uint64_t numberOr0(const Json& rec, const char* key) {
    auto it = rec.find(key);
    return it != rec.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

std::string stringOf(const Json& rec, const char* key) {
    auto it = rec.find(key);
    return it != rec.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string deviceRecipient(const std::string& deviceId) { return "device:" + deviceId; }

crypto::Bytes envelopeSigningInput(const KeyEnvelope& e) {
    crypto::Bytes b;
    const std::string tag = "xs-key-envelope-v1";
    b.insert(b.end(), tag.begin(), tag.end());
    b.push_back(0);
    b.push_back(kChannelSuite);
    putStr(b, e.channel);
    putU32(b, e.epoch);
    putStr(b, e.recipient);
    putStr(b, e.issuer);
    b.insert(b.end(), e.enc.begin(), e.enc.end());
    b.insert(b.end(), e.wrapped.begin(), e.wrapped.end());
    return b;
}

std::string envelopeInfo(const KeyEnvelope& e) {
    return "xunshen channel key v1\n" + e.channel + "\n" + std::to_string(e.epoch) + "\n" + e.recipient;
}

nlohmann::json envelopeToJson(const KeyEnvelope& e) {
    return {{"suite", kChannelSuite}, {"channel", e.channel},   {"epoch", e.epoch},
            {"recipient", e.recipient}, {"issuer", e.issuer},   {"enc", crypto::toHex(e.enc)},
            {"wrapped", crypto::toHex(e.wrapped)}, {"signature", crypto::toHex(e.signature)}};
}

SResult<KeyEnvelope> envelopeFromJson(const nlohmann::json& j) {
    auto bad = [](const std::string& what) { return fail(SyncError::Invalid, "malformed key envelope: " + what); };
    if (!j.is_object() || j.size() != 8) return bad("not an object with exactly its 8 fields");
    auto str = [&](const char* k) { return stringOf(j, k); };
    auto suite = j.find("suite");
    auto epoch = j.find("epoch");
    if (suite == j.end() || !suite->is_number_unsigned() || suite->get<std::uint64_t>() != kChannelSuite)
        return bad("unsupported suite");
    if (epoch == j.end() || !epoch->is_number_unsigned() || epoch->get<std::uint64_t>() < 1 ||
        epoch->get<std::uint64_t>() > 0xffffffffu)
        return bad("bad epoch");
    KeyEnvelope e;
    e.channel = str("channel");
    e.epoch = static_cast<std::uint32_t>(epoch->get<std::uint64_t>());
    e.recipient = str("recipient");
    e.issuer = str("issuer");
    auto enc = crypto::fromHex(str("enc"));
    auto wrapped = crypto::fromHex(str("wrapped"));
    auto sig = crypto::fromHex(str("signature"));
    if (e.channel.empty() || !isEncryptedChannel(e.channel)) return bad("not an encrypted channel");
    bool recipientOk = e.recipient == kOfficeRecipient ||
                       (e.recipient.rfind("device:", 0) == 0 && isUuid(e.recipient.substr(7)));
    if (!recipientOk || !isUuid(e.issuer)) return bad("bad recipient or issuer");
    if (!enc || enc->size() != crypto::hpke::kEncSize || !wrapped || wrapped->size() != kChannelKeySize + crypto::kAeadTagSize ||
        !sig || sig->size() != 64)
        return bad("bad field sizes");
    e.enc = std::move(*enc);
    e.wrapped = std::move(*wrapped);
    e.signature = std::move(*sig);
    return e;
}

// ------------------------------------------------------------------------- drafts

void Draft::createChannel(const std::string& channel, std::vector<ChannelMember> members) {
    m_channelActions.push_back({ChannelAction::Create, channel, std::move(members), {}});
}
void Draft::addMember(const std::string& channel, ChannelMember member) {
    m_channelActions.push_back({ChannelAction::Add, channel, {std::move(member)}, {}});
}
void Draft::removeMember(const std::string& channel, const std::string& device) {
    m_channelActions.push_back({ChannelAction::Remove, channel, {}, device});
}

// ------------------------------------------------------------------------- keys

SResult<std::optional<crypto::SecretBytes>> OpLog::channelKey(const std::string& channel, std::uint32_t epoch) {
    auto s = m_store.db().prepare("SELECT key FROM channel_keys WHERE channel = ? AND epoch = ?");
    if (!s) return s.error();
    s->bind(1, channel).bind(2, static_cast<std::int64_t>(epoch));
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return std::optional<crypto::SecretBytes>();
    return std::optional<crypto::SecretBytes>(s->secretBlob(0));
}

SResult<bool> OpLog::hasKey(const std::string& channel, std::uint32_t epoch) {
    auto k = channelKey(channel, epoch);
    if (!k) return k.error();
    return k->has_value();
}

SStatus OpLog::storeKey(const std::string& channel, std::uint32_t epoch, crypto::ByteView key) {
    auto s = m_store.db().prepare("INSERT OR IGNORE INTO channel_keys (channel, epoch, key) VALUES (?, ?, ?)");
    if (!s) return s.error();
    s->bind(1, channel).bind(2, static_cast<std::int64_t>(epoch)).bindBlob(3, key);
    return s->run();
}

SResult<std::uint32_t> OpLog::currentEpoch(const std::string& channel) {
    auto rec = record("channel", channel);
    if (!rec) return rec.error();
    std::uint64_t epoch = numberOr0(*rec, "epoch");
    if (epoch < 1 || epoch > 0xffffffffu) return fail(SyncError::Corrupt, "channel " + channel + " has no valid epoch");
    return static_cast<std::uint32_t>(epoch);
}

SResult<std::vector<ChannelMember>> OpLog::members(const std::string& channel) {
    // Member records are "<channel>|<device>": the range ["<channel>|", "<channel>}") holds exactly them.
    auto s = m_store.db().prepare("SELECT DISTINCT record_id FROM field_versions WHERE kind = 'channel_member'"
                                  " AND record_id >= ? AND record_id < ? ORDER BY record_id");
    if (!s) return s.error();
    s->bind(1, channel + "|").bind(2, channel + "}");
    std::vector<std::string> ids;
    for (;;) {
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) break;
        ids.push_back(s->text(0));
    }
    std::vector<ChannelMember> out;
    for (const auto& id : ids) {
        auto rec = record("channel_member", id);
        if (!rec) return rec.error();
        if (numberOr0(*rec, "removed_at") != 0) continue;
        ChannelMember m{stringOf(*rec, "device"), {}};
        if (auto k = rec->find("kinds"); k != rec->end() && k->is_array())
            for (const auto& x : *k)
                if (x.is_string()) m.kinds.push_back(x.get<std::string>());
        out.push_back(std::move(m));
    }
    return out;
}

SResult<KeyEnvelope> OpLog::makeEnvelope(const std::string& channel, std::uint32_t epoch, crypto::ByteView key,
                                         const std::string& recipient, crypto::ByteView recipientKey) {
    KeyEnvelope e{channel, epoch, recipient, m_device, {}, {}, {}};
    std::string info = envelopeInfo(e);
    auto setup = crypto::hpke::setupBaseS(crypto::hpke::AeadId::Aes256Gcm, recipientKey, crypto::asBytes(info));
    if (!setup) return fail(SyncError::Crypto, "cannot wrap the key of " + channel + " to " + recipient + ": " + setup.message());
    auto wrapped = setup->context.seal({}, key);
    if (!wrapped) return fail(SyncError::Crypto, "cannot wrap the key of " + channel + ": " + wrapped.message());
    e.enc = std::move(setup->enc);
    e.wrapped = std::move(*wrapped);
    auto sig = m_identity.sign(envelopeSigningInput(e));
    if (!sig) return sig.error();
    e.signature = std::move(*sig);
    return e;
}

SStatus OpLog::insertEnvelope(const KeyEnvelope& e) {
    auto s = m_store.db().prepare("INSERT OR IGNORE INTO key_envelopes (channel, epoch, recipient, issuer, enc, wrapped, signature)"
                                  " VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!s) return s.error();
    s->bind(1, e.channel).bind(2, static_cast<std::int64_t>(e.epoch)).bind(3, e.recipient).bind(4, e.issuer)
        .bindBlob(5, e.enc).bindBlob(6, e.wrapped).bindBlob(7, e.signature);
    return s->run();
}

// ------------------------------------------------------------------------- sealing

SStatus OpLog::seal(Op& op, crypto::ByteView key) {
    auto nonce = crypto::randomBytes(crypto::kAeadNonceSize);
    if (!nonce) return fail(SyncError::Crypto, "no randomness for an op nonce");
    std::string clear = encodeChanges(op.changes).dump();
    auto ct = crypto::aeadSeal(crypto::AeadAlg::AesGcm, key, *nonce, opAssociatedData(op), crypto::asBytes(clear));
    OPENSSL_cleanse(clear.data(), clear.size());
    if (!ct) return fail(SyncError::Crypto, "cannot seal op " + op.id + ": " + ct.message());
    op.sealed = std::move(*nonce);
    op.sealed.insert(op.sealed.end(), ct->begin(), ct->end());
    return {};
}

SResult<std::optional<std::vector<FieldChange>>> OpLog::readChanges(const Op& op) {
    using Out = std::optional<std::vector<FieldChange>>;
    if (!isEncryptedChannel(op.channel) || !op.changes.empty()) return Out(op.changes);
    auto key = channelKey(op.channel, op.epoch);
    if (!key) return key.error();
    if (!*key) return Out();
    if (op.sealed.size() < crypto::kAeadNonceSize + crypto::kAeadTagSize)
        return fail(SyncError::Corrupt, "op " + op.id + " has a truncated sealed body");
    crypto::ByteView nonce(op.sealed.data(), crypto::kAeadNonceSize);
    crypto::ByteView ct(op.sealed.data() + crypto::kAeadNonceSize, op.sealed.size() - crypto::kAeadNonceSize);
    auto clear = crypto::aeadOpen(crypto::AeadAlg::AesGcm, (*key)->view(), nonce, opAssociatedData(op), ct);
    if (!clear)
        return fail(SyncError::Corrupt, "op " + op.id + " does not open with the key of channel " + op.channel +
                                            " epoch " + std::to_string(op.epoch));
    std::string text(clear->begin(), clear->end());
    OPENSSL_cleanse(clear->data(), clear->size());
    auto changes = decodeChanges(text);
    OPENSSL_cleanse(text.data(), text.size());
    if (!changes) return changes.error();
    if (changes->empty()) return fail(SyncError::Invalid, "op " + op.id + " changes nothing");
    return Out(std::move(*changes));
}

// ------------------------------------------------------------------------- write checks

SStatus OpLog::authorize(const Op& op) {
    if (op.channel == kOrgChannel) return {};
    auto forbid = [&](const std::string& why) {
        return fail(SyncError::Forbidden, "device " + op.device + " may not write " + op.kind + " in channel " +
                                              op.channel + ": " + why);
    };
    if (op.channel == kSysChannel) {
        std::string channel;
        if (op.kind == "channel") {
            channel = op.recordId;
        } else if (op.kind == "channel_member") {
            auto bar = op.recordId.find('|');
            if (bar == std::string::npos || !isUuid(op.recordId.substr(bar + 1))) return forbid("malformed member record");
            channel = op.recordId.substr(0, bar);
            for (const auto& c : op.changes) {
                if (c.field == "channel" && c.value != channel) return forbid("member record names another channel");
                if (c.field == "device" && c.value != op.recordId.substr(bar + 1)) return forbid("member record names another device");
            }
        } else {
            return forbid("only channel and channel_member records live there");
        }
        if (!isEncryptedChannel(channel)) return forbid("org and sys have no members");
        std::string setsAdmin;
        for (const auto& c : op.changes)
            if (c.field == "admin") setsAdmin = c.value.is_string() ? c.value.get<std::string>() : "?";
        auto rec = record("channel", channel);
        if (!rec) {
            if (rec.code() != SyncError::NotFound) return rec.error();
            // Creating a channel: its creator becomes its admin.
            if (op.kind == "channel" && setsAdmin == op.device) return {};
            return forbid("channel " + channel + " does not exist");
        }
        if (stringOf(*rec, "admin") != op.device) return forbid("only the channel's admin changes its membership");
        if (!setsAdmin.empty() && setsAdmin != op.device) return forbid("a channel's admin cannot be changed");
        return {};
    }
    auto member = record("channel_member", memberRecord(op.channel, op.device));
    if (!member) {
        if (member.code() != SyncError::NotFound) return member.error();
        return forbid("it is not a member");
    }
    std::uint64_t removedAt = numberOr0(*member, "removed_at");
    if (removedAt != 0 && op.hlc >= removedAt) return forbid("it was removed from the channel");
    auto kinds = member->find("kinds");
    if (kinds == member->end() || !kindAllowed(*kinds, op.kind)) return forbid("its membership does not cover that kind");
    auto epoch = currentEpoch(op.channel);
    if (!epoch) return epoch.error();
    if (op.epoch > *epoch) return forbid("epoch " + std::to_string(op.epoch) + " does not exist yet");
    return {};
}

// ------------------------------------------------------------------------- membership changes

SResult<OpLog::PreparedChannels> OpLog::prepareChannels(const Draft& draft, std::uint64_t hlc) {
    PreparedChannels out;
    if (draft.m_channelActions.empty()) return out;
    Draft sys;
    // Per channel: its members as this draft leaves them (device -> kinds) and whether we know them.
    std::map<std::string, std::map<std::string, std::vector<std::string>>> state;
    auto officeHex = m_store.meta(kOfficePublicKeyMeta);
    std::optional<crypto::Bytes> officeKey;
    if (officeHex) officeKey = crypto::fromHex(*officeHex);
    if (officeKey && officeKey->size() != 32) return fail(SyncError::Corrupt, "the stored office key is damaged");
    auto kxKey = m_store.db().prepare("SELECT kx_pk FROM devices WHERE id = ?");
    if (!kxKey) return kxKey.error();

    auto wrapTo = [&](const std::string& channel, std::uint32_t epoch, crypto::ByteView key,
                      const std::string& device) -> SStatus {
        kxKey->bind(1, device);
        auto row = kxKey->step();
        if (!row) return row.error();
        if (!*row) return fail(SyncError::Invalid, "device " + device + " is not known here (enrol it first)");
        crypto::Bytes pk = kxKey->blob(0);
        kxKey->reset();
        auto e = makeEnvelope(channel, epoch, key, deviceRecipient(device), pk);
        if (!e) return e.error();
        out.envelopes.push_back(std::move(*e));
        return {};
    };
    auto wrapToOffice = [&](const std::string& channel, std::uint32_t epoch, crypto::ByteView key) -> SStatus {
        if (!officeKey) return {};
        auto e = makeEnvelope(channel, epoch, key, kOfficeRecipient, *officeKey);
        if (!e) return e.error();
        out.envelopes.push_back(std::move(*e));
        return {};
    };
    auto setMember = [&](const std::string& channel, const ChannelMember& m, std::uint64_t removedAt) {
        std::string rid = memberRecord(channel, m.device);
        sys.set(kSysChannel, "channel_member", rid, "channel", channel);
        sys.set(kSysChannel, "channel_member", rid, "device", m.device);
        sys.set(kSysChannel, "channel_member", rid, "kinds", m.kinds);
        sys.set(kSysChannel, "channel_member", rid, "removed_at", removedAt);
    };
    // The current key of a channel this draft did not create or rotate.
    auto currentKey = [&](const std::string& channel) -> SResult<std::pair<std::uint32_t, crypto::SecretBytes>> {
        if (auto it = out.keys.find(channel); it != out.keys.end())
            return std::make_pair(it->second.first, it->second.second.clone());
        auto epoch = currentEpoch(channel);
        if (!epoch) return epoch.error();
        auto key = channelKey(channel, *epoch);
        if (!key) return key.error();
        if (!*key) return fail(SyncError::Forbidden, "this device holds no key for channel " + channel);
        return std::make_pair(*epoch, std::move(**key));
    };
    auto requireAdmin = [&](const std::string& channel) -> SStatus {
        if (state.count(channel)) return {};
        auto rec = record("channel", channel);
        if (!rec) {
            if (rec.code() == SyncError::NotFound) return fail(SyncError::NotFound, "no channel " + channel);
            return rec.error();
        }
        if (stringOf(*rec, "admin") != m_device)
            return fail(SyncError::Forbidden, "only the admin of channel " + channel + " changes its membership");
        auto current = members(channel);
        if (!current) return current.error();
        auto& st = state[channel];
        for (auto& m : *current) st[m.device] = m.kinds;
        return {};
    };

    for (const auto& a : draft.m_channelActions) {
        if (!isEncryptedChannel(a.channel) || a.channel.size() > 80 || a.channel.find('|') != std::string::npos)
            return fail(SyncError::Invalid, "bad channel name " + a.channel);
        switch (a.type) {
            case Draft::ChannelAction::Create: {
                auto existing = record("channel", a.channel);
                if (existing || state.count(a.channel)) return fail(SyncError::AlreadyExists, "channel " + a.channel + " exists");
                if (existing.code() != SyncError::NotFound) return existing.error();
                auto key = crypto::randomSecret(kChannelKeySize);
                if (!key) return fail(SyncError::Crypto, "no randomness for a channel key");
                sys.set(kSysChannel, "channel", a.channel, "admin", m_device);
                sys.set(kSysChannel, "channel", a.channel, "epoch", 1);
                auto& st = state[a.channel];
                for (const auto& m : a.members) st[m.device] = m.kinds;
                st[m_device] = {"*"};  // the admin is a member that may write anything
                for (const auto& [device, kinds] : st) {
                    setMember(a.channel, {device, kinds}, 0);
                    XS_TRY(wrapTo(a.channel, 1, key->view(), device));
                }
                XS_TRY(wrapToOffice(a.channel, 1, key->view()));
                out.keys.emplace(a.channel, std::make_pair(std::uint32_t{1}, std::move(*key)));
                break;
            }
            case Draft::ChannelAction::Add: {
                XS_TRY(requireAdmin(a.channel));
                const ChannelMember& m = a.members.at(0);
                auto key = currentKey(a.channel);
                if (!key) return key.error();
                state[a.channel][m.device] = m.kinds;
                setMember(a.channel, m, 0);
                XS_TRY(wrapTo(a.channel, key->first, key->second.view(), m.device));
                break;
            }
            case Draft::ChannelAction::Remove: {
                XS_TRY(requireAdmin(a.channel));
                auto& st = state[a.channel];
                auto it = st.find(a.device);
                if (it == st.end()) return fail(SyncError::NotFound, "device " + a.device + " is not a member of " + a.channel);
                if (a.device == m_device) return fail(SyncError::Invalid, "the admin cannot remove itself");
                auto old = currentKey(a.channel);
                if (!old) return old.error();
                setMember(a.channel, {a.device, it->second}, hlc);
                st.erase(it);
                std::uint32_t epoch = old->first + 1;
                auto key = crypto::randomSecret(kChannelKeySize);
                if (!key) return fail(SyncError::Crypto, "no randomness for a channel key");
                sys.set(kSysChannel, "channel", a.channel, "epoch", epoch);
                for (const auto& [device, kinds] : st) XS_TRY(wrapTo(a.channel, epoch, key->view(), device));
                XS_TRY(wrapToOffice(a.channel, epoch, key->view()));
                out.keys.erase(a.channel);
                out.keys.emplace(a.channel, std::make_pair(epoch, std::move(*key)));
                break;
            }
        }
    }
    out.sysOps = sys.m_ops;
    return out;
}

// ------------------------------------------------------------------------- envelopes

SStatus OpLog::projectChannelEpoch(const std::string& channel, std::uint32_t epoch) {
    // In pages of kPage ops, so memory does not grow with the channel's history; each page is read
    // whole before it is projected (projection writes while no statement is open on `ops`).
    constexpr int kPage = 256;
    auto s = m_store.db().prepare("SELECT " XS_OP_COLUMNS " FROM ops WHERE channel = ?1 AND epoch = ?2"
                                  " AND (hlc > ?3 OR (hlc = ?3 AND id > ?4)) ORDER BY hlc, id LIMIT ?5");
    if (!s) return s.error();
    std::int64_t afterHlc = -1;
    std::string afterId;
    std::vector<Op> ops;
    for (;;) {
        ops.clear();
        s->bind(1, channel).bind(2, static_cast<std::int64_t>(epoch)).bind(3, afterHlc).bind(4, afterId).bind(5, kPage);
        XS_TRY(forEachOpRow(*s, [&](Op& op) -> SStatus {
            ops.push_back(std::move(op));
            return {};
        }));
        s->reset();
        for (const Op& op : ops) XS_TRY(projectArrived(op));  // merge is order-independent
        if (ops.size() < static_cast<std::size_t>(kPage)) return {};
        afterHlc = static_cast<std::int64_t>(ops.back().hlc);
        afterId = ops.back().id;
    }
}

SResult<int> OpLog::acceptEnvelopes(const std::vector<KeyEnvelope>& envelopes) {
    Db& db = m_store.db();
    auto tx = Transaction::beginUnlessOpen(db);
    if (!tx) return tx.error();
    auto signKey = db.prepare("SELECT sign_pk FROM devices WHERE id = ?");
    auto isShredded = db.prepare("SELECT 1 FROM shredded_channels WHERE channel = ?");
    auto office = db.prepare("SELECT secret FROM device_secrets WHERE name = ?");
    if (!signKey) return signKey.error();
    if (!isShredded) return isShredded.error();
    if (!office) return office.error();
    int gained = 0;
    for (const auto& e : envelopes) {
        std::string what = "key envelope of " + e.channel + " epoch " + std::to_string(e.epoch) + " for " + e.recipient;
        signKey->bind(1, e.issuer);
        auto row = signKey->step();
        if (!row) return row.error();
        if (!*row) return fail(SyncError::Forbidden, what + " comes from unknown device " + e.issuer);
        crypto::Bytes pk = signKey->blob(0);
        signKey->reset();
        if (!crypto::ed25519Verify(pk, envelopeSigningInput(e), e.signature))
            return fail(SyncError::Corrupt, what + " is not signed by its issuer");
        auto channel = record("channel", e.channel);
        if (!channel) {
            if (channel.code() == SyncError::NotFound) return fail(SyncError::Forbidden, what + ": no such channel here");
            return channel.error();
        }
        if (stringOf(*channel, "admin") != e.issuer) return fail(SyncError::Forbidden, what + " is not issued by the channel's admin");
        if (e.epoch > numberOr0(*channel, "epoch")) return fail(SyncError::Forbidden, what + " names an epoch not begun");
        isShredded->bind(1, e.channel);
        auto shred = isShredded->step();
        if (!shred) return shred.error();
        isShredded->reset();
        if (*shred) continue;  // destroyed here on purpose: never take it back
        XS_TRY(insertEnvelope(e));

        std::optional<crypto::SecretBytes> secret;
        if (e.recipient == deviceRecipient(m_device)) {
            secret = m_identity.exchangePrivateKey().clone();
        } else if (e.recipient == kOfficeRecipient) {
            office->bind(1, std::string(kOfficeSecretName));
            auto r = office->step();
            if (!r) return r.error();
            if (*r) secret = office->secretBlob(0);
            office->reset();
        }
        if (!secret) continue;
        auto have = hasKey(e.channel, e.epoch);
        if (!have) return have.error();
        if (*have) continue;
        auto ctx = crypto::hpke::setupBaseR(crypto::hpke::AeadId::Aes256Gcm, e.enc, secret->view(),
                                            crypto::asBytes(envelopeInfo(e)));
        if (!ctx) return fail(SyncError::Corrupt, what + " does not open: " + ctx.message());
        auto opened = ctx->open({}, e.wrapped);
        if (!opened || opened->size() != kChannelKeySize) return fail(SyncError::Corrupt, what + " does not open");
        crypto::SecretBytes key(*opened);
        OPENSSL_cleanse(opened->data(), opened->size());
        XS_TRY(storeKey(e.channel, e.epoch, key.view()));
        XS_TRY(projectChannelEpoch(e.channel, e.epoch));
        ++gained;
    }
    if (*tx) XS_TRY((*tx)->commit());
    return gained;
}

SResult<int> OpLog::wrapKeysToOffice() {
    auto officeHex = m_store.meta(kOfficePublicKeyMeta);
    if (!officeHex) {
        if (officeHex.code() == SyncError::NotFound) return 0;
        return officeHex.error();
    }
    auto officeKey = crypto::fromHex(*officeHex);
    if (!officeKey || officeKey->size() != 32) return fail(SyncError::Corrupt, "the stored office key is damaged");
    Db& db = m_store.db();
    auto tx = Transaction::beginUnlessOpen(db);
    if (!tx) return tx.error();
    auto s = db.prepare("SELECT k.channel, k.epoch FROM channel_keys k WHERE NOT EXISTS (SELECT 1 FROM key_envelopes e"
                        " WHERE e.channel = k.channel AND e.epoch = k.epoch AND e.recipient = ?) ORDER BY k.channel, k.epoch");
    if (!s) return s.error();
    s->bind(1, std::string(kOfficeRecipient));
    std::vector<std::pair<std::string, std::uint32_t>> missing;
    for (;;) {
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) break;
        missing.emplace_back(s->text(0), static_cast<std::uint32_t>(s->int64(1)));
    }
    s.value().reset();
    int made = 0;
    for (const auto& [channel, epoch] : missing) {
        auto rec = record("channel", channel);
        if (!rec) return rec.error();
        if (stringOf(*rec, "admin") != m_device) continue;  // only a channel's admin issues its keys
        auto key = channelKey(channel, epoch);
        if (!key) return key.error();
        if (!*key) continue;
        auto e = makeEnvelope(channel, epoch, (*key)->view(), kOfficeRecipient, *officeKey);
        if (!e) return e.error();
        XS_TRY(insertEnvelope(*e));
        ++made;
    }
    if (*tx) XS_TRY((*tx)->commit());
    return made;
}

SResult<std::vector<KeyEnvelope>> OpLog::envelopes(const std::vector<std::string>& channels) {
    std::set<std::string> wanted(channels.begin(), channels.end());
    auto s = m_store.db().prepare("SELECT channel, epoch, recipient, issuer, enc, wrapped, signature FROM key_envelopes"
                                  " ORDER BY channel, epoch, recipient");
    if (!s) return s.error();
    std::vector<KeyEnvelope> out;
    for (;;) {
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) break;
        if (!wanted.empty() && !wanted.count(s->text(0))) continue;
        out.push_back({s->text(0), static_cast<std::uint32_t>(s->int64(1)), s->text(2), s->text(3), s->blob(4), s->blob(5),
                       s->blob(6)});
    }
    return out;
}

// ------------------------------------------------------------------------- shredding

SStatus OpLog::shredChannels(const std::vector<std::string>& channels, const std::string& reason) {
    Db& db = m_store.db();
    auto tx = Transaction::beginUnlessOpen(db);
    if (!tx) return tx.error();
    auto keys = db.prepare("DELETE FROM channel_keys WHERE channel = ?");
    auto envs = db.prepare("DELETE FROM key_envelopes WHERE channel = ?");
    auto mark = db.prepare("INSERT OR REPLACE INTO shredded_channels (channel, at_ms, reason) VALUES (?, ?, ?)");
    if (!keys) return keys.error();
    if (!envs) return envs.error();
    if (!mark) return mark.error();
    for (const auto& c : channels) {
        if (!isEncryptedChannel(c)) return fail(SyncError::Invalid, "channel " + c + " is not encrypted: nothing to shred");
        keys->bind(1, c);
        XS_TRY(keys->run());
        envs->bind(1, c);
        XS_TRY(envs->run());
        mark->bind(1, c).bind(2, m_clock.nowMs()).bind(3, reason);
        XS_TRY(mark->run());
    }
    // What those keys made readable leaves the projections: a replay no longer opens their ops.
    XS_TRY(replayAll());
    if (*tx) XS_TRY((*tx)->commit());
    return {};
}

SResult<std::vector<ShreddedChannel>> OpLog::shredded() {
    auto s = m_store.db().prepare("SELECT channel, at_ms, reason FROM shredded_channels ORDER BY at_ms, channel");
    if (!s) return s.error();
    std::vector<ShreddedChannel> out;
    for (;;) {
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) break;
        out.push_back({s->text(0), s->int64(1), s->text(2)});
    }
    return out;
}

}  // namespace xs::sync
