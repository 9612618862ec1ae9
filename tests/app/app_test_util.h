// Helpers shared by the app tests: workspaces on cheap Argon2 and a manual clock, readable
// AppError values, the demo organisation, the audit office's store and enrolled stores, and
// syncing two workspaces through the one apply path.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>

#include "app/enrolment.h"
#include "app/error.h"
#include "app/workspace.h"
#include "sync/apply.h"
#include "sync/hlc.h"
#include "tests/sync/sync_test_util.h"

namespace xs::app::test {

namespace fs = std::filesystem;
using sync::test::cheapKdf;
using sync::test::TempDir;

inline std::string errorName(AppError e) {
    switch (e) {
        case AppError::Failed: return "Failed";
        case AppError::Usage: return "Usage";
        case AppError::Locked: return "Locked";
        case AppError::NotFound: return "NotFound";
        case AppError::Refused: return "Refused";
        case AppError::Tampered: return "Tampered";
        case AppError::Busy: return "Busy";
        case AppError::DiskFull: return "DiskFull";
        case AppError::Cancelled: return "Cancelled";
        case AppError::Offline: return "Offline";
    }
    return "?";
}

template <typename R>
std::optional<AppError> errorOf(const R& r) {
    if (r.ok()) return std::nullopt;
    return r.code();
}

template <typename R>
std::string describe(const R& r) {
    if (r.ok()) return "ok";
    return errorName(r.code()) + ": " + r.message();
}

template <typename R>
std::string messageOf(const R& r) {
    return r.ok() ? std::string() : r.message();
}

inline bool mentions(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Noon UTC of 2026-03-10: the same calendar day in every time zone within ±11 h.
constexpr std::int64_t kBaseMs = 1'773'144'000'000;
constexpr std::int64_t kDayMs = 86'400'000;

inline Json loadOrg() {
    const auto bytes = sync::test::readAll(fs::path(XS_SOURCE_DIR) / "assets/demo/org.json");
    Json j = Json::parse(bytes.begin(), bytes.end(), nullptr, false);
    REQUIRE_MESSAGE(!j.is_discarded(), "assets/demo/org.json is not JSON");
    return j;
}

inline std::unique_ptr<Workspace> initWorkspace(const fs::path& dir, const std::string& name, Role role,
                                                const sync::Clock& clock) {
    auto ws = Workspace::init(dir, "口令 passphrase", name, role, cheapKdf(), clock);
    REQUIRE_MESSAGE(ws.ok(), describe(ws));
    return std::move(ws.value());
}

// Applies every change set `from` holds to `to` through the one apply path (idempotent), as a
// bundle or an enrolment file carries them: registrations and channel keys travel inside.
inline sync::ApplyReport syncInto(Workspace& from, Workspace& to) {
    auto sets = from.log().changeSets();
    REQUIRE(sets.ok());
    auto session = sync::ApplySession::begin(to.log());
    REQUIRE(session.ok());
    for (const auto& cs : *sets) {
        auto s = (*session)->add(cs);
        REQUIRE_MESSAGE(s.ok(), "apply failed: " << s.message());
    }
    auto report = (*session)->commit();
    REQUIRE_MESSAGE(report.ok(), "apply failed: " << report.message());
    REQUIRE(to.reloadSelf().ok());
    return *report;
}

// The audit office's store (吴敏), the registrar: the demo organisation imported, the office key made.
inline std::unique_ptr<Workspace> officeWorkspace(const fs::path& dir, const sync::Clock& clock,
                                                  const std::string& name = "吴敏") {
    auto ws = initWorkspace(dir, name, Role::AuditOffice, clock);
    auto imported = ws->importOrg(loadOrg());
    REQUIRE_MESSAGE(imported.ok(), describe(imported));
    auto key = createOfficeKey(*ws);
    REQUIRE_MESSAGE(key.ok(), describe(key));
    return ws;
}

// A person's store, enrolled by the office for the person of that name and role.
inline void enrol(Workspace& office, Workspace& ws) {
    auto device = devicePublicJson(ws);
    REQUIRE(device.ok());
    auto enrolled = enrolDevice(office, *device);
    REQUIRE_MESSAGE(enrolled.ok(), describe(enrolled));
    auto file = exportEnrolment(office, "", "");
    REQUIRE_MESSAGE(file.ok(), describe(file));
    auto accepted = acceptEnrolment(ws, *file);
    REQUIRE_MESSAGE(accepted.ok(), describe(accepted));
}

inline std::unique_ptr<Workspace> enrolledWorkspace(Workspace& office, const fs::path& dir, const std::string& name, Role role,
                                                    const sync::Clock& clock) {
    auto ws = initWorkspace(dir, name, role, clock);
    enrol(office, *ws);
    return ws;
}

inline void syncBoth(Workspace& a, Workspace& b) {
    syncInto(a, b);
    syncInto(b, a);
}

inline std::int64_t opCount(Workspace& ws) {
    auto n = ws.log().opCount();
    REQUIRE(n.ok());
    return *n;
}

inline std::int64_t countRows(Workspace& ws, const char* sql) {
    auto s = ws.store().db().prepare(sql);
    REQUIRE(s.ok());
    auto row = s->step();
    REQUIRE(row.ok());
    REQUIRE(*row);
    return s->int64(0);
}

inline fs::path writeFile(const fs::path& dir, const std::string& name, const std::string& content) {
    fs::create_directories(dir);
    sync::test::writeText(dir / name, content);
    return dir / name;
}

}  // namespace xs::app::test

// Readable error codes in failed CHECKs. Non-template overloads found by ADL, so that doctest's
// enum toString and xs::app's toString<E> template are not ambiguous.
namespace xs::app {
inline doctest::String toString(const AppError& e) { return test::errorName(e).c_str(); }
inline doctest::String toString(const std::optional<AppError>& e) {
    return e ? test::errorName(*e).c_str() : "success";
}
}  // namespace xs::app
