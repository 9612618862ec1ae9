#include "sync/bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "crypto/age.h"
#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "sync/changeset_codec.h"
#include "sync/file_io.h"
#include "sync/env.h"
#include "sync/suite.h"

namespace xs::sync {
namespace fs = std::filesystem;
namespace {

using namespace archive;  // record types, recordHeader, Reader
constexpr std::uint64_t kMaxBufferedRecord = 16 * 1024 * 1024;  // manifest, one change set

Error<SyncError> refusedBundle(const std::string& why) { return fail(SyncError::Invalid, why); }

std::int64_t nowSeconds() {
    return wallClockMs() / 1000;
}

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
    std::vector<Block*> m_free;   // guarded by m_mutex
    std::vector<Block*> m_full;   // in order; guarded by m_mutex
    Block* m_fill = nullptr;      // the producer's
    std::mutex m_mutex;
    std::condition_variable m_changed;
    bool m_closed = false;    // guarded by m_mutex
    bool m_complete = false;  // guarded by m_mutex
    bool m_stopped = false;   // guarded by m_mutex
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

// ------------------------------------------------------------------------- export

SResult<BundleExportResult> exportBundle(OpLog& log, Store& store, const BundleExportRequest& request) {
    if (request.officeKey.size() != 32) return fail(SyncError::Invalid, "the office key is damaged");
    if (!request.manifestExtra.is_object()) return fail(SyncError::Invalid, "manifest extras must be an object");
    // The change sets are read twice, one at a time: once here for the manifest (their ids and
    // hashes), once below into the archive. Memory does not grow with the store's history.
    BundleExportResult result;
    Json csList = Json::array();
    XS_TRY(log.forEachChangeSet([&](const ChangeSet& cs) -> SStatus {
        csList.push_back({{"id", cs.id}, {"device", cs.device}, {"seq", cs.seq}, {"hash", crypto::toHex(cs.hash)}});
        auto& last = result.covered[cs.device];
        last = std::max(last, cs.seq);
        return {};
    }));
    Json evList = Json::array();
    for (const auto& x : request.evidence) evList.push_back({{"hash", x.hash}, {"size", x.size}});
    Json manifest = request.manifestExtra;
    manifest.update(Json{{"format", "xunshen-handover-manifest"},
                         {"version", kManifestVersion},
                         {"suite", kSuiteXs1},
                         {"scope", request.scope.name},
                         {"author_device", log.deviceId()},
                         {"created_at", nowSeconds()},
                         {"change_sets", csList},
                         {"evidence", evList}});
    std::string manifestText = manifest.dump();
    auto signature = log.identity().sign(crypto::asBytes(manifestText));
    if (!signature) return signature.error();

    const fs::path& out = request.out;
    fs::path dir = out.parent_path().empty() ? fs::path(".") : out.parent_path();
    // Pipelined over the two cores: this thread reads and opens the evidence (content hash
    // checked); a second seals the archive for the office; the WriteBehind's threads write the
    // bundle (O_DIRECT) and fsync it. The bundle is byte for byte what one thread would write.
    auto writeBehind = WriteBehind::start();
    if (!writeBehind) return writeBehind.error();
    auto tmp = TempFile::create(dir, out.filename().string(), writeBehind->get());
    if (!tmp) return tmp.error();
    // The sealing thread's, until it is joined.
    std::uint64_t written = 0;
    SStatus sinkStatus;
    std::vector<crypto::Bytes> recipients = {request.officeKey};
    auto enc = crypto::AgeEncryptor::create(recipients, [&](crypto::ByteView bytes) -> crypto::CStatus {
        written += bytes.size();
        sinkStatus = tmp->write(bytes);
        if (!sinkStatus) return fail(crypto::CryptoError::Internal, sinkStatus.message());
        return {};
    });
    if (!enc) return fail(SyncError::Crypto, "cannot start the age encryption: " + enc.message());
    PlainPipe pipe;
    SStatus sealStatus;
    auto seal = [&]() noexcept {
        try {
            for (PlainPipe::Block* block = nullptr; (block = pipe.next(block)) != nullptr;) {
                if (!enc->write(crypto::ByteView(block->bytes.data(), block->size))) {
                    sealStatus = sinkStatus ? fail(SyncError::Crypto, "age encryption failed") : sinkStatus.error();
                    break;
                }
            }
            if (sealStatus && pipe.complete() && !enc->finish())
                sealStatus = sinkStatus ? fail(SyncError::Crypto, "age encryption failed") : sinkStatus.error();
        } catch (const std::exception& ex) {
            sealStatus = fail(SyncError::Crypto, std::string("bundle encryption failed: ") + ex.what());
        } catch (...) {
            sealStatus = fail(SyncError::Crypto, "bundle encryption failed");
        }
        if (!sealStatus) pipe.stop();
    };
    std::thread sealer;
    PipeThread joiner{pipe, sealer};  // on an early return: ends the pipe and joins
    try {
        sealer = std::thread(seal);
    } catch (const std::exception& ex) {
        return fail(SyncError::Io, std::string("cannot start the sealing thread: ") + ex.what());
    }
    auto put = [&](crypto::ByteView bytes) -> SStatus {
        if (pipe.put(bytes)) return {};
        sealer.join();  // it stopped the pipe: it failed
        return sealStatus ? fail(SyncError::Crypto, "age encryption stopped") : sealStatus;
    };
    const crypto::Bytes magic = {'X', 'S', 'H', 'B', kBundleArchiveVersion, 1};
    XS_TRY(put(magic));
    XS_TRY(put(recordHeader(kManifest, "manifest.json", manifestText.size())));
    XS_TRY(put(crypto::asBytes(manifestText)));
    XS_TRY(put(recordHeader(kSignature, "manifest.sig", signature->size())));
    XS_TRY(put(*signature));
    std::size_t streamedSets = 0;
    SStatus putStatus;
    auto setsWritten = log.forEachChangeSet([&](const ChangeSet& cs) -> SStatus {
        // The manifest lists them in this same order; a change set committed in between (another
        // command on this store) would not be listed: refuse rather than write a bundle the
        // office would refuse.
        if (streamedSets >= csList.size() || csList[streamedSets]["id"] != cs.id)
            return fail(SyncError::Invalid, "the store changed while the bundle was written; export again");
        ++streamedSets;
        std::string text = changeSetToJson(cs).dump();
        putStatus = put(recordHeader(kChangeSet, cs.id, text.size()));
        if (putStatus) putStatus = put(crypto::asBytes(text));
        if (!putStatus) return putStatus;
        return {};
    });
    if (!putStatus) return putStatus.error();
    if (!setsWritten) return setsWritten.error();
    if (streamedSets != csList.size()) return fail(SyncError::Invalid, "the store changed while the bundle was written; export again");
    // The disk reads the next files (O_DIRECT, on ReadAhead's thread) while this one is opened and sealed.
    std::vector<std::string> hashes;
    hashes.reserve(request.evidence.size());
    for (const auto& x : request.evidence) hashes.push_back(x.hash);
    auto files = store.evidence().readSequence(request.scope, hashes);
    if (!files) return files.error();
    std::uint64_t evidenceTotal = 0, evidenceDone = 0;
    for (const auto& x : request.evidence) evidenceTotal += x.size;
    auto cancelled = [&] { return request.progress && !request.progress(evidenceDone, evidenceTotal); };
    if (cancelled()) return fail(SyncError::Cancelled, "cancelled: no bundle was written");
    for (const auto& x : request.evidence) {
        XS_TRY(put(recordHeader(kEvidence, x.hash, x.size)));
        std::uint64_t streamed = 0;
        auto r = files->read(x.hash, [&](crypto::ByteView plain) -> SStatus {
            streamed += plain.size();
            evidenceDone += plain.size();
            auto s = put(plain);
            if (!s) return fail(SyncError::Io, s.message());
            if (cancelled()) return fail(SyncError::Cancelled, "cancelled: no bundle was written");
            return {};
        });
        if (!r) return r.error();
        if (streamed != x.size)
            return fail(SyncError::Corrupt, "evidence " + x.hash.substr(0, 12) + " has another size than recorded");
    }
    XS_TRY(put(recordHeader(kEnd, "", 0)));
    pipe.close(/*complete=*/true);
    sealer.join();
    XS_TRY(sealStatus);
    XS_TRY(tmp->commitAs(out));
    XS_TRY((*writeBehind)->sync());  // written, fsynced, renamed into place, directory fsynced
    result.headerDigest = crypto::toHex(enc->headerDigest());
    result.manifestHash = crypto::toHex(crypto::sha256(crypto::asBytes(manifestText)));
    result.changeSets = csList.size();
    result.evidenceFiles = request.evidence.size();
    result.bytes = written;
    return result;
}

// ------------------------------------------------------------------------- import

namespace {

// One import: the archive parsed as it is decrypted (this thread), the evidence written as it
// streams (WriteBehind's threads), the change sets applied on a database thread as they arrive.
// The ApplySession's transaction commits on this thread only after every evidence file is
// durable; any failure rolls it back and removes the evidence this import wrote.
class BundleImport {
public:
    BundleImport(OpLog& log, Store& store, const BundleImportPolicy& policy) : m_log(log), m_store(store), m_policy(policy) {}
    ~BundleImport() { cleanup(); }

    SResult<BundleImportResult> run(const crypto::SecretBytes& officeSecret, const fs::path& bundle);

private:
    // Archive callbacks (this thread).
    SStatus onRecord(std::uint8_t type, const std::string& name, std::uint64_t size);
    SStatus onData(crypto::ByteView data);
    SStatus onRecordEnd();
    SStatus verifyManifest();
    SStatus feedSet(ChangeSet cs, std::size_t textBytes);
    // The database thread.
    void dbWork() noexcept;
    SStatus applyOne(const ChangeSet& cs);
    void startDb();
    void stopDb();
    void endFeed();
    void cleanup();
    Error<SyncError> ageError(const crypto::AgeDecryptor& d) const;

    OpLog& m_log;
    Store& m_store;
    const BundleImportPolicy& m_policy;

    // Built while the archive streams in (this thread).
    std::string m_manifestText;
    Json m_manifest;
    crypto::Bytes m_manifestSig;
    std::map<std::string, std::string> m_expectedSets;       // id -> hash hex
    std::map<std::string, std::uint64_t> m_expectedEvidence;  // hash -> size
    std::set<std::string> m_seenSets;
    std::size_t m_opCount = 0;
    std::optional<EvidenceScope> m_scope;
    std::set<std::string> m_seenEvidence;
    std::vector<std::string> m_newEvidence;  // written by this import (removed if it fails)
    std::uint8_t m_curType = 0;
    std::string m_curName;
    crypto::Bytes m_buffer;
    // Evidence files are written and fsynced by the WriteBehind's threads (declared before the
    // writer, which it must outlive); they are durable and in place only after its sync().
    std::unique_ptr<WriteBehind> m_writeBehind;
    std::optional<EvidenceWriter> m_writer;
    SStatus m_archiveStatus;

    // The database half. Change sets wait in a queue of at most kQueuedBytes of their archive
    // text (or one, if larger): enough that the archive rarely waits for the database before it
    // can go on to the evidence (500 findings' change sets are 1.4 MB).
    static constexpr std::size_t kQueuedBytes = std::size_t{4} << 20;
    std::unique_ptr<ApplySession> m_session;  // the database thread's until it is joined
    std::set<std::string> m_heldIds;          // the database thread's: change sets of the bundle held
    SStatus m_dbStatus;                       // the database thread's, read after the join
    std::mutex m_feedMutex;
    std::condition_variable m_feedChanged;
    std::deque<std::pair<ChangeSet, std::size_t>> m_feed;  // guarded by m_feedMutex
    std::size_t m_feedBytes = 0;                         // guarded by m_feedMutex
    bool m_feedEnded = false;      // guarded by m_feedMutex: no more change sets
    bool m_feedAbandoned = false;  // guarded by m_feedMutex: the import failed elsewhere: stop
    bool m_dbFailed = false;       // guarded by m_feedMutex: the database thread gave up
    std::thread m_dbThread;
    bool m_dbInline = false;  // no thread could be started: this thread applies as it parses
};

SStatus BundleImport::applyOne(const ChangeSet& cs) {
    if (!m_session) {
        auto s = ApplySession::begin(m_log);
        if (!s) return s.error();
        m_session = std::move(*s);
    }
    auto outcome = m_session->add(cs);
    if (!outcome) {
        if (outcome.code() == SyncError::Corrupt && outcome.message().rfind("fork: ", 0) == 0)
            return fail(SyncError::Corrupt, "a change set in the bundle forks its device's chain: " + outcome.message().substr(6));
        return fail(outcome.code() == SyncError::Database || outcome.code() == SyncError::Io ? outcome.code() : SyncError::Invalid,
                    "a change set in the bundle failed verification: " + outcome.message());
    }
    if (*outcome == ApplyOutcome::Held) m_heldIds.insert(cs.id);
    return {};
}

void BundleImport::dbWork() noexcept {
    try {
        for (;;) {
            std::optional<ChangeSet> next;
            {
                std::unique_lock lock(m_feedMutex);
                m_feedChanged.wait(lock, [&] { return !m_feed.empty() || m_feedEnded || m_feedAbandoned; });
                if (m_feedAbandoned) return;
                if (m_feed.empty()) break;  // ended, and all applied
                next.emplace(std::move(m_feed.front().first));
                m_feedBytes -= m_feed.front().second;
                m_feed.pop_front();
            }
            m_feedChanged.notify_all();
            m_dbStatus = applyOne(*next);
            if (!m_dbStatus) break;
        }
    } catch (const std::exception& ex) {
        m_dbStatus = fail(SyncError::Database, std::string("applying the bundle failed: ") + ex.what());
    } catch (...) {
        m_dbStatus = fail(SyncError::Database, "applying the bundle failed");
    }
    if (!m_dbStatus) {
        std::lock_guard lock(m_feedMutex);
        m_dbFailed = true;
        m_feed.clear();
        m_feedBytes = 0;
    }
    m_feedChanged.notify_all();
}

void BundleImport::startDb() {
    try {
        m_dbThread = std::thread([this] { dbWork(); });
    } catch (const std::exception&) {
        m_dbInline = true;
    }
}

void BundleImport::stopDb() {
    {
        std::lock_guard lock(m_feedMutex);
        m_feedAbandoned = true;
    }
    m_feedChanged.notify_all();
    if (m_dbThread.joinable()) m_dbThread.join();
}

void BundleImport::endFeed() {
    {
        std::lock_guard lock(m_feedMutex);
        m_feedEnded = true;
    }
    m_feedChanged.notify_all();
}

void BundleImport::cleanup() {
    stopDb();
    m_session.reset();  // rolled back (fork records are written again) before the files go
    m_writer.reset();
    m_writeBehind.reset();  // joins its threads: files not yet in place go; those in place go below
    if (m_scope)
        for (const auto& h : m_newEvidence) (void)m_store.evidence().remove(m_scope->name, h);
    m_newEvidence.clear();
}

SStatus BundleImport::feedSet(ChangeSet cs, std::size_t textBytes) {
    if (m_dbInline) {
        if (!m_dbStatus) return {};
        m_dbStatus = applyOne(cs);
        return {};
    }
    std::unique_lock lock(m_feedMutex);
    m_feedChanged.wait(lock, [&] { return m_feed.empty() || m_feedBytes + textBytes <= kQueuedBytes || m_dbFailed; });
    if (!m_dbFailed) {
        m_feed.emplace_back(std::move(cs), textBytes);
        m_feedBytes += textBytes;
    }
    lock.unlock();
    m_feedChanged.notify_all();
    return {};
}

SStatus BundleImport::verifyManifest() {
    auto parsed = parseManifestHead(m_manifestText);
    if (!parsed) return parsed.error();
    m_manifest = std::move(*parsed);
    auto text = [&](const char* key) {
        auto it = m_manifest.find(key);
        return it != m_manifest.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    std::string author = text("author_device");
    auto key = m_log.signKeyOf(author);
    if (!key) return key.error();
    if (!*key) return fail(SyncError::Forbidden, "bundle was made by a device this office never enrolled (" + author + ")");
    if (!crypto::ed25519Verify(**key, crypto::asBytes(m_manifestText), m_manifestSig))
        return refusedBundle("the bundle manifest's signature does not verify");
    auto scopeIt = m_manifest.find("scope");
    if (scopeIt == m_manifest.end() || !scopeIt->is_string() || scopeIt->get<std::string>().empty())
        return refusedBundle("bundle manifest names no scope");
    auto scope = m_policy.scopeKey(scopeIt->get<std::string>(), m_manifest);
    if (!scope) return scope.error();
    m_scope.emplace(std::move(*scope));
    auto lists = parseManifestLists(m_manifest);
    if (!lists) return lists.error();
    m_expectedSets = std::move(lists->changeSets);
    m_expectedEvidence = std::move(lists->evidence);
    m_manifest.erase("change_sets");  // in the maps now; the parsed lists are several times their text
    m_manifest.erase("evidence");
    return {};
}

SStatus BundleImport::onRecord(std::uint8_t type, const std::string& name, std::uint64_t size) {
    m_curType = type;
    m_curName = name;
    m_buffer.clear();
    bool signedYet = !m_manifestSig.empty() && !m_manifestText.empty();
    if (type == kManifest && name == "manifest.json" && m_manifestText.empty() && size <= kMaxBufferedRecord) return {};
    if (type == kSignature && name == "manifest.sig" && !m_manifestText.empty() && m_manifestSig.empty() && size == 64) return {};
    if (type == kChangeSet && signedYet && size <= kMaxBufferedRecord && m_seenEvidence.empty() && !m_writer) {
        if (!m_expectedSets.count(name)) return refusedBundle("bundle holds a change set its manifest does not list");
        return {};
    }
    if (type == kEvidence && signedYet) {
        auto it = m_expectedEvidence.find(name);
        if (it == m_expectedEvidence.end() || it->second != size || m_seenEvidence.count(name))
            return refusedBundle("bundle holds evidence its manifest does not list");
        if (m_seenEvidence.empty()) {
            // Only evidence follows: the database half has every change set.
            if (m_seenSets.size() != m_expectedSets.size())
                return refusedBundle("the bundle lacks change sets its manifest lists");
            if (!m_dbInline) endFeed();
        }
        auto w = m_store.evidence().writer(*m_scope, m_writeBehind.get());
        if (!w) return w.error();
        m_writer.emplace(std::move(*w));
        return {};
    }
    return refusedBundle("bundle archive is out of order or malformed");
}

SStatus BundleImport::onData(crypto::ByteView data) {
    if (m_curType == kEvidence) return m_writer->write(data);
    m_buffer.insert(m_buffer.end(), data.begin(), data.end());
    return {};
}

SStatus BundleImport::onRecordEnd() {
    switch (m_curType) {
        case kManifest: m_manifestText.assign(m_buffer.begin(), m_buffer.end()); return {};
        case kSignature: {
            m_manifestSig = m_buffer;
            auto verified = verifyManifest();
            if (verified) startDb();  // from here on, only the database thread uses the database
            return verified;
        }
        case kChangeSet: {
            auto j = parseBoundedJson(std::string_view(reinterpret_cast<const char*>(m_buffer.data()), m_buffer.size()),
                                      kMaxBufferedRecord, "bundle change set " + m_curName);
            if (!j) return j.error();
            auto cs = changeSetFromJson(*j);
            if (!cs) return refusedBundle("bundle change set " + m_curName + " is malformed: " + cs.message());
            if (cs->id != m_curName || crypto::toHex(cs->hash) != m_expectedSets[m_curName])
                return refusedBundle("bundle change set " + m_curName + " does not match its manifest");
            if (!m_seenSets.insert(m_curName).second) return refusedBundle("bundle holds change set " + m_curName + " twice");
            m_opCount += cs->ops.size();
            return feedSet(std::move(*cs), m_buffer.size());
        }
        case kEvidence: {
            auto info = m_writer->finish();
            m_writer.reset();
            if (!info) return info.error();
            if (!info->deduplicated) m_newEvidence.push_back(info->hash);
            if (info->hash != m_curName) return refusedBundle("bundle evidence " + m_curName.substr(0, 12) + " does not match its hash");
            m_seenEvidence.insert(m_curName);
            return {};
        }
        default: return refusedBundle("bundle archive is malformed");
    }
}

Error<SyncError> BundleImport::ageError(const crypto::AgeDecryptor& d) const {
    if (!m_archiveStatus) return m_archiveStatus.error();
    auto f = d.failure();
    if (f == crypto::AgeFailure::NoMatch) return fail(SyncError::Forbidden, "the bundle is not addressed to this audit office's key");
    if (f == crypto::AgeFailure::HeaderMac || f == crypto::AgeFailure::Header || f == crypto::AgeFailure::Armor)
        return refusedBundle("the bundle's age header is damaged or was tampered with");
    return refusedBundle("the bundle is truncated, damaged or was tampered with (payload failed authentication)");
}

SResult<BundleImportResult> BundleImport::run(const crypto::SecretBytes& officeSecret, const fs::path& bundle) {
    std::vector<crypto::SecretBytes> identities;
    identities.push_back(officeSecret.clone());
    int fd = ::open(bundle.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(SyncError::NotFound, "cannot read bundle " + bundle.string());
    struct Closer { int fd; ~Closer() { ::close(fd); } } closer{fd};
    auto writeBehind = WriteBehind::start();
    if (!writeBehind) return writeBehind.error();
    m_writeBehind = std::move(*writeBehind);

    Reader reader([this](std::uint8_t t, const std::string& n, std::uint64_t s) { return onRecord(t, n, s); },
                         [this](crypto::ByteView d) { return onData(d); }, [this]() { return onRecordEnd(); });
    // Pipelined over the two cores: a second thread opens the age payload (ReadAhead's thread
    // reads the file for it); this one parses the archive and stores the evidence (hash checked
    // against the manifest on a HashBehind thread, sealed), whose files the WriteBehind's threads
    // write and fsync; the database thread applies the change sets meanwhile. Errors are reported
    // in this order: the archive's first, then reading, then decryption.
    PlainPipe pipe;
    auto dec = crypto::AgeDecryptor::create(identities, [&pipe](crypto::ByteView plain) -> crypto::CStatus {
        if (!pipe.put(plain)) return fail(crypto::CryptoError::Internal, "the archive reader stopped");
        return {};
    });
    if (!dec) return fail(SyncError::Crypto, "cannot start decryption: " + dec.message());
    // The decrypting thread's outcome, read after it is joined.
    std::string readError;
    bool decryptFailed = false;
    std::string threadError;
    auto decrypt = [&]() noexcept {
        try {
            auto input = ReadAhead::start(fd, bundle);  // a third thread reads the file
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
        return fail(SyncError::Io, std::string("cannot start the decryption thread: ") + e.what());
    }
    struct stat st {};
    const std::uint64_t bundleBytes = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    std::uint64_t fed = 0;
    for (PlainPipe::Block* block = nullptr; (block = pipe.next(block)) != nullptr;) {
        m_archiveStatus = reader.feed(crypto::ByteView(block->bytes.data(), block->size));
        if (!m_archiveStatus) break;
        fed += block->size;
        if (m_policy.progress && !m_policy.progress(std::min(fed, bundleBytes), bundleBytes)) {
            m_archiveStatus = fail(SyncError::Cancelled, "cancelled: nothing of the bundle was imported");
            break;
        }
    }
    pipe.stop();  // after an archive error: the decrypting thread stops at its next chunk
    decrypter.join();
    if (!m_archiveStatus) return m_archiveStatus.error();
    // Plaintext is a little shorter than the file (the age framing): the whole file is read now.
    if (m_policy.progress) (void)m_policy.progress(bundleBytes, bundleBytes);
    if (!readError.empty()) return fail(SyncError::Io, "cannot read bundle: " + readError);
    if (!threadError.empty()) return fail(SyncError::Crypto, "bundle decryption failed: " + threadError);
    if (decryptFailed) return ageError(*dec);
    if (!reader.ended() || m_manifestSig.empty()) return refusedBundle("the bundle is incomplete (no end record)");
    if (m_seenSets.size() != m_expectedSets.size() || m_seenEvidence.size() != m_expectedEvidence.size())
        return refusedBundle("the bundle lacks change sets or evidence its manifest lists");
    if (m_seenEvidence.empty() && !m_dbInline) endFeed();  // no evidence record ended the feed
    // Every evidence file durable and in place (fsynced, renamed, directories fsynced) before the
    // change sets that name it can commit.
    XS_TRY(m_writeBehind->sync());
    if (m_dbThread.joinable()) m_dbThread.join();
    XS_TRY(m_dbStatus);
    auto headerDigest = dec->headerDigest();
    if (!headerDigest) return fail(SyncError::Crypto, "the import ended in an unexpected state");
    if (!m_session) {
        auto s = ApplySession::begin(m_log);
        if (!s) return s.error();
        m_session = std::move(*s);
    }
    // An honest bundle carries complete chains: anything held means something was withheld.
    if (!m_heldIds.empty()) {
        auto issues = m_log.chainIssues();
        if (!issues) return issues.error();
        for (const auto& h : *issues)
            if (h.kind == "gap") return refusedBundle("the bundle's chain of device " + h.device + " is incomplete (" + h.detail + ")");
        return refusedBundle("the bundle's chains are incomplete");
    }
    BundleImportResult result;
    result.manifest = m_manifest;
    result.authorDevice = m_manifest["author_device"].get<std::string>();  // a string: checked with the signature
    result.scope = m_scope->name;
    result.headerDigest = crypto::toHex(*headerDigest);
    result.manifestHash = crypto::toHex(crypto::sha256(crypto::asBytes(m_manifestText)));
    result.changeSets = m_seenSets.size();
    result.ops = m_opCount;
    // Which received files to keep is decided once every change set is in: a file that no accepted
    // record names (refused ones included) goes.
    for (const auto& [hash, size] : m_expectedEvidence) {
        auto keep = m_policy.keepEvidence ? m_policy.keepEvidence(m_scope->name, hash) : SResult<bool>(true);
        if (!keep) return keep.error();
        (*keep ? result.evidence : result.dropped).push_back({hash, size});
    }
    auto report = m_session->commit([&]() -> SStatus {
        XS_TRY(m_store.saveEvidenceScope(*m_scope));  // a new scope's key, with its first files
        for (const auto& e : result.evidence) XS_TRY(m_store.recordEvidence(m_scope->name, e.hash, e.size));
        return {};
    });
    if (!report) return report.error();
    result.report = std::move(*report);
    m_session.reset();
    // Committed: the kept files stay; the dropped ones this import wrote go.
    std::set<std::string> dropped;
    for (const auto& e : result.dropped) dropped.insert(e.hash);
    for (const auto& h : m_newEvidence)
        if (dropped.count(h)) (void)m_store.evidence().remove(m_scope->name, h);
    m_newEvidence.clear();
    return result;
}

}  // namespace

SResult<BundleImportResult> importBundle(OpLog& log, Store& store, const crypto::SecretBytes& officeSecret, const fs::path& bundle,
                                         const BundleImportPolicy& policy) {
    BundleImport import(log, store, policy);
    return import.run(officeSecret, bundle);
}

// ------------------------------------------------------------------------- receipts

std::string signReceipt(const DeviceIdentity& office, const Json& body) {
    std::string text = body.dump();
    auto signature = office.sign(crypto::asBytes(text));
    return Json{{"format", "xunshen-handover-receipt-signed"}, {"body", text},
                {"signature", signature ? crypto::toHex(*signature) : std::string()}}
               .dump(2) +
           "\n";
}

SResult<Json> openReceipt(const std::string& text, crypto::ByteView officeSignKey) {
    auto outer = parseBoundedJson(text, 1 << 20, "the receipt");
    if (!outer) return outer.error();
    auto str = [](const Json& j, const char* k) {
        auto it = j.find(k);
        return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (!outer->is_object() || str(*outer, "format") != "xunshen-handover-receipt-signed")
        return fail(SyncError::Invalid, "not a signed Xunshen handover receipt");
    std::string body = str(*outer, "body");
    auto sig = crypto::fromHex(str(*outer, "signature"));
    auto receipt = parseBoundedJson(body, 1 << 20, "the receipt body");
    if (!sig || sig->size() != 64 || !receipt || !receipt->is_object() || str(*receipt, "format") != "xunshen-handover-receipt")
        return fail(SyncError::Invalid, "the receipt is malformed");
    if (!crypto::ed25519Verify(officeSignKey, crypto::asBytes(body), *sig))
        return fail(SyncError::Forbidden, "the receipt's signature does not verify with the audit office's key");
    if (!receipt->contains("version") || (*receipt)["version"] != kReceiptVersion)
        return fail(SyncError::Invalid, "the receipt is of another version (this build reads version " + std::to_string(kReceiptVersion) + ")");
    return std::move(*receipt);
}

}  // namespace xs::sync
