#include "sync/changeset_codec.h"

#include "crypto/encoding.h"

namespace xs::sync {
namespace {

void putU8(crypto::Bytes& out, std::uint8_t v) { out.push_back(v); }
void putU32(crypto::Bytes& out, std::uint32_t v) {
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void putU64(crypto::Bytes& out, std::uint64_t v) {
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void putStr(crypto::Bytes& out, const std::string& s) {
    putU32(out, static_cast<std::uint32_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
}
void putTag(crypto::Bytes& out, const char* tag) {
    std::string t(tag);
    out.insert(out.end(), t.begin(), t.end());
    out.push_back(0);
}

void putHeader(crypto::Bytes& b, const Op& op) {
    putU8(b, kChangeSetSuite);
    putStr(b, op.id);
    putStr(b, op.channel);
    putStr(b, op.kind);
    putStr(b, op.recordId);
    putU64(b, op.hlc);
    putStr(b, op.device);
    putU32(b, op.epoch);
}

}  // namespace

crypto::Bytes opAssociatedData(const Op& op) {
    crypto::Bytes b;
    putTag(b, "xs-op-header-v2");
    putHeader(b, op);
    return b;
}

crypto::Digest opHash(const Op& op) {
    crypto::Bytes b;
    putTag(b, "xs-op-v2");
    putHeader(b, op);
    if (isEncryptedChannel(op.channel)) {
        putU32(b, static_cast<std::uint32_t>(op.sealed.size()));
        b.insert(b.end(), op.sealed.begin(), op.sealed.end());
    } else {
        putStr(b, OpLog::encodeChanges(op.changes).dump());
    }
    return crypto::sha256(b);
}

crypto::Bytes signingInput(const ChangeSet& cs) {
    crypto::Bytes b;
    putTag(b, "xs-changeset-v1");
    putU8(b, kChangeSetSuite);
    putStr(b, cs.id);
    putStr(b, cs.device);
    putU64(b, static_cast<std::uint64_t>(cs.seq));
    putU64(b, cs.hlc);
    if (cs.prevHash.size() == 32) b.insert(b.end(), cs.prevHash.begin(), cs.prevHash.end());
    else b.insert(b.end(), 32, 0);
    putU32(b, static_cast<std::uint32_t>(cs.ops.size()));
    for (const Op& op : cs.ops) {
        crypto::Digest h = opHash(op);
        b.insert(b.end(), h.begin(), h.end());
    }
    return b;
}

Json changeSetToJson(const ChangeSet& cs) {
    Json ops = Json::array();
    for (const Op& op : cs.ops) {
        Json o = {{"id", op.id}, {"channel", op.channel}, {"kind", op.kind}, {"record_id", op.recordId},
                  {"hlc", op.hlc}, {"device", op.device}};
        if (isEncryptedChannel(op.channel)) {
            o["epoch"] = op.epoch;
            o["sealed"] = crypto::toBase64(op.sealed);
        } else {
            o["changes"] = OpLog::encodeChanges(op.changes);
        }
        ops.push_back(std::move(o));
    }
    return {{"id", cs.id},
            {"device", cs.device},
            {"seq", cs.seq},
            {"hlc", cs.hlc},
            {"suite", kChangeSetSuite},
            {"prev", crypto::toHex(cs.prevHash)},
            {"signature", crypto::toHex(cs.signature)},
            {"ops", ops}};
}

SResult<ChangeSet> changeSetFromJson(const Json& j) {
    auto bad = [](const std::string& what) { return fail(SyncError::Invalid, "malformed change set: " + what); };
    if (!j.is_object()) return bad("not an object");
    auto str = [&](const Json& o, const char* k) -> std::optional<std::string> {
        auto it = o.find(k);
        if (it == o.end() || !it->is_string()) return std::nullopt;
        return it->get<std::string>();
    };
    auto u64 = [&](const Json& o, const char* k) -> std::optional<std::uint64_t> {
        auto it = o.find(k);
        if (it == o.end() || !it->is_number_unsigned()) return std::nullopt;
        return it->get<std::uint64_t>();
    };
    ChangeSet cs;
    auto id = str(j, "id"), device = str(j, "device"), prev = str(j, "prev"), sig = str(j, "signature");
    auto seq = u64(j, "seq"), hlc = u64(j, "hlc"), suite = u64(j, "suite");
    if (!id || !device || !prev || !sig || !seq || !hlc || !suite) return bad("missing or mistyped header field");
    if (*suite != kChangeSetSuite) return bad("unsupported suite " + std::to_string(*suite));
    auto prevBytes = crypto::fromHex(*prev);
    auto sigBytes = crypto::fromHex(*sig);
    if (!prevBytes || (prevBytes->size() != 0 && prevBytes->size() != 32)) return bad("bad previous hash");
    if (!sigBytes || sigBytes->size() != 64) return bad("bad signature field");
    cs.id = *id;
    cs.device = *device;
    cs.seq = static_cast<std::int64_t>(*seq);
    cs.hlc = *hlc;
    cs.prevHash = std::move(*prevBytes);
    cs.signature = std::move(*sigBytes);
    auto ops = j.find("ops");
    if (ops == j.end() || !ops->is_array()) return bad("ops must be a list");
    for (const Json& o : *ops) {
        if (!o.is_object()) return bad("op is not an object");
        Op op;
        auto oid = str(o, "id"), ch = str(o, "channel"), kind = str(o, "kind"), rid = str(o, "record_id"),
             dev = str(o, "device");
        auto ohlc = u64(o, "hlc");
        if (!oid || !ch || !kind || !rid || !dev || !ohlc) return bad("op misses a field");
        if (isEncryptedChannel(*ch)) {
            auto epoch = u64(o, "epoch");
            auto sealed = str(o, "sealed");
            if (!epoch || *epoch < 1 || *epoch > 0xffffffffu || !sealed || o.contains("changes"))
                return bad("op of an encrypted channel needs epoch and sealed, and no changes in clear");
            auto bytes = crypto::fromBase64(*sealed);
            if (!bytes) return bad("op body is not base64");
            op.epoch = static_cast<std::uint32_t>(*epoch);
            op.sealed = std::move(*bytes);
        } else {
            auto changes = o.find("changes");
            if (changes == o.end() || o.contains("sealed") || o.contains("epoch"))
                return bad("op of a plaintext channel needs changes");
            auto decoded = OpLog::decodeChanges(changes->dump());
            if (!decoded) return bad("op changes: " + decoded.message());
            op.changes = std::move(*decoded);
        }
        op.id = *oid;
        op.channel = *ch;
        op.kind = *kind;
        op.recordId = *rid;
        op.device = *dev;
        op.hlc = *ohlc;
        cs.ops.push_back(std::move(op));
    }
    return cs;
}

}  // namespace xs::sync
