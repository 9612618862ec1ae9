// Channels: the format of membership records and key envelopes (sync/channels.h), and the OpLog
// members that seal and open op bodies, turn a draft's channel actions into sys ops, open the
// envelopes addressed to this replica and shred channels.
#include "sync/channels.h"

#include <algorithm>
#include <map>
#include <set>

#include <openssl/crypto.h>

#include "crypto/aead.h"
#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/hpke.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "sync/changeset_codec.h"
#include "sync/oplog.h"
#include "sync/record_fields.h"
#include "sync/uuid.h"

namespace xs::sync {
namespace {

std::optional<crypto::Bytes> hexOf(const Json& rec, const char* key, std::size_t size) {
    auto b = crypto::fromHex(stringOf(rec, key));
    if (!b || b->size() != size) return std::nullopt;
    return b;
}

}  // namespace

// ------------------------------------------------------------------------- format

std::string recipientLabel(const KeyEnvelope& e) {
    if (e.toOffice()) return kOfficeRecipient;
    return "device:" + e.device + "#" + std::to_string(e.subkey);
}

std::string envelopeInfo(const std::string& channel, std::uint32_t epoch, const std::string& recipient) {
    return "xunshen channel key v2\n" + channel + "\n" + std::to_string(epoch) + "\n" + recipient;
}

Json envelopeToJson(const KeyEnvelope& e) {
    return {{"recipient", recipientLabel(e)}, {"enc", crypto::toHex(e.enc)}, {"wrapped", crypto::toHex(e.wrapped)}};
}

SResult<KeyEnvelope> envelopeFromJson(const Json& j) {
    auto bad = [](const std::string& what) { return fail(SyncError::Invalid, "malformed key envelope: " + what); };
    if (!j.is_object() || j.size() != 3) return bad("not an object of recipient, enc and wrapped");
    KeyEnvelope e;
    std::string recipient = stringOf(j, "recipient");
    if (recipient != kOfficeRecipient) {
        auto hash = recipient.find('#');
        if (recipient.rfind("device:", 0) != 0 || hash == std::string::npos) return bad("bad recipient");
        e.device = recipient.substr(7, hash - 7);
        std::string n = recipient.substr(hash + 1);
        if (!isUuid(e.device) || n.empty() || n.size() > 2 || !std::all_of(n.begin(), n.end(), ::isdigit)) return bad("bad recipient");
        e.subkey = std::stoi(n);
        if (e.subkey >= kMaxSubkeys) return bad("bad recipient");
    }
    auto enc = hexOf(j, "enc", crypto::hpke::kEncSize);
    auto wrapped = hexOf(j, "wrapped", kChannelKeySize + crypto::kAeadTagSize);
    if (!enc || !wrapped) return bad("bad field sizes");
    e.enc = std::move(*enc);
    e.wrapped = std::move(*wrapped);
    return e;
}

Json memberKeyToJson(const MemberKey& k) {
    return {{"epoch", k.epoch}, {"enc", crypto::toHex(k.envelope.enc)}, {"wrapped", crypto::toHex(k.envelope.wrapped)}};
}

SResult<MemberKey> memberKeyFromJson(const Json& j, const std::string& device, int subkey) {
    if (!j.is_object() || j.size() != 3) return fail(SyncError::Invalid, "malformed member key");
    auto epoch = intOf(j, "epoch");
    if (!epoch || *epoch < 1 || *epoch > 0xffffffffLL) return fail(SyncError::Invalid, "malformed member key epoch");
    auto e = envelopeFromJson(Json{{"recipient", "device:" + device + "#" + std::to_string(subkey)},
                                   {"enc", stringOf(j, "enc")},
                                   {"wrapped", stringOf(j, "wrapped")}});
    if (!e) return e.error();
    return MemberKey{static_cast<std::uint32_t>(*epoch), std::move(*e)};
}

crypto::Bytes keyId(const std::string& channel, std::uint32_t epoch, crypto::ByteView key) {
    crypto::Bytes input;
    const std::string tag = "xs-channel-key-id-v1";
    input.insert(input.end(), tag.begin(), tag.end());
    input.push_back(0);
    std::string rest = channel + "\n" + std::to_string(epoch) + "\n";
    input.insert(input.end(), rest.begin(), rest.end());
    // The key goes to the hash on its own, not into `input` (freed unwiped).
    crypto::Sha256 h;
    h.update(input);
    h.update(key);
    crypto::Digest d = h.finish();
    return crypto::Bytes(d.begin(), d.begin() + kKeyIdSize);
}

std::string memberRecordId(const std::string& channel, const std::string& device) { return channel + "|" + device; }
std::string epochRecordId(const std::string& channel, std::uint32_t epoch) { return channel + "|" + std::to_string(epoch); }
std::string shredAckRecordId(const std::string& device, const std::string& scope) { return device + "|" + scope; }

bool validChannelName(const std::string& s) {
    if (s.empty() || s.size() > 80 || !isEncryptedChannel(s)) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    });
}

SResult<DeviceRecord> deviceFromRecord(const std::string& id, const Json& fields) {
    auto bad = [&]() { return fail(SyncError::Corrupt, "the registration of device " + id + " is damaged"); };
    DeviceRecord d;
    d.id = id;
    auto sign = hexOf(fields, "sign_pk", 32);
    auto kx = hexOf(fields, "kx_pk", 32);
    if (!sign || !kx) return bad();
    d.signKey = std::move(*sign);
    d.exchangeKey = std::move(*kx);
    auto subkeys = fields.find("subkeys");
    if (subkeys == fields.end() || !subkeys->is_array()) return bad();
    for (const auto& k : *subkeys) {
        auto b = k.is_string() ? crypto::fromHex(k.get<std::string>()) : std::nullopt;
        if (!b || b->size() != 32) return bad();
        d.subkeys.push_back(std::move(*b));
    }
    d.principal = stringOf(fields, "principal");
    if (auto seq = intOf(fields, "revoked_seq")) {
        d.revokedSeq = *seq;
        if (*seq > 0) {
            auto h = hexOf(fields, "revoked_hash", 32);
            if (!h) return bad();
            d.revokedHash = std::move(*h);
        }
    }
    return d;
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

SResult<std::optional<crypto::SecretBytes>> OpLog::subkeySecret(int index) {
    auto s = m_store.db().prepare("SELECT secret FROM device_secrets WHERE name = ?");
    if (!s) return s.error();
    s->bind(1, "subkey:" + std::to_string(index));
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return std::optional<crypto::SecretBytes>();
    return std::optional<crypto::SecretBytes>(s->secretBlob(0));
}

SResult<bool> OpLog::isShredded(const std::string& channel) {
    auto s = m_store.db().prepare("SELECT 1 FROM shredded_channels WHERE channel = ?");
    if (!s) return s.error();
    s->bind(1, channel);
    auto row = s->step();
    if (!row) return row.error();
    return *row;
}

SResult<std::uint32_t> OpLog::currentEpoch(const std::string& channel) {
    auto rec = record(kChannelKind, channel);
    if (!rec) return rec.error();
    auto epoch = intOf(*rec, "epoch");
    if (!epoch || *epoch < 1 || *epoch > 0xffffffffLL) return fail(SyncError::Corrupt, "channel " + channel + " has no valid epoch");
    return static_cast<std::uint32_t>(*epoch);
}

SResult<std::vector<ChannelMember>> OpLog::members(const std::string& channel) {
    // Member records are "<channel>|<device>": the range ["<channel>|", "<channel>}") holds exactly them.
    auto s = m_store.db().prepare("SELECT DISTINCT record_id FROM field_versions WHERE kind = ?"
                                  " AND record_id >= ? AND record_id < ? ORDER BY record_id");
    if (!s) return s.error();
    s->bind(1, std::string(kMemberKind)).bind(2, channel + "|").bind(3, channel + "}");
    std::vector<std::string> ids;
    XS_TRY(s->collectTexts(ids));
    std::vector<ChannelMember> out;
    for (const auto& id : ids) {
        auto rec = record(kMemberKind, id);
        if (!rec) return rec.error();
        if (auto r = rec->find("removed"); r != rec->end() && r->is_boolean() && r->get<bool>()) continue;
        ChannelMember m{stringOf(*rec, "device"), {}};
        if (auto k = rec->find("kinds"); k != rec->end() && k->is_array())
            for (const auto& x : *k)
                if (x.is_string()) m.kinds.push_back(x.get<std::string>());
        out.push_back(std::move(m));
    }
    return out;
}

// ------------------------------------------------------------------------- sealing

SStatus OpLog::seal(Op& op, crypto::ByteView key) {
    auto nonce = crypto::randomBytes(crypto::kAeadNonceSize);
    if (!nonce) return fail(SyncError::Crypto, "no randomness for an op nonce");
    std::string clear = encodeChanges(op.changes);
    auto ct = crypto::aeadSeal(crypto::AeadAlg::AesGcm, key, *nonce, opAssociatedData(op), crypto::asBytes(clear));
    OPENSSL_cleanse(clear.data(), clear.size());
    if (!ct) return fail(SyncError::Crypto, "cannot seal op " + op.id + ": " + ct.message());
    op.body = std::move(*nonce);
    op.body.insert(op.body.end(), ct->begin(), ct->end());
    return {};
}

SResult<std::optional<std::vector<FieldChange>>> OpLog::readChanges(const Op& op) {
    using Out = std::optional<std::vector<FieldChange>>;
    if (!isEncryptedChannel(op.channel) || !op.changes.empty()) return Out(op.changes);
    auto key = channelKey(op.channel, op.epoch);
    if (!key) return key.error();
    if (!*key) return Out();
    if (op.body.size() < crypto::kAeadNonceSize + crypto::kAeadTagSize)
        return fail(SyncError::Corrupt, "op " + op.id + " has a truncated sealed body");
    crypto::ByteView nonce(op.body.data(), crypto::kAeadNonceSize);
    crypto::ByteView ct(op.body.data() + crypto::kAeadNonceSize, op.body.size() - crypto::kAeadNonceSize);
    auto clear = crypto::aeadOpen(crypto::AeadAlg::AesGcm, (*key)->view(), nonce, opAssociatedData(op), ct);
    if (!clear)
        return fail(SyncError::Corrupt, "op " + op.id + " does not open with the key of channel " + op.channel + " epoch " +
                                            std::to_string(op.epoch));
    std::string text(clear->begin(), clear->end());
    OPENSSL_cleanse(clear->data(), clear->size());
    auto changes = decodeChanges(text);
    OPENSSL_cleanse(text.data(), text.size());
    if (!changes) return fail(SyncError::Invalid, "op " + op.id + ": " + changes.message());
    if (changes->empty()) return fail(SyncError::Invalid, "op " + op.id + " changes nothing");
    return Out(std::move(*changes));
}

// ------------------------------------------------------------------------- membership changes

SResult<OpLog::PreparedChannels> OpLog::prepareChannels(const Draft& draft) {
    PreparedChannels out;
    if (draft.m_channelActions.empty()) return out;
    auto officeHex = m_store.meta(kOfficePublicKeyMeta);
    if (!officeHex) {
        if (officeHex.code() == SyncError::NotFound)
            return fail(SyncError::Forbidden, "the audit office key is not known here: channels are made only on enrolled stores");
        return officeHex.error();
    }
    auto officeKey = crypto::fromHex(*officeHex);
    if (!officeKey || officeKey->size() != 32) return fail(SyncError::Corrupt, "the stored office key is damaged");

    struct MemberState {
        std::vector<std::string> kinds;
        int subkey = -1;
        bool removed = false;
        bool changed = false;
        bool joined = false;  // was not a member (or was removed) before this draft
    };
    struct ChannelState {
        bool created = false;
        bool rotate = false;
        std::uint32_t epoch = 0;  // current before this draft (0: created here)
        std::map<std::string, MemberState> members;
    };
    std::map<std::string, ChannelState> state;
    // Subkeys taken per device: by any channel here, and by this draft.
    std::map<std::string, std::set<int>> taken;
    auto takenBy = [&](const std::string& device) -> SResult<std::set<int>*> {
        auto it = taken.find(device);
        if (it != taken.end()) return &it->second;
        std::set<int> used;
        auto s = m_store.db().prepare("SELECT DISTINCT record_id FROM field_versions WHERE kind = ? AND field = 'device' AND value = ?");
        if (!s) return s.error();
        s->bind(1, std::string(kMemberKind)).bind(2, Json(device).dump());
        std::vector<std::string> ids;
        XS_TRY(s->collectTexts(ids));
        for (const auto& id : ids) {
            auto rec = record(kMemberKind, id);
            if (!rec) return rec.error();
            if (auto n = intOf(*rec, "subkey")) used.insert(static_cast<int>(*n));
        }
        return &(taken[device] = std::move(used));
    };
    // A fresh subkey of `device`, chosen at random among those no channel uses (two admins that
    // assign at the same time rarely pick the same one).
    auto assignSubkey = [&](const std::string& device) -> SResult<int> {
        auto reg = this->device(device);
        if (!reg) return reg.error();
        int count = 0;
        if (*reg) count = static_cast<int>((*reg)->subkeys.size());
        if (count == 0) return fail(SyncError::Invalid, "device " + device + " is not registered here (enrol it first)");
        if ((*reg)->revokedSeq) return fail(SyncError::Forbidden, "device " + device + " is revoked");
        auto used = takenBy(device);
        if (!used) return used.error();
        std::vector<int> free;
        for (int i = 0; i < count; ++i)
            if (!(*used)->count(i)) free.push_back(i);
        if (free.empty())
            return fail(SyncError::Forbidden, "device " + device + " has no unused subkey left: it must enrol again with new keys");
        auto r = crypto::randomBytes(4);
        if (!r) return fail(SyncError::Crypto, "no randomness");
        std::uint32_t pick = (std::uint32_t{(*r)[0]} << 24) | (std::uint32_t{(*r)[1]} << 16) | (std::uint32_t{(*r)[2]} << 8) | (*r)[3];
        int chosen = free[pick % free.size()];
        (*used)->insert(chosen);
        return chosen;
    };
    auto load = [&](const std::string& channel) -> SResult<ChannelState*> {
        auto it = state.find(channel);
        if (it != state.end()) return &it->second;
        auto rec = record(kChannelKind, channel);
        if (!rec) {
            if (rec.code() == SyncError::NotFound) return fail(SyncError::NotFound, "no channel " + channel);
            return rec.error();
        }
        if (stringOf(*rec, "admin") != m_device)
            return fail(SyncError::Forbidden, "only the admin of channel " + channel + " changes its membership");
        ChannelState st;
        st.epoch = static_cast<std::uint32_t>(intOf(*rec, "epoch").value_or(0));
        auto s = m_store.db().prepare("SELECT DISTINCT record_id FROM field_versions WHERE kind = ? AND record_id >= ? AND record_id < ?");
        if (!s) return s.error();
        s->bind(1, std::string(kMemberKind)).bind(2, channel + "|").bind(3, channel + "}");
        std::vector<std::string> ids;
        XS_TRY(s->collectTexts(ids));
        for (const auto& id : ids) {
            auto m = record(kMemberKind, id);
            if (!m) return m.error();
            MemberState ms;
            if (auto k = m->find("kinds"); k != m->end() && k->is_array())
                for (const auto& x : *k) ms.kinds.push_back(x.get<std::string>());
            ms.subkey = static_cast<int>(intOf(*m, "subkey").value_or(-1));
            if (auto r = m->find("removed"); r != m->end() && r->is_boolean()) ms.removed = r->get<bool>();
            st.members[stringOf(*m, "device")] = std::move(ms);
        }
        return &(state[channel] = std::move(st));
    };

    for (const auto& a : draft.m_channelActions) {
        if (!validChannelName(a.channel)) return fail(SyncError::Invalid, "bad channel name " + a.channel);
        switch (a.type) {
            case Draft::ChannelAction::Create: {
                auto existing = record(kChannelKind, a.channel);
                if (existing || state.count(a.channel)) return fail(SyncError::AlreadyExists, "channel " + a.channel + " exists");
                if (existing.code() != SyncError::NotFound) return existing.error();
                ChannelState st;
                st.created = true;
                std::vector<ChannelMember> members = a.members;
                members.push_back({m_device, {"*"}});  // the admin is a member that may write anything
                for (const auto& m : members) {
                    if (st.members.count(m.device)) {
                        if (m.device == m_device) st.members[m.device].kinds = {"*"};
                        continue;
                    }
                    auto sub = assignSubkey(m.device);
                    if (!sub) return sub.error();
                    st.members[m.device] = {m.kinds, *sub, false, true};
                }
                state[a.channel] = std::move(st);
                break;
            }
            case Draft::ChannelAction::Add: {
                auto st = load(a.channel);
                if (!st) return st.error();
                const ChannelMember& m = a.members.at(0);
                auto& ms = (*st)->members[m.device];
                if (ms.subkey < 0) {
                    auto sub = assignSubkey(m.device);
                    if (!sub) return sub.error();
                    ms.subkey = *sub;
                    ms.joined = true;
                }
                if (ms.removed) ms.joined = true;
                ms.kinds = m.kinds;
                ms.removed = false;
                ms.changed = true;
                break;
            }
            case Draft::ChannelAction::Remove: {
                auto st = load(a.channel);
                if (!st) return st.error();
                auto it = (*st)->members.find(a.device);
                if (it == (*st)->members.end() || it->second.removed)
                    return fail(SyncError::NotFound, "device " + a.device + " is not a member of " + a.channel);
                if (a.device == m_device) return fail(SyncError::Invalid, "the admin cannot remove itself");
                it->second.removed = true;
                it->second.changed = true;
                if (!(*st)->created) (*st)->rotate = true;
                break;
            }
        }
    }

    Draft sys;
    for (auto& entry : state) {
        // Named references, not a structured binding: clang 14 cannot capture a binding in a lambda.
        const std::string& channel = entry.first;
        auto& st = entry.second;
        const bool newEpoch = st.created || st.rotate;
        const std::uint32_t epoch = st.created ? 1 : st.epoch + (st.rotate ? 1 : 0);
        if (st.created) sys.set(kSysChannel, kChannelKind, channel, "admin", m_device);
        if (newEpoch) sys.set(kSysChannel, kChannelKind, channel, "epoch", static_cast<std::int64_t>(epoch));
        crypto::SecretBytes key;
        if (newEpoch) {
            auto fresh = crypto::randomSecret(kChannelKeySize);
            if (!fresh) return fail(SyncError::Crypto, "no randomness for a channel key");
            key = std::move(*fresh);
        }
        // The key of an epoch: the new one, or one this admin made before.
        auto keyOf = [&](std::uint32_t e) -> SResult<crypto::SecretBytes> {
            if (newEpoch && e == epoch) return key.clone();
            auto held = channelKey(channel, e);
            if (!held) return held.error();
            if (!*held) return fail(SyncError::Forbidden, "this device holds no key of " + channel + " epoch " + std::to_string(e));
            return std::move(**held);
        };
        auto wrapEpoch = [&](const std::string& device, int subkey, std::uint32_t e) -> SResult<KeyEnvelope> {
            auto k = keyOf(e);
            if (!k) return k.error();
            crypto::Bytes recipientKey = *officeKey;
            if (!device.empty()) {
                auto reg = this->device(device);
                if (!reg) return reg.error();
                if (!*reg || subkey < 0 || subkey >= static_cast<int>((*reg)->subkeys.size()))
                    return fail(SyncError::Invalid, "device " + device + " has no subkey " + std::to_string(subkey));
                recipientKey = (*reg)->subkeys[static_cast<std::size_t>(subkey)];
            }
            KeyEnvelope env{device, subkey, {}, {}};
            std::string info = envelopeInfo(channel, e, recipientLabel(env));
            auto setup = crypto::hpke::setupBaseS(crypto::hpke::AeadId::Aes256Gcm, recipientKey, crypto::asBytes(info));
            if (!setup) return fail(SyncError::Crypto, "cannot wrap the key of " + channel + ": " + setup.message());
            auto wrapped = setup->context.seal({}, k->view());
            if (!wrapped) return fail(SyncError::Crypto, "cannot wrap the key of " + channel + ": " + wrapped.message());
            env.enc = std::move(setup->enc);
            env.wrapped = std::move(*wrapped);
            return env;
        };
        auto wrap = [&](const std::string& device, int subkey) { return wrapEpoch(device, subkey, epoch); };
        for (const auto& [device, ms] : st.members) {
            if (!ms.changed) continue;
            std::string rid = memberRecordId(channel, device);
            sys.set(kSysChannel, kMemberKind, rid, "channel", channel);
            sys.set(kSysChannel, kMemberKind, rid, "device", device);
            sys.set(kSysChannel, kMemberKind, rid, "kinds", ms.kinds);
            sys.set(kSysChannel, kMemberKind, rid, "subkey", ms.subkey);
            sys.set(kSysChannel, kMemberKind, rid, "removed", ms.removed);
            if (ms.joined && !ms.removed && !st.created) {
                // Every epoch's key but one this draft begins (that one is in the epoch record).
                Json keys = Json::array();
                for (std::uint32_t e = 1; e <= (newEpoch ? epoch - 1 : epoch); ++e) {
                    auto env = wrapEpoch(device, ms.subkey, e);
                    if (!env) return env.error();
                    keys.push_back(memberKeyToJson({e, std::move(*env)}));
                }
                sys.set(kSysChannel, kMemberKind, rid, "keys", keys);
            }
        }
        if (newEpoch) {
            Json keys = Json::array();
            for (const auto& [device, ms] : st.members) {
                if (ms.removed) continue;
                auto e = wrap(device, ms.subkey);
                if (!e) return e.error();
                keys.push_back(envelopeToJson(*e));
            }
            auto office = wrap("", -1);
            if (!office) return office.error();
            keys.push_back(envelopeToJson(*office));
            std::string rid = epochRecordId(channel, epoch);
            sys.set(kSysChannel, kEpochKind, rid, "channel", channel);
            sys.set(kSysChannel, kEpochKind, rid, "epoch", static_cast<std::int64_t>(epoch));
            sys.set(kSysChannel, kEpochKind, rid, "key_id", crypto::toHex(keyId(channel, epoch, key.view())));
            sys.set(kSysChannel, kEpochKind, rid, "keys", keys);
            out.keys.emplace(channel, std::make_pair(epoch, std::move(key)));
        }
    }
    // The channel record first, then members, then the epoch's keys: each is judged against those before it.
    std::stable_sort(sys.m_ops.begin(), sys.m_ops.end(), [](const Draft::Pending& x, const Draft::Pending& y) {
        auto rank = [](const std::string& k) { return k == kChannelKind ? 0 : k == kMemberKind ? 1 : 2; };
        return rank(x.kind) < rank(y.kind);
    });
    out.sysOps = sys.m_ops;
    return out;
}

// ------------------------------------------------------------------------- envelopes

SStatus OpLog::openEnvelopes(const ChangeSet& cs, const Op& op, Effects& fx) {
    Json fields = Json::object();
    for (const auto& c : op.changes) fields[c.field] = c.value;
    std::string channel;
    std::vector<std::pair<std::uint32_t, KeyEnvelope>> mine;  // epoch, envelope
    if (op.kind == kEpochKind) {
        channel = stringOf(fields, "channel");
        auto epoch = static_cast<std::uint32_t>(intOf(fields, "epoch").value_or(0));
        for (const auto& k : fields.value("keys", Json::array())) {
            auto e = envelopeFromJson(k);
            if (e && (e->device == m_device || e->toOffice())) mine.emplace_back(epoch, std::move(*e));
        }
    } else {
        auto rec = record(kMemberKind, op.recordId);
        if (!rec) return rec.error();
        if (stringOf(*rec, "device") != m_device || !fields.contains("keys") || !fields["keys"].is_array()) return {};
        channel = stringOf(*rec, "channel");
        for (const auto& key : fields["keys"]) {
            auto k = memberKeyFromJson(key, m_device, static_cast<int>(intOf(*rec, "subkey").value_or(-1)));
            if (k) mine.emplace_back(k->epoch, std::move(k->envelope));
        }
    }
    if (mine.empty()) return {};
    auto shred = isShredded(channel);
    if (!shred) return shred.error();
    if (*shred) return {};  // destroyed here on purpose: never taken back
    std::set<std::uint32_t> opened;
    for (const auto& [epoch, e] : mine) {
        if (opened.count(epoch)) continue;
        auto have = hasKey(channel, epoch);
        if (!have) return have.error();
        if (*have) continue;
        auto epochRec = record(kEpochKind, epochRecordId(channel, epoch));
        if (!epochRec) continue;  // an epoch without its key record is refused where it begins
        auto expectedId = crypto::fromHex(stringOf(*epochRec, "key_id"));
        std::optional<crypto::SecretBytes> secret;
        if (e.toOffice()) {
            auto s = m_store.db().prepare("SELECT secret FROM device_secrets WHERE name = ?");
            if (!s) return s.error();
            s->bind(1, std::string(kOfficeSecretName));
            auto row = s->step();
            if (!row) return row.error();
            if (*row) secret = s->secretBlob(0);
        } else {
            auto sub = subkeySecret(e.subkey);
            if (!sub) return sub.error();
            if (*sub) secret = std::move(**sub);  // a destroyed subkey opens nothing
        }
        if (!secret) continue;
        auto ctx = crypto::hpke::setupBaseR(crypto::hpke::AeadId::Aes256Gcm, e.enc, secret->view(),
                                            crypto::asBytes(envelopeInfo(channel, epoch, recipientLabel(e))));
        auto plain = ctx ? ctx->open({}, e.wrapped) : crypto::CResult<crypto::Bytes>(ctx.error());
        if (!plain || plain->size() != kChannelKeySize) {
            fx.warnings.push_back("the key of " + channel + " epoch " + std::to_string(epoch) + " for " + recipientLabel(e) +
                                  " in change set " + cs.id + " does not open");
            continue;
        }
        crypto::SecretBytes key(*plain);
        OPENSSL_cleanse(plain->data(), plain->size());
        if (!expectedId || keyId(channel, epoch, key.view()) != *expectedId) {
            fx.warnings.push_back("the key of " + channel + " epoch " + std::to_string(epoch) + " for " + recipientLabel(e) +
                                  " in change set " + cs.id + " is not the epoch's key");
            continue;
        }
        XS_TRY(storeKey(channel, epoch, key.view()));
        opened.insert(epoch);
        ++fx.keysGained;
        // Ops of this epoch already here were kept sealed: they are judged and projected again.
        auto sealed = m_store.db().prepare("SELECT 1 FROM ops WHERE channel = ? AND epoch = ? AND changeset != ? LIMIT 1");
        if (!sealed) return sealed.error();
        sealed->bind(1, channel).bind(2, static_cast<std::int64_t>(epoch)).bind(3, cs.id);
        auto row = sealed->step();
        if (!row) return row.error();
        if (*row) fx.needRejudge = true;
    }
    return {};
}

// ------------------------------------------------------------------------- shredding

SResult<ShredResult> OpLog::shredChannels(const std::vector<std::string>& channels, const std::string& reason) {
    Db& db = m_store.db();
    auto tx = Transaction::beginUnlessOpen(db);
    if (!tx) return tx.error();
    ShredResult out;
    auto keys = db.prepare("DELETE FROM channel_keys WHERE channel = ?");
    auto mark = db.prepare("INSERT OR REPLACE INTO shredded_channels (channel, at_ms, reason) VALUES (?, ?, ?)");
    auto secret = db.prepare("DELETE FROM device_secrets WHERE name = ?");
    if (!keys) return keys.error();
    if (!mark) return mark.error();
    if (!secret) return secret.error();
    std::set<std::string> shredding(channels.begin(), channels.end());
    std::set<int> subkeys;
    for (const auto& c : channels) {
        if (!isEncryptedChannel(c)) return fail(SyncError::Invalid, "channel " + c + " is not encrypted: nothing to shred");
        keys->bind(1, c);
        XS_TRY(keys->run());
        mark->bind(1, c).bind(2, m_clock.nowMs()).bind(3, reason);
        XS_TRY(mark->run());
        out.channels.push_back(c);
        auto member = record(kMemberKind, memberRecordId(c, m_device));
        if (member) {
            if (auto n = intOf(*member, "subkey")) subkeys.insert(static_cast<int>(*n));
        } else if (member.code() != SyncError::NotFound) {
            return member.error();
        }
    }
    // The subkeys these channels' envelopes to this device were sealed to: without them no copy of
    // those envelopes (in the log, an enrolment file, an old bundle) opens here again.
    for (int n : subkeys) {
        auto users = db.prepare("SELECT DISTINCT record_id FROM field_versions WHERE kind = ? AND field = 'subkey' AND value = ?");
        if (!users) return users.error();
        users->bind(1, std::string(kMemberKind)).bind(2, std::to_string(n));
        std::vector<std::string> ids;
        XS_TRY(users->collectTexts(ids));
        for (const auto& id : ids) {
            auto bar = id.find('|');
            if (bar == std::string::npos || id.substr(bar + 1) != m_device || shredding.count(id.substr(0, bar))) continue;
            out.warnings.push_back("subkey " + std::to_string(n) + " also served channel " + id.substr(0, bar) +
                                   ": its later key epochs will not open here");
        }
        secret->bind(1, "subkey:" + std::to_string(n));
        XS_TRY(secret->run());
        out.subkeys.push_back(n);
    }
    // What those keys made readable leaves the projections: a replay no longer opens their ops.
    Effects fx;
    XS_TRY(rejudgeAll(fx));
    if (*tx) XS_TRY((*tx)->commit());
    return out;
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
