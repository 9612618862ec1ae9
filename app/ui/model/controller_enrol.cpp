// First run (a store created from the unlock view) and enrolment: the identity file for the
// office, the office's enrolment file, or the one-time code online.
#include <filesystem>

#include "app/ui/model/controller.h"
#include "app/ui/model/controller_parts.h"

namespace xs::ui {

bool Controller::firstRun() const {
    if (m_session || m_unlock.store.empty()) return false;
    return !app::Session::exists(std::filesystem::path(m_unlock.store));
}

void Controller::startCreate() {
    UnlockState& u = m_unlock;
    u.refusalKey.clear();
    u.refusalDetail.clear();
    if (!firstRun()) {
        u.refusalKey = "first_run.exists";
        return;
    }
    if (parts::blank(u.name)) {
        u.refusalKey = "first_run.name_needed";
        return;
    }
    if (u.passphrase != u.passphraseAgain) {
        u.refusalKey = "settings.passphrases_differ";
        return;
    }
    const crypto::Argon2Params kdf;  // the store's defaults (Session::checkPassphrasePolicy)
    if (auto policy = app::Session::checkPassphrasePolicy(u.passphrase, kdf); !policy) {
        u.refusalKey = "settings.passphrase_short";
        u.refusalDetail = policy.message();
        m_glyphs.add(u.refusalDetail);
        return;
    }
    const auto role = app::parseEnum<app::Role>(u.role).value_or(app::Role::WorkingGroupMember);
    u.busy = true;
    m_creating = true;
    std::string pass = std::move(u.passphrase);
    parts::wipe(u.passphrase);
    parts::wipe(u.passphraseAgain);
    u.strength = 0;
    const std::filesystem::path dir = u.store;
    const std::string name = u.name;
    auto wake = m_wake;
    const sync::Clock* clock = m_clock;
    m_opening = std::async(std::launch::async, [dir, pass = std::move(pass), name, role, kdf, wake, clock]() mutable {
        auto s = app::Session::create(dir, pass, name, role, kdf, *clock);
        parts::wipe(pass);
        if (wake) wake();
        return s;
    });
}

void Controller::reloadEnrol() {
    auto id = m_session->identity();
    if (id) m_enrol.identity = *id;
    m_glyphs.add(m_enrol.identity.name);
}

void Controller::exportIdentity() {
    EnrolModel& e = m_enrol;
    if (parts::blank(e.identityPath)) {
        e.message = Message{"enrol.path_needed", {}, Field::IdentityPath, std::nullopt, true};
        return;
    }
    auto s = m_session->exportIdentity(e.identityPath);
    e.message = s ? Message{"enrol.identity_written", e.identityPath, std::nullopt, Button::ExportIdentity, false}
                  : refusal(s.error(), Field::IdentityPath, std::nullopt);
    m_glyphs.add(e.identityPath);
}

void Controller::acceptEnrolment() {
    EnrolModel& e = m_enrol;
    if (parts::blank(e.enrolmentFile)) {
        e.message = Message{"enrol.path_needed", {}, Field::EnrolmentFile, std::nullopt, true};
        return;
    }
    auto r = m_session->acceptEnrolment(e.enrolmentFile);
    if (!r) {
        e.message = refusal(r.error(), Field::EnrolmentFile, std::nullopt);
        return;
    }
    e.message = Message{"enrol.enrolled", r->officeFingerprint, std::nullopt, Button::AcceptEnrolment, false};
    afterEnrolled();
}

void Controller::startJoin() {
    EnrolModel& e = m_enrol;
    if (parts::blank(e.url) || parts::blank(e.pin) || parts::blank(e.code)) {
        e.message = Message{"enrol.join_needs", {}, Field::Code, std::nullopt, true};
        return;
    }
    e.joining = true;
    e.message = {};
    auto joined = std::make_shared<app::AResult<app::JoinView>>(app::JoinView{});
    const std::string url = e.url, pin = e.pin, code = e.code;
    startExclusive(
        [joined, url, pin, code](app::Session& s) -> app::AStatus {
            *joined = s.joinOnline(url, pin, code, 60);
            if (!*joined) return joined->error();
            return {};
        },
        [this, joined](const app::AStatus& r) {
            m_enrol.joining = false;
            if (!r) {
                m_enrol.message = refusal(r.error(), Field::Code, std::nullopt);
                return;
            }
            if (!(*joined)->enrolled) {
                // The office has not answered yet: the same code again later.
                m_enrol.message = Message{"enrol.not_answered", (*joined)->deviceFingerprint, std::nullopt, Button::Join, false};
                return;
            }
            m_enrol.message = Message{"enrol.enrolled", (*joined)->accepted.officeFingerprint, std::nullopt, Button::Join, false};
            afterEnrolled();
        });
}

void Controller::afterEnrolled() {
    auto self = m_session->self();
    if (!self || !self->enrolled) return;
    m_self = *self;
    m_glyphs.add(m_self.name);
    m_views = viewsFor(m_self.role);
    if (auto server = m_session->server()) {
        m_settings.server = *server;
        auto wake = m_wake;
        if (m_session->startSyncWorker([wake](const std::vector<app::ArrivalView>&) { if (wake) wake(); }, wake))
            m_status.haveServer = true;
    }
    reload();
    show(m_views.front());
}

}  // namespace xs::ui
