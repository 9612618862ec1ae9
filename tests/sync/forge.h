// Crafting change sets by hand with a test device's own keys, as a hostile enrolled device
// would: any ops, any claimed clock, any claimed causal past, validly signed. The forged change
// set extends the device's chain as its store holds it; it is not stored there.
#pragma once

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/random.h"
#include "sync/changeset_codec.h"
#include "sync/uuid.h"
#include "tests/sync/replica.h"

namespace xs::sync::test {

struct Forge {
    OpLog& log;
    Store& store;

    explicit Forge(Replica& r) : log(*r.log), store(*r.store) {}
    Forge(OpLog& l, Store& s) : log(l), store(s) {}

    // The next link of r's chain (or `seq` if given), ops stamped with the change set's clock.
    // hlc: as claimed (default: after everything r holds). seen: the causal past claimed
    // (default: everything r holds).
    ChangeSet make(std::vector<Op> ops, std::optional<std::uint64_t> hlc = std::nullopt,
                   std::optional<VersionVector> seen = std::nullopt, std::optional<std::int64_t> seq = std::nullopt) {
        ChangeSet cs;
        cs.device = log.deviceId();
        auto id = newOwnedId(cs.device);
        REQUIRE(id.ok());
        cs.id = *id;
        auto vv = log.versionVector();
        REQUIRE(vv.ok());
        std::int64_t last = vv->count(cs.device) ? vv->at(cs.device) : 0;
        cs.seq = seq ? *seq : last + 1;
        std::uint64_t maxHlc = 0;
        auto held = log.changeSets();
        REQUIRE(held.ok());
        for (const auto& c : *held) maxHlc = std::max(maxHlc, c.hlc);
        cs.hlc = hlc ? *hlc : maxHlc + 1000;
        if (cs.seq > 1) cs.prevHash = hashAt(cs.device, cs.seq - 1);
        // Deps name only what grew since the predecessor's causal past (a chain cannot unsee).
        VersionVector prevVv;
        if (cs.seq > 1) {
            auto p = store.db().prepare("SELECT vv FROM changesets WHERE device = ? AND seq = ?");
            REQUIRE(p.ok());
            p->bind(1, cs.device).bind(2, cs.seq - 1);
            auto row = p->step();
            REQUIRE(row.ok());
            REQUIRE(*row);
            auto parsed = versionVectorFromJson(Json::parse(p->text(0)));
            REQUIRE(parsed.ok());
            prevVv = *parsed;
        }
        VersionVector claimed = seen ? *seen : *vv;
        for (const auto& [device, s] : claimed) {
            if (device == cs.device || s < 1) continue;
            auto was = prevVv.find(device);
            if (was != prevVv.end() && was->second >= s) continue;
            cs.deps.push_back({device, s, hashAt(device, s)});
        }
        for (auto& op : ops) {
            op.device = cs.device;
            op.hlc = cs.hlc;
            if (op.id.empty()) {
                auto oid = newOwnedId(cs.device);
                REQUIRE(oid.ok());
                op.id = *oid;
            }
            if (!isEncryptedChannel(op.channel)) {
                std::string text = encodeChanges(op.changes);
                op.body.assign(text.begin(), text.end());
            } else if (op.body.empty()) {
                seal(op);
            }
        }
        cs.ops = std::move(ops);
        cs.hash = changeSetHash(cs);
        auto sig = log.identity().sign(signingInput(cs));
        REQUIRE(sig.ok());
        cs.signature = *sig;
        return cs;
    }

    static Op plain(const std::string& channel, const std::string& kind, const std::string& id, const Json& fields) {
        Op op;
        op.channel = channel;
        op.kind = kind;
        op.recordId = id;
        for (auto it = fields.begin(); it != fields.end(); ++it) op.changes.push_back({it.key(), it.value(), {}});
        return op;
    }
    // An op of an encrypted channel, sealed with the key r holds for `epoch` (the channel's
    // current epoch at r when 0).
    Op sealed(const std::string& channel, const std::string& kind, const std::string& id, const Json& fields,
              std::uint32_t epoch = 0) {
        Op op = plain(channel, kind, id, fields);
        if (epoch == 0) {
            auto e = log.currentEpoch(channel);
            REQUIRE(e.ok());
            epoch = *e;
        }
        op.epoch = epoch;
        return op;
    }

    crypto::Bytes hashAt(const std::string& device, std::int64_t seq) {
        auto s = store.db().prepare("SELECT hash FROM changesets WHERE device = ? AND seq = ?");
        REQUIRE(s.ok());
        s->bind(1, device).bind(2, seq);
        auto row = s->step();
        REQUIRE(row.ok());
        REQUIRE_MESSAGE(*row, "no change set " << seq << " of " << device << " at the forger");
        return s->blob(0);
    }

private:
    void seal(Op& op) {
        auto s = store.db().prepare("SELECT key FROM channel_keys WHERE channel = ? AND epoch = ?");
        REQUIRE(s.ok());
        s->bind(1, op.channel).bind(2, static_cast<std::int64_t>(op.epoch));
        auto row = s->step();
        REQUIRE(row.ok());
        REQUIRE_MESSAGE(*row, "the forger holds no key of " << op.channel << " epoch " << op.epoch);
        crypto::Bytes key = s->blob(0);
        auto nonce = crypto::randomBytes(crypto::kAeadNonceSize);
        REQUIRE(nonce.ok());
        std::string clear = encodeChanges(op.changes);
        auto ct = crypto::aeadSeal(crypto::AeadAlg::AesGcm, key, *nonce, opAssociatedData(op), crypto::asBytes(clear));
        REQUIRE(ct.ok());
        op.body = *nonce;
        op.body.insert(op.body.end(), ct->begin(), ct->end());
        op.changes.clear();
    }
};

}  // namespace xs::sync::test
