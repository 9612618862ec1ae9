#include "sync/bundle_archive.h"

#include <algorithm>
#include <cstring>

#include "sync/changeset_codec.h"
#include "sync/suite.h"

namespace xs::sync {
namespace {

Error<SyncError> refusedBundle(const std::string& why) { return fail(SyncError::Invalid, why); }

}  // namespace

namespace archive {

crypto::Bytes recordHeader(std::uint8_t type, const std::string& name, std::uint64_t size) {
    crypto::Bytes h;
    h.push_back(type);
    auto n = static_cast<std::uint32_t>(name.size());
    for (int i = 3; i >= 0; --i) h.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
    h.insert(h.end(), name.begin(), name.end());
    for (int i = 7; i >= 0; --i) h.push_back(static_cast<std::uint8_t>(size >> (8 * i)));
    return h;
}

SStatus Reader::feed(crypto::ByteView in) {
    while (!in.empty()) {
        if (m_ended) return refusedBundle("bundle has data after its end record");
        if (m_left > 0) {  // inside a record's data
            std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(m_left, in.size()));
            XS_TRY(m_onData(in.first(n)));
            in = in.subspan(n);
            m_left -= n;
            if (m_left == 0) XS_TRY(m_onEnd());
            continue;
        }
        m_head.push_back(in[0]);
        in = in.subspan(1);
        XS_TRY(parseHead());
    }
    return {};
}

SStatus Reader::parseHead() {
    if (!m_sawMagic) {
        if (m_head.size() < 6) return {};
        if (std::memcmp(m_head.data(), kMagic, 4) != 0 || m_head[4] != kBundleArchiveVersion || m_head[5] != 1)
            return refusedBundle("not a Xunshen handover archive (or an unsupported version/suite)");
        m_sawMagic = true;
        m_head.clear();
        return {};
    }
    if (m_head.size() < 5) return {};
    std::uint32_t nameLen = 0;
    for (int i = 1; i <= 4; ++i) nameLen = (nameLen << 8) | m_head[static_cast<std::size_t>(i)];
    if (nameLen > kMaxNameLength) return refusedBundle("bundle record name too long");
    if (m_head.size() < 5 + nameLen + 8) return {};
    std::uint8_t type = m_head[0];
    std::string name(m_head.begin() + 5, m_head.begin() + 5 + nameLen);
    std::uint64_t size = 0;
    for (std::size_t i = 0; i < 8; ++i) size = (size << 8) | m_head[5 + nameLen + i];
    m_head.clear();
    if (type == kEnd) {
        if (size != 0 || !name.empty()) return refusedBundle("bundle end record is malformed");
        m_ended = true;
        return {};
    }
    XS_TRY(m_onRecord(type, name, size));
    m_left = size;
    if (size == 0) XS_TRY(m_onEnd());
    return {};
}

}  // namespace archive

SResult<Json> parseManifestHead(std::string_view text) {
    auto parsed = parseBoundedJson(text, kMaxManifestText, "the bundle manifest");
    if (!parsed) return parsed.error();
    Json manifest = std::move(*parsed);
    auto it = manifest.is_object() ? manifest.find("format") : manifest.end();
    bool formatOk = it != manifest.end() && it->is_string() && it->get<std::string>() == "xunshen-handover-manifest";
    if (!manifest.is_object() || !formatOk || !manifest.contains("version") || manifest["version"] != kManifestVersion)
        return refusedBundle("bundle manifest is malformed (or of another version)");
    auto created = manifest.find("created_at");
    const Json suite = manifest.value("suite", Json());
    if (created == manifest.end() || !created->is_number_unsigned() || !suite.is_number_integer() ||
        !isKnownSuite(suite.get<std::int64_t>()))
        return refusedBundle("bundle manifest has no creation time or names another crypto suite");
    return manifest;
}

SResult<ManifestLists> parseManifestLists(const Json& manifest) {
    auto sets = manifest.find("change_sets");
    auto evidence = manifest.find("evidence");
    if (sets == manifest.end() || !sets->is_array() || evidence == manifest.end() || !evidence->is_array())
        return refusedBundle("bundle manifest lists are malformed");
    ManifestLists lists;
    for (const auto& c : *sets) {
        if (!c.is_object() || !c.contains("id") || !c["id"].is_string() || !c.contains("hash") || !c["hash"].is_string())
            return refusedBundle("bundle manifest lists are malformed");
        lists.changeSets[c["id"].get<std::string>()] = c["hash"].get<std::string>();
    }
    for (const auto& e : *evidence) {
        if (!e.is_object() || !e.contains("hash") || !e["hash"].is_string() || !e.contains("size") || !e["size"].is_number_unsigned())
            return refusedBundle("bundle manifest lists are malformed");
        lists.evidence[e["hash"].get<std::string>()] = e["size"].get<std::uint64_t>();
    }
    return lists;
}

}  // namespace xs::sync
