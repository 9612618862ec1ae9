// Fuzzes the handover archive reader (sync/bundle_archive.h archive::Reader), the plaintext of a
// bundle as the age decryptor releases it, with what the import does to each record that needs no
// store: the manifest's header checks (parseManifestHead, parseManifestLists) and each change set
// (parseBoundedJson + changeSetFromJson). Invariants: a record ends only once all its declared
// bytes arrived; the archive may arrive in pieces of any size, so whole and in small pieces give
// the same records and the same outcome.
#include "sync/bundle_archive.h"
#include "sync/changeset_codec.h"
#include "tests/fuzz/fuzz_util.h"

#include <vector>

namespace {

using namespace xs;

constexpr std::uint64_t kMaxBufferedRecord = 16 * 1024 * 1024;  // as importBundle

struct Record {
    std::uint8_t type;
    std::string name;
    std::uint64_t size;
    bool operator==(const Record&) const = default;
};

struct Outcome {
    bool ok = true;
    std::string message;
    bool ended = false;
    std::vector<Record> records;
};

Outcome read(crypto::ByteView in, std::size_t piece) {
    Outcome out;
    crypto::Bytes buffer;
    std::uint64_t delivered = 0;
    sync::archive::Reader reader(
        [&](std::uint8_t type, const std::string& name, std::uint64_t size) -> sync::SStatus {
            if (size > kMaxBufferedRecord && type != sync::archive::kEvidence)
                return fail(sync::SyncError::Invalid, "record too large to buffer");
            out.records.push_back({type, name, size});
            buffer.clear();
            delivered = 0;
            return {};
        },
        [&](crypto::ByteView data) -> sync::SStatus {
            XS_FUZZ_CHECK(!data.empty());
            delivered += data.size();
            XS_FUZZ_CHECK(delivered <= out.records.back().size);
            if (out.records.back().type != sync::archive::kEvidence) buffer.insert(buffer.end(), data.begin(), data.end());
            return {};
        },
        [&]() -> sync::SStatus {
            const Record& r = out.records.back();
            XS_FUZZ_CHECK(delivered == r.size);
            std::string_view text(reinterpret_cast<const char*>(buffer.data()), buffer.size());
            if (r.type == sync::archive::kManifest) {
                auto manifest = sync::parseManifestHead(text);
                if (!manifest) return manifest.error();
                auto lists = sync::parseManifestLists(*manifest);
                if (!lists) return lists.error();
            } else if (r.type == sync::archive::kChangeSet) {
                auto j = sync::parseBoundedJson(text, kMaxBufferedRecord, "bundle change set " + r.name);
                if (!j) return j.error();
                auto cs = sync::changeSetFromJson(*j);
                if (!cs) return fail(sync::SyncError::Invalid, cs.message());
            }
            return {};
        });
    if (piece == 0) piece = in.size() + 1;
    for (std::size_t at = 0; at < in.size(); at += piece) {
        auto s = reader.feed(in.subspan(at, std::min(piece, in.size() - at)));
        if (!s) {
            out.ok = false;
            out.message = s.message();
            break;
        }
    }
    out.ended = reader.ended();
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    crypto::ByteView in(data, size);
    Outcome whole = read(in, 0);
    Outcome pieces = read(in, 1 + size % 11);
    XS_FUZZ_CHECK(whole.ok == pieces.ok && whole.message == pieces.message);
    XS_FUZZ_CHECK(whole.ended == pieces.ended);
    XS_FUZZ_CHECK(whole.records == pieces.records);
    return 0;
}
