#include "sync/changeset_codec.h"

#include <algorithm>
#include <set>

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
void putHash(crypto::Bytes& out, const crypto::Bytes& h) {
    if (h.size() == 32) out.insert(out.end(), h.begin(), h.end());
    else out.insert(out.end(), 32, 0);
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

std::optional<std::string> strField(const Json& o, const char* k) {
    auto it = o.find(k);
    if (it == o.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}
std::optional<std::uint64_t> u64Field(const Json& o, const char* k) {
    auto it = o.find(k);
    if (it == o.end() || !it->is_number_unsigned()) return std::nullopt;
    return it->get<std::uint64_t>();
}
bool onlyKeys(const Json& o, std::initializer_list<const char*> keys) {
    for (auto it = o.begin(); it != o.end(); ++it)
        if (std::none_of(keys.begin(), keys.end(), [&](const char* k) { return it.key() == k; })) return false;
    return true;
}

}  // namespace

SResult<Json> parseBoundedJson(std::string_view text, std::size_t maxBytes, const std::string& what) {
    if (text.size() > maxBytes)
        return fail(SyncError::Invalid, what + " is larger than " + std::to_string(maxBytes) + " bytes");
    // Nesting is counted before parsing, so that no input can make the parser (or the code that
    // walks the result) recurse deeply.
    int depth = 0;
    bool inString = false, escaped = false;
    for (char c : text) {
        if (inString) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') inString = false;
            continue;
        }
        if (c == '"') {
            inString = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxJsonDepth)
                return fail(SyncError::Invalid, what + " is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    Json j = Json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded()) return fail(SyncError::Invalid, what + " is not valid JSON");
    return j;
}

std::string encodeChanges(const std::vector<FieldChange>& changes) {
    Json arr = Json::array();
    for (const auto& c : changes) {
        Json item = {{"f", c.field}, {"v", c.value}};
        if (!c.base.empty()) item["b"] = c.base;
        arr.push_back(std::move(item));
    }
    return arr.dump();
}

SResult<std::vector<FieldChange>> decodeChanges(std::string_view body) {
    auto parsed = parseBoundedJson(body, kMaxOpBody, "an op body");
    if (!parsed) return parsed.error();
    const Json& arr = *parsed;
    if (!arr.is_array()) return fail(SyncError::Invalid, "op body is not a JSON list");
    std::vector<FieldChange> out;
    std::set<std::string> fields;
    for (const auto& item : arr) {
        if (!item.is_object() || !onlyKeys(item, {"f", "v", "b"}) || !strField(item, "f") || !item.contains("v"))
            return fail(SyncError::Invalid, "op body has a malformed field change");
        FieldChange c{item["f"].get<std::string>(), item["v"], {}};
        // One change per field: a rule must judge the very value that is projected.
        if (!fields.insert(c.field).second) return fail(SyncError::Invalid, "op body changes field '" + c.field + "' twice");
        if (item.contains("b")) {
            if (!item["b"].is_array()) return fail(SyncError::Invalid, "op body has a malformed base list");
            for (const auto& b : item["b"]) {
                if (!b.is_string()) return fail(SyncError::Invalid, "op body has a malformed base list");
                c.base.push_back(b.get<std::string>());
            }
        }
        out.push_back(std::move(c));
    }
    return out;
}

crypto::Bytes opAssociatedData(const Op& op) {
    crypto::Bytes b;
    putTag(b, "xs-op-header-v2");
    putHeader(b, op);
    return b;
}

crypto::Digest opHash(const Op& op) {
    crypto::Bytes b;
    putTag(b, "xs-op-v3");
    putHeader(b, op);
    putU32(b, static_cast<std::uint32_t>(op.body.size()));
    b.insert(b.end(), op.body.begin(), op.body.end());
    return crypto::sha256(b);
}

crypto::Bytes signingInput(const ChangeSet& cs) {
    crypto::Bytes b;
    putTag(b, "xs-changeset-v2");
    putU8(b, kChangeSetSuite);
    putStr(b, cs.id);
    putStr(b, cs.device);
    putU64(b, static_cast<std::uint64_t>(cs.seq));
    putU64(b, cs.hlc);
    putHash(b, cs.prevHash);
    putU32(b, static_cast<std::uint32_t>(cs.deps.size()));
    for (const Dep& d : cs.deps) {
        putStr(b, d.device);
        putU64(b, static_cast<std::uint64_t>(d.seq));
        putHash(b, d.hash);
    }
    if (cs.isWithheld()) {
        putU32(b, static_cast<std::uint32_t>(cs.withheld.size()));
        for (const auto& h : cs.withheld) putHash(b, h);
        return b;
    }
    putU32(b, static_cast<std::uint32_t>(cs.ops.size()));
    for (const Op& op : cs.ops) {
        crypto::Digest h = opHash(op);
        b.insert(b.end(), h.begin(), h.end());
    }
    return b;
}

crypto::Bytes changeSetHash(const ChangeSet& cs) {
    crypto::Digest d = crypto::sha256(signingInput(cs));
    return crypto::Bytes(d.begin(), d.end());
}

ChangeSet withheldCopy(const ChangeSet& cs) {
    if (cs.isWithheld()) return cs;
    ChangeSet w{cs.id, cs.device, cs.seq, cs.hlc, {}, cs.prevHash, cs.deps, cs.hash, cs.signature, {}};
    for (const Op& op : cs.ops) {
        crypto::Digest h = opHash(op);
        w.withheld.emplace_back(h.begin(), h.end());
    }
    return w;
}

Json changeSetToJson(const ChangeSet& cs) {
    Json deps = Json::array();
    for (const Dep& d : cs.deps) deps.push_back({{"device", d.device}, {"seq", d.seq}, {"hash", crypto::toHex(d.hash)}});
    if (cs.isWithheld()) {
        Json hashes = Json::array();
        for (const auto& h : cs.withheld) hashes.push_back(crypto::toHex(h));
        return {{"id", cs.id},     {"device", cs.device}, {"seq", cs.seq},
                {"hlc", cs.hlc},   {"suite", kChangeSetSuite}, {"version", kChangeSetVersion},
                {"prev", crypto::toHex(cs.prevHash)}, {"deps", deps},
                {"signature", crypto::toHex(cs.signature)}, {"withheld", hashes}};
    }
    Json ops = Json::array();
    for (const Op& op : cs.ops)
        ops.push_back({{"id", op.id}, {"channel", op.channel}, {"kind", op.kind}, {"record_id", op.recordId},
                       {"hlc", op.hlc}, {"device", op.device}, {"epoch", op.epoch}, {"body", crypto::toBase64(op.body)}});
    return {{"id", cs.id},     {"device", cs.device}, {"seq", cs.seq},
            {"hlc", cs.hlc},   {"suite", kChangeSetSuite}, {"version", kChangeSetVersion},
            {"prev", crypto::toHex(cs.prevHash)}, {"deps", deps},
            {"signature", crypto::toHex(cs.signature)}, {"ops", ops}};
}

SResult<ChangeSet> changeSetFromJson(const Json& j) {
    auto bad = [](const std::string& what) { return fail(SyncError::Invalid, "malformed change set: " + what); };
    if (!j.is_object()) return bad("not an object");
    const bool withheld = j.contains("withheld");
    if (!onlyKeys(j, {"id", "device", "seq", "hlc", "suite", "version", "prev", "deps", "signature",
                      withheld ? "withheld" : "ops"}))
        return bad("unknown field (a change set has either ops or, withheld, their hashes)");
    ChangeSet cs;
    auto id = strField(j, "id"), device = strField(j, "device"), prev = strField(j, "prev"), sig = strField(j, "signature");
    auto seq = u64Field(j, "seq"), hlc = u64Field(j, "hlc"), suite = u64Field(j, "suite"), version = u64Field(j, "version");
    if (!id || !device || !prev || !sig || !seq || !hlc || !suite || !version) return bad("missing or mistyped header field");
    if (*suite != kChangeSetSuite) return bad("unsupported suite " + std::to_string(*suite));
    if (*version != static_cast<std::uint64_t>(kChangeSetVersion))
        return bad("unsupported version " + std::to_string(*version) + " (this build reads version " +
                   std::to_string(kChangeSetVersion) + ")");
    if (*seq < 1 || *seq > static_cast<std::uint64_t>(INT64_MAX)) return bad("bad sequence number");
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
    auto deps = j.find("deps");
    if (deps == j.end() || !deps->is_array() || deps->size() > kMaxDeps) return bad("deps must be a list");
    for (const Json& d : *deps) {
        if (!d.is_object() || !onlyKeys(d, {"device", "seq", "hash"})) return bad("malformed dep");
        auto dd = strField(d, "device"), dh = strField(d, "hash");
        auto ds = u64Field(d, "seq");
        auto hash = dh ? crypto::fromHex(*dh) : std::nullopt;
        if (!dd || !ds || !hash || hash->size() != 32 || *ds < 1 || *ds > static_cast<std::uint64_t>(INT64_MAX))
            return bad("malformed dep");
        cs.deps.push_back({*dd, static_cast<std::int64_t>(*ds), std::move(*hash)});
    }
    if (withheld) {
        const Json& hashes = j["withheld"];
        if (!hashes.is_array() || hashes.empty() || hashes.size() > kMaxOpsPerChangeSet)
            return bad("withheld must be a list of 1 to " + std::to_string(kMaxOpsPerChangeSet) + " op hashes");
        for (const Json& h : hashes) {
            auto bytes = h.is_string() ? crypto::fromHex(h.get<std::string>()) : std::nullopt;
            if (!bytes || bytes->size() != 32) return bad("a withheld op hash is not 32 bytes of hex");
            cs.withheld.push_back(std::move(*bytes));
        }
        cs.hash = changeSetHash(cs);
        return cs;
    }
    auto ops = j.find("ops");
    if (ops == j.end() || !ops->is_array()) return bad("ops must be a list");
    if (ops->size() > kMaxOpsPerChangeSet) return bad("more than " + std::to_string(kMaxOpsPerChangeSet) + " ops");
    for (const Json& o : *ops) {
        if (!o.is_object() || !onlyKeys(o, {"id", "channel", "kind", "record_id", "hlc", "device", "epoch", "body"}))
            return bad("op is not an object of the op fields");
        Op op;
        auto oid = strField(o, "id"), ch = strField(o, "channel"), kind = strField(o, "kind"), rid = strField(o, "record_id"),
             dev = strField(o, "device"), body = strField(o, "body");
        auto ohlc = u64Field(o, "hlc"), epoch = u64Field(o, "epoch");
        if (!oid || !ch || !kind || !rid || !dev || !ohlc || !epoch || !body) return bad("op misses a field");
        if (*epoch > 0xffffffffu) return bad("op epoch out of range");
        if (body->size() > (kMaxOpBody + 2) / 3 * 4) return bad("op body larger than " + std::to_string(kMaxOpBody) + " bytes");
        auto bytes = crypto::fromBase64(*body);
        if (!bytes) return bad("op body is not base64");
        op.id = *oid;
        op.channel = *ch;
        op.kind = *kind;
        op.recordId = *rid;
        op.device = *dev;
        op.hlc = *ohlc;
        op.epoch = static_cast<std::uint32_t>(*epoch);
        op.body = std::move(*bytes);
        if (!isEncryptedChannel(op.channel)) {
            auto decoded = decodeChanges(std::string_view(reinterpret_cast<const char*>(op.body.data()), op.body.size()));
            if (!decoded) return bad("op " + op.id + ": " + decoded.message());
            op.changes = std::move(*decoded);
        }
        cs.ops.push_back(std::move(op));
    }
    cs.hash = changeSetHash(cs);
    return cs;
}

Json versionVectorToJson(const VersionVector& vv) {
    Json o = Json::object();
    for (const auto& [device, seq] : vv) o[device] = seq;
    return o;
}

SResult<VersionVector> versionVectorFromJson(const Json& j) {
    if (!j.is_object()) return fail(SyncError::Corrupt, "a stored version vector is damaged");
    VersionVector vv;
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (!it->is_number_integer()) return fail(SyncError::Corrupt, "a stored version vector is damaged");
        vv[it.key()] = it->get<std::int64_t>();
    }
    return vv;
}

}  // namespace xs::sync
