#include "app/handover.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "app/enrolment.h"
#include "crypto/age.h"
#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "sync/changeset_codec.h"
#include "sync/file_io.h"

namespace xs::app {
namespace fs = std::filesystem;
namespace {

enum RecordType : std::uint8_t { kEnd = 0, kManifest = 1, kSignature = 2, kChangeSet = 3, kEvidence = 4, kKeyEnvelopes = 5 };
constexpr char kMagic[4] = {'X', 'S', 'H', 'B'};
constexpr std::uint8_t kArchiveVersion = 2;  // 2: key envelopes record
constexpr std::uint64_t kMaxBufferedRecord = 16 * 1024 * 1024;  // manifest, one change set


crypto::Bytes recordHeader(std::uint8_t type, const std::string& name, std::uint64_t size) {
    crypto::Bytes h;
    h.push_back(type);
    auto n = static_cast<std::uint32_t>(name.size());
    for (int i = 3; i >= 0; --i) h.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
    h.insert(h.end(), name.begin(), name.end());
    for (int i = 7; i >= 0; --i) h.push_back(static_cast<std::uint8_t>(size >> (8 * i)));
    return h;
}

// Parses the archive as plaintext arrives from the age decryptor.
class ArchiveReader {
public:
    using OnRecord = std::function<AStatus(std::uint8_t type, const std::string& name, std::uint64_t size)>;
    using OnData = std::function<AStatus(crypto::ByteView)>;
    using OnRecordEnd = std::function<AStatus()>;
    ArchiveReader(OnRecord onRecord, OnData onData, OnRecordEnd onEnd)
        : m_onRecord(std::move(onRecord)), m_onData(std::move(onData)), m_onEnd(std::move(onEnd)) {}

    AStatus feed(crypto::ByteView in) {
        while (!in.empty()) {
            if (m_ended) return refused("bundle has data after its end record");
            if (m_left > 0) {  // inside a record's data
                std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(m_left, in.size()));
                XS_TRY_APP(m_onData(in.first(n)));
                in = in.subspan(n);
                m_left -= n;
                if (m_left == 0) XS_TRY_APP(m_onEnd());
                continue;
            }
            m_head.push_back(in[0]);
            in = in.subspan(1);
            XS_TRY_APP(parseHead());
        }
        return {};
    }
    bool ended() const { return m_ended; }

private:
    AStatus parseHead() {
        if (!m_sawMagic) {
            if (m_head.size() < 6) return {};
            if (std::memcmp(m_head.data(), kMagic, 4) != 0 || m_head[4] != kArchiveVersion || m_head[5] != 1)
                return refused("not a Xunshen handover archive (or an unsupported version/suite)");
            m_sawMagic = true;
            m_head.clear();
            return {};
        }
        if (m_head.size() < 5) return {};
        std::uint32_t nameLen = 0;
        for (int i = 1; i <= 4; ++i) nameLen = (nameLen << 8) | m_head[static_cast<std::size_t>(i)];
        if (nameLen > 256) return refused("bundle record name too long");
        if (m_head.size() < 5 + nameLen + 8) return {};
        std::uint8_t type = m_head[0];
        std::string name(m_head.begin() + 5, m_head.begin() + 5 + nameLen);
        std::uint64_t size = 0;
        for (std::size_t i = 0; i < 8; ++i) size = (size << 8) | m_head[5 + nameLen + i];
        m_head.clear();
        if (type == kEnd) {
            if (size != 0 || !name.empty()) return refused("bundle end record is malformed");
            m_ended = true;
            return {};
        }
        XS_TRY_APP(m_onRecord(type, name, size));
        m_left = size;
        if (size == 0) XS_TRY_APP(m_onEnd());
        return {};
    }

    OnRecord m_onRecord;
    OnData m_onData;
    OnRecordEnd m_onEnd;
    std::vector<std::uint8_t> m_head;
    std::uint64_t m_left = 0;
    bool m_sawMagic = false;
    bool m_ended = false;
};

// The archive's plaintext between two threads (export: reading evidence -> sealing; import:
// decrypting -> parsing): at most kBlocks blocks of kBlockSize in flight (1 MiB), handed over
// whole, wiped when the pipe goes. One producer, one consumer.
class PlainPipe {
public:
    static constexpr std::size_t kBlockSize = 256 * 1024;
    static constexpr std::size_t kBlocks = 4;
    struct Block {
        crypto::SecretBytes bytes{kBlockSize};
        std::size_t size = 0;
    };

    PlainPipe() : m_blocks(kBlocks) {
        m_free.reserve(kBlocks);  // neither list grows beyond kBlocks: no allocation after this
        m_full.reserve(kBlocks);
        for (auto& b : m_blocks) m_free.push_back(&b);
    }

    // Producer: copies `data` in, handing over each block as it fills. False once the consumer stopped.
    bool put(crypto::ByteView data) {
        while (!data.empty()) {
            if (m_fill == nullptr) {
                std::unique_lock lock(m_mutex);
                m_changed.wait(lock, [&] { return !m_free.empty() || m_stopped; });
                if (m_stopped) return false;
                m_fill = m_free.back();
                m_free.pop_back();
                m_fill->size = 0;
            }
            const std::size_t n = std::min(kBlockSize - m_fill->size, data.size());
            std::memcpy(m_fill->bytes.data() + m_fill->size, data.data(), n);
            m_fill->size += n;
            data = data.subspan(n);
            if (m_fill->size == kBlockSize) hand();
        }
        return true;
    }
    // Producer: the end; the last partial block goes too. complete: all of the data was put.
    void close(bool complete) {
        if (m_fill != nullptr && m_fill->size > 0) hand();
        std::lock_guard lock(m_mutex);
        m_closed = true;
        m_complete = complete;
        m_changed.notify_all();
    }
    // Consumer, once next() returned nullptr: whether the producer put everything.
    bool complete() {
        std::lock_guard lock(m_mutex);
        return m_complete;
    }
    // Consumer: gives `done` back (if any) and waits for the next block; nullptr after close()
    // or stop().
    Block* next(Block* done) {
        std::unique_lock lock(m_mutex);
        if (done != nullptr) {
            m_free.push_back(done);
            m_changed.notify_all();
        }
        m_changed.wait(lock, [&] { return !m_full.empty() || m_closed || m_stopped; });
        if (m_full.empty() || m_stopped) return nullptr;
        Block* b = m_full.front();
        m_full.erase(m_full.begin());
        return b;
    }
    // Either end: gives up; put() fails and next() ends from now on, so the other end winds down.
    void stop() {
        std::lock_guard lock(m_mutex);
        m_stopped = true;
        m_changed.notify_all();
    }

private:
    void hand() {
        std::lock_guard lock(m_mutex);
        m_full.push_back(std::exchange(m_fill, nullptr));
        m_changed.notify_all();
    }

    std::vector<Block> m_blocks;  // never resized: the pointers below stay valid
    std::vector<Block*> m_free;
    std::vector<Block*> m_full;  // in order
    Block* m_fill = nullptr;  // the producer's
    std::mutex m_mutex;
    std::condition_variable m_changed;
    bool m_closed = false;
    bool m_complete = false;
    bool m_stopped = false;
};

// Joins the thread at the other end of a pipe when it goes out of scope early (an error return):
// the pipe is stopped first, so that thread winds down whichever end it is.
struct PipeThread {
    PlainPipe& pipe;
    std::thread& thread;
    ~PipeThread() {
        if (!thread.joinable()) return;
        pipe.stop();
        thread.join();
    }
};

}  // namespace

AResult<Json> exportHandover(Workspace& ws, const std::string& inspectionKey, const fs::path& out) {
    auto officeHex = ws.store().meta("office_public_key");
    if (!officeHex) return refused("this store is not enrolled (run org enrol with the office's enrolment file)");
    auto officeKey = crypto::fromHex(*officeHex);
    if (!officeKey || officeKey->size() != 32) return fail(AppError::Failed, "the pinned office key is damaged");
    auto insp = ws.inspection(inspectionKey);
    if (!insp) return insp.error();
    std::string inspectionId = (*insp)["id"];

    // The change sets are read twice, one at a time: once here for the manifest (their ids and
    // hashes), once below into the archive. Memory does not grow with the store's history.
    Json csList = Json::array();
    XS_TRY_SYNC(ws.log().forEachChangeSet([&](const sync::ChangeSet& cs) -> sync::SStatus {
        csList.push_back({{"id", cs.id}, {"device", cs.device}, {"seq", cs.seq}, {"hash", crypto::toHex(cs.hash)}});
        return {};
    }));
    struct Ev { std::string hash; std::int64_t size; };
    std::vector<Ev> evidence;
    auto e = ws.store().db().prepare(
        "SELECT DISTINCT a.hash, a.size FROM attachments a JOIN findings f ON f.id = a.finding_id"
        " WHERE f.inspection_id = ? ORDER BY a.hash");
    if (!e) return fromSync(e.error());
    e->bind(1, inspectionId);
    for (;;) {
        auto row = e->step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        evidence.push_back({e->text(0), e->int64(1)});
    }

    // The inspection's channel keys as wrapped to their members and to the office: a bundle is
    // self-contained even for channels the office did not create.
    if (auto w = ws.log().wrapKeysToOffice(); !w) return fromSync(w.error());
    auto envelopes = ws.log().envelopes(inspectionChannels(inspectionId));
    if (!envelopes) return fromSync(envelopes.error());
    Json envList = Json::array();
    for (const auto& x : *envelopes) envList.push_back(sync::envelopeToJson(x));
    std::string envText = envList.dump();

    Json evList = Json::array();
    for (const auto& x : evidence) evList.push_back({{"hash", x.hash}, {"size", x.size}});
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto org = ws.store().meta("organisation_id");
    Json manifest = {{"format", "xunshen-handover-manifest"},
                     {"version", 1},
                     {"suite", 1},
                     {"inspection", inspectionId},
                     {"author_device", ws.log().deviceId()},
                     {"author_person", ws.self().personId},
                     {"organisation_id", org ? *org : std::string()},
                     {"created_at", now},
                     {"change_sets", csList},
                     {"key_envelopes_sha256", crypto::toHex(crypto::sha256(crypto::asBytes(envText)))},
                     {"evidence", evList}};
    std::string manifestText = manifest.dump();
    auto signature = ws.log().identity().sign(crypto::asBytes(manifestText));
    if (!signature) return fromSync(signature.error());

    fs::path dir = out.parent_path().empty() ? fs::path(".") : out.parent_path();
    // Pipelined over the two cores: this thread reads and opens the evidence (content hash
    // checked, as before); a second seals the archive for the office; the WriteBehind's threads
    // write the bundle (O_DIRECT) and fsync it. The bundle is byte for byte what one thread would
    // write: only the work is spread.
    auto writeBehind = sync::WriteBehind::start();
    if (!writeBehind) return fromSync(writeBehind.error());
    auto tmp = sync::TempFile::create(dir, out.filename().string(), writeBehind->get());
    if (!tmp) return fromSync(tmp.error());
    // The sealing thread's, until it is joined.
    std::uint64_t written = 0;
    sync::SStatus sinkStatus;
    std::vector<crypto::Bytes> recipients = {*officeKey};
    auto enc = crypto::AgeEncryptor::create(recipients, [&](crypto::ByteView bytes) -> crypto::CStatus {
        written += bytes.size();
        sinkStatus = tmp->write(bytes);
        if (!sinkStatus) return fail(crypto::CryptoError::Internal, sinkStatus.message());
        return {};
    });
    if (!enc) return fail(AppError::Failed, "cannot start the age encryption: " + enc.message());
    PlainPipe pipe;
    AStatus sealStatus;
    auto seal = [&]() noexcept {
        try {
            for (PlainPipe::Block* block = nullptr; (block = pipe.next(block)) != nullptr;) {
                if (!enc->write(crypto::ByteView(block->bytes.data(), block->size))) {
                    sealStatus = sinkStatus ? fail(AppError::Failed, "age encryption failed") : fromSync(sinkStatus.error());
                    break;
                }
            }
            if (sealStatus && pipe.complete() && !enc->finish())
                sealStatus = sinkStatus ? fail(AppError::Failed, "age encryption failed") : fromSync(sinkStatus.error());
        } catch (const std::exception& ex) {
            sealStatus = fail(AppError::Failed, std::string("bundle encryption failed: ") + ex.what());
        } catch (...) {
            sealStatus = fail(AppError::Failed, "bundle encryption failed");
        }
        if (!sealStatus) pipe.stop();
    };
    std::thread sealer;
    PipeThread joiner{pipe, sealer};  // on an early return: ends the pipe and joins
    try {
        sealer = std::thread(seal);
    } catch (const std::exception& ex) {
        return fail(AppError::Failed, std::string("cannot start the sealing thread: ") + ex.what());
    }
    auto put = [&](crypto::ByteView bytes) -> AStatus {
        if (pipe.put(bytes)) return {};
        sealer.join();  // it stopped the pipe: it failed
        return sealStatus ? fail(AppError::Failed, "age encryption stopped") : sealStatus;
    };
    const crypto::Bytes magic = {'X', 'S', 'H', 'B', kArchiveVersion, 1};
    XS_TRY_APP(put(magic));
    XS_TRY_APP(put(recordHeader(kManifest, "manifest.json", manifestText.size())));
    XS_TRY_APP(put(crypto::asBytes(manifestText)));
    XS_TRY_APP(put(recordHeader(kSignature, "manifest.sig", signature->size())));
    XS_TRY_APP(put(*signature));
    std::size_t streamedSets = 0;
    AStatus putStatus;
    auto setsWritten = ws.log().forEachChangeSet([&](const sync::ChangeSet& cs) -> sync::SStatus {
        // The manifest lists them in this same order; a change set committed in between (another
        // command on this store) would not be listed: refuse rather than write a bundle the
        // office would refuse.
        if (streamedSets >= csList.size() || csList[streamedSets]["id"] != cs.id)
            return fail(sync::SyncError::Invalid, "the store changed while the bundle was written; export again");
        ++streamedSets;
        std::string text = sync::changeSetToJson(cs).dump();
        putStatus = put(recordHeader(kChangeSet, cs.id, text.size()));
        if (putStatus) putStatus = put(crypto::asBytes(text));
        if (!putStatus) return fail(sync::SyncError::Io, putStatus.message());
        return {};
    });
    if (!putStatus) return putStatus.error();
    if (!setsWritten) return fromSync(setsWritten.error());
    if (streamedSets != csList.size())
        return fail(AppError::Failed, "the store changed while the bundle was written; export again");
    XS_TRY_APP(put(recordHeader(kKeyEnvelopes, "keys.json", envText.size())));
    XS_TRY_APP(put(crypto::asBytes(envText)));
    // The disk reads the next files (O_DIRECT, on ReadAhead's thread) while this one is opened and sealed.
    std::vector<std::string> hashes;
    hashes.reserve(evidence.size());
    for (const auto& x : evidence) hashes.push_back(x.hash);
    auto files = ws.store().evidence().readSequence(hashes);
    if (!files) return fromSync(files.error());
    for (const auto& x : evidence) {
        XS_TRY_APP(put(recordHeader(kEvidence, x.hash, static_cast<std::uint64_t>(x.size))));
        std::uint64_t streamed = 0;
        auto r = files->read(x.hash, [&](crypto::ByteView plain) -> sync::SStatus {
            streamed += plain.size();
            auto s = put(plain);
            if (!s) return fail(sync::SyncError::Io, s.message());
            return {};
        });
        if (!r) return fromSync(r.error());
        if (streamed != static_cast<std::uint64_t>(x.size))
            return fail(AppError::Failed, "evidence " + x.hash.substr(0, 12) + " has another size than recorded");
    }
    XS_TRY_APP(put(recordHeader(kEnd, "", 0)));
    pipe.close(/*complete=*/true);
    sealer.join();
    XS_TRY_APP(sealStatus);
    XS_TRY_SYNC(tmp->commitAs(out));
    XS_TRY_SYNC((*writeBehind)->sync());  // written, fsynced, renamed into place, directory fsynced
    // The receipt must name this very file (its header) and this content (its manifest) before the
    // inspection may be wiped here.
    Json names = {{"bundle_header_sha256", crypto::toHex(enc->headerDigest())},
                  {"manifest_sha256", crypto::toHex(crypto::sha256(crypto::asBytes(manifestText)))}};
    XS_TRY_SYNC(ws.store().setMeta("handover_bundle:" + inspectionId, names.dump()));
    Json result = {{"bundle", out.string()}, {"inspection", inspectionId}, {"change_sets", csList.size()},
                   {"evidence_files", evidence.size()}, {"bytes", written}};
    result.update(names);
    return result;
}

AResult<Json> importHandover(Workspace& ws, const fs::path& bundle) {
    if (ws.self().role != Role::AuditOffice) return refused("only the audit office imports handover bundles");
    auto officeKey = officePrivateKey(ws);
    if (!officeKey) return refused("this store holds no office key (run org create-office-key)");
    std::vector<crypto::SecretBytes> identities;
    identities.push_back(std::move(*officeKey));

    int fd = ::open(bundle.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(AppError::NotFound, "cannot read bundle " + bundle.string());
    struct Closer { int fd; ~Closer() { ::close(fd); } } closer{fd};

    // State built while the archive streams in.
    std::string manifestText;
    Json manifest;
    crypto::Bytes manifestSig;
    std::map<std::string, std::string> expectedSets;       // id -> hash hex
    std::map<std::string, std::uint64_t> expectedEvidence;  // hash -> size
    std::set<std::string> seenSets;
    std::size_t opCount = 0;
    std::vector<sync::KeyEnvelope> envelopes;
    bool sawEnvelopes = false;
    std::set<std::string> seenEvidence;
    std::vector<std::string> newEvidence;  // written by this import (removed if it fails)
    std::uint8_t curType = 0;
    std::string curName;
    std::uint64_t curSize = 0;
    crypto::Bytes buffer;
    // Evidence files are written and fsynced by the WriteBehind's threads (declared before the
    // writer, which it must outlive); they are durable and in place only after its sync().
    auto writeBehindStarted = sync::WriteBehind::start();
    if (!writeBehindStarted) return fromSync(writeBehindStarted.error());
    std::unique_ptr<sync::WriteBehind> writeBehind = std::move(*writeBehindStarted);
    std::optional<sync::EvidenceWriter> writer;

    // The database half of the import runs on its own thread, fed as the archive streams: each
    // change set is verified (signature, chain, who may write what) and applied as it arrives,
    // then the keys are accepted and what they open is projected — all in one transaction, left
    // open. Nothing of it waits for the evidence, which follows in the archive. Change sets wait in
    // a queue of at most kQueuedBytes of their archive text (or one, if larger) whatever the
    // bundle's size: enough that this thread rarely waits for the database before it can go on to
    // the evidence (500 findings' change sets are 1.4 MB). The transaction commits on this thread
    // only after the evidence is durable (below); any failure rolls it back.
    constexpr std::size_t kQueuedBytes = std::size_t{4} << 20;
    std::optional<sync::Transaction> tx;
    std::size_t freshSets = 0;
    AStatus dbStatus;  // the database thread's, read after the join
    std::mutex feedMutex;
    std::condition_variable feedChanged;
    std::deque<std::pair<sync::ChangeSet, std::size_t>> feed;  // with its archive text's size
    std::size_t feedBytes = 0;
    bool feedEnded = false;     // the envelopes are in `envelopes`: no more change sets
    bool feedAbandoned = false;  // the import failed elsewhere: stop
    bool dbFailed = false;       // the database thread gave up: discard what is fed
    auto ensureTx = [&]() -> AStatus {
        if (tx) return {};
        auto begun = sync::Transaction::begin(ws.store().db());
        if (!begun) return fromSync(begun.error());
        tx.emplace(std::move(*begun));
        return {};
    };
    auto applyOne = [&](const sync::ChangeSet& cs) -> AStatus {
        XS_TRY_APP(ensureTx());
        auto applied = ws.log().applyAllOrNothing({cs}, false);
        if (!applied) return refused("a change set in the bundle failed verification: " + applied.message());
        freshSets += applied->at(0) == sync::ApplyOutcome::Applied;
        return {};
    };
    auto acceptKeys = [&]() -> AStatus {
        XS_TRY_APP(ensureTx());
        if (auto keys = ws.log().acceptEnvelopes(envelopes); !keys)
            return refused("the bundle's channel keys failed verification: " + keys.message());
        return {};
    };
    auto dbWork = [&]() noexcept {
        try {
            for (;;) {
                std::optional<sync::ChangeSet> next;
                {
                    std::unique_lock lock(feedMutex);
                    feedChanged.wait(lock, [&] { return !feed.empty() || feedEnded || feedAbandoned; });
                    if (feedAbandoned) return;
                    if (feed.empty()) break;  // ended, and all applied
                    next.emplace(std::move(feed.front().first));
                    feedBytes -= feed.front().second;
                    feed.pop_front();
                }
                feedChanged.notify_all();
                dbStatus = applyOne(*next);
                if (!dbStatus) break;
            }
            if (dbStatus) dbStatus = acceptKeys();
        } catch (const std::exception& ex) {
            dbStatus = fail(AppError::Failed, std::string("applying the bundle failed: ") + ex.what());
        } catch (...) {
            dbStatus = fail(AppError::Failed, "applying the bundle failed");
        }
        if (!dbStatus) {
            std::lock_guard lock(feedMutex);
            dbFailed = true;
            feed.clear();
            feedBytes = 0;
        }
        feedChanged.notify_all();
    };
    std::thread dbThread;
    bool dbInline = false;  // no thread could be started: this thread applies as it parses
    auto stopDb = [&]() {
        {
            std::lock_guard lock(feedMutex);
            feedAbandoned = true;
        }
        feedChanged.notify_all();
        if (dbThread.joinable()) dbThread.join();
    };
    struct Joiner {
        std::function<void()> stop;
        ~Joiner() { stop(); }
    } dbJoiner{stopDb};  // destroyed before `tx`: the thread is done with it first
    // Hands a verified-against-the-manifest change set to the database half.
    auto feedSet = [&](sync::ChangeSet cs, std::size_t textBytes) -> AStatus {
        if (dbInline) {
            if (!dbStatus) return {};
            dbStatus = applyOne(cs);
            return {};
        }
        std::unique_lock lock(feedMutex);
        feedChanged.wait(lock, [&] { return feed.empty() || feedBytes + textBytes <= kQueuedBytes || dbFailed; });
        if (!dbFailed) {
            feed.emplace_back(std::move(cs), textBytes);
            feedBytes += textBytes;
        }
        lock.unlock();
        feedChanged.notify_all();
        return {};
    };
    auto startDb = [&]() {
        try {
            dbThread = std::thread(dbWork);
        } catch (const std::exception&) {
            dbInline = true;
        }
    };

    auto verifyManifest = [&]() -> AStatus {
        manifest = Json::parse(manifestText, nullptr, false);
        if (manifest.is_discarded() || !manifest.is_object() || manifest.value("format", "") != "xunshen-handover-manifest")
            return refused("bundle manifest is malformed");
        std::string author = manifest.value("author_device", "");
        auto k = ws.store().db().prepare("SELECT sign_pk FROM devices WHERE id = ?");
        if (!k) return fromSync(k.error());
        k->bind(1, author);
        auto r = k->step();
        if (!r) return fromSync(r.error());
        if (!*r) return refused("bundle was made by a device this office never enrolled (" + author + ")");
        if (!crypto::ed25519Verify(k->blob(0), crypto::asBytes(manifestText), manifestSig))
            return refused("the bundle manifest's signature does not verify");
        try {
            for (const auto& c : manifest.at("change_sets")) expectedSets[c.at("id").get<std::string>()] = c.at("hash").get<std::string>();
            for (const auto& e : manifest.at("evidence")) expectedEvidence[e.at("hash").get<std::string>()] = e.at("size").get<std::uint64_t>();
        } catch (const Json::exception&) {
            return refused("bundle manifest lists are malformed");
        }
        manifest.erase("change_sets");  // in the maps now; the parsed lists are several times their text
        manifest.erase("evidence");
        return {};
    };

    ArchiveReader reader(
        [&](std::uint8_t type, const std::string& name, std::uint64_t size) -> AStatus {
            curType = type;
            curName = name;
            curSize = size;
            buffer.clear();
            bool signedYet = !manifestSig.empty() && !manifestText.empty();
            if (type == kManifest && manifestText.empty() && size <= kMaxBufferedRecord) return {};
            if (type == kSignature && !manifestText.empty() && manifestSig.empty() && size == 64) return {};
            if (type == kChangeSet && signedYet && size <= kMaxBufferedRecord) {
                if (!expectedSets.count(name)) return refused("bundle holds a change set its manifest does not list");
                return {};
            }
            if (type == kKeyEnvelopes && signedYet && !sawEnvelopes && size <= kMaxBufferedRecord) return {};
            if (type == kEvidence && signedYet && sawEnvelopes) {
                auto it = expectedEvidence.find(name);
                if (it == expectedEvidence.end() || it->second != size || seenEvidence.count(name))
                    return refused("bundle holds evidence its manifest does not list");
                auto w = ws.store().evidence().writer(writeBehind.get());
                if (!w) return fromSync(w.error());
                writer.emplace(std::move(*w));
                return {};
            }
            return refused("bundle archive is out of order or malformed");
        },
        [&](crypto::ByteView data) -> AStatus {
            if (curType == kEvidence) {
                XS_TRY_SYNC(writer->write(data));
                return {};
            }
            buffer.insert(buffer.end(), data.begin(), data.end());
            return {};
        },
        [&]() -> AStatus {
            switch (curType) {
                case kManifest: manifestText.assign(buffer.begin(), buffer.end()); return {};
                case kSignature: {
                    manifestSig = buffer;
                    auto verified = verifyManifest();
                    if (verified) startDb();  // from here on, only the database thread uses the database
                    return verified;
                }
                case kChangeSet: {
                    Json j = Json::parse(buffer.begin(), buffer.end(), nullptr, false);
                    auto cs = sync::changeSetFromJson(j);
                    if (!cs) return refused("bundle change set " + curName + " is malformed");
                    crypto::Digest d = crypto::sha256(sync::signingInput(*cs));
                    if (cs->id != curName || crypto::toHex(d) != expectedSets[curName])
                        return refused("bundle change set " + curName + " does not match its manifest");
                    if (!seenSets.insert(curName).second) return refused("bundle holds change set " + curName + " twice");
                    opCount += cs->ops.size();
                    return feedSet(std::move(*cs), buffer.size());
                }
                case kKeyEnvelopes: {
                    sawEnvelopes = true;
                    if (crypto::toHex(crypto::sha256(buffer)) != manifest.value("key_envelopes_sha256", ""))
                        return refused("bundle key envelopes do not match the manifest");
                    Json list = Json::parse(buffer.begin(), buffer.end(), nullptr, false);
                    if (!list.is_array()) return refused("bundle key envelopes are malformed");
                    for (const auto& j : list) {
                        auto e = sync::envelopeFromJson(j);
                        if (!e) return refused("bundle holds a " + e.message());
                        envelopes.push_back(std::move(*e));
                    }
                    // Only evidence follows: the database half has every change set and the keys.
                    if (dbInline) {
                        if (dbStatus) dbStatus = acceptKeys();
                        return {};
                    }
                    {
                        std::lock_guard lock(feedMutex);
                        feedEnded = true;
                    }
                    feedChanged.notify_all();
                    return {};
                }
                case kEvidence: {
                    auto info = writer->finish();
                    writer.reset();
                    if (!info) return fromSync(info.error());
                    if (!info->deduplicated) newEvidence.push_back(info->hash);
                    if (info->hash != curName) return refused("bundle evidence " + curName.substr(0, 12) + " does not match its hash");
                    seenEvidence.insert(curName);
                    return {};
                }
                default: return refused("bundle archive is malformed");
            }
        });

    // Pipelined over the two cores: a second thread opens the age payload (ReadAhead's thread
    // reads the file for it); this one parses the archive and stores the evidence (hash checked
    // against the manifest on a HashBehind thread, sealed), whose files the WriteBehind's threads
    // write and fsync; the database thread (above) applies the change sets meanwhile. Errors are
    // reported in the same order as before: the archive's first, then reading, then decryption.
    AStatus archiveStatus;
    PlainPipe pipe;
    auto dec = crypto::AgeDecryptor::create(identities, [&pipe](crypto::ByteView plain) -> crypto::CStatus {
        if (!pipe.put(plain)) return fail(crypto::CryptoError::Internal, "the archive reader stopped");
        return {};
    });
    if (!dec) return fail(AppError::Failed, "cannot start decryption: " + dec.message());

    auto cleanup = [&]() {
        stopDb();
        tx.reset();  // rolled back before the files go
        writer.reset();
        writeBehind.reset();  // joins its threads: files not yet in place go; those in place go below
        for (const auto& h : newEvidence) (void)ws.store().evidence().remove(h);
    };
    auto ageError = [&](const crypto::AgeDecryptor& d) -> Error<AppError> {
        if (!archiveStatus) return archiveStatus.error();
        auto f = d.failure();
        if (f == crypto::AgeFailure::NoMatch) return refused("the bundle is not addressed to this audit office's key");
        if (f == crypto::AgeFailure::HeaderMac || f == crypto::AgeFailure::Header || f == crypto::AgeFailure::Armor)
            return refused("the bundle's age header is damaged or was tampered with");
        return refused("the bundle is truncated, damaged or was tampered with (payload failed authentication)");
    };
    // The decrypting thread's outcome, read after it is joined.
    std::string readError;
    bool decryptFailed = false;
    std::string threadError;
    auto decrypt = [&]() noexcept {
        try {
            auto input = sync::ReadAhead::start(fd, bundle);  // a third thread reads the file
            if (!input) {
                readError = input.message();
            } else {
                for (;;) {
                    auto piece = (*input)->next();
                    if (!piece) {
                        readError = piece.message();
                        break;
                    }
                    if (piece->empty()) {
                        decryptFailed = !dec->finish();
                        break;
                    }
                    if (!dec->write(*piece)) {
                        decryptFailed = true;
                        break;
                    }
                }
            }
        } catch (const std::exception& e) {
            threadError = e.what();
        } catch (...) {
            threadError = "unexpected exception";
        }
        pipe.close(/*complete=*/!decryptFailed && readError.empty() && threadError.empty());
    };
    std::thread decrypter;
    PipeThread joiner{pipe, decrypter};  // on an early return: stops the pipe and joins
    try {
        decrypter = std::thread(decrypt);
    } catch (const std::exception& e) {
        cleanup();
        return fail(AppError::Failed, std::string("cannot start the decryption thread: ") + e.what());
    }
    for (PlainPipe::Block* block = nullptr; (block = pipe.next(block)) != nullptr;) {
        archiveStatus = reader.feed(crypto::ByteView(block->bytes.data(), block->size));
        if (!archiveStatus) break;
    }
    pipe.stop();  // after an archive error: the decrypting thread stops at its next chunk
    decrypter.join();
    if (!archiveStatus) {
        cleanup();
        return archiveStatus.error();
    }
    if (!readError.empty()) {
        cleanup();
        return fail(AppError::Failed, "cannot read bundle: " + readError);
    }
    if (!threadError.empty()) {
        cleanup();
        return fail(AppError::Failed, "bundle decryption failed: " + threadError);
    }
    if (decryptFailed) {
        auto e = ageError(*dec);
        cleanup();
        return e;
    }
    if (!reader.ended() || manifestSig.empty() || !sawEnvelopes) {
        cleanup();
        return refused("the bundle is incomplete (no end record)");
    }
    if (seenSets.size() != expectedSets.size() || seenEvidence.size() != expectedEvidence.size()) {
        cleanup();
        return refused("the bundle lacks change sets or evidence its manifest lists");
    }
    // Every evidence file durable and in place (fsynced, renamed, directories fsynced) before the
    // change sets that name it can commit.
    if (auto synced = writeBehind->sync(); !synced) {
        cleanup();
        return fromSync(synced.error());
    }
    // Change sets and keys in one transaction: all or nothing. The database thread ends once it
    // has accepted the keys (the end of the feed was signalled with them).
    if (dbThread.joinable()) dbThread.join();
    auto headerDigest = dec->headerDigest();
    if (dbStatus && (!tx || !headerDigest)) dbStatus = fail(AppError::Failed, "the import ended in an unexpected state");
    if (!dbStatus) {
        auto e = dbStatus.error();
        cleanup();
        return e;
    }
    if (auto c = tx->commit(); !c) {
        cleanup();
        return fromSync(c.error());
    }
    tx.reset();
    // The receipt (article 7(4)): signed by the office device; the field device wipes on it.
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    Json receipt = {{"format", "xunshen-handover-receipt"},
                    {"version", 2},
                    {"suite", 1},
                    {"bundle_header_sha256", crypto::toHex(*headerDigest)},
                    {"manifest_sha256", crypto::toHex(crypto::sha256(crypto::asBytes(manifestText)))},
                    {"inspection", manifest.value("inspection", "")},
                    {"author_device", manifest.value("author_device", "")},
                    {"change_sets", seenSets.size()},
                    {"ops", opCount},
                    {"evidence_files", seenEvidence.size()},
                    {"office_device", ws.log().deviceId()},
                    {"received_at", now}};
    std::string body = receipt.dump();
    auto signature = ws.log().identity().sign(crypto::asBytes(body));
    if (!signature) return fromSync(signature.error());
    std::string receiptText =
        Json{{"format", "xunshen-handover-receipt-signed"}, {"body", body}, {"signature", crypto::toHex(*signature)}}.dump(2) + "\n";
    return Json{{"inspection", manifest.value("inspection", "")}, {"author_device", manifest.value("author_device", "")},
                {"change_sets", seenSets.size()}, {"change_sets_new", freshSets}, {"evidence_files", seenEvidence.size()},
                {"receipt", receiptText}};
}

AResult<Json> confirmHandover(Workspace& ws, const std::string& receiptText) {
    Json outer = Json::parse(receiptText, nullptr, false);
    const auto& str = textOf;
    if (outer.is_discarded() || !outer.is_object() || str(outer, "format") != "xunshen-handover-receipt-signed")
        return refused("not a signed Xunshen handover receipt");
    std::string body = str(outer, "body");
    auto sig = crypto::fromHex(str(outer, "signature"));
    Json receipt = Json::parse(body, nullptr, false);
    if (!sig || sig->size() != 64 || receipt.is_discarded() || !receipt.is_object() ||
        str(receipt, "format") != "xunshen-handover-receipt")
        return refused("the receipt is malformed");
    auto pinned = ws.store().meta("office_sign_public_key");
    if (!pinned) return refused("this store is not enrolled with an audit office");
    auto officeKey = crypto::fromHex(*pinned);
    if (!officeKey || !crypto::ed25519Verify(*officeKey, crypto::asBytes(body), *sig))
        return refused("the receipt's signature does not verify with the audit office's key");
    std::string inspection = str(receipt, "inspection");
    if (str(receipt, "author_device") != ws.log().deviceId()) return refused("the receipt is for another device's bundle");
    auto exported = ws.store().meta("handover_bundle:" + inspection);
    if (!exported) return refused("this device exported no bundle for inspection " + inspection);
    Json names = Json::parse(*exported, nullptr, false);
    if (!names.is_object() || str(receipt, "bundle_header_sha256").size() != 64 ||
        str(names, "bundle_header_sha256") != str(receipt, "bundle_header_sha256") ||
        str(names, "manifest_sha256") != str(receipt, "manifest_sha256"))
        return refused("the receipt names another bundle than the last one exported here (export again or use its receipt)");
    // Wipe: this inspection's evidence files (unless another inspection here still uses the same content).
    auto s = ws.store().db().prepare(
        "SELECT DISTINCT a.hash FROM attachments a JOIN findings f ON f.id = a.finding_id WHERE f.inspection_id = ?1"
        " AND a.hash NOT IN (SELECT a2.hash FROM attachments a2 JOIN findings f2 ON f2.id = a2.finding_id"
        " WHERE f2.inspection_id != ?1)");
    if (!s) return fromSync(s.error());
    s->bind(1, inspection);
    std::vector<std::string> hashes;
    for (;;) {
        auto row = s->step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        hashes.push_back(s->text(0));
    }
    s.value().reset();
    std::size_t removed = 0;
    for (const auto& h : hashes) {
        if (!ws.store().evidence().contains(h)) continue;
        XS_TRY_SYNC(ws.store().evidence().remove(h));
        ++removed;
    }
    // Crypto-shred: the inspection's channel keys and their envelopes go, so its ops (kept, sealed,
    // for the chain) no longer open here, and what they projected is dropped (secure_delete
    // overwrites it; the checkpoint empties the WAL).
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::vector<std::string> channels = inspectionChannels(inspection);
    Json record = {{"inspection", inspection}, {"bundle_header_sha256", str(receipt, "bundle_header_sha256")},
                   {"manifest_sha256", str(receipt, "manifest_sha256")}, {"wiped_at", now},
                   {"evidence_files_removed", removed}, {"channels_shredded", channels},
                   {"received_at", receipt.value("received_at", 0)}};
    {
        auto tx = sync::Transaction::begin(ws.store().db());
        if (!tx) return fromSync(tx.error());
        XS_TRY_SYNC(ws.log().shredChannels(channels, "handover receipt for bundle " + str(receipt, "bundle_header_sha256").substr(0, 16)));
        XS_TRY_SYNC(ws.store().setMeta("wiped:" + inspection, record.dump()));
        XS_TRY_SYNC(tx->commit());
    }
    XS_TRY_SYNC(ws.store().db().exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    return record;
}

}  // namespace xs::app
