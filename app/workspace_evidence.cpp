// Evidence online: the encrypted evidence files travel to and from the sync server as blobs
// (sync/net/client.h). The capturing device queues each new file (blob_uploads) in the change set
// that attaches it; the attachment op names the blob, its size and the file key that opens it,
// under the team channel's encryption, so only the channel's readers can open what the server
// keeps. A device that reads an attachment whose file it lacks fetches the blob, opens it with
// that key and stores the content under its own scope key.
#include <cerrno>
#include <cstring>

#include "app/workspace.h"
#include "app/workspace_parts.h"
#include "crypto/encoding.h"
#include "sync/env.h"
#include "sync/net/client.h"

namespace xs::app {
using namespace parts;
namespace fs = std::filesystem;

AResult<Workspace::EvidenceTransfer> Workspace::transferEvidence(sync::net::Connection& conn,
                                                                 const std::function<bool(std::uint64_t, std::uint64_t)>& progress) {
    XS_TRY_APP(requireEnrolled());
    EvidenceTransfer out;
    sync::Db& db = m_store->db();
    // Connection failures end the transfer (the next round resumes); refusals are reported.
    auto stopsHere = [](const Error<sync::SyncError>& e) {
        return e.code == sync::SyncError::Unavailable || e.code == sync::SyncError::Cancelled ||
               e.code == sync::SyncError::DiskFull || e.code == sync::SyncError::Io;
    };

    // ---- uploads: this device's queued files, oldest first
    struct Upload {
        std::string blob, scope, hash, channel;
        std::uint64_t size = 0;
    };
    std::vector<Upload> uploads;
    {
        // channel: the readers who may fetch it (a reply's rectification file: the unit channel);
        // queued before it was kept, the scope's team channel.
        auto s = db.prepare("SELECT blob, scope, hash, size, COALESCE(channel, '') FROM blob_uploads WHERE done = 0 ORDER BY seq");
        if (!s) return fromSync(s.error());
        for (;;) {
            auto row = s->step();
            if (!row) return fromSync(row.error());
            if (!*row) break;
            uploads.push_back({s->text(0), s->text(1), s->text(2), s->text(4), static_cast<std::uint64_t>(s->int64(3))});
        }
    }
    auto markDone = [&](const std::string& blob) -> AStatus {
        auto s = db.prepare("UPDATE blob_uploads SET done = 1 WHERE blob = ?");
        if (!s) return fromSync(s.error());
        if (auto r = s->bind(1, blob).run(); !r) return fromSync(r.error());
        return {};
    };
    for (std::size_t i = 0; i < uploads.size(); ++i) {
        const Upload& u = uploads[i];
        auto scope = m_store->evidenceScope(u.scope, false);
        auto entry = m_store->evidenceEntry(u.scope, u.hash);
        if (!entry) return fromSync(entry.error());
        if (!scope || !*entry || (*entry)->shredded) {  // shredded since (handover confirmed): nothing to send
            XS_TRY_APP(markDone(u.blob));
            continue;
        }
        auto blob = m_store->evidence().blobOf(*scope, u.hash);
        if (!blob) return fromSync(blob.error());
        if (blob->id != u.blob) {
            out.problems.push_back("evidence " + u.hash.substr(0, 12) + " on this device is not the file its attachment names");
            continue;
        }
        auto sent = sync::net::uploadBlob(conn, {u.blob, u.channel.empty() ? teamChannel(u.scope) : u.channel, blob->size, blob->path},
                                          progress);
        if (!sent) {
            if (stopsHere(sent.error())) {
                out.waitingUploads = static_cast<std::int64_t>(uploads.size() - i);
                return out.uploaded || out.downloaded ? AResult<EvidenceTransfer>(std::move(out)) : fromSync(sent.error());
            }
            out.problems.push_back("evidence " + u.hash.substr(0, 12) + ": " + sent.error().message);
            ++out.waitingUploads;
            continue;
        }
        XS_TRY_APP(markDone(u.blob));
        ++out.uploaded;
        out.bytesUp += blob->size;
    }

    // ---- downloads: readable attachments whose files this store lacks
    struct Download {
        std::string blob, key, scope, hash;
        std::uint64_t size = 0;
    };
    std::vector<Download> downloads;
    {
        // Attachments of the findings readable here, and the rectification files of the unit's
        // replies to notices readable here.
        auto s = db.prepare("SELECT a.blob, a.blob_key, f.inspection_id, a.hash, a.size FROM attachments a"
                            " JOIN findings f ON f.id = a.finding_id WHERE a.blob IS NOT NULL"
                            " UNION ALL SELECT r.blob, r.blob_key, n.inspection_id, r.file_hash, r.file_size FROM unit_replies r"
                            " JOIN notices n ON n.id = r.notice_id WHERE r.blob IS NOT NULL ORDER BY 1");
        if (!s) return fromSync(s.error());
        for (;;) {
            auto row = s->step();
            if (!row) return fromSync(row.error());
            if (!*row) break;
            downloads.push_back({s->text(0), s->text(1), s->text(2), s->text(3), static_cast<std::uint64_t>(s->int64(4))});
        }
    }
    const fs::path incoming = m_store->dir() / "evidence" / "incoming";
    for (const Download& d : downloads) {
        auto entry = m_store->evidenceEntry(d.scope, d.hash);
        if (!entry) return fromSync(entry.error());
        if (*entry) continue;  // held (or shredded on purpose)
        auto scope = m_store->evidenceScope(d.scope, false);
        bool newScope = false;
        if (!scope && scope.code() == sync::SyncError::NotFound) {
            scope = m_store->newEvidenceScope(d.scope);
            newScope = true;
        }
        if (!scope) continue;  // a shredded inspection gets no files again
        auto key = crypto::fromHex(d.key);
        if (!key || key->size() != 32) {
            out.problems.push_back("evidence " + d.hash.substr(0, 12) + ": its attachment's file key is malformed");
            continue;
        }
        std::error_code ec;
        fs::create_directories(incoming, ec);
        if (ec) return fail(AppError::Failed, "cannot create " + incoming.string() + ": " + ec.message());
        const fs::path partial = incoming / d.blob;
        auto got = sync::net::downloadBlob(conn, d.blob, partial, progress);
        if (!got) {
            if (stopsHere(got.error())) return out.uploaded || out.downloaded ? AResult<EvidenceTransfer>(std::move(out)) : fromSync(got.error());
            if (got.error().code == sync::SyncError::NotFound) continue;  // its device has not sent it yet: pending, as before
            out.problems.push_back("evidence " + d.hash.substr(0, 12) + ": " + got.error().message);
            continue;
        }
        crypto::SecretBytes fileKey(crypto::ByteView(key->data(), key->size()));
        auto info = m_store->evidence().addFromBlob(*scope, d.hash, partial, fileKey);
        (void)sync::envUnlink(partial.string());
        if (!info) {
            out.problems.push_back("evidence " + d.hash.substr(0, 12) + ": " + info.error().message);
            continue;
        }
        auto tx = sync::Transaction::begin(db);
        if (!tx) return fromSync(tx.error());
        if (newScope)
            if (auto r = m_store->saveEvidenceScope(*scope); !r) return fromSync(r.error());
        if (auto r = m_store->recordEvidence(d.scope, d.hash, info->size); !r) return fromSync(r.error());
        if (auto r = tx->commit(); !r) {
            if (!info->deduplicated) (void)m_store->evidence().remove(d.scope, d.hash);
            return fromSync(r.error());
        }
        ++out.downloaded;
        out.bytesDown += d.size;
    }
    return out;
}

}  // namespace xs::app
