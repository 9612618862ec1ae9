// The views' logic without a window, on the app tests' bureau (tests/app/bureau.h): Today, the
// finding editor (durable drafts, evidence and its thumbnail, validation next to the field,
// submit), the review queue (return needs a reason, confirm, the notice's checks), settings, and
// the role's views. Each store is opened by a Controller as the client opens it.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "app/ui/model/controller.h"
#include "app/ui/model/strings.h"
#include "tests/app/bureau.h"
#ifdef XS_HAVE_IMAGE_DECODER
#include "app/ui/image.h"
#endif

namespace xs::ui {
namespace {

namespace fs = std::filesystem;
using app::test::Bureau;
constexpr const char* kBureauPass = "口令 passphrase";  // tests/app/app_test_util.h

Strings table() {
    auto s = Strings::load(fs::path(XS_SOURCE_DIR) / "assets/i18n/strings.json");
    REQUIRE(s.ok());
    return *s;
}

// Polls (as the loop does each frame) until `done` or about ten seconds.
template <typename F>
bool pollUntil(Controller& c, F done) {
    for (int i = 0; i < 2000; ++i) {
        c.poll(0);
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

void unlock(Controller& c) {
    c.post(EditField{Field::Passphrase, kBureauPass});
    c.post(Press{Button::Unlock});
    REQUIRE(c.applyIntents().empty());
    REQUIRE(pollUntil(c, [&] { return !c.busy(); }));
    REQUIRE_MESSAGE(c.unlocked(), c.unlockState().refusalDetail);
}

// A 2×2 24-bit BMP: the smallest image stb_image decodes that a test can write by hand.
fs::path writeBmp(const fs::path& file) {
    std::vector<unsigned char> b = {'B', 'M', 70, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0,  // file header
                                    40, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 24, 0, 0, 0, 0, 0, 16, 0, 0, 0,
                                    0x13, 0x0B, 0, 0, 0x13, 0x0B, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (int row = 0; row < 2; ++row) {
        for (int px = 0; px < 2; ++px) {
            b.push_back(static_cast<unsigned char>(200 * px));
            b.push_back(static_cast<unsigned char>(100 * row));
            b.push_back(50);
        }
        b.push_back(0);
        b.push_back(0);
    }
    std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    return file;
}

TEST_CASE("ui views: each role sees its views, home first") {
    CHECK(viewsFor(app::Role::WorkingGroupMember).front() == ViewId::Today);
    CHECK(viewsFor(app::Role::UnitHead).front() == ViewId::Inbox);
    const auto lead = viewsFor(app::Role::WorkingGroupLead);
    CHECK(std::find(lead.begin(), lead.end(), ViewId::Review) != lead.end());
    const auto member = viewsFor(app::Role::WorkingGroupMember);
    CHECK(std::find(member.begin(), member.end(), ViewId::Review) == member.end());
    const auto head = viewsFor(app::Role::UnitHead);
    CHECK(std::find(head.begin(), head.end(), ViewId::Findings) == head.end());
    // Every view, field and button has a script word that parses back, and every view a title.
    Strings s = table();
    for (std::size_t i = 0; i < kViewCount; ++i) {
        CHECK(parseView(viewName(static_cast<ViewId>(i))) == static_cast<ViewId>(i));
        CHECK(s.has(std::string("view.") + viewName(static_cast<ViewId>(i))));
    }
    for (std::size_t i = 0; i < kFieldCount; ++i) CHECK(parseField(fieldName(static_cast<Field>(i))) == static_cast<Field>(i));
    for (std::size_t i = 0; i < kButtonCount; ++i) CHECK(parseButton(buttonName(static_cast<Button>(i))) == static_cast<Button>(i));
    for (const auto& a : app::auditCategories()) CHECK(s.has("audit_category." + a));
    for (const char* r : {"leader", "working_group_lead", "working_group_member", "unit_head", "audit_office",
                                 "discipline_commission", "third_party_auditor"})
        CHECK(s.has(std::string("role.") + r));
}

TEST_CASE("ui views: the passphrase strength hint") {
    CHECK(passphraseStrength("") == 0);
    CHECK(passphraseStrength("abc") == 1);        // under the minimum
    CHECK(passphraseStrength("abcdefgh") == 1);   // the minimum, one class
    CHECK(passphraseStrength("abcdefghijkl") == 2);
    CHECK(passphraseStrength("Abcdefgh12345") == 3);
    CHECK(passphraseStrength("巡察 口令 Spring-2026 午后") == 4);
}

TEST_CASE("ui views: the inspector's week - Today, a draft saved on leaving the field, evidence with a thumbnail, submit") {
    Bureau b;
    b.capture(*b.member, "食堂采购未比价");
    b.member.reset();  // the client opens the store now
    Strings s = table();
    Controller c(s, b.tmp / "member", b.clock);
#ifdef XS_HAVE_IMAGE_DECODER
    c.thumbnails().setDecoder(decodeThumbnail);
#endif
    unlock(c);
    CHECK(c.view() == ViewId::Today);
    const TodayModel& t = c.today();
    REQUIRE(t.have);
    CHECK(t.inspection.id == b.inspection);
    CHECK(t.day == 1);
    CHECK(t.days == 7);
    CHECK(t.total == 1);
    CHECK(t.byStatus.at(app::FindingStatus::Draft) == 1);

    // The editor refuses to save what has no title, next to the title.
    c.post(Press{Button::NewFinding});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.view() == ViewId::Editor);
    c.post(EditField{Field::Description, "2026年一季度三笔招待费无审批单"});
    c.post(LeaveField{Field::Description});
    c.post(Press{Button::Save});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.editor().message.key == "editor.title_needed");
    CHECK(c.editor().message.at(Field::Title));
    CHECK(c.editor().id.empty());

    // A dropped image waits for the title, then goes into the store with the draft.
    const fs::path photo = writeBmp(b.tmp / "现场照片.bmp");
    c.post(DropFiles{{photo.string()}});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.editor().pending.size() == 1);
    CHECK(c.editor().message.key == "editor.evidence_waits_for_title");
    c.post(EditField{Field::Title, "招待费无审批"});
    c.post(LeaveField{Field::Title});  // leaving the field saves the draft: durable from here
    REQUIRE(c.applyIntents().empty());
    const std::string id = c.editor().id;
    REQUIRE_FALSE(id.empty());
    CHECK(c.editor().message.key == "editor.draft_saved");
    CHECK(c.editor().pending.empty());
    // The photo is stored by a task of its own (read, hashed, encrypted off the UI thread).
    CHECK(c.editor().attaching.size() + c.editor().attachments.size() == 1);
    REQUIRE(pollUntil(c, [&] { return c.editor().attachments.size() == 1; }));
    CHECK(c.editor().attaching.empty());
    CHECK(c.editor().message.key == "editor.attached");
    CHECK(c.editor().attachments[0].name == "现场照片.bmp");
    // Its thumbnail is decoded from the store's encrypted copy, off the UI thread.
    const std::string hash = c.editor().attachments[0].hash;
#ifdef XS_HAVE_IMAGE_DECODER
    REQUIRE(pollUntil(c, [&] { return c.thumbnails().get(hash) != nullptr; }));
    CHECK(c.thumbnails().get(hash)->problem.empty());
    CHECK(c.thumbnails().get(hash)->width == 2);
    CHECK(c.thumbnails().get(hash)->rgba.size() == 16);
    CHECK(c.thumbnails().get(hash)->rgba[0] == 50);  // BMP rows are BGR, bottom-up: the first pixel is (50, 100, 0)
#endif

    // A file that is not there is refused next to the path field.
    c.post(EditField{Field::EvidencePath, (b.tmp / "nothing.jpg").string()});
    c.post(Press{Button::Attach});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.editor().message.key == "editor.no_such_file");
    CHECK(c.editor().message.at(Field::EvidencePath));

    // Tags (article 7(3)): a word that is no tag is refused; two are saved on leaving the field.
    c.post(EditField{Field::Tags, "common,urgent"});
    CHECK_FALSE(c.applyIntents().empty());
    c.post(EditField{Field::Tags, "emerging,common"});
    c.post(LeaveField{Field::Tags});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.editor().message.key == "editor.draft_saved");
    CHECK(c.state()["editor_tags"] == "common,emerging");
    CHECK(joinTags(c.editor().loaded.tags) == "common,emerging");

    // The immediate-fix flag, then submit.
    c.post(EditField{Field::ImmediateFix, "yes"});
    c.post(LeaveField{Field::ImmediateFix});
    c.post(Press{Button::Submit});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.editor().message.key == "editor.submitted");
    CHECK(app::toString(c.editor().status) == "submitted");
    CHECK(c.editor().history.size() >= 5);  // every field written, with its time

    // What the controller wrote is in the store for any other reader.
    c.post(Press{Button::Lock});
    REQUIRE(c.applyIntents().empty());
    auto ws = app::Workspace::open(b.tmp / "member", kBureauPass, b.clock);
    REQUIRE(ws.ok());
    auto f = (*ws)->finding(id);
    REQUIRE(f.ok());
    CHECK((*f)["title"] == "招待费无审批");
    CHECK((*f)["description"] == "2026年一季度三笔招待费无审批单");
    CHECK((*f)["immediate_fix"] == true);
    CHECK((*f)["tags"] == app::Json::array({"common", "emerging"}));
    CHECK((*f)["status"] == "submitted");
    CHECK((*f)["attachments"].size() == 1);
}

TEST_CASE("ui views: the lead's review - returning needs a reason, confirm, the notice's checks, then issued") {
    Bureau b;
    const std::string returned = b.capture(*b.member, "会议费超标");
    const std::string fixNow = b.capture(*b.member, "公车私用");
    REQUIRE(b.member->editFinding(fixNow, app::Json{{"immediate_fix", true}}).ok());
    REQUIRE(b.member->transitionFinding(returned, app::FindingStatus::Submitted).ok());
    REQUIRE(b.member->transitionFinding(fixNow, app::FindingStatus::Submitted).ok());
    b.share();
    b.lead.reset();
    Strings s = table();
    Controller c(s, b.tmp / "lead", b.clock);
    unlock(c);
    c.post(ShowView{ViewId::Review});
    REQUIRE(c.applyIntents().empty());
    REQUIRE(c.review().submitted.size() == 2);
    CHECK(c.review().toNotify.empty());

    c.post(Select{ListId::Review, returned});
    c.post(Press{Button::Return});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.review().message.key == "review.reason_needed");
    CHECK(c.review().message.at(Field::ReviewNote));
    c.post(EditField{Field::ReviewNote, "请补充会议通知和签到表"});
    c.post(Press{Button::Return});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.review().message.key == "review.returned");
    CHECK(c.review().submitted.size() == 1);

    c.post(Select{ListId::Review, fixNow});
    c.post(Press{Button::Confirm});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.review().message.key == "review.confirmed");
    REQUIRE(c.review().toNotify.size() == 1);
    CHECK(c.review().selected == fixNow);   // straight on to its notice
    CHECK(c.review().problem == "公车私用");  // starting from the finding's words

    c.post(Press{Button::IssueNotice});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.review().message.key == "review.action_needed");
    c.post(EditField{Field::NoticeAction, "立即收回车辆钥匙，建立派车登记"});
    c.post(EditField{Field::NoticeDeadline, "下周五"});
    c.post(Press{Button::IssueNotice});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.review().message.key == "review.deadline_needed");
    CHECK(c.review().message.at(Field::NoticeDeadline));
    c.post(EditField{Field::NoticeDeadline, app::formatDate(app::dayAt(b.clock.nowMs(), 480) + 7)});
    c.post(Press{Button::IssueNotice});
    REQUIRE(c.applyIntents().empty());
    CHECK_MESSAGE(c.review().message.key == "review.notice_issued", c.review().message.detail);
    CHECK(c.review().toNotify.empty());

    // The member's store learns why it came back (the note travels with the decision).
    c.post(Press{Button::Lock});
    REQUIRE(c.applyIntents().empty());
    auto lead = app::Workspace::open(b.tmp / "lead", kBureauPass, b.clock);
    REQUIRE(lead.ok());
    app::test::syncInto(**lead, *b.member);
    auto f = b.member->finding(returned);
    REQUIRE(f.ok());
    CHECK((*f)["status"] == "returned");
    CHECK((*f)["review_note"] == "请补充会议通知和签到表");
}

TEST_CASE("ui views: files dropped are stored one task at a time - the queue outlives opening another finding, lock says what it dropped") {
    Bureau b;
    const std::string other = b.capture(*b.member, "另一个问题");
    b.member.reset();
    Strings s = table();
    Controller c(s, b.tmp / "member", b.clock);
    unlock(c);
    c.post(Press{Button::NewFinding});
    c.post(EditField{Field::Title, "采购合同缺失"});
    c.post(LeaveField{Field::Title});
    REQUIRE(c.applyIntents().empty());
    const std::string id = c.editor().id;
    REQUIRE_FALSE(id.empty());
    std::vector<std::string> files;
    for (int i = 0; i < 3; ++i) files.push_back(app::test::writeFile(b.tmp / "files", "扫描件" + std::to_string(i) + ".pdf",
                                                                      std::string(200'000 + i, static_cast<char>('a' + i))).string());
    c.post(DropFiles{files});
    c.post(DropFiles{{files[0]}});  // dropped twice: queued once
    REQUIRE(c.applyIntents().empty());
    CHECK(c.state()["editor_attaching"] == "3");
    // Another finding opens at once; the three files still go to the first.
    c.post(ShowView{ViewId::Findings});
    c.post(Select{ListId::Finding, other});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.editor().id == other);
    CHECK(c.editor().attaching.empty());  // none of them is this finding's
    REQUIRE(pollUntil(c, [&] { return !c.working(); }));
    CHECK(c.editor().attachments.empty());
    c.post(ShowView{ViewId::Findings});
    c.post(Select{ListId::Finding, id});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.editor().attachments.size() == 3);

    // Locked while files wait: the running one is stored, the rest are not, and the unlock view says so.
    std::vector<std::string> more;
    for (int i = 0; i < 4; ++i) more.push_back(app::test::writeFile(b.tmp / "files", "照片" + std::to_string(i) + ".pdf",
                                                                     std::string(300'000, static_cast<char>('k' + i))).string());
    c.post(DropFiles{more});
    c.post(Press{Button::Lock});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.unlockState().refusalKey == "unlock.attach_dropped");
    auto ws = app::Workspace::open(b.tmp / "member", kBureauPass, b.clock);
    REQUIRE(ws.ok());
    auto f = (*ws)->finding(id);
    REQUIRE(f.ok());
    CHECK((*f)["attachments"].size() == 4);  // the three, and the one that was running
}

TEST_CASE("ui views: a member has no review queue, settings validate the auto-lock minutes, verify runs as a task") {
    Bureau b;
    b.capture(*b.member, "票据不全", true);
    b.member.reset();
    Strings s = table();
    Controller c(s, b.tmp / "member", b.clock);
    unlock(c);
    c.post(ShowView{ViewId::Review});
    auto problems = c.applyIntents();
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].find("not one of") != std::string::npos);
    c.post(ShowView{ViewId::Settings});
    c.post(EditField{Field::AutoLockMinutes, "ten"});
    c.post(Press{Button::SaveSettings});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.settings().message.key == "settings.minutes_range");
    CHECK(c.autoLockMs() == Controller::kDefaultAutoLockMs);
    c.post(EditField{Field::AutoLockMinutes, "3"});
    c.post(Press{Button::SaveSettings});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.autoLockMs() == 3 * 60'000);
    c.post(EditField{Field::NewPassphrase, "新口令 2026 春"});
    c.post(EditField{Field::NewPassphraseAgain, "新口令 2026 夏"});
    c.post(Press{Button::ChangePassphrase});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.settings().message.key == "settings.passphrases_differ");

    // Verify: a task; the report says what it checked. Then a flipped byte in an evidence file.
    c.post(Press{Button::Verify});
    REQUIRE(c.applyIntents().empty());
    REQUIRE(pollUntil(c, [&] { return c.state()["verify_state"] != "running"; }));
    CHECK(c.state()["verify_state"] == "ok");
    CHECK(c.settings().message.key == "settings.verified");
    REQUIRE(c.settings().verified.has_value());
    CHECK(c.settings().verified->evidenceFiles == 1);
    std::optional<fs::path> blob;
    for (const auto& e : fs::recursive_directory_iterator(b.tmp / "member" / "evidence"))
        if (e.is_regular_file()) blob = e.path();
    REQUIRE(blob.has_value());
    {
        std::fstream f(*blob, std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(40);
        char byte = 0;
        f.read(&byte, 1);
        f.seekp(40);
        byte = static_cast<char>(byte ^ 0x01);
        f.write(&byte, 1);
    }
    c.post(Press{Button::Verify});
    REQUIRE(c.applyIntents().empty());
    REQUIRE(pollUntil(c, [&] { return c.state()["verify_state"] != "running"; }));
    CHECK(c.state()["verify_state"] == "problems");
    CHECK(c.settings().message.key == "settings.verify_problems");
    CHECK_FALSE(c.settings().verified->problems.empty());
}

TEST_CASE("ui views: the agreement gate - nothing of the inspection before signing, read, sign, then capture") {
    Bureau b(false);  // nobody has signed
    REQUIRE(b.lead->signAgreement(b.inspection).ok());
    b.capture(*b.lead, "会议室租赁费无合同");
    b.share();
    b.member.reset();
    Strings s = table();
    Controller c(s, b.tmp / "member", b.clock);
    unlock(c);
    CHECK(c.view() == ViewId::Today);
    CHECK(c.state()["agreement_required"] == "yes");
    CHECK(c.state()["agreement_signed"] == "no");
    CHECK(c.findings().rows().empty());  // the lead's finding is not shown before signing
    // A finding cannot be written either: the session refuses, next to the title.
    c.post(Press{Button::NewFinding});
    c.post(EditField{Field::Title, "未签协议时的记录"});
    c.post(LeaveField{Field::Title});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.editor().id.empty());
    CHECK(c.editor().message.error);
    CHECK(c.editor().message.at(Field::Title));
    CHECK(c.editor().message.detail.find("agreement") != std::string::npos);

    c.post(ShowView{ViewId::Agreement});
    REQUIRE(c.applyIntents().empty());
    REQUIRE(c.agreement().have);
    CHECK_FALSE(c.agreement().text.textZh.empty());
    CHECK_FALSE(c.agreement().text.signedByMe);
    c.post(Press{Button::SignAgreement});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.agreement().message.key == "agreement.signed");
    CHECK(c.agreement().text.signedByMe);
    CHECK(c.state()["agreement_signed"] == "yes");
    CHECK(c.findings().rows().size() == 1);  // open now
    c.post(ShowView{ViewId::Today});
    c.post(Press{Button::NewFinding});
    c.post(EditField{Field::Title, "签署后的记录"});
    c.post(LeaveField{Field::Title});
    REQUIRE(c.applyIntents().empty());
    CHECK_MESSAGE(c.editor().message.key == "editor.draft_saved", c.editor().message.detail);
    CHECK_FALSE(c.editor().id.empty());
}

TEST_CASE("ui views: the office sees who of the working group signed the agreement when, and who has not yet") {
    Bureau b(false);
    REQUIRE(b.lead->signAgreement(b.inspection).ok());
    b.clock.advance(60'000);
    REQUIRE(b.member->signAgreement(b.inspection).ok());
    b.share();
    b.office.reset();
    Strings s = table();
    Controller c(s, b.tmp / "office", b.clock);
    unlock(c);
    c.post(ShowView{ViewId::Review});
    REQUIRE(c.applyIntents().empty());
    REQUIRE(c.view() == ViewId::Review);
    const auto& rows = c.review().agreements;
    REQUIRE(rows.size() == 3);  // the lead, the member and the auditor; not the office, not the leading group
    CHECK(rows[0].person == "钱伟");  // not signed yet, first
    CHECK(rows[0].signedAtMs == 0);
    CHECK(rows[1].person == "郑华");
    CHECK(rows[2].person == "冯磊");
    CHECK(rows[1].signedAtMs > 0);
    CHECK(rows[2].signedAtMs - rows[1].signedAtMs == 60'000);
    CHECK(c.state()["review_agreements_open"] == "1");
    CHECK(c.state()["review_agreements_signed"] == "2");
}

TEST_CASE("ui views: the file dialog - evidence chosen is attached, a folder for the bundle keeps its name, refusals") {
    Bureau b;
    b.member.reset();
    const fs::path stick = b.tmp / "usb";
    fs::create_directories(stick / "扫描件");
    app::test::writeFile(stick / "扫描件", "合同.pdf", "%PDF-1.4 demo");
    Strings s = table();
    Controller c(s, b.tmp / "member", b.clock);
    unlock(c);
    // Nothing to choose for: refused, as a script line that makes no sense.
    c.post(Select{ListId::File, "合同.pdf"});
    CHECK_FALSE(c.applyIntents().empty());
    c.post(Press{Button::NewFinding});
    c.post(EditField{Field::Title, "合同未经审查"});
    c.post(LeaveField{Field::Title});
    REQUIRE(c.applyIntents().empty());
    c.post(Browse{Field::Title});  // not a path field
    CHECK_FALSE(c.applyIntents().empty());
    c.post(EditField{Field::EvidencePath, stick.string()});
    c.post(Browse{Field::EvidencePath});
    REQUIRE(c.applyIntents().empty());
    REQUIRE(c.picker().isOpen());
    CHECK(c.picker().folder() == stick);
    CHECK(c.state()["picker_open"] == "yes");
    c.post(Press{Button::PickFolder});  // a file is the answer here, not a folder
    CHECK_FALSE(c.applyIntents().empty());
    c.post(Select{ListId::File, c.findInList(ListId::File, "扫描件")});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.picker().folder() == stick / "扫描件");
    c.post(Select{ListId::File, "合同.pdf"});
    REQUIRE(c.applyIntents().empty());
    CHECK_FALSE(c.picker().isOpen());
    REQUIRE(pollUntil(c, [&] { return c.editor().attachments.size() == 1; }));
    CHECK(c.editor().message.key == "editor.attached");
    CHECK(c.editor().attachments[0].name == "合同.pdf");

    // The handover bundle: a folder is chosen, the file name the field had is kept.
    c.post(ShowView{ViewId::Handover});
    c.post(EditField{Field::HandoverPath, (b.tmp / "移交包.age").string()});
    c.post(Browse{Field::HandoverPath});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.picker().folder() == b.tmp.path());
    c.post(Select{ListId::File, "usb"});
    c.post(Press{Button::PickFolder});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.handover().path == (stick / "移交包.age").string());
    // Cancel leaves the field as it was; leaving the view closes the dialog.
    c.post(Browse{Field::HandoverPath});
    c.post(Select{ListId::File, ".."});
    c.post(Press{Button::ClosePicker});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.handover().path == (stick / "移交包.age").string());
    c.post(Browse{Field::ReceiptPath});
    c.post(ShowView{ViewId::Today});
    REQUIRE(c.applyIntents().empty());
    CHECK_FALSE(c.picker().isOpen());
}

TEST_CASE("ui views: a conflict shows both values side by side, one is taken, or the merged text") {
    Bureau b;
    const std::string f = b.capture(*b.member, "办公用品采购");
    b.share();
    // The member and the lead retitle it at once, offline, then meet.
    REQUIRE(b.member->editFinding(f, app::Json{{"title", "办公用品采购未比价"}, {"description", "三家报价只有一家"}}).ok());
    b.clock.advance(1000);
    REQUIRE(b.lead->editFinding(f, app::Json{{"title", "办公用品采购程序不规范"}, {"description", "未经集体决策"}}).ok());
    b.share();
    b.member.reset();
    Strings s = table();
    Controller c(s, b.tmp / "member", b.clock);
    unlock(c);
    c.post(ShowView{ViewId::Findings});
    c.post(Select{ListId::Finding, f});
    REQUIRE(c.applyIntents().empty());
    REQUIRE(c.view() == ViewId::Editor);
    REQUIRE(c.editor().conflicts.size() == 2);  // title and description
    const app::ConflictView* title = nullptr;
    for (const auto& x : c.editor().conflicts)
        if (x.field == "title") title = &x;
    const bool found = title != nullptr;
    REQUIRE(found);
    REQUIRE(title->versions.size() == 2);
    // Take the version that lost the automatic merge.
    const std::string taken = app::Json::parse(title->versions[1].valueJson).get<std::string>();
    c.post(Resolve{"title", 1});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.editor().message.key == "editor.resolved");
    CHECK(c.editor().title == taken);
    REQUIRE(c.editor().conflicts.size() == 1);
    CHECK(c.editor().conflicts[0].field == "description");
    // The description: both, merged by hand.
    c.post(EditField{Field::Merge, "三家报价只有一家，且未经集体决策"});
    c.post(Press{Button::UseMerge});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.editor().conflicts.empty());
    CHECK(c.editor().description == "三家报价只有一家，且未经集体决策");
    CHECK(c.state()["editor_conflicts"] == "0");
    c.post(Resolve{"title", 0});
    auto problems = c.applyIntents();
    REQUIRE(problems.size() == 1);  // nothing left to resolve
    CHECK(problems[0].find("no conflict") != std::string::npos);
}

TEST_CASE("ui views: first run - a store made from the unlock view, its identity for the office, the office's enrolment file") {
    Bureau b;  // for its office
    Strings s = table();
    const fs::path dir = b.tmp / "new-device";
    Controller c(s, dir, b.clock);
    CHECK(c.firstRun());
    CHECK(c.state()["first_run"] == "yes");
    c.post(EditField{Field::Name, "何芳"});
    c.post(EditField{Field::Passphrase, "短"});
    c.post(EditField{Field::PassphraseAgain, "短"});
    c.post(Press{Button::Create});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.unlockState().refusalKey == "settings.passphrase_short");
    CHECK_FALSE(c.unlockState().busy);
    c.post(EditField{Field::Passphrase, "何芳的 口令 2026"});
    c.post(EditField{Field::PassphraseAgain, "何芳的 口令 2062"});
    c.post(Press{Button::Create});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.unlockState().refusalKey == "settings.passphrases_differ");
    CHECK(c.unlockState().strength == 2);  // the hint beside the field: 11 characters, three classes
    c.post(EditField{Field::Passphrase, "何芳的 口令 2026"});
    c.post(EditField{Field::PassphraseAgain, "何芳的 口令 2026"});
    c.post(Press{Button::Create});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.unlockState().passphrase.empty());  // wiped once used
    REQUIRE(pollUntil(c, [&] { return !c.busy(); }));
    REQUIRE_MESSAGE(c.unlocked(), c.unlockState().refusalDetail);
    CHECK(c.view() == ViewId::Enrol);
    CHECK_FALSE(c.enrol().identity.fingerprint.empty());

    c.post(EditField{Field::IdentityPath, (b.tmp / "何芳.device.json").string()});
    c.post(Press{Button::ExportIdentity});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.enrol().message.key == "enrol.identity_written");
    // At the office: the device enrolled for its person, the enrolment file back.
    auto device = sync::test::readAll(b.tmp / "何芳.device.json");
    auto enrolled = app::enrolDevice(*b.office, app::Json::parse(device.begin(), device.end()));
    REQUIRE_MESSAGE(enrolled.ok(), enrolled.message());
    auto file = app::exportEnrolment(*b.office, "", "");
    REQUIRE(file.ok());
    const fs::path enrolment = b.tmp / "enrolment.json";
    std::ofstream(enrolment, std::ios::binary) << *file;
    c.post(EditField{Field::EnrolmentFile, (b.tmp / "nothing.json").string()});
    c.post(Press{Button::AcceptEnrolment});
    REQUIRE(c.applyIntents().empty());
    CHECK(c.enrol().message.error);
    CHECK(c.enrol().message.at(Field::EnrolmentFile));
    c.post(EditField{Field::EnrolmentFile, enrolment.string()});
    c.post(Press{Button::AcceptEnrolment});
    REQUIRE(c.applyIntents().empty());
    CHECK_MESSAGE(c.state()["enrolled"] == "yes", c.enrol().message.detail);
    CHECK(c.view() == ViewId::Today);  // 何芳 is a working-group member in the organisation
    CHECK(c.self().name == "何芳");
}

}  // namespace
}  // namespace xs::ui
