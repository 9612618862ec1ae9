#include "app/cli/cli.h"

#include "app/files.h"

#include <fcntl.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <streambuf>

#include "app/cli/args.h"
#include "app/cli/demo_sync.h"
#include "app/cli/json_out.h"
#include "app/demo.h"
#include "app/session.h"
#include "crypto/random.h"
#include "sync/env.h"
#include "sync/file_io.h"
#include "sync/keyfile.h"

namespace xs::app::cli {
namespace fs = std::filesystem;
namespace {

const std::set<std::string> kFlags = {"json", "help", "immediate-fix", "approve", "reject", "force", "watch", "keys-only"};
const std::set<std::string> kGlobal = {"store", "passphrase-file", "json", "help"};

// A passphrase held in a string that is zeroed when it goes away.
struct Secret {
    std::string value;
    Secret() = default;
    explicit Secret(std::string v) : value(std::move(v)) {}
    Secret(Secret&& o) noexcept : value(std::move(o.value)) { explicit_bzero(o.value.data(), o.value.size()); }
    Secret& operator=(Secret&& o) noexcept {
        explicit_bzero(value.data(), value.size());
        value = std::move(o.value);
        explicit_bzero(o.value.data(), o.value.size());
        return *this;
    }
    ~Secret() { explicit_bzero(value.data(), value.size()); }
};

struct Context {
    Args args;
    bool json = false;
    fs::path store;
    // The command's session (app/session.h): every command opens the store through it.
    mutable std::unique_ptr<Session> session;
};

int report(const Error<AppError>& e) {
    std::cerr << "xunshenctl: " << e.message << "\n";
    return static_cast<int>(e.code);
}

int usage(const std::string& msg) {
    std::cerr << "xunshenctl: " << msg << " (see xunshenctl --help)\n";
    return static_cast<int>(AppError::Usage);
}

void printJson(const Json& j) { std::cout << j.dump(2) << std::endl; }

AResult<Secret> promptTty(const char* prompt) {
    int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return fail(AppError::Usage, "no passphrase: set XUNSHEN_PASSPHRASE, pass --passphrase-file, or run in a terminal");
    termios old{};
    bool haveTerm = tcgetattr(fd, &old) == 0;
    if (haveTerm) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    (void)!::write(fd, prompt, strlen(prompt));
    Secret s;
    char c;
    while (::read(fd, &c, 1) == 1 && c != '\n') s.value.push_back(c);
    if (haveTerm) tcsetattr(fd, TCSAFLUSH, &old);
    (void)!::write(fd, "\n", 1);
    ::close(fd);
    return s;
}

AResult<Secret> fromFileOrEnv(const std::optional<std::string>& file, const char* env) {
    if (file) {
        auto bytes = sync::readFile(*file, 4096);
        if (!bytes) return fail(AppError::NotFound, "cannot read passphrase file " + *file);
        Secret s(std::string(bytes->begin(), bytes->end()));
        explicit_bzero(bytes->data(), bytes->size());
        while (!s.value.empty() && (s.value.back() == '\n' || s.value.back() == '\r')) s.value.pop_back();
        return s;
    }
    if (const char* v = std::getenv(env)) return Secret(v);
    return fail(AppError::NotFound, "");
}

AResult<Secret> passphrase(const Context& ctx) {
    auto s = fromFileOrEnv(ctx.args.get("passphrase-file"), "XUNSHEN_PASSPHRASE");
    if (s || s.code() != AppError::NotFound || !s.message().empty()) return s;
    return promptTty("口令 Passphrase: ");
}

AResult<Secret> newPassphrase(const Context& ctx, const char* fileOption, const char* env) {
    auto s = fromFileOrEnv(ctx.args.get(fileOption), env);
    if (!s && s.message().empty()) {
        auto a = promptTty("新口令 New passphrase: ");
        if (!a) return a;
        auto b = promptTty("再次输入 Repeat: ");
        if (!b) return b;
        if (a->value != b->value) return fail(AppError::Usage, "the two passphrases differ");
        s = std::move(*a);
    }
    return s;  // its policy (length, KDF bounds) is the session's
}

AResult<crypto::Argon2Params> kdfParams(const Context& ctx) {
    crypto::Argon2Params p;
    for (auto [name, field] : {std::pair{"kdf-memory-kib", &p.memoryKiB}, std::pair{"kdf-iterations", &p.iterations},
                               std::pair{"kdf-parallelism", &p.parallelism}}) {
        auto text = ctx.args.get(name);
        if (!text) continue;
        auto v = parseInteger(*text, 0, UINT32_MAX);
        if (!v) return fail(AppError::Usage, std::string("--") + name + " must be a whole number");
        *field = static_cast<std::uint32_t>(*v);
    }
    return p;  // its bounds are the session's policy (Session::checkPassphrasePolicy)
}

AResult<Session*> openSession(const Context& ctx) {
    if (ctx.session) return ctx.session.get();
    if (!Session::exists(ctx.store))
        return fail(AppError::NotFound, "no store in " + ctx.store.string() + " (run xunshenctl init first)");
    auto pass = passphrase(ctx);
    if (!pass) return pass.error();
    auto s = Session::open(ctx.store, pass->value);
    if (!s) return s.error();
    ctx.session = std::move(*s);
    return ctx.session.get();
}

// A file the command will read, checked before the passphrase is asked for: a mistyped path
// is said at once (the session reads it, with its bounds, once unlocked).
AStatus readable(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::error_code ec;
    if (!in || fs::is_directory(file, ec)) return fail(AppError::NotFound, "cannot read " + file.string());
    return {};
}

// Waits for a session task, showing its progress on stderr when stderr is a terminal.
template <typename T>
AResult<T> waitFor(const std::shared_ptr<Task<T>>& task) {
    const bool tty = ::isatty(2) == 1;
    while (!task->finished()) {
        if (tty) {
            auto p = task->progress();
            std::fprintf(stderr, "\r%s: %s %llu", task->name().c_str(), p.stage.c_str(), static_cast<unsigned long long>(p.done));
            if (p.total) std::fprintf(stderr, "/%llu", static_cast<unsigned long long>(p.total));
            std::fprintf(stderr, "\033[K");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (tty) std::fprintf(stderr, "\r\033[K");
    return task->wait();
}

// ---------------------------------------------------------------- commands

using Handler = std::function<int(Context&)>;

int cmdInit(Context& ctx) {
    auto name = ctx.args.get("name");
    auto roleText = ctx.args.get("role");
    if (!name || !roleText) return usage("init needs --name NAME --role ROLE");
    auto role = parseEnum<Role>(*roleText);
    if (!role) return usage("--role must be one of " + allSpellings<Role>());
    auto kdf = kdfParams(ctx);
    if (!kdf) return report(kdf.error());
    if (auto k = Session::checkKdfPolicy(*kdf); !k) return report(k.error());  // before asking for a passphrase
    auto pass = newPassphrase(ctx, "passphrase-file", "XUNSHEN_PASSPHRASE");
    if (!pass) return report(pass.error());
    auto session = Session::create(ctx.store, pass->value, *name, *role, *kdf);
    if (!session) return report(session.error());
    auto me = (*session)->self();
    if (!me) return report(me.error());
    if (ctx.json) {
        printJson({{"store", ctx.store.string()}, {"person_id", me->personId}, {"device_id", me->deviceId}, {"role", toString(*role)}});
    } else {
        std::cout << "created store " << ctx.store.string() << " for " << *name << " (" << label(*role) << ")\n";
    }
    return 0;
}

// org invite | invites | join: online enrolment by one-time code (docs/PROTOCOL.md).
int cmdOrgOnline(Context& ctx, const std::string& sub) {
    auto number = [&](const char* flag, int dflt, int lo, int hi) -> std::optional<int> {
        auto v = ctx.args.get(flag);
        if (!v) return dflt;
        if (v->empty() || v->size() > 6 || v->find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
        int n = std::stoi(*v);
        if (n < lo || n > hi) return std::nullopt;
        return n;
    };
    if (sub == "invite" && !ctx.args.get("person")) return usage("org invite --person CODE [--hours N (1 to 168, default 72)]");
    if (sub == "join" && (!ctx.args.get("server") || !ctx.args.get("pin") || !ctx.args.get("code")))
        return usage("org join --server URL --pin PIN --code CODE [--wait SECONDS (default 120)]");
    auto hours = number("hours", 72, 1, 168);
    auto wait = number("wait", 120, 0, 3600);
    if (!hours) return usage("--hours is 1 to 168");
    if (!wait) return usage("--wait is 0 to 3600 seconds");
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    Session& s = **session;
    auto inviteJson = [](const InviteView& v) {
        Json j{{"id", v.id},          {"person_id", v.personId},     {"person", v.personName}, {"created_at", v.createdMs},
               {"expires_at", v.expiresMs}, {"state", v.state},     {"device_id", v.deviceId}, {"fingerprint", v.fingerprint},
               {"problem", v.problem}, {"server_url", v.serverUrl}, {"pin", v.pin}};
        if (!v.code.empty()) j["code"] = v.code;
        return j;
    };
    if (sub == "invite") {
        auto v = s.createInvite(*ctx.args.get("person"), *hours);
        if (!v) return report(v.error());
        if (ctx.json) {
            printJson(inviteJson(*v));
            return 0;
        }
        std::cout << "invitation for " << v->personName << ", valid " << *hours << " h"
                  << (v->state == "sent" ? "" : " (not filed at the server yet: the next sync files it)") << "\n"
                  << "give these to the person, by hand or read aloud (the code is shown only now):\n"
                  << "  server: " << v->serverUrl << "\n  pin:    " << v->pin << "\n  code:   " << v->code << "\n"
                  << "on the new device:\n  xunshenctl --store DIR init --name NAME --role ROLE\n"
                  << "  xunshenctl --store DIR org join --server " << v->serverUrl << " --pin " << v->pin << " --code " << v->code
                  << "\nthe office's sync (or sync --watch) enrols it; then compare the fingerprints aloud (org invites)\n";
        return 0;
    }
    if (sub == "invites") {
        auto list = s.invites();
        if (!list) return report(list.error());
        if (ctx.json) {
            Json out = Json::array();
            for (const auto& v : *list) out.push_back(inviteJson(v));
            printJson(out);
            return 0;
        }
        for (const auto& v : *list)
            std::cout << v.id.substr(0, 12) << "  " << v.personName << "  " << v.state
                      << (v.fingerprint.empty() ? "" : "  device " + v.deviceId + "  fingerprint " + v.fingerprint)
                      << (v.problem.empty() ? "" : "  (" + v.problem + ")") << "\n";
        return 0;
    }
    auto r = s.joinOnline(*ctx.args.get("server"), *ctx.args.get("pin"), *ctx.args.get("code"), *wait);
    if (!r) return report(r.error());
    if (!r->enrolled) {
        if (ctx.json) printJson({{"enrolled", false}, {"device_fingerprint", r->deviceFingerprint}});
        else
            std::cout << "presented to the audit office; no answer yet (it answers on its next sync): run the same command "
                         "again later\nthis device's fingerprint: " << r->deviceFingerprint << "\n";
        return static_cast<int>(AppError::Offline);
    }
    if (ctx.json) {
        Json j = toJson(r->accepted);
        j["enrolled"] = true;
        j["device_fingerprint"] = r->deviceFingerprint;
        printJson(j);
    } else {
        std::cout << "enrolled online as " << r->accepted.person << " (" << label(r->accepted.role) << ")\n"
                  << "compare aloud with the audit office:\n  this device: " << r->deviceFingerprint
                  << "\n  the office:  " << r->accepted.officeFingerprint << "\n";
    }
    return 0;
}

int cmdOrg(Context& ctx) {
    const auto& pos = ctx.args.positional();
    std::string sub = pos.size() > 1 ? pos[1] : "";
    const char* usageText =
        "org import FILE | show | create-office-key | enrol-device FILE | revoke-device ID | export-enrolment --out FILE | enrol FILE"
        " | invite --person CODE [--hours N] | invites | join --server URL --pin PIN --code CODE [--wait SECONDS]";
    static const std::map<std::string, std::size_t> arity = {{"import", 3}, {"show", 2}, {"create-office-key", 2}, {"enrol-device", 3},
                                                             {"revoke-device", 3}, {"export-enrolment", 2}, {"enrol", 3},
                                                             {"invite", 2}, {"invites", 2}, {"join", 2}};
    auto known = arity.find(sub);
    if (known == arity.end()) return usage(usageText);
    if (sub == "invite" || sub == "invites" || sub == "join") return cmdOrgOnline(ctx, sub);
    if (pos.size() != known->second) return usage(std::string("org ") + sub + (known->second == 3 ? " ARGUMENT" : "") + " (" + usageText + ")");
    if (sub == "export-enrolment" && !ctx.args.get("out"))
        return usage("org export-enrolment --out FILE [--server-url URL] [--tls-pin SHA256]");
    if (known->second == 3 && sub != "revoke-device")
        if (auto r = readable(pos[2]); !r) return report(r.error());
    if (sub == "export-enrolment")
        if (auto c = checkOutputPath(ctx.store, *ctx.args.get("out")); !c) return report(c.error());
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    Session& s = **session;
    if (sub == "import") {
        auto r = s.importOrg(pos[2]);
        if (!r) return report(r.error());
        if (ctx.json) printJson(toJson(*r));
        else std::cout << "imported " << r->units << " units, " << r->people << " people, " << r->rounds << " rounds\n";
    } else if (sub == "show") {
        auto org = s.organisation();
        if (!org) return report(org.error());
        if (ctx.json) {
            printJson({{"units", listJson(org->units)}, {"people", listJson(org->people)}});
        } else {
            for (const auto& u : org->units) std::cout << "unit   " << u.code << "  " << u.name << "\n";
            for (const auto& p : org->people)
                std::cout << "person " << p.code << "  " << p.name << "  " << (p.role ? label(*p.role) : std::string("?")) << "\n";
        }
    } else if (sub == "create-office-key") {
        auto k = s.createOfficeKey();
        if (!k) return report(k.error());
        if (ctx.json) printJson({{"office_public_key", k->publicKeyHex}, {"age_recipient", k->ageRecipient}, {"fingerprint", k->fingerprint}});
        else std::cout << "office key created\nage recipient: " << k->ageRecipient << "\nfingerprint:   " << k->fingerprint << "\n";
    } else if (sub == "enrol-device") {
        auto r = s.enrolDevice(pos[2], ctx.args.get("person").value_or(""));
        if (!r) return report(r.error());
        if (ctx.json) printJson(toJson(*r));
        else std::cout << "enrolled device " << r->deviceId << " — compare its fingerprint aloud: " << r->fingerprint << "\n";
    } else if (sub == "revoke-device") {
        auto r = s.revokeDevice(pos[2]);
        if (!r) return report(r.error());
        if (ctx.json) printJson({{"device_id", pos[2]}, {"memberships_changed", *r}});
        else std::cout << "revoked device " << pos[2] << "; " << *r << " channel memberships removed (new key epochs)\n";
    } else if (sub == "export-enrolment") {
        auto out = *ctx.args.get("out");
        auto w = s.exportEnrolment(out, ctx.args.get("server-url").value_or(""), ctx.args.get("tls-pin").value_or(""));
        if (!w) return report(w.error());
        if (!ctx.json) std::cout << "enrolment file written to " << out << "\n";
    } else {
        auto r = s.acceptEnrolment(pos[2]);
        if (!r) return report(r.error());
        if (ctx.json) printJson(toJson(*r));
        else std::cout << "enrolled with the audit office — compare its fingerprint aloud: " << r->officeFingerprint << "\n";
    }
    return 0;
}

int cmdInspection(Context& ctx) {
    const auto& pos = ctx.args.positional();
    std::string sub = pos.size() > 1 ? pos[1] : "";
    if (sub == "create") {
        InspectionInput in;
        auto unit = ctx.args.get("unit");
        auto start = ctx.args.get("start");
        if (!unit || !start) return usage("inspection create --unit UNIT --start YYYY-MM-DD [--days N] [--kind K] [--mode M]");
        in.unit = *unit;
        in.start = *start;
        if (auto d = ctx.args.get("days")) {
            auto n = parseInteger(*d, 0, 1000);
            if (!n) return usage("--days must be a whole number of days, such as 7");
            in.days = static_cast<int>(*n);
        }
        if (auto k = ctx.args.get("kind")) {
            auto v = parseEnum<InspectionKind>(*k);
            if (!v) return usage("--kind must be one of " + allSpellings<InspectionKind>());
            in.kind = *v;
        }
        if (auto m = ctx.args.get("mode")) {
            auto v = parseEnum<InspectionMode>(*m);
            if (!v) return usage("--mode must be one of " + allSpellings<InspectionMode>());
            in.mode = *v;
        }
        in.title = ctx.args.get("title").value_or("");
        in.round = ctx.args.get("round").value_or("");
        in.lead = ctx.args.get("lead").value_or("");
        for (const auto& t : ctx.args.all("team")) {
            std::size_t from = 0;
            while (from <= t.size()) {
                auto comma = t.find(',', from);
                std::string one = t.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
                if (!one.empty()) in.team.push_back(one);
                if (comma == std::string::npos) break;
                from = comma + 1;
            }
        }
        auto ws = openSession(ctx);
        if (!ws) return report(ws.error());
        auto id = (*ws)->createInspection(in);
        if (!id) return report(id.error());
        if (ctx.json) printJson({{"id", *id}});
        else std::cout << *id << std::endl;
        return 0;
    }
    if (sub == "list") {
        auto ws = openSession(ctx);
        if (!ws) return report(ws.error());
        auto list = (*ws)->inspections();
        if (!list) return report(list.error());
        if (ctx.json) {
            Json out = Json::array();
            for (const auto& i : *list) out.push_back(toJson(i, false));
            printJson(out);
        } else {
            for (const auto& i : *list) std::cout << i.id << "  " << i.windowStart << ".." << i.windowEnd << "  " << i.title << "\n";
        }
        return 0;
    }
    if (sub == "show") {
        if (pos.size() != 3) return usage("inspection show ID");
        auto ws = openSession(ctx);
        if (!ws) return report(ws.error());
        auto i = (*ws)->inspection(pos[2]);
        if (!i) return report(i.error());
        printJson(toJson(*i, true));
        return 0;
    }
    if (sub == "extend") {
        if (pos.size() != 3) return usage("inspection extend ID --days N --reason TEXT");
        auto days = ctx.args.get("days");
        auto reason = ctx.args.get("reason");
        if (!days || !reason) return usage("inspection extend ID --days N --reason TEXT");
        auto parsed = parseInteger(*days, 0, 1000);
        if (!parsed) return usage("--days must be a whole number of days, such as 2");
        int n = static_cast<int>(*parsed);
        auto ws = openSession(ctx);
        if (!ws) return report(ws.error());
        auto id = (*ws)->requestExtension(pos[2], n, *reason);
        if (!id) return report(id.error());
        if (ctx.json) printJson({{"id", *id}});
        else std::cout << *id << std::endl;
        return 0;
    }
    if (sub == "decide-extension") {
        if (pos.size() != 3 || ctx.args.flag("approve") == ctx.args.flag("reject"))
            return usage("inspection decide-extension EXTENSION_ID --approve|--reject");
        auto ws = openSession(ctx);
        if (!ws) return report(ws.error());
        auto s = (*ws)->decideExtension(pos[2], ctx.args.flag("approve"));
        if (!s) return report(s.error());
        return 0;
    }
    return usage("inspection create|list|show|extend|decide-extension");
}

// The keys of `finding add` options and of import lines are the same (dashes become underscores).
AResult<Json> findingJsonFromArgs(const Args& args) {
    Json j = Json::object();
    for (const char* k : {"inspection", "title", "description", "category", "audit-category", "severity", "responsible-person"}) {
        if (auto v = args.get(k)) {
            std::string key = k;
            std::replace(key.begin(), key.end(), '-', '_');
            j[key] = *v;
        }
    }
    if (args.flag("immediate-fix")) j["immediate_fix"] = true;
    if (args.has("tag")) j["tags"] = args.all("tag");
    if (args.has("evidence")) j["evidence"] = args.all("evidence");
    return j;
}

void printFinding(const FindingView& f) {
    std::cout << "id:          " << f.id << "\n"
              << "title:       " << f.title << "\n"
              << "status:      " << toString(f.status) << "\n"
              << "category:    " << toString(f.category) << "\n"
              << "severity:    " << toString(f.severity) << "\n"
              << "immediate:   " << (f.immediateFix ? "yes" : "no") << "\n"
              << "description: " << f.description << "\n";
    for (const auto& a : f.attachments) std::cout << "attachment:  " << a.hash << "  " << a.purpose << "  " << a.name << "\n";
    for (const auto& c : f.conflictedFields) std::cout << "CONFLICT:    field " << c << " has concurrent edits\n";
}

int cmdFinding(Context& ctx) {
    const auto& pos = ctx.args.positional();
    std::string sub = pos.size() > 1 ? pos[1] : "";
    if (sub == "add") {
        auto j = findingJsonFromArgs(ctx.args);
        auto in = FindingInput::fromJson(*j);
        if (!in) return report(in.error());
        auto ws = openSession(ctx);
        if (!ws) return report(ws.error());
        auto id = (*ws)->addFinding(*in);
        if (!id) return report(id.error());
        if (ctx.json) printJson({{"id", *id}});
        else std::cout << *id << std::endl;
        return 0;
    }
    if (sub == "import") {
        if (pos.size() != 3) return usage("finding import FILE.jsonl");
        auto session = openSession(ctx);
        if (!session) return report(session.error());
        // Printed (on the task's thread, the only writer of stdout meanwhile) once each commit is durable.
        auto task = (*session)->importFindings(pos[2], [json = ctx.json](const std::string& id) {
            if (json) std::cout << Json{{"id", id}}.dump() << std::endl;
            else std::cout << id << std::endl;
        });
        if (!task) return report(task.error());
        auto n = waitFor(*task);
        if (!n) return report(n.error());
        return 0;
    }
    if (sub == "edit") {
        if (pos.size() != 3) return usage("finding edit ID --FIELD VALUE...");
        FindingEdit edit;
        for (const auto& [name, value] : ctx.args.ordered()) {
            if (kGlobal.count(name)) continue;
            if (name == "title") edit.title = value;
            else if (name == "description") edit.description = value;
            else if (name == "audit-category") edit.auditCategory = value;
            else if (name == "responsible-person") edit.responsiblePerson = value;
            else if (name == "immediate-fix") {
                if (value != "true" && value != "false") return usage("--immediate-fix takes true or false");
                edit.immediateFix = value == "true";
            } else if (name == "category") {
                if (!(edit.category = parseEnum<FindingCategory>(value))) return usage("--category must be one of " + allSpellings<FindingCategory>());
            } else if (name == "severity") {
                if (!(edit.severity = parseEnum<Severity>(value))) return usage("--severity must be one of " + allSpellings<Severity>());
            } else if (name == "status") {
                if (!(edit.status = parseEnum<FindingStatus>(value))) return usage("--status must be one of " + allSpellings<FindingStatus>());
            } else if (name == "tag") {
                auto tag = parseEnum<FindingTag>(value);
                if (!tag) return usage("--tag must be one of " + allSpellings<FindingTag>());
                if (!edit.tags) edit.tags.emplace();
                edit.tags->push_back(*tag);
            } else {
                return usage("finding edit: unknown field --" + name);
            }
        }
        auto ws = openSession(ctx);
        if (!ws) return report(ws.error());
        auto s = (*ws)->editFinding(pos[2], edit);
        if (!s) return report(s.error());
        return 0;
    }
    if (sub == "transition") {
        auto to = ctx.args.get("to");
        if (pos.size() != 3 || !to) return usage("finding transition ID --to STATUS [--reason TEXT]");
        auto status = parseEnum<FindingStatus>(*to);
        if (!status) return usage("--to must be one of " + allSpellings<FindingStatus>());
        auto ws = openSession(ctx);
        if (!ws) return report(ws.error());
        auto s = (*ws)->transitionFinding(pos[2], *status, ctx.args.get("reason").value_or(""));
        if (!s) return report(s.error());
        return 0;
    }
    if (sub == "attach") {
        auto file = ctx.args.get("evidence");
        if (pos.size() != 3 || !file) return usage("finding attach ID --evidence FILE [--purpose evidence|rectification|verification]");
        auto purpose = parseEnum<EvidencePurpose>(ctx.args.get("purpose").value_or("evidence"));
        if (!purpose) return usage("--purpose must be one of " + allSpellings<EvidencePurpose>());
        auto ws = openSession(ctx);
        if (!ws) return report(ws.error());
        auto hash = (*ws)->attachEvidence(pos[2], *file, *purpose);
        if (!hash) return report(hash.error());
        if (ctx.json) printJson({{"hash", *hash}});
        else std::cout << *hash << std::endl;
        return 0;
    }
    if (sub == "list") {
        auto ws = openSession(ctx);
        if (!ws) return report(ws.error());
        FindingFilter filter;
        filter.inspection = ctx.args.get("inspection").value_or("");
        auto list = (*ws)->findings(filter);
        if (!list) return report(list.error());
        if (ctx.json) {
            printJson(listJson(*list));
        } else {
            for (const auto& f : *list)
                std::cout << f.id << "  " << toString(f.status) << "  " << toString(f.severity) << (f.immediateFix ? "  立行立改" : "")
                          << "  " << f.title << "\n";
        }
        return 0;
    }
    if (sub == "show") {
        if (pos.size() != 3) return usage("finding show ID");
        auto ws = openSession(ctx);
        if (!ws) return report(ws.error());
        auto f = (*ws)->finding(pos[2]);
        if (!f) return report(f.error());
        if (ctx.json) printJson(toJson(*f));
        else printFinding(*f);
        return 0;
    }
    return usage("finding add|import|edit|transition|attach|list|show");
}

int cmdHistory(Context& ctx) {
    const auto& pos = ctx.args.positional();
    if (pos.size() != 2) return usage("history RECORD_ID");
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    auto h = (*session)->history(pos[1]);
    if (!h) return report(h.error());
    if (ctx.json) {
        printJson(listJson(*h));
    } else {
        for (const auto& v : *h) std::cout << v.time << "  " << v.device.substr(0, 8) << "  " << v.field << " = " << v.valueJson << "\n";
    }
    return 0;
}

int cmdConflicts(Context& ctx) {
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    auto c = (*session)->conflicts();
    if (!c) return report(c.error());
    if (ctx.json) {
        printJson(listJson(*c));
    } else {
        for (const auto& x : *c) {
            std::cout << x.kind << " " << x.recordId << " field " << x.field << ":\n";
            for (const auto& v : x.versions) std::cout << "  " << v.time << "  " << v.valueJson << "\n";
        }
    }
    return 0;
}

int cmdEvidence(Context& ctx) {
    const auto& pos = ctx.args.positional();
    auto out = ctx.args.get("out");
    if (pos.size() != 3 || pos[1] != "export" || !out) return usage("evidence export HASH --out FILE");
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    auto s = (*session)->exportEvidence(pos[2], *out);
    if (!s) return report(s.error());
    return 0;
}

int cmdRekey(Context& ctx) {
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    std::optional<crypto::Argon2Params> kdf;
    if (ctx.args.has("kdf-memory-kib") || ctx.args.has("kdf-iterations") || ctx.args.has("kdf-parallelism")) {
        auto k = kdfParams(ctx);
        if (!k) return report(k.error());
        if (auto ok = Session::checkKdfPolicy(*k); !ok) return report(ok.error());
        kdf = *k;
    }
    auto pass = newPassphrase(ctx, "new-passphrase-file", "XUNSHEN_NEW_PASSPHRASE");
    if (!pass) return report(pass.error());
    auto s = (*session)->rekey(pass->value, kdf);
    if (!s) return report(s.error());
    if (!ctx.json) std::cout << "passphrase changed (the data key was re-wrapped; nothing was re-encrypted)\n";
    return 0;
}

int cmdIdentity(Context& ctx) {
    const auto& pos = ctx.args.positional();
    if (pos.size() != 2 || (pos[1] != "show" && pos[1] != "export" && pos[1] != "export-age"))
        return usage("identity show | identity export --out FILE | identity export-age --out FILE");
    auto out = ctx.args.get("out");
    if (pos[1] != "show" && !out) return usage("identity " + pos[1] + " --out FILE");
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    if (pos[1] != "show") {
        auto s = pos[1] == "export-age" ? (*session)->exportOfficeAgeIdentity(*out) : (*session)->exportIdentity(*out);
        if (!s) return report(s.error());
        return 0;
    }
    auto me = (*session)->identity();
    if (!me) return report(me.error());
    if (ctx.json) {
        printJson(toJson(*me));
    } else {
        std::cout << "device:      " << me->deviceId << "\n"
                  << "person:      " << me->name << " (" << label(me->role) << ")\n"
                  << "signing key: " << me->signPublicKeyHex << " (Ed25519)\n"
                  << "exchange:    " << me->exchangePublicKeyHex << " (X25519)\n"
                  << "fingerprint: " << me->fingerprint << "\n";
    }
    return 0;
}

int cmdHandover(Context& ctx) {
    const auto& pos = ctx.args.positional();
    std::string sub = pos.size() > 1 ? pos[1] : "";
    if (sub == "export") {
        auto inspection = ctx.args.get("inspection");
        auto out = ctx.args.get("out");
        if (!inspection || !out || pos.size() != 2) return usage("handover export --inspection ID --out FILE");
        auto s = openSession(ctx);
        if (!s) return report(s.error());
        auto task = (*s)->exportHandover(*inspection, *out);
        if (!task) return report(task.error());
        auto r = waitFor(*task);
        if (!r) return report(r.error());
        if (ctx.json) printJson(toJson(*r));
        else std::cout << "bundle written to " << *out << ": " << r->changeSets << " change sets, " << r->evidenceFiles
                       << " evidence files, sealed to the audit office key\n";
        return 0;
    }
    if (sub == "import") {
        if (pos.size() != 3) return usage("handover import FILE");
        std::string receiptPath = ctx.args.get("receipt").value_or(pos[2] + ".receipt.json");
        if (auto r = readable(pos[2]); !r) return report(r.error());
        if (auto c = checkOutputPath(ctx.store, receiptPath); !c) return report(c.error());
        auto s = openSession(ctx);
        if (!s) return report(s.error());
        auto task = (*s)->importHandover(pos[2]);
        if (!task) return report(task.error());
        auto r = waitFor(*task);
        if (!r) return report(r.error());
        auto w = writeOutputFile((*s)->storeDir(), receiptPath, crypto::asBytes(r->receipt));
        if (!w) return report(w.error());
        Json out = toJson(*r);
        out["receipt"] = receiptPath;
        if (ctx.json) printJson(out);
        else std::cout << "imported " << r->changeSetsNew << " new of " << r->changeSets << " change sets and " << r->evidenceFiles
                       << " evidence files; signed receipt: " << receiptPath << "\n";
        return 0;
    }
    if (sub == "confirm") {
        if (pos.size() != 3) return usage("handover confirm RECEIPT [--ack-out FILE]");
        std::string ackPath = ctx.args.get("ack-out").value_or(pos[2] + ".ack.json");
        if (auto r = readable(pos[2]); !r) return report(r.error());
        if (auto c = checkOutputPath(ctx.store, ackPath); !c) return report(c.error());
        auto s = openSession(ctx);
        if (!s) return report(s.error());
        auto r = (*s)->confirmHandover(pos[2]);
        if (!r) return report(r.error());
        auto w = writeOutputFile((*s)->storeDir(), ackPath, crypto::asBytes(r->ack));
        if (!w) return report(w.error());
        Json out = toJson(*r);
        out["ack"] = ackPath;
        if (ctx.json) {
            printJson(out);
        } else if (r->wipe.keysDestroyed) {
            std::cout << "receipt verified; removed " << r->wipe.evidenceFilesRemoved << " evidence files and destroyed the "
                      << r->wipe.channelsShredded.size() << " channel keys of inspection " << r->wipe.inspection
                      << " and the subkeys they were sealed to: it no longer opens on this device\n";
        } else {
            std::cout << "receipt verified; removed the " << r->wipe.evidenceFilesRemoved << " evidence files it covers. "
                      << r->wipe.capturedAfterExport << " items were captured after this export: export again "
                      << "(the inspection's keys are kept until a receipt covers everything)\n";
        }
        if (!ctx.json) {  // in JSON they are the "warnings" list
            for (const auto& warning : r->warnings) std::cout << "warning: " << warning << "\n";
            std::cout << "signed shred acknowledgement for the office: " << ackPath << "\n";
        }
        return 0;
    }
    if (sub == "acknowledge") {
        if (pos.size() != 3) return usage("handover acknowledge ACK.json");
        if (auto r = readable(pos[2]); !r) return report(r.error());
        auto s = openSession(ctx);
        if (!s) return report(s.error());
        auto r = (*s)->acceptShredAcknowledgement(pos[2]);
        if (!r) return report(r.error());
        if (ctx.json) printJson({{"device", r->device}, {"change_sets_new", r->changeSetsNew}, {"acknowledgements", listJson(r->acknowledgements)}});
        else std::cout << "device " << r->device << " acknowledged " << r->acknowledgements.size() << " shredding(s)\n";
        return 0;
    }
    if (sub == "acks") {
        auto s = openSession(ctx);
        if (!s) return report(s.error());
        auto r = (*s)->shredAcknowledgements();
        if (!r) return report(r.error());
        if (ctx.json) {
            printJson(listJson(*r));
        } else {
            for (const auto& a : *r)
                std::cout << a.device << "  inspection " << a.scope << "  " << (a.keysDestroyed ? "keys destroyed" : "evidence only") << ", "
                          << a.evidenceRemoved << " evidence files removed  (" << a.detail << ")\n";
        }
        return 0;
    }
    return usage("handover export --inspection ID --out FILE | import FILE | confirm RECEIPT | acknowledge ACK | acks");
}

void printNotice(const NoticeView& n) {
    std::cout << "立行立改通知 " << n.id << "\n"
              << "  问题: " << n.problem << "\n  整改要求: " << n.action << "\n  期限: " << n.deadline << "\n  签发: "
              << n.issuedByName << " " << formatTimestampMs(n.issuedAt) << "\n  签收: "
              << (n.acknowledged ? n.acknowledgedByName + " " + formatTimestampMs(n.acknowledgedAt) : std::string("未签收")) << "\n";
    for (const auto& r : n.replies) {
        std::cout << "  回复 (" << r.repliedByName << " " << formatTimestampMs(r.repliedAt) << "): " << r.text << "\n";
        if (!r.fileName.empty())
            std::cout << "    整改材料 rectification file: " << r.fileName << " (" << r.fileSize << " bytes, " << r.fileState << ")\n";
    }
}

// notice issue --finding ID --problem T --action A --deadline YYYY-MM-DD | list | show ID | ack ID | reply ID --text T [--file F]
int cmdNotice(Context& ctx) {
    const auto& pos = ctx.args.positional();
    if (pos.size() < 2) return usage("notice issue|list|show|ack|reply");
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    const std::string& sub = pos[1];
    if (sub == "issue" && pos.size() == 2) {
        auto finding = ctx.args.get("finding"), problem = ctx.args.get("problem"), action = ctx.args.get("action"),
             deadline = ctx.args.get("deadline");
        if (!finding || !problem || !action || !deadline)
            return usage("notice issue --finding ID --problem TEXT --action TEXT --deadline YYYY-MM-DD");
        auto id = (*session)->issueNotice(*finding, *problem, *action, *deadline);
        if (!id) return report(id.error());
        if (ctx.json) printJson({{"id", *id}});
        else std::cout << *id << "\n";
        return 0;
    }
    if (sub == "list" && pos.size() == 2) {
        auto list = (*session)->notices();
        if (!list) return report(list.error());
        if (ctx.json) {
            printJson(listJson(*list));
        } else {
            for (const auto& n : *list)
                std::cout << n.id << "  " << n.deadline << "  " << (n.acknowledged ? "已签收" : "未签收") << "  " << n.problem << "\n";
        }
        return 0;
    }
    if ((sub == "show" || sub == "ack") && pos.size() == 3) {
        if (sub == "ack") {
            if (auto r = (*session)->acknowledgeNotice(pos[2]); !r) return report(r.error());
        }
        auto n = (*session)->notice(pos[2]);
        if (!n) return report(n.error());
        if (ctx.json) printJson(toJson(*n));
        else printNotice(*n);
        return 0;
    }
    if (sub == "reply" && pos.size() == 3) {
        auto text = ctx.args.get("text");
        if (!text) return usage("notice reply ID --text TEXT [--file FILE]");
        auto file = ctx.args.get("file");
        auto id = (*session)->replyToNotice(pos[2], *text, file ? std::filesystem::path(*file) : std::filesystem::path());
        if (!id) return report(id.error());
        if (ctx.json) printJson({{"id", *id}});
        else std::cout << *id << "\n";
        return 0;
    }
    return usage("notice issue|list|show ID|ack ID|reply ID");
}

void printClue(const ClueView& c) {
    std::cout << "线索 " << c.id << "  " << label(c.status) << " (" << toString(c.status) << ")\n"
              << "  摘要: " << c.summary << "\n";
    if (!c.findingId.empty()) std::cout << "  来自问题: " << c.findingId << "\n";
    if (!c.transferredTo.empty()) std::cout << "  移交给: " << c.transferredTo << "\n";
    std::cout << "  起草: " << c.createdByName << " " << formatTimestampMs(c.createdAt) << "\n";
    if (!c.transferredBy.empty()) std::cout << "  移交: " << c.transferredByName << " " << formatTimestampMs(c.transferredAt) << "\n";
    if (!c.receivedBy.empty()) std::cout << "  接收: " << c.receivedByName << " " << formatTimestampMs(c.receivedAt) << "\n";
}

// clue add --inspection I --summary TEXT [--finding F] [--to TEXT] | list | transfer ID | receive ID
int cmdClue(Context& ctx) {
    const auto& pos = ctx.args.positional();
    if (pos.size() < 2) return usage("clue add|list|transfer|receive");
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    const std::string& sub = pos[1];
    if (sub == "add" && pos.size() == 2) {
        auto inspection = ctx.args.get("inspection"), summary = ctx.args.get("summary");
        if (!inspection || !summary) return usage("clue add --inspection ID --summary TEXT [--finding ID] [--to TEXT]");
        auto id = (*session)->addClue(*inspection, ctx.args.get("finding").value_or(""), *summary, ctx.args.get("to").value_or(""));
        if (!id) return report(id.error());
        if (ctx.json) printJson({{"id", *id}});
        else std::cout << *id << "\n";
        return 0;
    }
    if (sub == "list" && pos.size() == 2) {
        auto list = (*session)->clues();
        if (!list) return report(list.error());
        if (ctx.json) {
            printJson(listJson(*list));
        } else {
            for (const auto& c : *list) std::cout << c.id << "  " << label(c.status) << "  " << c.summary << "\n";
            if (list->empty()) std::cout << "no clues readable here\n";
        }
        return 0;
    }
    if ((sub == "transfer" || sub == "receive") && pos.size() == 3) {
        auto moved = sub == "transfer" ? (*session)->transferClue(pos[2]) : (*session)->receiveClue(pos[2]);
        if (!moved) return report(moved.error());
        auto c = (*session)->clue(pos[2]);
        if (!c) return report(c.error());
        if (ctx.json) printJson(toJson(*c));
        else printClue(*c);
        return 0;
    }
    return usage("clue add --inspection ID --summary TEXT [--finding ID] [--to TEXT] | list | transfer ID | receive ID");
}

void printAgreementText(const AgreementTextView& a) {
    std::cout << "巡审 inspection: " << a.inspectionTitle << " (" << a.inspectionId << ")\n"
              << "版本 version: " << a.version << "\n"
              << "SHA-256 (of the Chinese text): " << a.sha256 << "\n\n"
              << a.textZh << "\n"
              << a.textEn << "\n";
    if (a.signedByMe)
        std::cout << "已签署 signed by you at " << formatTimestampMs(a.signedAtMs) << "\n";
    else
        std::cout << "未签署 not signed by you: xunshenctl agreement sign " << a.inspectionId << "\n";
}

// agreement show INSPECTION | sign INSPECTION | list [INSPECTION]  (保密协议, article 7(4))
int cmdAgreement(Context& ctx) {
    const auto& pos = ctx.args.positional();
    const char* use = "agreement show INSPECTION | agreement sign INSPECTION | agreement list [INSPECTION]";
    if (pos.size() < 2) return usage(use);
    const std::string& sub = pos[1];
    if (!((sub == "show" || sub == "sign") && pos.size() == 3) && !(sub == "list" && pos.size() <= 3)) return usage(use);
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    if (sub == "show" || sub == "sign") {
        if (sub == "sign") {
            if (auto r = (*session)->signAgreement(pos[2]); !r) return report(r.error());
        }
        auto text = (*session)->agreementText(pos[2]);
        if (!text) return report(text.error());
        if (ctx.json) printJson(toJson(*text));
        else if (sub == "show") printAgreementText(*text);
        else std::cout << "已签署 signed the confidentiality agreement " << text->version << " of " << text->inspectionTitle << " at "
                       << formatTimestampMs(text->signedAtMs) << " (sha256 " << text->sha256 << ")\n";
        return 0;
    }
    auto list = (*session)->agreements(pos.size() == 3 ? pos[2] : std::string());
    if (!list) return report(list.error());
    if (ctx.json) {
        printJson(listJson(*list));
        return 0;
    }
    for (const auto& a : *list)
        std::cout << formatTimestampMs(a.signedAtMs) << "  " << a.personName << " (" << a.personId << ")  " << a.inspectionId << "  "
                  << a.version << "\n";
    if (list->empty()) std::cout << "no signed agreements readable here\n";
    return 0;
}

Json roundJson(const SyncRoundView& r) {
    return {{"server", r.server},
            {"pushed", r.pushed},
            {"pulled", r.pulled},
            {"applied", r.applied},
            {"refused", r.refused},
            {"held", r.held},
            {"cursor", r.cursor},
            {"evidence", {{"uploaded", r.evidenceUploaded},
                          {"downloaded", r.evidenceDownloaded},
                          {"waiting", r.evidenceWaiting},
                          {"bytes_up", r.evidenceBytesUp},
                          {"bytes_down", r.evidenceBytesDown},
                          {"problems", r.evidenceProblems}}},
            {"forks", r.forks},
            {"unconfirmed_forks", r.unconfirmedForks},
            {"invites", {{"filed", r.invitesFiled},
                         {"enrolled", r.devicesEnrolled},
                         {"answered", r.invitesAnswered},
                         {"problems", r.inviteProblems}}}};
}

void printArrivals(Session& session, const Context& ctx, const std::vector<ArrivalView>& batch) {
    for (const auto& a : batch) {
        // What a person must see at once: a notice issued, acknowledged or answered.
        auto noticeEvents = [&](const std::vector<std::string>& ids, const char* event) {
            for (const auto& id : ids) {
                auto n = session.notice(id);
                if (!n) continue;
                if (ctx.json) {
                    Json j = toJson(*n);
                    j["event"] = event;
                    std::cout << j.dump() << std::endl;
                } else {
                    std::cout << (std::string(event) == "notice_issued" ? "收到" : std::string(event) == "notice_acknowledged" ? "已签收: " : "有回复: ");
                    printNotice(*n);
                    std::cout << std::flush;
                }
            }
        };
        noticeEvents(a.noticesIssued, "notice_issued");
        noticeEvents(a.noticesAcknowledged, "notice_acknowledged");
        noticeEvents(a.noticesAnswered, "notice_answered");
        if (ctx.json) {
            std::cout << Json{{"arrived", a.changeSet}, {"device", a.device}, {"author", a.author}, {"records", a.records},
                              {"withheld", a.withheld}}
                             .dump()
                      << std::endl;
            continue;
        }
        if (a.withheld) {
            std::cout << "arrived from " << (a.author.empty() ? a.device : a.author) << ": a change set of a channel not shared with this device (kept as a link)" << std::endl;
            continue;
        }
        // "unit in org x15": a run of the same kind of record once, with its count.
        std::cout << "arrived from " << (a.author.empty() ? a.device : a.author) << ":";
        for (std::size_t i = 0; i < a.records.size();) {
            std::size_t j = i;
            while (j < a.records.size() && a.records[j] == a.records[i]) ++j;
            std::cout << (i ? ", " : " ") << a.records[i];
            if (j - i > 1) std::cout << " x" << (j - i);
            i = j;
        }
        std::cout << std::endl;
    }
}

// sync [--server URL --pin PIN] [--watch]: one round, or rounds until interrupted, long-polling
// between them and backing off (with jitter) while the server cannot be reached.
int cmdSync(Context& ctx) {
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    auto url = ctx.args.get("server");
    auto pin = ctx.args.get("pin");
    if (url.has_value() != pin.has_value()) return usage("--server and --pin go together");
    if (url) {
        if (auto r = (*session)->setServer(*url, *pin); !r) return report(r.error());
    }
    Session& s = **session;
    if (ctx.args.flag("keys-only")) {
        if (ctx.args.flag("watch")) return usage("--keys-only is one fetch: not with --watch");
        auto k = s.syncKeys();
        if (!k) return report(k.error());
        if (ctx.json)
            printJson({{"server", k->server}, {"changesets", k->changeSets}, {"keys_gained", k->keysGained}, {"cursor", k->cursor}});
        else
            std::cout << "keys from " << k->server << ": " << k->changeSets << " change sets, " << k->keysGained
                      << " channel keys new here (sync brings the rest)\n";
        return 0;
    }
    auto arrivals = [&ctx, &s](const std::vector<ArrivalView>& batch) { printArrivals(s, ctx, batch); };
    if (!ctx.args.flag("watch")) {
        auto r = (*session)->syncOnce(0, arrivals);
        if (!r) return report(r.error());
        if (ctx.json) {
            printJson(roundJson(*r));
        } else {
            std::cout << "synced with " << r->server << ": sent " << r->pushed << ", received " << r->pulled << " ("
                      << r->applied << " new, " << r->refused << " refused, " << r->held << " waiting)\n";
            if (r->evidenceUploaded || r->evidenceDownloaded || r->evidenceWaiting)
                std::cout << "evidence files: " << r->evidenceUploaded << " sent, " << r->evidenceDownloaded << " received, "
                          << r->evidenceWaiting << " still to send\n";
            for (const auto& p : r->evidenceProblems) std::cout << "evidence problem: " << p << "\n";
            if (r->devicesEnrolled || r->invitesAnswered)
                std::cout << "online enrolment: enrolled by code " << r->devicesEnrolled << ", answers sent " << r->invitesAnswered
                          << " (org invites lists them)\n";
            for (const auto& p : r->inviteProblems) std::cout << "online enrolment problem: " << p << "\n";
            for (const auto& f : r->forks)
                std::cout << "FORK reported by the server and confirmed here (a copied device? revoke it): " << f << "\n";
            for (const auto& f : r->unconfirmedForks) std::cout << "fork report not confirmed: " << f << "\n";
        }
        return 0;
    }
    // --watch: the session's background worker does the rounds (long-poll, backoff with jitter);
    // this thread prints what it brings and when it goes offline or comes back.
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<std::vector<ArrivalView>> queue;  // guarded by mutex
    bool woken = false;                           // guarded by mutex
    auto started = s.startSyncWorker(
        [&](const std::vector<ArrivalView>& batch) {
            std::lock_guard lock(mutex);
            queue.push_back(batch);
        },
        [&] {
            {
                std::lock_guard lock(mutex);
                woken = true;
            }
            cv.notify_all();
        });
    if (!started) return report(started.error());
    std::cerr << "watching " << (s.server() ? s.server()->url : std::string("?")) << " (Ctrl+C to stop)" << std::endl;
    bool wasOnline = true;
    for (;;) {
        std::vector<std::vector<ArrivalView>> batches;
        {
            std::unique_lock lock(mutex);
            cv.wait_for(lock, std::chrono::seconds(1), [&] { return woken; });
            woken = false;
            batches.swap(queue);
        }
        for (const auto& b : batches) printArrivals(s, ctx, b);  // on this thread: the session is this thread's
        auto st = s.syncStatus();
        if (!st) return report(st.error());
        if (!st->online && !st->lastError.empty() && wasOnline) {
            const auto in = std::max<std::int64_t>(0, st->nextAttemptMs - sync::wallClockMs());
            std::cerr << "offline (" << st->lastError << "): retrying in " << (in + 500) / 1000 << " s; " << st->waitingChangeSets
                      << " change sets and " << st->waitingEvidence << " files wait" << std::endl;
        } else if (st->online && !wasOnline) {
            std::cerr << "online again" << std::endl;
        }
        if (st->rounds > 0) wasOnline = st->online;
    }
}

// exports [--inspection ID]: who took data out of an encrypted store, and when.
int cmdExports(Context& ctx) {
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    auto list = (*session)->exports(ctx.args.get("inspection").value_or(""));
    if (!list) return report(list.error());
    if (ctx.json) {
        Json out = Json::array();
        for (const auto& e : *list)
            out.push_back({{"id", e.id}, {"inspection", e.inspection}, {"what", e.what}, {"subject", e.subject},
                           {"file_name", e.fileName}, {"bytes", e.bytes}, {"exported_by", e.exportedBy}, {"person", e.person},
                           {"exported_at", e.exportedAt}});
        printJson(out);
        return 0;
    }
    for (const auto& e : *list)
        std::cout << formatTimestampMs(e.exportedAt) << "  " << (e.person.empty() ? e.exportedBy : e.person) << "  "
                  << (e.what == "evidence" ? "导出证据 evidence " + e.subject.substr(0, 12) : std::string("导出移交包 handover"))
                  << "  " << e.fileName << (e.bytes ? "  " + std::to_string(e.bytes) + " bytes" : std::string()) << "\n";
    if (list->empty()) std::cout << "no exports recorded\n";
    return 0;
}

// access-log: the server's hash-chained log of pulls and evidence downloads (the office only).
int cmdAccessLog(Context& ctx) {
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    auto log = (*session)->accessLog();
    if (!log) return report(log.error());
    if (ctx.json) {
        Json list = Json::array();
        for (const auto& e : log->entries)
            list.push_back({{"seq", e.seq}, {"time_ms", e.timeMs}, {"device", e.device}, {"person", e.person},
                            {"action", e.action}, {"channels", e.channels}, {"range", e.range}});
        printJson({{"entries", list}, {"head", log->head}, {"verified", true}});
        return 0;
    }
    for (const auto& e : log->entries) {
        std::cout << e.seq << "  " << formatTimestampMs(e.timeMs) << "  " << (e.person.empty() ? e.device : e.person) << "  "
                  << (e.action == "pull" ? "pull " : "evidence ") << e.range;
        for (const auto& c : e.channels) std::cout << "  " << c;
        std::cout << "\n";
    }
    std::cout << log->entries.size() << " entries; the chain verifies (head " << log->head.substr(0, 16) << ")\n";
    return 0;
}

int cmdRebuild(Context& ctx) {
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    auto task = (*session)->rebuild();
    if (!task) return report(task.error());
    auto digest = waitFor(*task);
    if (!digest) return report(digest.error());
    if (ctx.json) printJson({{"rebuilt", true}, {"projection_digest", *digest}});
    else std::cout << "projections rebuilt from the op log\n";
    return 0;
}

int cmdVerify(Context& ctx) {
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    auto task = (*session)->verify();
    if (!task) return report(task.error());
    auto r = waitFor(*task);
    if (!r) return report(r.error());
    if (ctx.json) {
        printJson(toJson(*r));
    } else {
        for (const auto& p : r->problems) std::cout << "problem: " << p << "\n";
        for (const auto& w : r->wiped)
            std::cout << "wiped: inspection " << w.inspection << " after receipt, " << w.evidenceFilesRemoved << " evidence files\n";
        for (const auto& c : r->shredded)
            std::cout << "shredded: channel " << c.channel << " keys destroyed at " << formatTimestampMs(c.atMs) << " (" << c.reason << ")\n";
        for (const auto& x : r->refused)
            std::cout << "refused: change set " << x.id << " of device " << x.device << " (kept, not applied): " << x.reason << "\n";
        for (const auto& p : r->pending)
            std::cout << "pending: evidence " << p.hash.substr(0, 12) << " of finding " << p.finding << " has not reached this store yet\n";
        std::cout << (r->ok ? "ok" : "FAILED") << ": " << r->ops << " ops, " << r->findings << " findings, " << r->evidenceFiles
                  << " evidence files checked";
        if (!r->refused.empty()) std::cout << ", " << r->refused.size() << " change sets refused by the rules";
        if (!r->pending.empty()) std::cout << ", " << r->pending.size() << " evidence files pending";
        std::cout << "\n";
    }
    return r->ok ? 0 : 1;
}

int cmdRefused(Context& ctx) {
    auto session = openSession(ctx);
    if (!session) return report(session.error());
    auto r = (*session)->refusedChangeSets();
    if (!r) return report(r.error());
    if (ctx.json) {
        printJson(listJson(*r));
    } else {
        for (const auto& x : *r) std::cout << x.id << "  device " << x.device << " #" << x.seq << "  " << x.reason << "\n";
        if (r->empty()) std::cout << "no change set was refused\n";
    }
    return 0;
}

int cmdDemo(Context& ctx) {
    auto pass = fromFileOrEnv(ctx.args.get("passphrase-file"), "XUNSHEN_PASSPHRASE");
    Secret p = pass ? std::move(*pass) : Secret(kDemoPassphrase);
    auto kdf = kdfParams(ctx);
    if (!kdf) return report(kdf.error());
    DemoOptions opts;
    opts.store = ctx.store;
    opts.passphrase = p.value;
    opts.kdf = *kdf;
    opts.assets = ctx.args.get("assets").value_or("");
    auto r = runDemo(opts, [&](const std::string& line) {
        if (!ctx.json) std::cout << line << std::endl;
    });
    if (!r) return report(r.error());
    if (ctx.json) printJson(*r);
    return 0;
}

int cmdDemoHandover(Context& ctx) {
    auto dir = ctx.args.get("dir");
    if (!dir) return usage("demo-handover --dir DIR");
    auto pass = fromFileOrEnv(ctx.args.get("passphrase-file"), "XUNSHEN_PASSPHRASE");
    Secret p = pass ? std::move(*pass) : Secret(kDemoPassphrase);
    auto kdf = kdfParams(ctx);
    if (!kdf) return report(kdf.error());
    DemoOptions opts;
    opts.passphrase = p.value;
    opts.kdf = *kdf;
    opts.assets = ctx.args.get("assets").value_or("");
    auto r = runHandoverDemo(opts, *dir, [&](const std::string& line) {
        if (!ctx.json) std::cout << line << std::endl;
    });
    if (!r) return report(r.error());
    if (ctx.json) printJson(*r);
    return 0;
}

// demo-sync --dir DIR: the online walkthrough with a real server (app/cli/demo_sync.h).
int cmdDemoSync(Context& ctx) {
    auto dir = ctx.args.get("dir");
    if (!dir) return usage("demo-sync --dir DIR");
    auto pass = fromFileOrEnv(ctx.args.get("passphrase-file"), "XUNSHEN_PASSPHRASE");
    if (!pass && !pass.message().empty()) return report(pass.error());
    const bool demoPassphrase = !pass;
    Secret p = pass ? std::move(*pass) : Secret(kDemoPassphrase);
    auto kdf = kdfParams(ctx);
    if (!kdf) return report(kdf.error());
    if (auto c = Session::checkPassphrasePolicy(p.value, *kdf); !c) return report(c.error());
    cli::DemoSyncOptions opts;
    opts.dir = *dir;
    opts.passphrase = p.value;
    opts.printPassphrase = demoPassphrase;
    for (const char* k : {"kdf-memory-kib", "kdf-iterations", "kdf-parallelism"})
        if (auto v = ctx.args.get(k)) opts.kdfArgs.insert(opts.kdfArgs.end(), {std::string("--") + k, *v});
    opts.assets = ctx.args.get("assets").value_or(defaultAssetsDir().string());
    std::error_code ec;
    opts.self = fs::read_symlink("/proc/self/exe", ec);
    auto say = [&](const std::string& line) {
        if (!ctx.json) std::cout << line << std::endl;
    };
    if (demoPassphrase) say("口令 Passphrase of every demo store (XUNSHEN_PASSPHRASE was not set): " + p.value);
    auto r = runDemoSync(opts, say);
    if (!r) return report(r.error());
    if (ctx.json) printJson(*r);
    return 0;
}

const char* kHelp = R"(xunshenctl — Xunshen (巡审) command line

usage: xunshenctl [--store DIR] [--passphrase-file F] [--json] COMMAND ...
  The store is --store, else $XUNSHEN_STORE, else ~/.local/share/xunshen/store.
  The passphrase is read from $XUNSHEN_PASSPHRASE, --passphrase-file, or a no-echo prompt.

commands:
  init --name NAME --role ROLE [--kdf-memory-kib N] [--kdf-iterations N]
  org import FILE.json | org show
  org create-office-key          (audit office) create the office X25519 key
  org enrol-device DEVICE.json [--person CODE]   (audit office) enrol a device from its `identity export`
                                 for the person of the organisation it names
  org revoke-device DEVICE_ID    (audit office) revoke a device: nothing after its last change set here is
                                 accepted anywhere; removed from its channels, new key epochs
  org export-enrolment --out F [--server-url URL] [--tls-pin SHA256]   signed enrolment file
  org enrol ENROLMENT.json       verify the office's signature and accept its keys
  org invite --person CODE [--hours N]   (audit office) a one-time code to enrol a new device online
  org invites                    (audit office) invitations: waiting, enrolled (with the device's fingerprint)
  org join --server URL --pin PIN --code CODE [--wait S]   enrol this device online with the office's code;
                                 exit 10 while the office has not answered (run it again)
  inspection create --unit UNIT --start YYYY-MM-DD [--days N] [--kind full|special|look_back]
                    [--mode synchronous|targeted|relay_audit_first|relay_inspection_first]
                    [--title T] [--team P1,P2] [--lead P] [--round R]
  inspection list | inspection show ID
  agreement show INSPECTION      the confidentiality agreement (保密协议) to read: text, version, hash,
                                 whether you signed it
  agreement sign INSPECTION      sign it (the working group, before the inspection's data opens to
                                 them; signing again changes nothing)
  agreement list [INSPECTION]    who signed when (the audit office sees everyone's)
  inspection extend ID --days N --reason TEXT
  inspection decide-extension EXTENSION_ID --approve|--reject
  finding add --inspection ID --title T [--description D] [--category C] [--audit-category A]
              [--severity low|medium|high] [--tag common|trending|emerging]... [--immediate-fix]
              [--responsible-person P] [--evidence FILE]...
  finding import FILE.jsonl      one JSON object per line, keys as for add (underscores)
  finding edit ID --FIELD VALUE...   (title, description, category, audit-category, severity,
                                      tag, immediate-fix true|false, responsible-person, status)
  finding transition ID --to STATUS [--reason TEXT]
  finding attach ID --evidence FILE [--purpose evidence|rectification|verification]
  finding list [--inspection ID] | finding show ID
  conflicts                      concurrent edits waiting for a person
  history RECORD_ID              every change of a record
  evidence export HASH --out FILE
  rekey [--new-passphrase-file F] (or $XUNSHEN_NEW_PASSPHRASE, or a prompt)
  identity show                  this device's public keys and a fingerprint to compare aloud
  identity export --out F        this device's public identity, for the office to enrol
  identity export-age --out F    (audit office) the office key as an age identity file
  handover export --inspection ID --out FILE   one age file sealed to the audit office
  handover import FILE [--receipt R]   (audit office) verify and apply a bundle, all or nothing;
                                 writes the signed receipt (default FILE.receipt.json)
  handover confirm RECEIPT [--ack-out F]   verify the office's receipt, then destroy what it covers here
                                 (crypto-shred the inspection when nothing came after the export);
                                 writes the signed shred acknowledgement (default RECEIPT.ack.json)
  handover acknowledge ACK       (audit office) record a device's shred acknowledgement
  handover acks                  (audit office) shred acknowledgements per device
  refused                        change sets kept but refused by the procedure's rules
  notice issue --finding ID --problem TEXT --action TEXT --deadline YYYY-MM-DD
                                 (working-group lead) an immediate-fix notice (立行立改) to the unit,
                                 for a confirmed immediate-fix finding; the problem is told in words
                                 the unit may read (it never reads the team's findings)
  notice list | notice show ID   notices with their deadlines, acknowledgement and replies
  notice ack ID                  (unit head) acknowledge a notice (a signed record the lead sees)
  notice reply ID --text TEXT [--file FILE]
                                 (unit head) answer a notice with what was rectified, and one
                                 rectification file (整改材料) the team, lead and office receive
  clue add --inspection ID --summary TEXT [--finding ID] [--to TEXT]
                                 (audit office) a clue for transfer to the discipline commission
                                 (线索移交), in the inspection's clue channel: only the audit office
                                 and the commission read it
  clue list                      the clues readable here, with their status
  clue transfer ID               (audit office) mark a drafted clue transferred to the commission
  clue receive ID                (discipline commission) mark a transferred clue received
  sync [--server URL --pin PIN] [--watch]   send what the server lacks, receive what is new;
  sync --keys-only               fetch only the change sets that hand this device channel keys
                                 --watch stays connected and prints what arrives (the URL and pin
                                 come with the enrolment file; --server/--pin set them); evidence
                                 files go up and come down after the change sets, resuming
  exports [--inspection ID]      who took data out of an encrypted store (evidence export,
                                 handover export): each is a signed record the office receives
  access-log                     (audit office) the server's log of who pulled or downloaded
                                 what and when, verified as a hash chain that extends the last one
  rebuild                        drop and rebuild projections from the op log
  verify                         database integrity, op log consistency, every evidence file
  demo [--assets DIR]            create a demo store and walk one inspection through capture
  demo-handover --dir DIR        office + two enrolled inspectors: capture, export, import
  demo-sync --dir DIR            a real xunshen-server and five devices (office, two inspectors, the
                                 lead, the unit head) through the immediate-fix path online; leaves
                                 DIR/server/ and a store per device (DIR must be new or empty)

exit codes: 0 ok, 1 failure, 2 usage, 3 wrong passphrase, 4 not found, 5 refused by a rule,
            6 tampered or damaged data, 7 store busy, 8 disk full, 9 cancelled,
            10 offline (the server cannot be reached: nothing is lost, sync later)
)";

// Text output goes through this: a title or a unit name that another device wrote may hold
// terminal control sequences (ESC [2J, OSC window titles, C1 CSI). Control characters other than
// newline and tab are printed as \xNN (C1 controls as \u00NN) instead of reaching the terminal.
// JSON output is escaped by the JSON writer already and passes through unchanged.
class EscapingBuf final : public std::streambuf {
public:
    explicit EscapingBuf(std::streambuf* out) : m_out(out) {}
    ~EscapingBuf() override { flushPending(); }

protected:
    int overflow(int ch) override {
        if (ch == traits_type::eof()) return sync() == 0 ? 0 : traits_type::eof();
        auto c = static_cast<unsigned char>(ch);
        if (m_pendingC2) {
            m_pendingC2 = false;
            if (c >= 0x80 && c <= 0x9f) return escape("\\u00", c);
            m_out->sputc(static_cast<char>(0xc2));
        }
        if (c == 0xc2) {
            m_pendingC2 = true;
            return ch;
        }
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return escape("\\x", c);
        return m_out->sputc(static_cast<char>(c)) == traits_type::eof() ? traits_type::eof() : ch;
    }
    int sync() override { return m_out->pubsync(); }

private:
    int escape(const char* prefix, unsigned char c) {
        char buf[12];
        std::snprintf(buf, sizeof buf, "%s%02x", prefix, c);
        m_out->sputn(buf, static_cast<std::streamsize>(std::strlen(buf)));
        return c;
    }
    void flushPending() {
        if (m_pendingC2) m_out->sputc(static_cast<char>(0xc2));
        m_pendingC2 = false;
    }
    std::streambuf* m_out;
    bool m_pendingC2 = false;  // a 0xC2 lead byte waits: it may start a C1 control
};

// Puts EscapingBufs in front of std::cout and std::cerr for its lifetime.
class EscapedOutput {
public:
    EscapedOutput() : m_oldOut(std::cout.rdbuf()), m_oldErr(std::cerr.rdbuf()), m_out(m_oldOut), m_err(m_oldErr) {
        std::cout.rdbuf(&m_out);
        std::cerr.rdbuf(&m_err);
    }
    ~EscapedOutput() {
        std::cout.flush();
        std::cerr.flush();
        std::cout.rdbuf(m_oldOut);
        std::cerr.rdbuf(m_oldErr);
    }
    EscapedOutput(const EscapedOutput&) = delete;
    EscapedOutput& operator=(const EscapedOutput&) = delete;

private:
    std::streambuf* m_oldOut;
    std::streambuf* m_oldErr;
    EscapingBuf m_out;
    EscapingBuf m_err;
};

}  // namespace

int run(const std::vector<std::string>& argv) {
    Context ctx{Args(argv, kFlags), false, {}, nullptr};
    if (!ctx.args.error().empty()) return usage(ctx.args.error());
    if (ctx.args.flag("help") || ctx.args.positional().empty()) {
        std::cout << kHelp;
        return ctx.args.positional().empty() && !ctx.args.flag("help") ? static_cast<int>(AppError::Usage) : 0;
    }
    ctx.json = ctx.args.flag("json");
    if (auto s = ctx.args.get("store")) ctx.store = *s;
    else if (const char* e = std::getenv("XUNSHEN_STORE")) ctx.store = e;
    else if (const char* h = std::getenv("HOME")) ctx.store = fs::path(h) / ".local/share/xunshen/store";
    else return usage("no store given: use --store DIR or XUNSHEN_STORE");

    static const std::map<std::string, std::pair<Handler, std::set<std::string>>> commands = {
        {"init", {cmdInit, {"name", "role", "kdf-memory-kib", "kdf-iterations", "kdf-parallelism"}}},
        {"org", {cmdOrg, {"out", "server-url", "tls-pin", "person", "hours", "server", "pin", "code", "wait"}}},
        {"inspection", {cmdInspection, {"unit", "start", "days", "kind", "mode", "title", "team", "lead", "round", "reason",
                                        "approve", "reject"}}},
        {"finding", {cmdFinding, {"inspection", "title", "description", "category", "audit-category", "severity", "tag",
                                  "immediate-fix", "responsible-person", "evidence", "status", "to", "purpose"}}},
        {"history", {cmdHistory, {}}},
        {"conflicts", {cmdConflicts, {}}},
        {"evidence", {cmdEvidence, {"out"}}},
        {"rekey", {cmdRekey, {"new-passphrase-file", "kdf-memory-kib", "kdf-iterations", "kdf-parallelism"}}},
        {"rebuild", {cmdRebuild, {}}},
        {"sync", {cmdSync, {"server", "pin", "watch", "keys-only"}}},
        {"notice", {cmdNotice, {"finding", "problem", "action", "deadline", "text", "file"}}},
        {"clue", {cmdClue, {"inspection", "summary", "finding", "to"}}},
        {"agreement", {cmdAgreement, {}}},
        {"access-log", {cmdAccessLog, {}}},
        {"exports", {cmdExports, {"inspection"}}},
        {"identity", {cmdIdentity, {"out"}}},
        {"handover", {cmdHandover, {"inspection", "out", "receipt", "ack-out"}}},
        {"refused", {cmdRefused, {}}},
        {"verify", {cmdVerify, {}}},
        {"demo", {cmdDemo, {"assets", "kdf-memory-kib", "kdf-iterations", "kdf-parallelism"}}},
        {"demo-handover", {cmdDemoHandover, {"dir", "assets", "kdf-memory-kib", "kdf-iterations", "kdf-parallelism"}}},
        {"demo-sync", {cmdDemoSync, {"dir", "assets", "kdf-memory-kib", "kdf-iterations", "kdf-parallelism"}}},
    };
    auto it = commands.find(ctx.args.positional()[0]);
    if (it == commands.end()) return usage("unknown command '" + ctx.args.positional()[0] + "'");
    std::set<std::string> allowed = kGlobal;
    allowed.insert(it->second.second.begin(), it->second.second.end());
    if (auto bad = ctx.args.unknown(allowed); !bad.empty()) return usage(bad);
    EscapedOutput escaped;
    try {
        return it->second.first(ctx);
    } catch (const std::exception& e) {
        // Nothing should throw across this boundary; if something does, say so plainly.
        std::cerr << "xunshenctl: internal error: " << e.what() << "\n";
        return static_cast<int>(AppError::Failed);
    }
}

}  // namespace xs::app::cli
