// The review queue (working-group lead), the inbox (unit head), handover and settings.
#include <algorithm>

#include <imgui.h>
#include <imgui_stdlib.h>
#include "app/model.h"
#include "app/ui/views.h"
#include "app/ui/views_parts.h"

namespace xs::ui {

using namespace vparts;

namespace {

void findingList(Controller& c, const char* id, const std::vector<app::FindingView>& list, const std::string& selected,
                 float heightEm) {
    const Strings& s = c.strings();
    const float em = ImGui::GetFontSize();
    if (!ImGui::BeginTable(id, 3, ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersOuter | ImGuiTableFlags_ScrollY,
                           ImVec2(0, heightEm * em)))
        return;
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn(s.label("findings.col.title"), ImGuiTableColumnFlags_WidthStretch);
    ImGui::TableSetupColumn(s.label("findings.col.category"), ImGuiTableColumnFlags_WidthFixed, 12 * em);
    ImGui::TableSetupColumn(s.label("findings.col.severity"), ImGuiTableColumnFlags_WidthFixed, 5 * em);
    ImGui::TableHeadersRow();
    for (const auto& f : list) {
        ImGui::PushID(f.id.c_str());
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        if (ImGui::Selectable(f.title.c_str(), f.id == selected, ImGuiSelectableFlags_SpanAllColumns))
            c.post(Select{ListId::Review, f.id});
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(s.text(labelKey(f.category)));
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(s.text(labelKey(f.severity)));
        ImGui::PopID();
    }
    ImGui::EndTable();
}

// A reply's rectification file: its name, size and whether it is here yet.
void replyFileLine(const Strings& s, const app::NoticeReplyView& r) {
    ImGui::TextDisabled("%s", s.format("inbox.reply_file_line", {{"name", r.fileName},
                                                                  {"size", std::to_string((r.fileSize + 1023) / 1024)},
                                                                  {"state", s.text("evidence_state." + r.fileState)}})
                                  .c_str());
}

}  // namespace

void drawReview(Controller& c, ViewMemory& memory) {
    const Strings& s = c.strings();
    const ReviewModel& r = c.review();
    const float em = ImGui::GetFontSize();
    ImGui::TextUnformatted(s.format("review.submitted", {{"n", std::to_string(r.submitted.size())}}).c_str());
    findingList(c, "###review.submitted", r.submitted, r.selected, 9);
    ImGui::TextUnformatted(s.format("review.to_notify", {{"n", std::to_string(r.toNotify.size())}}).c_str());
    findingList(c, "###review.to_notify", r.toNotify, r.selected, 6);
    if (!r.issued.empty() && ImGui::CollapsingHeader(s.format("review.issued", {{"n", std::to_string(r.issued.size())}}).append("###review.issued").c_str())) {
        if (ImGui::BeginTable("###review.issued.table", 3, ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersOuter)) {
            ImGui::TableSetupColumn(s.label("inbox.col.problem"), ImGuiTableColumnFlags_WidthStretch);
            ImGui::TableSetupColumn(s.label("inbox.col.deadline"), ImGuiTableColumnFlags_WidthFixed, 7 * em);
            ImGui::TableSetupColumn(s.label("inbox.col.state"), ImGuiTableColumnFlags_WidthFixed, 16 * em);
            ImGui::TableHeadersRow();
            for (const auto& n : r.issued) {
                ImGui::TableNextRow();
                ImGui::TableNextColumn();
                ImGui::TextUnformatted(n.problem.c_str());
                ImGui::TableNextColumn();
                ImGui::TextUnformatted(n.deadline.c_str());
                ImGui::TableNextColumn();
                if (n.acknowledged)
                    ImGui::TextUnformatted(s.format("review.acknowledged_by", {{"name", n.acknowledgedByName},
                                                                                {"replies", std::to_string(n.replies.size())}})
                                               .c_str());
                else
                    ImGui::TextUnformatted(s.text("inbox.open_state"));
                for (const auto& reply : n.replies)
                    if (!reply.fileName.empty()) replyFileLine(s, reply);
            }
            ImGui::EndTable();
        }
    }
    if (!r.agreements.empty()) {
        const auto unsigned_ = std::count_if(r.agreements.begin(), r.agreements.end(), [](const auto& a) { return a.signedAtMs == 0; });
        const std::string head = s.format("review.agreements", {{"signed", std::to_string(r.agreements.size() - unsigned_)},
                                                                 {"open", std::to_string(unsigned_)}});
        if (ImGui::CollapsingHeader((head + "###review.agreements").c_str())) {
            if (ImGui::BeginTable("###review.agreements.table", 3, ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersOuter)) {
                ImGui::TableSetupColumn(s.label("review.col.person"), ImGuiTableColumnFlags_WidthFixed, 8 * em);
                ImGui::TableSetupColumn(s.label("review.col.inspection"), ImGuiTableColumnFlags_WidthStretch);
                ImGui::TableSetupColumn(s.label("review.col.signed_at"), ImGuiTableColumnFlags_WidthFixed, 12 * em);
                ImGui::TableHeadersRow();
                for (const auto& a : r.agreements) {
                    ImGui::TableNextRow();
                    ImGui::TableNextColumn();
                    ImGui::TextUnformatted(a.person.c_str());
                    ImGui::TableNextColumn();
                    ImGui::TextUnformatted(a.inspection.c_str());
                    ImGui::TableNextColumn();
                    if (a.signedAtMs) ImGui::TextUnformatted(app::formatTimestampMs(a.signedAtMs).c_str());
                    else ImGui::TextDisabled("%s", s.text("review.not_signed"));
                }
                ImGui::EndTable();
            }
        }
    }
    ImGui::Separator();
    const app::FindingView* f = r.selectedFinding();
    if (!f) {
        ImGui::TextDisabled("%s", s.text("review.pick"));
        drawMessage(c, r.message);
        return;
    }
    ImGui::TextUnformatted(f->title.c_str());
    if (f->immediateFix) {
        ImGui::SameLine();
        ImGui::TextColored(kRefusalColour, "[%s]", s.text("findings.immediate_fix"));
    }
    ImGui::PushTextWrapPos(0);
    ImGui::TextDisabled("%s", f->description.c_str());
    ImGui::PopTextWrapPos();
    ImGui::PushItemWidth(40 * em);
    if (f->status == app::FindingStatus::Submitted) {
        focusFirst(memory);
        multiline(c, memory, s.label("review.note"), Field::ReviewNote, r.note, 3);
        messageAt(c, r.message, Field::ReviewNote);
        button(c, Button::Confirm, s.label("review.confirm"));
        ImGui::SameLine();
        button(c, Button::Return, s.label("review.return"));
        messageAt(c, r.message, Button::Confirm);
        messageAt(c, r.message, Button::Return);
    } else {
        ImGui::TextUnformatted(s.text("review.notice_heading"));
        focusFirst(memory);
        field(c, memory, s.label("review.problem"), Field::NoticeProblem, r.problem);
        messageAt(c, r.message, Field::NoticeProblem);
        multiline(c, memory, s.label("review.action"), Field::NoticeAction, r.action, 3);
        messageAt(c, r.message, Field::NoticeAction);
        field(c, memory, s.label("review.deadline"), Field::NoticeDeadline, r.deadline, 0, "YYYY-MM-DD");
        messageAt(c, r.message, Field::NoticeDeadline);
        button(c, Button::IssueNotice, s.label("review.issue"));
        messageAt(c, r.message, Button::IssueNotice);
        messageAt(c, r.message, Button::Confirm);
    }
    ImGui::PopItemWidth();
}

void drawInbox(Controller& c, ViewMemory& memory) {
    const Strings& s = c.strings();
    const InboxModel& in = c.inbox();
    const float em = ImGui::GetFontSize();
    ImGui::TextUnformatted(s.format("inbox.count", {{"n", std::to_string(in.notices.size())},
                                                    {"open", std::to_string(in.unacknowledged())}})
                               .c_str());
    if (in.notices.empty()) ImGui::TextDisabled("%s", s.text("inbox.none"));
    if (ImGui::BeginTable("###inbox", 3, ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersOuter | ImGuiTableFlags_ScrollY,
                          ImVec2(0, 10 * em))) {
        ImGui::TableSetupScrollFreeze(0, 1);
        ImGui::TableSetupColumn(s.label("inbox.col.problem"), ImGuiTableColumnFlags_WidthStretch);
        ImGui::TableSetupColumn(s.label("inbox.col.deadline"), ImGuiTableColumnFlags_WidthFixed, 7 * em);
        ImGui::TableSetupColumn(s.label("inbox.col.state"), ImGuiTableColumnFlags_WidthFixed, 7 * em);
        ImGui::TableHeadersRow();
        for (const auto& n : in.notices) {
            ImGui::PushID(n.id.c_str());
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            if (ImGui::Selectable(n.problem.c_str(), n.id == in.selected, ImGuiSelectableFlags_SpanAllColumns))
                c.post(Select{ListId::Notice, n.id});
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(n.deadline.c_str());
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(s.text(n.acknowledged ? "inbox.acknowledged_state" : "inbox.open_state"));
            ImGui::PopID();
        }
        ImGui::EndTable();
    }
    ImGui::Separator();
    const app::NoticeView* n = in.selectedNotice();
    if (!n) {
        ImGui::TextDisabled("%s", s.text("inbox.pick"));
        drawMessage(c, in.message);
        return;
    }
    ImGui::PushTextWrapPos(0);
    ImGui::TextUnformatted(s.format("inbox.problem", {{"text", n->problem}}).c_str());
    ImGui::TextUnformatted(s.format("inbox.action", {{"text", n->action}}).c_str());
    ImGui::TextUnformatted(s.format("inbox.deadline", {{"date", n->deadline}}).c_str());
    ImGui::TextDisabled("%s", s.format("inbox.issued", {{"name", n->issuedByName}, {"time", app::formatTimestampMs(n->issuedAt)}}).c_str());
    if (n->acknowledged)
        ImGui::TextDisabled("%s", s.format("inbox.acknowledged_by", {{"name", n->acknowledgedByName},
                                                                      {"time", app::formatTimestampMs(n->acknowledgedAt)}})
                                      .c_str());
    for (const auto& r : n->replies) {
        ImGui::TextUnformatted(s.format("inbox.reply_line", {{"name", r.repliedByName}, {"text", r.text}}).c_str());
        if (!r.fileName.empty()) replyFileLine(s, r);
    }
    ImGui::PopTextWrapPos();
    button(c, Button::Acknowledge, s.label("inbox.acknowledge"), !n->acknowledged);
    messageAt(c, in.message, Button::Acknowledge);
    ImGui::PushItemWidth(40 * em);
    focusFirst(memory);
    multiline(c, memory, s.label("inbox.reply"), Field::Reply, in.reply, 4);
    messageAt(c, in.message, Field::Reply);
    field(c, memory, s.label("inbox.reply_file"), Field::ReplyFile, in.replyFile, 0, s.text("inbox.reply_file_hint"));
    browseButton(c, Field::ReplyFile);
    messageAt(c, in.message, Field::ReplyFile);
    ImGui::PopItemWidth();
    if (in.sending())
        ImGui::TextDisabled("%s", s.text("inbox.sending"));
    else
        button(c, Button::SendReply, s.label("inbox.send_reply"));
    messageAt(c, in.message, Button::SendReply);
}

void drawHandover(Controller& c, ViewMemory& memory) {
    const Strings& s = c.strings();
    const HandoverModel& h = c.handover();
    const float em = ImGui::GetFontSize();
    ImGui::TextUnformatted(s.text("handover.heading"));
    ImGui::TextDisabled("%s", s.text("handover.explain"));
    std::string current;
    for (const auto& i : h.inspections)
        if (i.id == h.inspection) current = i.title;
    ImGui::SetNextItemWidth(30 * em);
    if (ImGui::BeginCombo(s.label("handover.inspection"), current.c_str())) {
        for (const auto& i : h.inspections)
            if (ImGui::Selectable(i.title.c_str(), i.id == h.inspection)) c.post(Select{ListId::Inspection, i.id});
        ImGui::EndCombo();
    }
    ImGui::PushItemWidth(30 * em);
    focusFirst(memory);
    field(c, memory, s.label("handover.path"), Field::HandoverPath, h.path, 0, "/media/usb/xunshen.age");
    browseButton(c, Field::HandoverPath);
    messageAt(c, h.message, Field::HandoverPath);
    ImGui::PopItemWidth();
    if (h.running()) {
        const float fraction = h.progress.total ? static_cast<float>(h.progress.done) / static_cast<float>(h.progress.total) : 0.0f;
        ImGui::ProgressBar(fraction, ImVec2(30 * em, 0), h.progress.stage.c_str());
        ImGui::SameLine();
        button(c, Button::CancelTask, s.label("handover.cancel"));
    } else {
        button(c, Button::Export, s.label("handover.export"), !h.inspection.empty());
    }
    messageAt(c, h.message, Button::Export);
    if (h.exported) {
        ImGui::TextDisabled("%s", s.format("handover.bundle", {{"sets", std::to_string(h.exported->changeSets)},
                                                               {"files", std::to_string(h.exported->evidenceFiles)},
                                                               {"bytes", std::to_string(h.exported->bytes)}})
                                      .c_str());
        ImGui::TextDisabled("SHA-256 %s", h.exported->bundleHeaderSha256.c_str());
    }
    ImGui::Separator();
    ImGui::TextUnformatted(s.text("handover.receipt_heading"));
    ImGui::TextDisabled("%s", s.text("handover.receipt_explain"));
    ImGui::PushItemWidth(30 * em);
    field(c, memory, s.label("handover.receipt"), Field::ReceiptPath, h.receiptPath);
    browseButton(c, Field::ReceiptPath);
    messageAt(c, h.message, Field::ReceiptPath);
    ImGui::PopItemWidth();
    button(c, Button::ConfirmReceipt, s.label("handover.confirm"), !h.running());
    messageAt(c, h.message, Button::ConfirmReceipt);
    if (h.confirmed) {
        const auto& w = h.confirmed->wipe;
        ImGui::TextUnformatted(s.format("handover.destroyed", {{"files", std::to_string(w.evidenceFilesRemoved)},
                                                               {"channels", std::to_string(w.channelsShredded.size())}})
                                   .c_str());
        for (const auto& ch : w.channelsShredded) ImGui::BulletText("%s", ch.c_str());
        ImGui::TextUnformatted(s.text(w.keysDestroyed ? "handover.keys_destroyed" : "handover.keys_kept"));
        ImGui::TextUnformatted(s.format("handover.ack_written", {{"path", h.ackPath}}).c_str());
        const std::string delivery = h.ackDelivery(c.status());
        if (delivery == "on_server")
            ImGui::TextColored(kOkColour, "%s", s.text("handover.ack_on_server"));
        else
            ImGui::TextUnformatted(s.text(delivery == "waiting" ? "handover.ack_waiting" : "handover.ack_by_hand"));
        for (const auto& warning : h.confirmed->warnings) ImGui::TextColored(kRefusalColour, "%s", warning.c_str());
    }
}

void drawSettings(Controller& c, ViewMemory& memory) {
    const Strings& s = c.strings();
    const SettingsModel& st = c.settings();
    const float em = ImGui::GetFontSize();
    ImGui::TextUnformatted(s.text("settings.language"));
    ImGui::SameLine();
    if (ImGui::RadioButton(s.label("lang.zh"), c.lang() == Lang::Zh)) c.post(SetLanguage{Lang::Zh});
    ImGui::SameLine();
    if (ImGui::RadioButton(s.label("lang.en"), c.lang() == Lang::En)) c.post(SetLanguage{Lang::En});
    ImGui::Separator();
    ImGui::PushItemWidth(8 * em);
    focusFirst(memory);
    field(c, memory, s.label("settings.auto_lock"), Field::AutoLockMinutes, st.autoLockMinutes, ImGuiInputTextFlags_CharsDecimal);
    ImGui::PopItemWidth();
    messageAt(c, st.message, Field::AutoLockMinutes);
    button(c, Button::SaveSettings, s.label("settings.save"));
    messageAt(c, st.message, Button::SaveSettings);
    ImGui::Separator();
    ImGui::TextUnformatted(s.text("settings.server"));
    if (st.server) {
        ImGui::TextDisabled("%s", st.server->url.c_str());
        ImGui::TextDisabled("%s", s.format("settings.pin", {{"pin", st.server->pin}}).c_str());
        const auto& y = c.status().sync;
        ImGui::TextUnformatted(s.text(y.online ? "status.online" : "status.offline"));
        if (!y.lastError.empty()) {
            ImGui::SameLine();
            ImGui::TextColored(kRefusalColour, "%s", y.lastError.c_str());
        }
    } else {
        ImGui::TextDisabled("%s", s.text("status.no_server"));
    }
    ImGui::Separator();
    ImGui::TextUnformatted(s.text("settings.change_passphrase"));
    ImGui::PushItemWidth(24 * em);
    ImGui::BeginDisabled(st.rekeying);
    field(c, memory, s.label("settings.new_passphrase"), Field::NewPassphrase, st.newPassphrase, ImGuiInputTextFlags_Password);
    ImGui::SameLine();
    ImGui::TextUnformatted(s.text(("strength." + std::to_string(st.strength)).c_str()));
    messageAt(c, st.message, Field::NewPassphrase);
    field(c, memory, s.label("settings.new_passphrase_again"), Field::NewPassphraseAgain, st.newPassphraseAgain,
          ImGuiInputTextFlags_Password);
    messageAt(c, st.message, Field::NewPassphraseAgain);
    ImGui::EndDisabled();
    ImGui::PopItemWidth();
    if (st.rekeying)
        ImGui::TextDisabled("%s", s.text("settings.rekeying"));
    else
        button(c, Button::ChangePassphrase, s.label("settings.change"));
    messageAt(c, st.message, Button::ChangePassphrase);
    ImGui::Separator();
    // Verify: the database, the op log's signatures and hash chains, every evidence file's hash.
    ImGui::TextUnformatted(s.text("settings.verify_heading"));
    if (st.verifying()) {
        const auto& p = st.verifyProgress;
        const float fraction = p.total ? static_cast<float>(p.done) / static_cast<float>(p.total) : 0.0f;
        ImGui::ProgressBar(fraction, ImVec2(30 * em, 0), s.text("settings.verifying"));
    } else {
        button(c, Button::Verify, s.label("settings.verify"));
    }
    messageAt(c, st.message, Button::Verify);
    if (st.verified) {
        const auto& v = *st.verified;
        ImGui::TextDisabled("%s", s.format("settings.verify_counts", {{"ops", std::to_string(v.ops)},
                                                                        {"findings", std::to_string(v.findings)},
                                                                        {"files", std::to_string(v.evidenceFiles)}})
                                      .c_str());
        for (const auto& problem : v.problems) ImGui::TextColored(kRefusalColour, "%s", problem.c_str());
    }
}

}  // namespace xs::ui
