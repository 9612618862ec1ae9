#include "app/session.h"

#include "app/handover.h"

#include <algorithm>

#include "sync/keyfile.h"
#include "sync/record_fields.h"

namespace xs::app {
namespace {

using sync::boolOf;
using sync::intOf;
using sync::stringOf;

// A finding as the workspace's query gives it (a projection row; typed here once, so views never
// see JSON). Unknown enum spellings fall back to the defaults rather than failing a whole list.
FindingView findingFrom(const Json& f) {
    FindingView v;
    v.id = stringOf(f, "id");
    v.inspectionId = stringOf(f, "inspection_id");
    v.title = stringOf(f, "title");
    v.description = stringOf(f, "description");
    v.auditCategory = stringOf(f, "audit_category");
    v.responsiblePerson = stringOf(f, "responsible_person");
    v.author = stringOf(f, "author");
    v.status = parseEnum<FindingStatus>(stringOf(f, "status")).value_or(FindingStatus::Draft);
    v.category = parseEnum<FindingCategory>(stringOf(f, "category")).value_or(FindingCategory::Other);
    v.severity = parseEnum<Severity>(stringOf(f, "severity")).value_or(Severity::Medium);
    if (f.contains("tags") && f["tags"].is_array())
        for (const auto& t : f["tags"])
            if (auto tag = t.is_string() ? parseEnum<FindingTag>(t.get<std::string>()) : std::nullopt) v.tags.push_back(*tag);
    v.immediateFix = boolOf(f, "immediate_fix");
    v.createdAtMs = intOf(f, "created_at").value_or(0);
    if (f.contains("attachments") && f["attachments"].is_array())
        for (const auto& a : f["attachments"])
            v.attachments.push_back({stringOf(a, "hash"), stringOf(a, "name"), stringOf(a, "purpose"),
                                     intOf(a, "size").value_or(0), stringOf(a, "state")});
    if (f.contains("conflicts") && f["conflicts"].is_array())
        for (const auto& c : f["conflicts"])
            if (c.is_string()) v.conflictedFields.push_back(c.get<std::string>());
    return v;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

AResult<std::unique_ptr<Session>> Session::create(const std::filesystem::path& dir, std::string_view passphrase,
                                                  const std::string& name, Role role, const crypto::Argon2Params& kdf,
                                                  const sync::Clock& clock) {
    if (passphrase.size() < kMinPassphraseBytes)
        return refused("a passphrase needs at least " + std::to_string(kMinPassphraseBytes) + " characters");
    if (auto v = sync::validateKdfParams(kdf); !v) return refused(v.message());
    if (name.empty()) return refused("a store needs its owner's name");
    auto ws = Workspace::init(dir, passphrase, name, role, kdf, clock);
    if (!ws) return ws.error();
    std::unique_ptr<Session> s(new Session(dir, clock));
    s->m_ws = std::move(*ws);
    return s;
}

AResult<std::unique_ptr<Session>> Session::open(const std::filesystem::path& dir, std::string_view passphrase,
                                                const sync::Clock& clock) {
    std::unique_ptr<Session> s(new Session(dir, clock));
    XS_TRY_APP(s->unlock(passphrase));
    return s;
}

Session::~Session() { cancelTasks(); }

void Session::cancelTasks() {
    for (auto& cancelAndWait : m_taskCancel) cancelAndWait();
    m_taskCancel.clear();
    m_tasks.clear();
}

void Session::lock() {
    cancelTasks();  // their connections hold the key too
    m_ws.reset();   // Store, DeviceIdentity and channel keys are SecretBytes: wiped as they go
    m_dataVersion = -1;
    ++m_changes;    // every view is stale now
}

AStatus Session::unlock(std::string_view passphrase) {
    if (m_ws) return {};
    auto ws = Workspace::open(m_dir, passphrase, *m_clock);
    if (!ws) return ws.error();
    m_ws = std::move(*ws);
    ++m_changes;
    return {};
}

AStatus Session::unlocked() const {
    if (!m_ws) return fail(AppError::Locked, "the session is locked: unlock it with the passphrase");
    return {};
}

std::uint64_t Session::changeCount() {
    if (m_ws) {
        auto v = m_ws->dataVersion();
        if (v && *v != m_dataVersion) {
            if (m_dataVersion != -1) ++m_changes;
            m_dataVersion = *v;
        }
    }
    return m_changes;
}

AResult<Workspace*> Session::workspace() {
    XS_TRY_APP(unlocked());
    return m_ws.get();
}

AResult<SelfView> Session::self() {
    XS_TRY_APP(unlocked());
    const Self& me = m_ws->self();
    return SelfView{me.personId, me.name, m_ws->log().deviceId(), me.role, me.enrolled, me.revoked};
}

AResult<std::vector<FindingView>> Session::findings(const FindingFilter& filter) {
    XS_TRY_APP(unlocked());
    auto list = m_ws->findings(filter.inspection);
    if (!list) return list.error();
    std::vector<FindingView> out;
    for (const auto& f : *list) {
        FindingView v = findingFrom(f);
        if (filter.status && v.status != *filter.status) continue;
        if (filter.severity && v.severity != *filter.severity) continue;
        if (filter.category && v.category != *filter.category) continue;
        if (filter.immediateFixOnly && !v.immediateFix) continue;
        if (!filter.text.empty() && !contains(v.title, filter.text) && !contains(v.description, filter.text)) continue;
        out.push_back(std::move(v));
    }
    return out;
}

AResult<FindingView> Session::finding(const std::string& id) {
    XS_TRY_APP(unlocked());
    auto f = m_ws->finding(id);
    if (!f) return f.error();
    return findingFrom(*f);
}

AStatus Session::rekey(std::string_view newPassphrase, const std::optional<crypto::Argon2Params>& kdf) {
    XS_TRY_APP(unlocked());
    if (newPassphrase.size() < kMinPassphraseBytes)
        return refused("a passphrase needs at least " + std::to_string(kMinPassphraseBytes) + " characters");
    const crypto::Argon2Params params = kdf ? *kdf : m_ws->store().kdfParams();
    if (auto v = sync::validateKdfParams(params); !v) return refused(v.message());
    return m_ws->rekey(newPassphrase, params);
}

AResult<std::string> Session::addFinding(const FindingInput& in) {
    XS_TRY_APP(unlocked());
    auto id = m_ws->addFinding(in);
    if (id) ++m_changes;
    return id;
}

template <typename T>
AResult<std::shared_ptr<Task<T>>> Session::startTask(std::string name, std::function<AResult<T>(Workspace&, Progress&)> work) {
    XS_TRY_APP(unlocked());
    // The task's own connection: the session's stays free for the UI thread meanwhile.
    auto other = m_ws->openAnother();
    if (!other) return other.error();
    std::shared_ptr<Workspace> ws(std::move(*other));
    auto task = Task<T>::start(std::move(name), [ws, work = std::move(work)](Progress& p) { return work(*ws, p); });
    m_tasks.push_back(task);
    m_taskCancel.push_back([task] {
        task->cancel();
        (void)task->wait();
    });
    return task;
}

AResult<std::shared_ptr<Task<std::size_t>>> Session::importFindings(const std::filesystem::path& file,
                                                                     std::function<void(const std::string&)> committed) {
    return startTask<std::size_t>("导入问题 finding import", [file, committed](Workspace& ws, Progress& p) -> AResult<std::size_t> {
        std::size_t done = 0;
        p.set(0, 0, "checking every line");
        return ws.importFindings(
            file,
            [&](const std::string& id) {
                p.set(++done, 0, "committing");
                if (committed) committed(id);
            },
            [&] { return p.cancelled(); });
    });
}

AResult<std::shared_ptr<Task<VerifyReport>>> Session::verify() {
    return startTask<VerifyReport>("校验 verify", [](Workspace& ws, Progress& p) -> AResult<VerifyReport> {
        p.set(0, 1, "checking the database, the op log and every evidence file");
        auto r = ws.verify();
        p.set(1, 1, "done");
        return r;
    });
}

AResult<std::shared_ptr<Task<Json>>> Session::exportHandover(const std::string& inspection, const std::filesystem::path& out) {
    return startTask<Json>("交接导出 handover export", [inspection, out](Workspace& ws, Progress& p) -> AResult<Json> {
        return app::exportHandover(ws, inspection, out, &p);
    });
}

AResult<std::shared_ptr<Task<Json>>> Session::importHandover(const std::filesystem::path& bundle) {
    return startTask<Json>("交接导入 handover import", [bundle](Workspace& ws, Progress& p) -> AResult<Json> {
        return app::importHandover(ws, bundle, &p);
    });
}

AResult<std::shared_ptr<Task<std::string>>> Session::rebuild() {
    return startTask<std::string>("重建 rebuild", [](Workspace& ws, Progress& p) -> AResult<std::string> {
        p.set(0, 1, "replaying the op log");
        XS_TRY_APP(ws.rebuild());
        auto digest = ws.log().projectionDigest();
        if (!digest) return fromSync(digest.error());
        p.set(1, 1, "done");
        return *digest;
    });
}

}  // namespace xs::app
