// The review queue, the unit head's inbox, handover and settings.
#include <algorithm>
#include <filesystem>
#include <map>

#include "app/files.h"
#include "app/rules.h"
#include "app/ui/model/controller.h"
#include "app/ui/model/controller_parts.h"

namespace xs::ui {

const app::FindingView* ReviewModel::selectedFinding() const {
    for (const auto* l : {&submitted, &toNotify})
        for (const auto& f : *l)
            if (f.id == selected) return &f;
    return nullptr;
}

int InboxModel::unacknowledged() const {
    return static_cast<int>(std::count_if(notices.begin(), notices.end(), [](const app::NoticeView& n) { return !n.acknowledged; }));
}

int InboxModel::unseen() const {
    return static_cast<int>(std::count_if(notices.begin(), notices.end(), [&](const app::NoticeView& n) { return !seen.count(n.id); }));
}

const app::NoticeView* InboxModel::selectedNotice() const {
    for (const auto& n : notices)
        if (n.id == selected) return &n;
    return nullptr;
}

// ---- review

void Controller::reloadReview(const std::vector<app::FindingView>& all) {
    ReviewModel& r = m_review;
    r.submitted.clear();
    r.toNotify.clear();
    if (std::find(m_views.begin(), m_views.end(), ViewId::Review) == m_views.end()) return;
    // The lead reviews the inspections they lead; the audit office every one.
    std::set<std::string> mine;
    std::vector<app::InspectionView> reviewed;
    if (auto list = m_session->inspections())
        for (const auto& i : *list)
            if (m_self.role == app::Role::AuditOffice || i.leadId == m_self.personId) {
                mine.insert(i.id);
                reviewed.push_back(i);
            }
    reloadAgreements(reviewed);
    std::set<std::string> notified;
    r.issued.clear();
    if (auto notices = m_session->notices())
        for (const auto& n : *notices) {
            notified.insert(n.findingId);
            if (mine.count(n.inspectionId)) r.issued.push_back(n);
        }
    std::sort(r.issued.begin(), r.issued.end(), [](const app::NoticeView& a, const app::NoticeView& b) { return a.issuedAt > b.issuedAt; });
    for (const auto& f : all) {
        if (!mine.count(f.inspectionId)) continue;
        if (f.status == app::FindingStatus::Submitted) r.submitted.push_back(f);
        if (f.status == app::FindingStatus::Confirmed && f.immediateFix && !notified.count(f.id)) r.toNotify.push_back(f);
    }
    if (!r.selected.empty() && !r.selectedFinding()) r.selected.clear();
}

void Controller::reloadAgreements(const std::vector<app::InspectionView>& reviewed) {
    ReviewModel& r = m_review;
    r.agreements.clear();
    std::map<std::string, const app::PersonView*> people;
    auto org = m_session->organisation();
    if (org)
        for (const auto& p : org->people) people[p.id] = &p;
    auto nameOf = [&](const std::string& id) { return people.count(id) ? people[id]->name : id; };
    // Every signature readable here, in one read (oldest first), then per reviewed inspection.
    std::vector<app::AgreementView> all;
    if (auto list = m_session->agreements()) all = std::move(*list);
    std::vector<ReviewModel::AgreementRow> signedRows;
    for (const auto& i : reviewed) {
        std::set<std::string> signers;
        for (const auto& a : all) {
            if (a.inspectionId != i.id) continue;
            signers.insert(a.personId);
            signedRows.push_back({i.title, a.personName.empty() ? nameOf(a.personId) : a.personName, a.signedAtMs});
        }
        std::vector<std::string> group = i.team;
        if (std::find(group.begin(), group.end(), i.leadId) == group.end()) group.push_back(i.leadId);
        for (const auto& person : group) {
            auto p = people.find(person);
            if (p == people.end() || !p->second->role || signers.count(person)) continue;
            if (app::rules::agreementRequired(*p->second->role, person, i.team, i.leadId)) r.agreements.push_back({i.title, p->second->name, 0});
        }
    }
    std::stable_sort(signedRows.begin(), signedRows.end(),
                     [](const ReviewModel::AgreementRow& a, const ReviewModel::AgreementRow& b) { return a.signedAtMs < b.signedAtMs; });
    r.agreements.insert(r.agreements.end(), signedRows.begin(), signedRows.end());
}

void Controller::selectReview(const std::string& id) {
    ReviewModel& r = m_review;
    r.selected = id;
    r.message = {};
    r.note.clear();
    const app::FindingView* f = r.selectedFinding();
    // The notice starts from the finding's own words; the lead rewrites them for the unit.
    r.problem = f ? f->title : std::string();
    r.action.clear();
    r.deadline.clear();
}

void Controller::decide(bool confirm) {
    ReviewModel& r = m_review;
    const app::FindingView* f = r.selectedFinding();
    const Button button = confirm ? Button::Confirm : Button::Return;
    if (!f || f->status != app::FindingStatus::Submitted) {
        r.message = Message{"review.select_submitted", {}, std::nullopt, button, true};
        return;
    }
    if (!confirm && parts::blank(r.note)) {
        r.message = Message{"review.reason_needed", {}, Field::ReviewNote, std::nullopt, true};
        return;
    }
    const std::string id = f->id;
    const bool immediate = f->immediateFix;
    auto s = m_session->transitionFinding(id, confirm ? app::FindingStatus::Confirmed : app::FindingStatus::Returned, r.note);
    if (!s) {
        r.message = refusal(s.error(), std::nullopt, button);
        return;
    }
    r.note.clear();
    reload();
    // A confirmed immediate-fix finding goes straight on to its notice.
    if (confirm && immediate) selectReview(id);
    r.message = Message{confirm ? "review.confirmed" : "review.returned", {}, std::nullopt, button, false};
}

void Controller::issueNotice() {
    ReviewModel& r = m_review;
    const app::FindingView* f = r.selectedFinding();
    if (!f || f->status != app::FindingStatus::Confirmed) {
        r.message = Message{"review.select_confirmed", {}, std::nullopt, Button::IssueNotice, true};
        return;
    }
    if (parts::blank(r.problem)) {
        r.message = Message{"review.problem_needed", {}, Field::NoticeProblem, std::nullopt, true};
        return;
    }
    if (parts::blank(r.action)) {
        r.message = Message{"review.action_needed", {}, Field::NoticeAction, std::nullopt, true};
        return;
    }
    if (!app::parseDate(r.deadline)) {
        r.message = Message{"review.deadline_needed", r.deadline, Field::NoticeDeadline, std::nullopt, true};
        return;
    }
    auto id = m_session->issueNotice(f->id, r.problem, r.action, r.deadline);
    if (!id) {
        r.message = refusal(id.error(), std::nullopt, Button::IssueNotice);
        return;
    }
    r.selected.clear();
    r.problem.clear();
    r.action.clear();
    r.deadline.clear();
    reload();
    r.message = Message{"review.notice_issued", {}, std::nullopt, Button::IssueNotice, false};
}

// ---- inbox

void Controller::reloadInbox() {
    InboxModel& in = m_inbox;
    auto list = m_session->notices();
    if (!list) return;
    in.notices = *list;
    std::sort(in.notices.begin(), in.notices.end(),
              [](const app::NoticeView& a, const app::NoticeView& b) { return a.issuedAt > b.issuedAt; });
    for (const auto& n : in.notices) {
        m_glyphs.add(n.problem);
        m_glyphs.add(n.action);
        m_glyphs.add(n.issuedByName);
        m_glyphs.add(n.acknowledgedByName);
        for (const auto& r : n.replies) m_glyphs.add(r.text);
    }
    if (m_view == ViewId::Inbox)
        for (const auto& n : in.notices) in.seen.insert(n.id);
}

void Controller::acknowledge() {
    InboxModel& in = m_inbox;
    const app::NoticeView* n = in.selectedNotice();
    if (!n) {
        in.message = Message{"inbox.select_notice", {}, std::nullopt, Button::Acknowledge, true};
        return;
    }
    auto s = m_session->acknowledgeNotice(n->id);
    if (!s) {
        in.message = refusal(s.error(), std::nullopt, Button::Acknowledge);
        return;
    }
    reloadInbox();
    in.message = Message{"inbox.acknowledged", {}, std::nullopt, Button::Acknowledge, false};
}

void Controller::sendReply() {
    InboxModel& in = m_inbox;
    const app::NoticeView* n = in.selectedNotice();
    if (!n) {
        in.message = Message{"inbox.select_notice", {}, std::nullopt, Button::SendReply, true};
        return;
    }
    if (parts::blank(in.reply)) {
        in.message = Message{"inbox.reply_needed", {}, Field::Reply, std::nullopt, true};
        return;
    }
    if (in.sending()) {
        in.message = Message{"inbox.sending", {}, std::nullopt, Button::SendReply, true};
        return;
    }
    if (!parts::blank(in.replyFile)) {
        // With the rectification file: read, hashed and encrypted off this thread.
        std::error_code ec;
        if (!std::filesystem::is_regular_file(in.replyFile, ec)) {
            in.message = Message{"editor.no_such_file", in.replyFile, Field::ReplyFile, std::nullopt, true};
            return;
        }
        auto task = m_session->replyToNoticeTask(n->id, in.reply, in.replyFile);
        if (!task) {
            in.message = refusal(task.error(), Field::ReplyFile, std::nullopt);
            return;
        }
        in.replyTask = *task;
        in.message = {};
        return;
    }
    auto id = m_session->replyToNotice(n->id, in.reply);
    if (!id) {
        in.message = refusal(id.error(), std::nullopt, Button::SendReply);
        return;
    }
    in.reply.clear();
    reloadInbox();
    in.message = Message{"inbox.replied", {}, std::nullopt, Button::SendReply, false};
}

void Controller::pollReply() {
    InboxModel& in = m_inbox;
    auto done = parts::takeFinished(in.replyTask);
    if (!done) return;
    auto& id = *done;
    if (!id) {
        in.message = refusal(id.error(), Field::ReplyFile, std::nullopt);
        return;
    }
    in.reply.clear();
    in.replyFile.clear();
    reloadInbox();
    in.message = Message{"inbox.replied", {}, std::nullopt, Button::SendReply, false};
}

// ---- handover

std::string HandoverModel::ackDelivery(const StatusModel& status) const {
    if (!confirmed) return "none";
    if (!status.haveServer) return "by_hand";
    const auto& y = status.sync;
    // wipedAt is in whole seconds: a round counts only from the second after it (never a round
    // that may have ended just before the wipe).
    const bool after = y.lastSuccessMs >= (confirmed->wipe.wipedAt + 1) * 1000;
    return after && y.waitingChangeSets == 0 ? "on_server" : "waiting";
}

void Controller::reloadHandover() {
    HandoverModel& h = m_handover;
    h.inspections.clear();
    if (auto list = m_session->inspections())
        for (const auto& i : *list)
            if (i.leadId == m_self.personId || std::find(i.team.begin(), i.team.end(), m_self.personId) != i.team.end()) {
                h.inspections.push_back(i);
                m_glyphs.add(i.title);
            }
    if (h.inspection.empty() && m_today.have) h.inspection = m_today.inspection.id;
    if (h.inspection.empty() && !h.inspections.empty()) h.inspection = h.inspections.front().id;
}

void Controller::startExport() {
    HandoverModel& h = m_handover;
    if (h.running()) {
        h.message = Message{"handover.running", {}, std::nullopt, Button::Export, true};
        return;
    }
    if (h.inspection.empty()) {
        h.message = Message{"handover.no_inspection", {}, std::nullopt, Button::Export, true};
        return;
    }
    if (parts::blank(h.path)) {
        h.message = Message{"handover.path_needed", {}, Field::HandoverPath, std::nullopt, true};
        return;
    }
    auto task = m_session->exportHandover(h.inspection, h.path);
    if (!task) {
        h.message = refusal(task.error(), Field::HandoverPath, std::nullopt);
        return;
    }
    h.task = *task;
    h.exported.reset();
    h.progress = {};
    h.message = {};
}

void Controller::pollExport() {
    HandoverModel& h = m_handover;
    h.progress = h.task->progress();
    auto done = parts::takeFinished(h.task);
    if (!done) return;
    auto& r = *done;
    if (!r) {
        h.message = r.code() == app::AppError::Cancelled ? Message{"handover.cancelled", {}, std::nullopt, Button::Export, false}
                                                         : refusal(r.error(), std::nullopt, Button::Export);
        return;
    }
    h.exported = *r;
    h.message = Message{"handover.exported", r->bundle, std::nullopt, Button::Export, false};
    m_glyphs.add(r->bundle);
}

void Controller::confirmReceipt() {
    HandoverModel& h = m_handover;
    if (parts::blank(h.receiptPath)) {
        h.message = Message{"handover.receipt_needed", {}, Field::ReceiptPath, std::nullopt, true};
        return;
    }
    auto r = m_session->confirmHandover(h.receiptPath);
    if (!r) {
        h.message = refusal(r.error(), Field::ReceiptPath, std::nullopt);
        return;
    }
    h.confirmed = *r;
    // The signed shred acknowledgement goes beside the receipt, for the office (as the CLI does).
    h.ackPath = h.receiptPath + ".ack.json";
    auto w = app::writeOutputFile(m_session->storeDir(), h.ackPath, crypto::asBytes(r->ack));
    if (!w) {
        h.message = refusal(w.error(), Field::ReceiptPath, std::nullopt);
        h.ackPath.clear();
        return;
    }
    m_glyphs.add(h.ackPath);
    h.message = Message{"handover.wiped", h.ackPath, std::nullopt, Button::ConfirmReceipt, false};
}

// ---- settings

void Controller::startVerify() {
    SettingsModel& s = m_settings;
    if (s.verifying()) {
        s.message = Message{"settings.verifying", {}, std::nullopt, Button::Verify, true};
        return;
    }
    auto task = m_session->verify();
    if (!task) {
        s.message = refusal(task.error(), std::nullopt, Button::Verify);
        return;
    }
    s.verifyTask = *task;
    s.verifyProgress = {};
    s.verified.reset();
    s.message = {};  // the window polls while working(): the bar moves without input
}

void Controller::pollVerify() {
    SettingsModel& s = m_settings;
    s.verifyProgress = s.verifyTask->progress();
    auto done = parts::takeFinished(s.verifyTask);
    if (!done) return;
    auto& r = *done;
    if (!r) {
        s.message = refusal(r.error(), std::nullopt, Button::Verify);
        return;
    }
    s.verified = *r;
    for (const auto& p : r->problems) m_glyphs.add(p);
    s.message = r->ok ? Message{"settings.verified", {}, std::nullopt, Button::Verify, false}
                      : Message{"settings.verify_problems", {}, std::nullopt, Button::Verify, true};
}

void Controller::saveSettings() {
    SettingsModel& s = m_settings;
    auto minutes = app::parseInteger(s.autoLockMinutes, 0, 24 * 60);
    if (!minutes) {
        s.message = Message{"settings.minutes_range", s.autoLockMinutes, Field::AutoLockMinutes, std::nullopt, true};
        return;
    }
    m_autoLockMs = *minutes * 60000;
    s.message = Message{"settings.saved", {}, std::nullopt, Button::SaveSettings, false};
}

void Controller::startRekey() {
    SettingsModel& s = m_settings;
    if (s.newPassphrase != s.newPassphraseAgain) {
        s.message = Message{"settings.passphrases_differ", {}, Field::NewPassphraseAgain, std::nullopt, true};
        return;
    }
    // The store keeps its KDF parameters; the passphrase's own rule is the session's minimum.
    if (s.newPassphrase.size() < app::kMinPassphraseBytes) {
        s.message = Message{"settings.passphrase_short", std::to_string(app::kMinPassphraseBytes), Field::NewPassphrase,
                            std::nullopt, true};
        return;
    }
    auto pass = std::make_shared<std::string>(std::move(s.newPassphrase));
    parts::wipe(s.newPassphrase);
    parts::wipe(s.newPassphraseAgain);
    s.strength = 0;
    s.rekeying = true;
    s.message = {};
    startExclusive(
        [pass](app::Session& session) {
            auto r = session.rekey(*pass, std::nullopt);
            parts::wipe(*pass);
            return r;
        },
        [this](const app::AStatus& r) {
            m_settings.rekeying = false;
            m_settings.message = r ? Message{"settings.passphrase_changed", {}, std::nullopt, Button::ChangePassphrase, false}
                                   : refusal(r.error(), Field::NewPassphrase, std::nullopt);
        });
}

void Controller::startExclusive(std::function<app::AStatus(app::Session&)> work, std::function<void(const app::AStatus&)> done) {
    app::Session* session = m_session.get();
    auto wake = m_wake;
    m_exclusiveDone = std::move(done);
    m_exclusive = std::async(std::launch::async, [session, work = std::move(work), wake]() {
        auto r = work(*session);
        if (wake) wake();
        return r;
    });
}

}  // namespace xs::ui
