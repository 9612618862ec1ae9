#include "sync/trust.h"

#include <algorithm>
#include <set>

#include "crypto/aead.h"
#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "sync/changeset_codec.h"
#include "sync/record_fields.h"
#include "sync/uuid.h"

namespace xs::sync::trust {
namespace {

constexpr int kMaxNameLength = 64;
constexpr std::size_t kMaxRecordId = 200;

bool validName(const std::string& s) {
    if (s.empty() || s.size() > kMaxNameLength) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

bool validRecordId(const std::string& s) {
    if (s.empty() || s.size() > kMaxRecordId) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
}

bool isKey32Hex(const Json& v) {
    if (!v.is_string()) return false;
    auto b = crypto::fromHex(v.get<std::string>());
    return b && b->size() == 32;
}

bool kindsValid(const Json& kinds) {
    if (!kinds.is_array()) return false;
    for (const auto& k : kinds)
        if (!k.is_string() || (k.get<std::string>() != "*" && !validName(k.get<std::string>()))) return false;
    return true;
}

bool kindAllowed(const Json& kinds, const std::string& kind) {
    if (!kinds.is_array()) return false;
    for (const auto& k : kinds)
        if (k.is_string() && (k.get<std::string>() == "*" || k.get<std::string>() == kind)) return true;
    return false;
}

// "<a>|<b>" -> (a, b); nullopt without exactly one bar.
std::optional<std::pair<std::string, std::string>> splitId(const std::string& id) {
    auto bar = id.find('|');
    if (bar == std::string::npos || id.find('|', bar + 1) != std::string::npos) return std::nullopt;
    return std::make_pair(id.substr(0, bar), id.substr(bar + 1));
}

}  // namespace

// ------------------------------------------------------------------------- verifier

SStatus checkStructure(const ChangeSet& cs) {
    auto bad = [&](const std::string& why) { return fail(SyncError::Invalid, "change set " + cs.id + ": " + why); };
    if (!isUuid(cs.id) || !isUuid(cs.device) || cs.seq < 1) return fail(SyncError::Invalid, "change set has a malformed header");
    // Ids say whose they are: no device takes another's change set or op id (it would be kept
    // where it came first and make the owner's a fork, or unstorable, where it came second).
    if (!isOwnedBy(cs.id, cs.device)) return bad("its id is not one its device made");
    if (cs.isWithheld()) {
        if (cs.withheld.size() > kMaxOpsPerChangeSet) return bad("it has too many ops");
        for (const auto& h : cs.withheld)
            if (h.size() != 32) return bad("a withheld op hash is malformed");
    } else if (cs.ops.empty()) {
        return bad("it has no ops");
    } else if (!cs.withheld.empty()) {
        return bad("it has both ops and withheld op hashes");
    }
    if (cs.ops.size() > kMaxOpsPerChangeSet) return bad("it has too many ops");
    if (cs.seq == 1 ? !cs.prevHash.empty() : cs.prevHash.size() != 32) return bad("malformed previous-hash field");
    if (cs.signature.size() != 64) return bad("malformed signature");
    if (cs.deps.size() > kMaxDeps) return bad("too many deps");
    if (cs.hlc > kMaxHlc) return bad("its clock is beyond any time this software accepts");
    for (std::size_t i = 0; i < cs.deps.size(); ++i) {
        const Dep& d = cs.deps[i];
        if (!isUuid(d.device) || d.seq < 1 || d.hash.size() != 32) return bad("malformed dep");
        if (d.device == cs.device) return bad("names its own device as a dep");
        if (i > 0 && !(cs.deps[i - 1].device < d.device)) return bad("deps are not sorted by device, once each");
    }
    if (cs.isWithheld()) return {};
    std::set<std::string> opIds;
    // One change set holds plaintext ops (org, sys) or ops of one encrypted channel, never both:
    // whether its ops are projected must not depend on which keys a replica holds.
    const bool sealed = isEncryptedChannel(cs.ops.front().channel);
    for (const Op& op : cs.ops) {
        if (isEncryptedChannel(op.channel) != sealed || (sealed && op.channel != cs.ops.front().channel))
            return bad("it mixes ops of an encrypted channel with ops of another channel");
        if (!isUuid(op.id) || !opIds.insert(op.id).second) return bad("op id missing, malformed or repeated");
        if (!isOwnedBy(op.id, cs.device)) return bad("op " + op.id + " has an id its device did not make");
        if (op.device != cs.device) return bad("op " + op.id + " claims another device than its change set");
        if (op.hlc > cs.hlc) return bad("op " + op.id + " is timestamped after its change set");
        if (!validName(op.kind) || !validRecordId(op.recordId)) return bad("op " + op.id + " has a bad kind or record id");
        if (op.body.size() > kMaxOpBody) return bad("op " + op.id + " is larger than " + std::to_string(kMaxOpBody) + " bytes");
        if (isEncryptedChannel(op.channel)) {
            if (!validChannelName(op.channel)) return bad("op " + op.id + " has a bad channel name");
            if (op.epoch < 1 || op.body.size() < crypto::kAeadNonceSize + crypto::kAeadTagSize)
                return bad("op " + op.id + " of channel " + op.channel + " is not sealed");
            continue;
        }
        if (op.epoch != 0) return bad("op " + op.id + " of plaintext channel " + op.channel + " names a key epoch");
        XS_TRY(checkChanges(op));
    }
    return {};
}

SStatus checkChanges(const Op& op) {
    auto bad = [&](const std::string& why) { return fail(SyncError::Invalid, "op " + op.id + " " + why); };
    if (op.changes.empty()) return bad("changes nothing");
    std::set<std::string> fields;
    for (const auto& c : op.changes) {
        if (!validName(c.field)) return bad("has a bad field name");
        if (!fields.insert(c.field).second) return bad("changes field '" + c.field + "' twice");
        if (c.base.size() > 1000) return bad("names too many base versions");
        for (const auto& b : c.base)
            if (!isUuid(b)) return bad("has a bad base reference");
    }
    return {};
}

SStatus checkSignature(const ChangeSet& cs, crypto::ByteView signKey) {
    if (!crypto::ed25519Verify(signKey, signingInput(cs), cs.signature))
        return fail(SyncError::Corrupt, "change set " + cs.id + " is not signed by its device " + cs.device);
    return {};
}

SResult<Admission> admit(LogStore& log, const ChangeSet& cs, const std::optional<crypto::Bytes>& signKey,
                         const DeviceRecord* author) {
    XS_TRY(checkStructure(cs));
    const crypto::Bytes hash = changeSetHash(cs);
    auto known = log.hashOf(cs.id);
    if (!known) return known.error();
    if (*known && **known == hash) return Admission{Admission::Kind::Known, "", {}};
    if (!signKey) {
        if (*known) return fail(SyncError::Invalid, "change set " + cs.id + " reuses the id of another change set");
        return Admission{Admission::Kind::Hold, "device " + cs.device + " is not registered here yet", {}};
    }
    // Only a signed change set can accuse its device of a fork.
    XS_TRY(checkSignature(cs, *signKey));
    if (*known) return Admission{Admission::Kind::Fork, "change set " + cs.id + " arrived with different content than before", {}};

    auto last = log.lastSeq(cs.device);
    if (!last) return last.error();
    if (cs.seq <= *last)
        return Admission{Admission::Kind::Fork, "device " + cs.device + " has two change sets with sequence " +
                                                     std::to_string(cs.seq) + " (a copied store?)", {}};
    if (cs.seq > *last + 1)
        return Admission{Admission::Kind::Hold, "change set " + std::to_string(*last + 1) + " of device " + cs.device +
                                                     " has not arrived", {}};
    for (const Op& op : cs.ops) {
        auto reused = log.hasOp(op.id);
        if (!reused) return reused.error();
        if (*reused) return fail(SyncError::Invalid, "change set " + cs.id + " reuses op id " + op.id);
    }
    VersionVector vv;
    if (cs.seq > 1) {
        auto prev = log.linkAt(cs.device, cs.seq - 1);
        if (!prev) return prev.error();
        if (!*prev) return fail(SyncError::Corrupt, "the chain of device " + cs.device + " is damaged here");
        if ((*prev)->hash != cs.prevHash)
            return Admission{Admission::Kind::Fork, "change set " + cs.id + " of device " + cs.device +
                                                         " names a different predecessor than the one received", {}};
        if (cs.hlc <= (*prev)->hlc)
            return fail(SyncError::Invalid, "change set " + cs.id + " of device " + cs.device +
                                                " is timestamped before its predecessor (its clock must increase along its chain)");
        auto prevVv = log.versionVectorOf((*prev)->id);
        if (!prevVv) return prevVv.error();
        vv = std::move(*prevVv);
    }
    vv[cs.device] = cs.seq - 1;
    // A dependency must be news against the predecessor (what other dependencies imply may
    // already cover it: a dependency is what the device saw directly).
    const VersionVector before = vv;
    for (const Dep& d : cs.deps) {
        auto it = before.find(d.device);
        if (it != before.end() && d.seq <= it->second)
            return fail(SyncError::Invalid, "change set " + cs.id + " claims to have seen less of device " + d.device +
                                                " than its predecessor had");
        auto link = log.linkAt(d.device, d.seq);
        if (!link) return link.error();
        if (!*link)
            return Admission{Admission::Kind::Hold, "it waits for change set " + std::to_string(d.seq) + " of device " +
                                                         d.device, {}};
        if ((*link)->hash != d.hash)
            return fail(SyncError::Invalid, "change set " + cs.id + " names change set " + std::to_string(d.seq) + " of device " +
                                                d.device + " with other content than the one held here");
        if (cs.hlc <= (*link)->hlc)
            return fail(SyncError::Invalid, "change set " + cs.id + " is timestamped before a change set it had seen");
        // Having seen a change set is having seen its causal past too.
        auto past = log.versionVectorOf((*link)->id);
        if (!past) return past.error();
        for (const auto& [device, seq] : *past) {
            auto& mine = vv[device];
            mine = std::max(mine, seq);
        }
        auto& own = vv[d.device];
        own = std::max(own, d.seq);
    }
    if (vv[cs.device] != cs.seq - 1)
        return fail(SyncError::Invalid, "change set " + cs.id + " claims to have seen later change sets of its own device");
    if (author && author->revokedSeq) {
        if (cs.seq > *author->revokedSeq)
            return Admission{Admission::Kind::Revoked, "device " + cs.device + " was revoked after its change set " +
                                                            std::to_string(*author->revokedSeq), std::move(vv)};
        if (cs.seq == *author->revokedSeq && hash != author->revokedHash)
            return Admission{Admission::Kind::Revoked, "device " + cs.device +
                                                            " was revoked at another change set than this one", std::move(vv)};
    }
    return Admission{Admission::Kind::Accept, "", std::move(vv)};
}

// ------------------------------------------------------------------------- authorizer

SStatus ChangeSetAuthorizer::rememberChannel(const std::string& channel) {
    if (m_channelsBefore.count(channel)) return {};
    auto rec = m_view.record(kChannelKind, channel);
    if (!rec) return rec.error();
    m_channelsBefore[channel] = *rec;
    return {};
}

SStatus ChangeSetAuthorizer::rememberMember(const std::string& channel, const std::string& device) {
    auto key = std::make_pair(channel, device);
    if (m_membersBefore.count(key)) return {};
    auto rec = m_view.record(kMemberKind, memberRecordId(channel, device));
    if (!rec) return rec.error();
    m_membersBefore[key] = *rec;
    return {};
}

SResult<Verdict> ChangeSetAuthorizer::op(std::size_t index) {
    const Op& op = m_cs.ops.at(index);
    const bool sysKind = op.kind == kDeviceKind || op.kind == kChannelKind || op.kind == kEpochKind || op.kind == kMemberKind ||
                         op.kind == kShredAckKind;
    if (sysKind != (op.channel == kSysChannel))
        return Verdict::refuse(sysKind ? "records of kind " + op.kind + " live in the sys channel only"
                                       : "the sys channel holds no record of kind " + op.kind);
    // A record lives in the channel it was made in: no write reaches it through another.
    auto home = m_view.channelOf(op.kind, op.recordId);
    if (!home) return home.error();
    if (*home && **home != op.channel)
        return Verdict::refuse(op.kind + " " + op.recordId + " lives in channel " + **home + ", not " + op.channel);
    if (op.channel == kOrgChannel) return Verdict::accept();  // the app's to judge
    if (op.channel != kSysChannel) return channelWrite(op);
    if (op.kind == kDeviceKind) return deviceOp(op);
    if (op.kind == kChannelKind) return channelOp(op);
    if (op.kind == kEpochKind) return epochOp(op);
    if (op.kind == kMemberKind) return memberOp(op);
    if (op.kind == kShredAckKind) {
        auto parts = splitId(op.recordId);
        if (!parts || parts->first != m_cs.device)
            return Verdict::refuse("a device acknowledges only its own shredding (record " + op.recordId + ")");
        Json ch = changesOf(op);
        if (auto f = unknownField(ch, {"scope", "channels", "subkeys", "manifest", "evidence_removed", "evidence_kept",
                                        "keys_destroyed", "at_ms", "detail"}))
            return Verdict::refuse("a shred acknowledgement has no field '" + *f + "'");
        // Typed: the office lists these records, and a mistyped one must not reach it.
        auto typed = [&](const char* field, auto check) { return !ch.contains(field) || check(ch[field]); };
        auto isText = [](const Json& v) { return v.is_string() && v.get_ref<const std::string&>().size() <= 4096; };
        auto isCount = [](const Json& v) { return v.is_number_integer() && v.get<std::int64_t>() >= 0; };
        auto isTextList = [&](const Json& v) {
            return v.is_array() && v.size() <= 4096 && std::all_of(v.begin(), v.end(), [&](const Json& x) { return isText(x); });
        };
        if (!typed("scope", isText) || !typed("detail", isText) || !typed("manifest", isText) ||
            !typed("evidence_removed", isCount) || !typed("evidence_kept", isCount) || !typed("at_ms", isCount) ||
            !typed("keys_destroyed", [](const Json& v) { return v.is_boolean(); }) || !typed("channels", isTextList) ||
            !typed("subkeys", [](const Json& v) { return v.is_array() && v.size() <= 4096; }))
            return Verdict::refuse("a shred acknowledgement has a field of the wrong type");
        return Verdict::accept();
    }
    return Verdict::refuse("the sys channel holds no record of kind " + op.kind);
}

SResult<Verdict> ChangeSetAuthorizer::channelWrite(const Op& op) {
    auto who = [&]() { return "device " + m_cs.device + " may not write " + op.kind + " in channel " + op.channel + ": "; };
    auto channel = m_view.record(kChannelKind, op.channel);
    if (!channel) return channel.error();
    if (!*channel) return Verdict::refuse(who() + "the channel does not exist where it wrote");
    auto member = m_view.record(kMemberKind, memberRecordId(op.channel, m_cs.device));
    if (!member) return member.error();
    if (!*member) return Verdict::refuse(who() + "it is not a member");
    if (boolOf(**member, "removed")) return Verdict::refuse(who() + "it was removed from the channel");
    auto kinds = (*member)->find("kinds");
    if (kinds == (*member)->end() || !kindAllowed(*kinds, op.kind))
        return Verdict::refuse(who() + "its membership does not cover that kind");
    auto epoch = intOf(**channel, "epoch").value_or(0);
    if (static_cast<std::int64_t>(op.epoch) != epoch)
        return Verdict::refuse(who() + "it sealed with the key of epoch " + std::to_string(op.epoch) +
                               " where the channel was at epoch " + std::to_string(epoch));
    return Verdict::accept();
}

SResult<Verdict> ChangeSetAuthorizer::deviceOp(const Op& op) {
    if (m_cs.device != m_root.device)
        return Verdict::refuse("only the registrar (the audit office's device) registers or revokes devices");
    if (!isUuid(op.recordId)) return Verdict::refuse("a device record needs a device id");
    Json ch = changesOf(op);
    if (auto f = unknownField(ch, {"sign_pk", "kx_pk", "subkeys", "principal", "revoked_seq", "revoked_hash"}))
        return Verdict::refuse("a device record has no field '" + *f + "'");
    auto before = m_view.record(kDeviceKind, op.recordId);
    if (!before) return before.error();
    const bool setsKeys = ch.contains("sign_pk") || ch.contains("kx_pk") || ch.contains("subkeys") || ch.contains("principal");
    if (*before) {
        for (const char* f : {"sign_pk", "kx_pk", "subkeys", "principal"})
            if (ch.contains(f) && (!(*before)->contains(f) || (**before)[f] != ch[f]))
                return Verdict::refuse("device " + op.recordId + " is registered already: its keys and person are fixed "
                                       "(a replaced device enrols with new keys)");
    } else {
        if (!setsKeys || !ch.contains("sign_pk") || !ch.contains("kx_pk") || !ch.contains("subkeys") || !ch.contains("principal"))
            return Verdict::refuse("device " + op.recordId + " is not registered: a registration sets its keys, subkeys and person");
        if (!isKey32Hex(ch["sign_pk"]) || !isKey32Hex(ch["kx_pk"]))
            return Verdict::refuse("device " + op.recordId + " has malformed keys");
        const Json& subkeys = ch["subkeys"];
        if (!subkeys.is_array() || subkeys.empty() || subkeys.size() > static_cast<std::size_t>(kMaxSubkeys) ||
            !std::all_of(subkeys.begin(), subkeys.end(), isKey32Hex))
            return Verdict::refuse("device " + op.recordId + " has malformed subkeys");
        if (!ch["principal"].is_string() || ch["principal"].get<std::string>().empty() ||
            ch["principal"].get<std::string>().size() > kMaxRecordId)
            return Verdict::refuse("device " + op.recordId + " names no person");
        if (op.recordId == m_root.device && ch["sign_pk"] != crypto::toHex(m_root.signKey))
            return Verdict::refuse("the registrar's registration names another key than the pinned one");
        // Keys belong to one device for ever: a revoked device's keys never come back.
        for (const char* f : {"sign_pk", "kx_pk"}) {
            auto same = m_view.find(kDeviceKind, f, ch[f]);
            if (!same) return same.error();
            for (const auto& other : *same) {
                if (other == op.recordId) continue;
                auto rec = m_view.record(kDeviceKind, other);
                if (!rec) return rec.error();
                bool revoked = *rec && intOf(**rec, "revoked_seq").has_value();
                return Verdict::refuse("these keys belong to " + std::string(revoked ? "revoked " : "") + "device " + other +
                                       (revoked ? ": a revoked device is never enrolled again; a replaced device enrols with new keys"
                                                : ""));
            }
        }
    }
    if (ch.contains("revoked_seq") || ch.contains("revoked_hash")) {
        if (!*before) return Verdict::refuse("device " + op.recordId + " is revoked before it was registered");
        if ((*before)->contains("revoked_seq")) return Verdict::refuse("device " + op.recordId + " is revoked already");
        if (!ch.contains("revoked_seq") || !ch.contains("revoked_hash") || !ch["revoked_seq"].is_number_integer() ||
            ch["revoked_seq"].get<std::int64_t>() < 0 || !ch["revoked_hash"].is_string())
            return Verdict::refuse("a revocation names the last accepted change set: revoked_seq and revoked_hash");
        std::int64_t seq = ch["revoked_seq"].get<std::int64_t>();
        std::string h = ch["revoked_hash"].get<std::string>();
        if (seq == 0 ? !h.empty() : !isKey32Hex(ch["revoked_hash"]))
            return Verdict::refuse("a revocation's hash must be that of its last accepted change set");
        if (op.recordId == m_root.device) return Verdict::refuse("the registrar cannot revoke itself");
    }
    return Verdict::accept();
}

SResult<Verdict> ChangeSetAuthorizer::requireAdmin(const std::string& channel) {
    auto rec = m_view.record(kChannelKind, channel);
    if (!rec) return rec.error();
    if (!*rec) return Verdict::refuse("channel " + channel + " does not exist");
    if (stringOf(**rec, "admin") != m_cs.device)
        return Verdict::refuse("only the admin of channel " + channel + " changes its membership and keys");
    return Verdict::accept();
}

SResult<Verdict> ChangeSetAuthorizer::channelOp(const Op& op) {
    if (!validChannelName(op.recordId)) return Verdict::refuse("bad channel name " + op.recordId);
    XS_TRY(rememberChannel(op.recordId));
    Json ch = changesOf(op);
    if (auto f = unknownField(ch, {"admin", "epoch"})) return Verdict::refuse("a channel record has no field '" + *f + "'");
    const std::optional<Json>& before = m_channelsBefore[op.recordId];
    auto now = m_view.record(kChannelKind, op.recordId);
    if (!now) return now.error();
    if (!before && !*now) {  // created here
        if (stringOf(ch, "admin") != m_cs.device || intOf(ch, "epoch") != 1)
            return Verdict::refuse("a channel is created by its admin at epoch 1");
        // Named after an id only its admin can make: nobody else creates a channel of this name,
        // concurrently or from a position chosen not to have seen it.
        if (!isOwnedBy(op.recordId.substr(0, op.recordId.find('.')), m_cs.device))
            return Verdict::refuse("channel " + op.recordId + " is not named after an id of its creator's");
        return Verdict::accept();
    }
    const Json& current = *now ? **now : *before;
    if (stringOf(current, "admin") != m_cs.device)
        return Verdict::refuse("only the admin of channel " + op.recordId + " changes it");
    if (ch.contains("admin") && ch["admin"] != current["admin"]) return Verdict::refuse("a channel's admin cannot be changed");
    if (ch.contains("epoch")) {
        std::int64_t was = before ? intOf(*before, "epoch").value_or(0) : 1;
        if (intOf(ch, "epoch") != was + 1) return Verdict::refuse("a channel's epoch advances one at a time");
    }
    return Verdict::accept();
}

SResult<Verdict> ChangeSetAuthorizer::epochOp(const Op& op) {
    auto parts = splitId(op.recordId);
    if (!parts) return Verdict::refuse("malformed epoch record " + op.recordId);
    const std::string& channel = parts->first;
    Json ch = changesOf(op);
    if (auto f = unknownField(ch, {"channel", "epoch", "key_id", "keys"}))
        return Verdict::refuse("an epoch record has no field '" + *f + "'");
    auto admin = requireAdmin(channel);
    if (!admin || !admin->ok()) return admin;
    XS_TRY(rememberChannel(channel));
    auto epoch = intOf(ch, "epoch");
    if (stringOf(ch, "channel") != channel || !epoch || *epoch < 1 || *epoch > 0xffffffffLL ||
        op.recordId != epochRecordId(channel, static_cast<std::uint32_t>(*epoch)))
        return Verdict::refuse("epoch record " + op.recordId + " names another channel or epoch");
    auto existing = m_view.record(kEpochKind, op.recordId);
    if (!existing) return existing.error();
    if (*existing || m_begun.count(channel)) return Verdict::refuse("the keys of epoch " + op.recordId + " are given once");
    auto keyIdBytes = crypto::fromHex(stringOf(ch, "key_id"));
    if (!keyIdBytes || keyIdBytes->size() != kKeyIdSize) return Verdict::refuse("epoch record " + op.recordId + " has no key id");
    auto keys = ch.find("keys");
    if (keys == ch.end() || !keys->is_array() || keys->size() > 10000) return Verdict::refuse("epoch record without keys");
    for (const auto& k : *keys)
        if (auto e = envelopeFromJson(k); !e) return Verdict::refuse("epoch record " + op.recordId + ": " + e.message());
    m_begun[channel] = static_cast<std::uint32_t>(*epoch);
    return Verdict::accept();
}

SResult<Verdict> ChangeSetAuthorizer::memberOp(const Op& op) {
    auto parts = splitId(op.recordId);
    if (!parts || !isUuid(parts->second)) return Verdict::refuse("malformed member record " + op.recordId);
    const auto& [channel, device] = *parts;
    Json ch = changesOf(op);
    if (auto f = unknownField(ch, {"channel", "device", "kinds", "subkey", "removed", "keys"}))
        return Verdict::refuse("a member record has no field '" + *f + "'");
    auto admin = requireAdmin(channel);
    if (!admin || !admin->ok()) return admin;
    XS_TRY(rememberChannel(channel));
    XS_TRY(rememberMember(channel, device));
    if ((ch.contains("channel") && ch["channel"] != channel) || (ch.contains("device") && ch["device"] != device))
        return Verdict::refuse("member record " + op.recordId + " names another channel or device");
    if (ch.contains("kinds") && !kindsValid(ch["kinds"])) return Verdict::refuse("member record " + op.recordId + " has bad kinds");
    if (ch.contains("removed") && !ch["removed"].is_boolean())
        return Verdict::refuse("member record " + op.recordId + " has a bad removed flag");
    const std::optional<Json>& before = m_membersBefore[{channel, device}];
    auto current = m_view.record(kMemberKind, op.recordId);
    if (!current) return current.error();
    Json after = merged(*current, ch);
    if (stringOf(after, "channel") != channel || stringOf(after, "device") != device || !after.contains("kinds") ||
        !after["subkey"].is_number_integer())
        return Verdict::refuse("member record " + op.recordId + " lacks its channel, device, kinds or subkey");
    if (before && before->contains("subkey") && after["subkey"] != (*before)["subkey"])
        return Verdict::refuse("a member's subkey is fixed for the channel");
    auto reg = m_view.record(kDeviceKind, device);
    if (!reg) return reg.error();
    if (!*reg) return Verdict::refuse("device " + device + " is not registered");
    auto parsed = deviceFromRecord(device, **reg);
    if (!parsed) return Verdict::refuse("device " + device + " has a damaged registration");
    std::int64_t subkey = after["subkey"].get<std::int64_t>();
    if (subkey < 0 || subkey >= static_cast<std::int64_t>(parsed->subkeys.size()))
        return Verdict::refuse("device " + device + " has no subkey " + std::to_string(subkey));
    if (!boolOf(after, "removed") && parsed->revokedSeq)
        return Verdict::refuse("device " + device + " is revoked: it joins no channel");
    if (ch.contains("keys")) {
        if (!ch["keys"].is_array() || ch["keys"].size() > 100000) return Verdict::refuse("member record " + op.recordId + " has bad keys");
        for (const auto& key : ch["keys"]) {
            auto k = memberKeyFromJson(key, device, static_cast<int>(subkey));
            if (!k) return Verdict::refuse("member record " + op.recordId + ": " + k.message());
        }
    }
    return Verdict::accept();
}

SResult<Verdict> ChangeSetAuthorizer::finish() {
    std::set<std::string> channels;
    for (const auto& [c, _] : m_channelsBefore) channels.insert(c);
    for (const auto& c : channels) {
        auto v = finishChannel(c);
        if (!v || !v->ok()) return v;
    }
    return Verdict::accept();
}

SResult<Verdict> ChangeSetAuthorizer::finishChannel(const std::string& channel) {
    auto now = m_view.record(kChannelKind, channel);
    if (!now) return now.error();
    if (!*now) return Verdict::refuse("channel " + channel + " does not exist");
    const std::optional<Json>& before = m_channelsBefore[channel];
    const std::int64_t was = before ? intOf(*before, "epoch").value_or(0) : 0;
    const std::int64_t epoch = intOf(**now, "epoch").value_or(0);
    const std::string admin = stringOf(**now, "admin");

    // Members after this change set (not removed), each with its subkey.
    auto ids = m_view.find(kMemberKind, "channel", channel);
    if (!ids) return ids.error();
    std::set<std::string> devices;
    std::multiset<std::string> labels;  // "device:<id>#<subkey>"
    for (const auto& id : *ids) {
        auto rec = m_view.record(kMemberKind, id);
        if (!rec) return rec.error();
        if (!*rec || boolOf(**rec, "removed")) continue;
        std::string device = stringOf(**rec, "device");
        auto reg = m_view.record(kDeviceKind, device);
        if (!reg) return reg.error();
        if (*reg && intOf(**reg, "revoked_seq") && epoch != was)
            return Verdict::refuse("epoch " + std::to_string(epoch) + " of " + channel + " keeps revoked device " + device);
        devices.insert(device);
        labels.insert("device:" + device + "#" + std::to_string(intOf(**rec, "subkey").value_or(-1)));
    }
    if (!devices.count(admin)) return Verdict::refuse("the admin of " + channel + " must stay one of its members");

    auto begun = m_begun.find(channel);
    // A device that joins gets every epoch's key, so it reads the channel's history as every other
    // member does (each wrapped to its subkey; never an old epoch's key under a new one): the
    // current epoch's through the epoch record when this change set begins it, the others in its
    // member record.
    for (const auto& [key, memberBefore] : m_membersBefore) {
        if (key.first != channel) continue;
        auto rec = m_view.record(kMemberKind, memberRecordId(channel, key.second));
        if (!rec) return rec.error();
        if (!*rec) continue;
        const bool wasIn = memberBefore && !boolOf(*memberBefore, "removed");
        const bool isIn = !boolOf(**rec, "removed");
        if (wasIn || !isIn) continue;
        std::set<std::int64_t> given;
        std::size_t entries = 0;
        auto keys = rec->value().find("keys");
        if (keys != rec->value().end() && keys->is_array())
            for (const auto& k : *keys) {
                ++entries;
                if (auto e = intOf(k, "epoch")) given.insert(*e);
            }
        if (entries != given.size())
            return Verdict::refuse("device " + key.second + " joins " + channel + " with more than one key for an epoch");
        std::set<std::int64_t> want;
        const std::int64_t upTo = epoch != was ? epoch - 1 : epoch;
        for (std::int64_t e = 1; e <= upTo; ++e) want.insert(e);
        if (given != want)
            return Verdict::refuse("device " + key.second + " joins " + channel + " without the keys of every epoch up to " +
                                   std::to_string(epoch));
    }
    if (epoch != was) {
        if (begun == m_begun.end() || static_cast<std::int64_t>(begun->second) != epoch)
            return Verdict::refuse("epoch " + std::to_string(epoch) + " of " + channel + " begins without its keys");
        auto rec = m_view.record(kEpochKind, epochRecordId(channel, static_cast<std::uint32_t>(epoch)));
        if (!rec) return rec.error();
        if (!*rec) return Verdict::refuse("epoch " + std::to_string(epoch) + " of " + channel + " has no key record");
        std::multiset<std::string> got;
        for (const auto& k : (**rec)["keys"]) {
            auto e = envelopeFromJson(k);
            if (!e) return Verdict::refuse(e.message());
            got.insert(recipientLabel(*e));
        }
        std::multiset<std::string> want = labels;
        want.insert(kOfficeRecipient);
        if (got != want)
            return Verdict::refuse("the key of epoch " + std::to_string(epoch) + " of " + channel +
                                   " is not wrapped to exactly its members and the audit office");
        return Verdict::accept();
    }
    if (begun != m_begun.end()) return Verdict::refuse("keys for an epoch of " + channel + " that does not begin here");
    // The epoch stays: nobody leaves.
    for (const auto& [key, memberBefore] : m_membersBefore) {
        if (key.first != channel) continue;
        auto rec = m_view.record(kMemberKind, memberRecordId(channel, key.second));
        if (!rec) return rec.error();
        if (!*rec) continue;
        const bool wasIn = memberBefore && !boolOf(*memberBefore, "removed");
        if (wasIn && boolOf(**rec, "removed")) return Verdict::refuse("removing a member of " + channel + " must begin a new epoch");
    }
    return Verdict::accept();
}

}  // namespace xs::sync::trust
