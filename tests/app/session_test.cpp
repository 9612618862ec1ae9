// The session layer: a locked session refuses everything, tasks run off the caller's thread with
// progress and cancel on their own connection, the change counter sees other connections' commits.
#include <doctest/doctest.h>

#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <sstream>
#include <chrono>
#include <thread>

#include "app/session.h"
#include "sync/keyfile.h"
#include "tests/app/app_test_util.h"
#include "tests/app/bureau.h"

namespace xs::app {
namespace {

using test::errorOf;
using test::TempDir;
namespace fs = std::filesystem;

constexpr const char* kPass = "口令 passphrase";

// A working-group lead's store with an inspection open today whose agreement the lead signed;
// returned closed (path + id).
struct Fixture {
    TempDir tmp;
    sync::ManualClock clock{test::kBaseMs};
    fs::path dir = tmp / "store";
    std::string inspection;
    std::unique_ptr<Workspace> office;

    Fixture() {
        office = test::officeWorkspace(tmp / "office", clock);
        auto ws = test::enrolledWorkspace(*office, dir, "郑华", Role::WorkingGroupLead, clock);
        InspectionInput in;
        in.unit = "E01";
        in.start = formatDate(ws->today());
        auto id = ws->createInspection(in);
        REQUIRE_MESSAGE(id.ok(), test::describe(id));
        inspection = *id;
        // On its team: the lead signs its confidentiality agreement first (article 7(4)).
        auto signedIt = ws->signAgreement(inspection);
        REQUIRE_MESSAGE(signedIt.ok(), test::describe(signedIt));
    }
    std::unique_ptr<Session> session() {
        auto s = Session::open(dir, kPass, clock);
        REQUIRE_MESSAGE(s.ok(), test::describe(s));
        return std::move(*s);
    }
    fs::path importFile(int lines) {
        std::string text;
        for (int i = 0; i < lines; ++i)
            text += Json{{"inspection", inspection}, {"title", "批量 " + std::to_string(i)}}.dump() + "\n";
        fs::path f = tmp / ("import-" + std::to_string(lines) + ".jsonl");
        sync::test::writeText(f, text);
        return f;
    }
};

FindingInput finding(const std::string& inspection, const std::string& title) {
    FindingInput in;
    in.inspection = inspection;
    in.title = title;
    return in;
}

}  // namespace

TEST_CASE("session: a locked session refuses every command - and unlocks only with the passphrase") {
    Fixture fx;
    auto s = fx.session();
    REQUIRE(s->addFinding(finding(fx.inspection, "锁前")).ok());
    s->lock();
    CHECK(s->locked());
    CHECK(errorOf(s->self()) == AppError::Locked);
    CHECK(errorOf(s->findings()) == AppError::Locked);
    CHECK(errorOf(s->finding("x")) == AppError::Locked);
    CHECK(errorOf(s->addFinding(finding(fx.inspection, "锁后"))) == AppError::Locked);
    CHECK(errorOf(s->verify()) == AppError::Locked);
    CHECK(errorOf(s->rebuild()) == AppError::Locked);
    CHECK(errorOf(s->importFindings(fx.importFile(1), {})) == AppError::Locked);
    CHECK(errorOf(s->identity()) == AppError::Locked);
    CHECK(errorOf(s->organisation()) == AppError::Locked);
    CHECK(errorOf(s->inspections()) == AppError::Locked);
    CHECK(errorOf(s->history(fx.inspection)) == AppError::Locked);
    CHECK(errorOf(s->conflicts()) == AppError::Locked);
    CHECK(errorOf(s->refusedChangeSets()) == AppError::Locked);
    CHECK(errorOf(s->requestExtension(fx.inspection, 2, "锁后")) == AppError::Locked);
    FindingEdit edit;
    edit.title = "锁后";
    CHECK(errorOf(s->editFinding("x", edit)) == AppError::Locked);
    CHECK(errorOf(s->transitionFinding("x", FindingStatus::Submitted)) == AppError::Locked);
    CHECK(errorOf(s->exportHandover(fx.inspection, fx.dir.parent_path() / "out.xsbundle")) == AppError::Locked);
    CHECK(errorOf(s->rekey("another passphrase", std::nullopt)) == AppError::Locked);
    // Locked is said before anything is read: not NotFound for a missing file, not Refused for an empty edit.
    const fs::path missing = fx.tmp / "no-such-file.json";
    CHECK(errorOf(s->importOrg(missing)) == AppError::Locked);
    CHECK(errorOf(s->enrolDevice(missing)) == AppError::Locked);
    CHECK(errorOf(s->acceptEnrolment(missing)) == AppError::Locked);
    CHECK(errorOf(s->confirmHandover(missing)) == AppError::Locked);
    CHECK(errorOf(s->acceptShredAcknowledgement(missing)) == AppError::Locked);
    CHECK(errorOf(s->editFinding("x", FindingEdit{})) == AppError::Locked);
    CHECK(errorOf(s->createOfficeKey()) == AppError::Locked);
    CHECK(errorOf(s->revokeDevice("x")) == AppError::Locked);
    CHECK(errorOf(s->exportEnrolment(fx.tmp / "e.json", "", "")) == AppError::Locked);
    CHECK(errorOf(s->exportIdentity(fx.tmp / "d.json")) == AppError::Locked);
    CHECK(errorOf(s->exportEvidence("x", fx.tmp / "x.bin")) == AppError::Locked);
    CHECK(errorOf(s->attachEvidence("x", missing, EvidencePurpose::Evidence)) == AppError::Locked);
    CHECK(errorOf(s->createInspection(InspectionInput{})) == AppError::Locked);
    CHECK(errorOf(s->decideExtension("x", true)) == AppError::Locked);
    CHECK(errorOf(s->importHandover(missing)) == AppError::Locked);
    CHECK(errorOf(s->shredAcknowledgements()) == AppError::Locked);
    auto wrong = s->unlock("not the passphrase");
    CHECK(errorOf(wrong) == AppError::Locked);
    CHECK(s->locked());
    REQUIRE(s->unlock(kPass).ok());
    auto list = s->findings();
    REQUIRE(list.ok());
    REQUIRE(list->size() == 1);
    CHECK((*list)[0].title == "锁前");
}

TEST_CASE("session: typed views of the organisation, inspections, history and identity - and edits through typed commands") {
    Fixture fx;
    auto s = fx.session();
    auto org = s->organisation();
    REQUIRE(org.ok());
    auto unit = std::find_if(org->units.begin(), org->units.end(), [](const UnitView& u) { return u.code == "E01"; });
    REQUIRE((unit != org->units.end()));
    CHECK_FALSE(unit->name.empty());
    auto lead = std::find_if(org->people.begin(), org->people.end(), [](const PersonView& p) { return p.name == "郑华"; });
    REQUIRE((lead != org->people.end()));
    CHECK((lead->role == Role::WorkingGroupLead));

    auto list = s->inspections();
    REQUIRE(list.ok());
    REQUIRE(list->size() == 1);
    const InspectionView& i = list->front();
    CHECK(i.id == fx.inspection);
    CHECK(i.unitId == unit->id);
    CHECK(i.onsiteDays == 7);
    CHECK(i.windowStart == i.onsiteStart);
    CHECK(parseDate(i.windowEnd).value_or(0) == parseDate(i.onsiteStart).value_or(0) + 6);
    CHECK(i.extensions.empty());  // the list leaves them out

    const auto before = s->changeCount();
    auto ext = s->requestExtension(fx.inspection, 2, "资料未齐");
    REQUIRE_MESSAGE(ext.ok(), test::describe(ext));
    CHECK(s->changeCount() > before);
    auto one = s->inspection(fx.inspection);
    REQUIRE(one.ok());
    REQUIRE(one->extensions.size() == 1);
    CHECK(one->extensions[0].id == *ext);
    CHECK(one->extensions[0].days == 2);
    CHECK(one->extensions[0].reason == "资料未齐");
    CHECK((one->extensions[0].status == ExtensionStatus::Pending));

    auto f = s->addFinding(finding(fx.inspection, "旧标题"));
    REQUIRE(f.ok());
    FindingEdit edit;
    edit.title = "新标题";
    edit.severity = Severity::High;
    edit.tags = std::vector<FindingTag>{FindingTag::Trending};
    REQUIRE(s->editFinding(*f, edit).ok());
    CHECK(errorOf(s->editFinding(*f, FindingEdit{})) == AppError::Refused);
    auto view = s->finding(*f);
    REQUIRE(view.ok());
    CHECK(view->title == "新标题");
    CHECK((view->severity == Severity::High));
    REQUIRE(view->tags.size() == 1);
    CHECK((view->tags[0] == FindingTag::Trending));
    auto history = s->history(*f);
    REQUIRE(history.ok());
    std::vector<std::string> titles;
    for (const auto& v : *history)
        if (v.field == "title") titles.push_back(v.valueJson);
    CHECK(titles == std::vector<std::string>{"\"旧标题\"", "\"新标题\""});
    CHECK(errorOf(s->history("no-such-record")) == AppError::NotFound);

    auto me = s->identity();
    REQUIRE(me.ok());
    auto self = s->self();
    REQUIRE(self.ok());
    CHECK(me->deviceId == self->deviceId);
    CHECK(me->personId == lead->id);
    CHECK(me->signPublicKeyHex.size() == 64);
    CHECK_FALSE(me->fingerprint.empty());
    auto refusedSets = s->refusedChangeSets();
    REQUIRE(refusedSets.ok());
    CHECK(refusedSets->empty());
}

TEST_CASE("session: the passphrase minimum and the KDF bounds are the session's policy") {
    TempDir tmp;
    sync::ManualClock clock(test::kBaseMs);
    CHECK(errorOf(Session::create(tmp / "a", "short", "吴敏", Role::AuditOffice, test::cheapKdf(), clock)) == AppError::Refused);
    auto weak = test::cheapKdf();
    weak.memoryKiB = 1024;
    CHECK(errorOf(Session::create(tmp / "b", kPass, "吴敏", Role::AuditOffice, weak, clock)) == AppError::Refused);
    CHECK_FALSE(sync::Store::exists(tmp / "a"));
    CHECK_FALSE(sync::Store::exists(tmp / "b"));
    auto ok = Session::create(tmp / "c", kPass, "吴敏", Role::AuditOffice, test::cheapKdf(), clock);
    REQUIRE_MESSAGE(ok.ok(), test::describe(ok));
    auto me = (*ok)->self();
    REQUIRE(me.ok());
    CHECK((me->role == Role::AuditOffice));
}

TEST_CASE("session: an import runs as a task off the caller's thread - progress, every id, and the change counter moves") {
    Fixture fx;
    auto s = fx.session();
    const std::uint64_t before = s->changeCount();
    std::atomic<int> reported{0};
    const std::thread::id caller = std::this_thread::get_id();
    std::atomic<bool> offThread{true};
    auto task = s->importFindings(fx.importFile(200), [&](const std::string&) {
        if (std::this_thread::get_id() == caller) offThread = false;
        ++reported;
    });
    REQUIRE_MESSAGE(task.ok(), test::describe(task));
    // The caller's session stays usable while the task writes on its own connection.
    auto meanwhile = s->findings();
    CHECK(meanwhile.ok());
    std::uint64_t maxDone = 0;
    while (!(*task)->finished()) {
        maxDone = std::max(maxDone, (*task)->progress().done);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    auto n = (*task)->wait();
    REQUIRE_MESSAGE(n.ok(), test::describe(n));
    CHECK(*n == 200);
    CHECK(((*task)->state() == Task<std::size_t>::State::Done));
    CHECK((*task)->progress().done == 200);
    CHECK(reported == 200);
    CHECK(offThread);
    CHECK(s->changeCount() > before);  // another connection committed
    auto list = s->findings(FindingFilter{fx.inspection, FindingStatus::Draft, {}, {}, false, "批量 19"});
    REQUIRE(list.ok());
    CHECK(list->size() == 11);  // 批量 19 and 批量 190..199
    auto report = s->verify();
    REQUIRE(report.ok());
    auto r = (*report)->wait();
    REQUIRE(r.ok());
    CHECK(r->ok);
    CHECK(r->findings == 200);
}

TEST_CASE("session: a cancelled import keeps exactly what it reported - and lock cancels a running task") {
    Fixture fx;
    auto s = fx.session();
    std::atomic<int> reported{0};
    auto started = s->importFindings(fx.importFile(2000), [&](const std::string&) { ++reported; });
    REQUIRE(started.ok());
    auto task = *started;
    while (reported < 20 && !task->finished()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    task->cancel();
    auto r = task->wait();
    CHECK(errorOf(r) == AppError::Cancelled);
    CHECK((task->state() == Task<std::size_t>::State::Cancelled));
    auto list = s->findings();
    REQUIRE(list.ok());
    CHECK(list->size() == static_cast<std::size_t>(reported.load()));
    CHECK(reported >= 20);
    CHECK(reported < 2000);

    // lock() while a task runs: it is cancelled and waited for; the session is locked after.
    auto again = s->importFindings(fx.importFile(2000), {});
    REQUIRE(again.ok());
    s->lock();
    CHECK((*again)->finished());
    CHECK(s->locked());
    REQUIRE(s->unlock(kPass).ok());
    auto report = s->verify();
    REQUIRE(report.ok());
    auto v = (*report)->wait();
    REQUIRE(v.ok());
    CHECK(v->ok);
}

namespace {

// Memory of its own (mmap, outside every heap): the scan skips it.
struct Scratch {
    std::uint8_t* p;
    std::size_t n;
    explicit Scratch(std::size_t size) : n(size) {
        void* m = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        REQUIRE(m != MAP_FAILED);
        p = static_cast<std::uint8_t*>(m);
    }
    ~Scratch() { ::munmap(p, n); }
    std::uintptr_t begin() const { return reinterpret_cast<std::uintptr_t>(p); }
    std::uintptr_t end() const { return begin() + n; }
};

// Whether `needle` occurs in [from, to) of this process's memory (`mem`: /proc/self/mem), read
// through `chunk`.
bool occursIn(int mem, std::uintptr_t from, std::uintptr_t to, crypto::ByteView needle, const Scratch& chunk) {
    // Overlapping reads, so a needle across a chunk edge is seen.
    for (std::uintptr_t at = from; at < to; at += chunk.n - needle.size()) {
        const std::size_t want = std::min<std::size_t>(chunk.n, to - at);
        const ssize_t got = ::pread(mem, chunk.p, want, static_cast<off_t>(at));
        if (got <= 0) return false;
        if (::memmem(chunk.p, static_cast<std::size_t>(got), needle.data(), needle.size())) return true;
        if (static_cast<std::size_t>(got) < chunk.n) return false;
    }
    return false;
}

// Where in this process's readable memory `needle` occurs (region names), outside the scratch areas.
std::vector<std::string> findInMemory(crypto::ByteView needle, const Scratch& chunk, const Scratch& held) {
    const Scratch* scratch[] = {&chunk, &held};
    if (held.begin() < chunk.begin()) std::swap(scratch[0], scratch[1]);  // in address order
    std::vector<std::string> found;
    std::ifstream maps("/proc/self/maps");
    int mem = ::open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    REQUIRE(mem >= 0);
    std::string line;
    while (std::getline(maps, line)) {
        std::istringstream in(line);
        std::string range, perms, offset, dev, inode, name;
        in >> range >> perms >> offset >> dev >> inode;
        std::getline(in, name);
        if (perms.empty() || perms[0] != 'r' || name.find("[vvar]") != std::string::npos || name.find("[vsyscall]") != std::string::npos)
            continue;
        const auto dash = range.find('-');
        std::uintptr_t start = std::stoull(range.substr(0, dash), nullptr, 16);
        const std::uintptr_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
        // A sanitizer's shadow memory: terabytes reserved, nothing of ours (this test's heap is
        // a few MiB); reading it would take hours.
        if (end - start > (std::uintptr_t{1} << 32)) continue;
        // The scratch areas are cut out wherever they lie: the kernel merges adjacent anonymous
        // mappings, so one may be the middle of a larger region (under ASan, next to the large
        // blocks of its allocator).
        bool hit = false;
        for (const Scratch* s : scratch) {
            if (hit || s->end() <= start || s->begin() >= end) continue;
            hit = s->begin() > start && occursIn(mem, start, s->begin(), needle, chunk);
            start = s->end();
        }
        if (hit || (start < end && occursIn(mem, start, end, needle, chunk))) found.push_back(name.empty() ? "[anonymous]" : name);
    }
    ::close(mem);
    return found;
}

}  // namespace

TEST_CASE("session: lock drops the data key, the device's private keys and the channel and evidence keys from memory") {
    Fixture fx;
    {
        auto s = fx.session();
        REQUIRE(s->addFinding(finding(fx.inspection, "锁前")).ok());
    }
    // The secrets, each kept only XOR-masked outside the scratch areas.
    Scratch chunk(std::size_t{1} << 20), held(std::size_t{1} << 16);
    std::vector<std::pair<std::string, std::vector<std::uint8_t>>> masked;
    auto keep = [&](const std::string& what, crypto::ByteView secret) {
        REQUIRE(secret.size() >= 16);
        std::vector<std::uint8_t> m(secret.begin(), secret.end());
        for (auto& b : m) b ^= 0xa5;
        masked.emplace_back(what, std::move(m));
    };
    {
        auto keyFileBytes = sync::test::readAll(fx.dir / sync::Store::kKeyFile);
        auto keyFile = sync::parseKeyFile(crypto::asBytes(std::string(keyFileBytes.begin(), keyFileBytes.end())));
        REQUIRE(keyFile.ok());
        auto dataKey = sync::unwrapDataKey(*keyFile, kPass);
        REQUIRE(dataKey.ok());
        keep("the data key", *dataKey);
        // A workspace of its own, closed (its keys wiped) before the session under test opens.
        auto ws = Workspace::open(fx.dir, kPass, fx.clock);
        REQUIRE(ws.ok());
        auto secrets = (*ws)->store().db().prepare("SELECT name, secret FROM device_secrets");
        REQUIRE(secrets.ok());
        for (;;) {
            auto row = secrets->step();
            REQUIRE(row.ok());
            if (!*row) break;
            keep("device secret " + secrets->text(0), secrets->secretBlob(1));
        }
        auto channels = (*ws)->store().db().prepare("SELECT channel, epoch, key FROM channel_keys");
        REQUIRE(channels.ok());
        for (;;) {
            auto row = channels->step();
            REQUIRE(row.ok());
            if (!*row) break;
            keep("the key of channel " + channels->text(0) + " epoch " + std::to_string(channels->int64(1)), channels->secretBlob(2));
        }
        auto scope = (*ws)->store().evidenceScope(fx.inspection, true);
        REQUIRE(scope.ok());
        keep("the inspection's evidence key", scope->key);
    }
    auto s = fx.session();
    REQUIRE(masked.size() >= 5);  // data key, two device keys at least, channel key, evidence key
    // Used while unlocked: a finding written, the list read (keys in use, not just loaded).
    REQUIRE(s->addFinding(finding(fx.inspection, "锁后看不见")).ok());
    REQUIRE(s->findings().ok());

    // The scan sees a live key: a check that it could fail.
    {
        const auto& [what, m] = masked.front();
        for (std::size_t i = 0; i < m.size(); ++i) held.p[i] = m[i] ^ 0xa5;
        crypto::SecretBytes live(held.p, m.size());
        CHECK(!findInMemory({held.p, m.size()}, chunk, held).empty());
    }
    s->lock();
    REQUIRE(s->locked());
    for (const auto& [what, m] : masked) {
        CAPTURE(what);
        for (std::size_t i = 0; i < m.size(); ++i) held.p[i] = m[i] ^ 0xa5;
        const auto where = findInMemory({held.p, m.size()}, chunk, held);
        CHECK_MESSAGE(where.empty(), what << " is still in memory after lock, in " << (where.empty() ? "" : where.front()));
    }
    std::memset(held.p, 0, held.n);
}

}  // namespace xs::app

namespace xs::app {

TEST_CASE("session: handover export and import run as tasks - progress in bytes, a cancel leaves nothing behind") {
    test::Bureau b;
    // 48 MiB of evidence: sealing it takes long enough to watch and to cancel midway.
    std::string big(48u << 20, '\0');
    for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>(i >> 12);
    FindingInput in = finding(b.inspection, "大证据");
    in.category = FindingCategory::FinancialDiscipline;
    in.evidence = {test::writeFile(b.tmp / "in", "scan.bin", big)};
    REQUIRE(b.member->addFinding(in).ok());
    auto member = Session::open(b.tmp / "member", kPass, b.clock);
    REQUIRE(member.ok());

    // Cancelled once the evidence is streaming: no bundle, and no temporary file beside it.
    auto waitForBytes = [](auto& task) {
        while (!task->finished() && task->progress().done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    };
    const fs::path out = b.tmp / "usb" / "bundle.xsbundle";
    fs::create_directories(out.parent_path());
    auto stopped = (*member)->exportHandover(b.inspection, out);
    REQUIRE(stopped.ok());
    waitForBytes(*stopped);
    REQUIRE_FALSE((*stopped)->finished());
    (*stopped)->cancel();
    CHECK(errorOf((*stopped)->wait()) == AppError::Cancelled);
    CHECK(fs::is_empty(out.parent_path()));

    auto task = (*member)->exportHandover(b.inspection, out);
    REQUIRE(task.ok());
    auto exported = (*task)->wait();
    REQUIRE_MESSAGE(exported.ok(), test::describe(exported));
    auto p = (*task)->progress();
    CHECK(p.total >= big.size());
    CHECK(p.done == p.total);

    auto office = Session::open(b.tmp / "office", kPass, b.clock);
    REQUIRE(office.ok());
    Workspace& ws = *b.office;  // the office's store, on a connection of the test's own
    const auto before = test::opCount(ws);
    auto halted = (*office)->importHandover(out);
    REQUIRE(halted.ok());
    waitForBytes(*halted);
    REQUIRE_FALSE((*halted)->finished());
    (*halted)->cancel();
    CHECK(errorOf((*halted)->wait()) == AppError::Cancelled);
    CHECK(test::opCount(ws) == before);  // nothing of it applied

    auto import = (*office)->importHandover(out);
    REQUIRE(import.ok());
    auto imported = (*import)->wait();
    REQUIRE_MESSAGE(imported.ok(), test::describe(imported));
    CHECK(test::opCount(ws) > before);
    auto q = (*import)->progress();
    CHECK(q.total == fs::file_size(out));
    CHECK(q.done == q.total);
}

}  // namespace xs::app
