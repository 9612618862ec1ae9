#include "app/rules.h"

#include <algorithm>
#include <set>
#include <vector>

#include "app/agreement.h"
#include "sync/record_fields.h"
#include "sync/uuid.h"

namespace xs::app::rules {
namespace {

using sync::changesOf;
using sync::stringOf;
using sync::merged;
using sync::unknownField;

constexpr std::size_t kMaxTitle = 300;
constexpr std::size_t kMaxText = 50000;
constexpr std::size_t kMaxShort = 200;
constexpr int kStandardOnsiteDays = 7;  // article 7(2): one week on site
constexpr int kMaxExtensionDays = 30;

bool officeOnly(Role r) { return isOfficeSide(r); }
bool unitOrOffice(Role r) { return r == Role::UnitHead || isOfficeSide(r); }

struct TransitionRule {
    FindingStatus from;
    FindingStatus to;
    bool (*allowed)(Role);
    const char* who;
};

const std::vector<TransitionRule>& transitions() {
    using S = FindingStatus;
    static const std::vector<TransitionRule> t = {
        {S::Draft, S::Submitted, canCapture, "an inspector"},
        {S::Submitted, S::Confirmed, officeOnly, "the working-group lead or the audit office"},
        {S::Submitted, S::Returned, officeOnly, "the working-group lead or the audit office"},
        {S::Returned, S::Submitted, canCapture, "an inspector"},
        {S::Confirmed, S::FedBack, officeOnly, "the working-group lead or the audit office"},
        {S::FedBack, S::Rectifying, unitOrOffice, "the unit head (or the office on their behalf)"},
        {S::Rectifying, S::Rectified, unitOrOffice, "the unit head (or the office on their behalf)"},
        {S::Rectified, S::Closed, officeOnly, "the working-group lead or the audit office"},
        {S::Rectified, S::Rectifying, officeOnly, "the working-group lead or the audit office"},
    };
    return t;
}

bool boundedString(const Json& v, std::size_t max, bool required) {
    if (v.is_null()) return !required;
    if (!v.is_string()) return false;
    const auto& s = v.get_ref<const std::string&>();
    if (required && s.find_first_not_of(" \t\r\n") == std::string::npos) return false;
    return s.size() <= max;
}

template <typename E>
bool enumValue(const Json& v) {
    return v.is_string() && parseEnum<E>(v.get<std::string>()).has_value();
}

bool isHash(const Json& v) {
    if (!v.is_string()) return false;
    const auto& s = v.get_ref<const std::string&>();
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Who wrote the op, as the registrar's records say at its position.
struct Author {
    std::string person;
    Role role = Role::WorkingGroupMember;
    bool root = false;
};

sync::SResult<std::optional<Author>> authorOf(const sync::OpValidator::Context& ctx, sync::StateView& view) {
    if (ctx.principal.empty()) {
        if (ctx.authorIsRoot) return std::optional<Author>(Author{"", Role::AuditOffice, true});
        return std::optional<Author>();
    }
    auto person = view.record("person", ctx.principal);
    if (!person) return person.error();
    if (!*person) {
        if (ctx.authorIsRoot) return std::optional<Author>(Author{ctx.principal, Role::AuditOffice, true});
        return std::optional<Author>();
    }
    auto role = parseEnum<Role>(stringOf(**person, "role"));
    if (!role) return std::optional<Author>();
    return std::optional<Author>(Author{ctx.principal, *role, ctx.authorIsRoot});
}

sync::SResult<bool> exists(sync::StateView& view, const char* kind, const std::string& id) {
    if (id.empty()) return false;
    auto r = view.record(kind, id);
    if (!r) return r.error();
    return r->has_value();
}

// "<inspection>.<suffix>" -> inspection id, if the channel is one of an inspection's.
std::optional<std::string> inspectionOf(const std::string& channel, const char* suffix) {
    std::string tail = std::string(".") + suffix;
    if (channel.size() <= tail.size() || channel.compare(channel.size() - tail.size(), tail.size(), tail) != 0) return std::nullopt;
    std::string id = channel.substr(0, channel.size() - tail.size());
    if (!sync::isUuid(id)) return std::nullopt;
    return id;
}

// ------------------------------------------------------------------------- org

sync::SResult<Verdict> checkOrg(const sync::OpValidator::Context& ctx, const Author& a, sync::StateView& view) {
    const sync::Op& op = ctx.op;
    Json ch = changesOf(op);
    auto before = view.record(op.kind, op.recordId);
    if (!before) return before.error();
    if (op.kind == "unit" || op.kind == "person" || op.kind == "round" || op.kind == "organisation") {
        if (!a.root) {
            auto may = mayWriteOrganisation(a.role);
            if (!may.ok()) return may;
        }
        if (op.kind == "organisation") {
            if (op.recordId != "organisation") return Verdict::refuse("the organisation has one record, named organisation");
            if (auto f = unknownField(ch, {"name", "time_zone"})) return Verdict::refuse("the organisation has no field '" + *f + "'");
            Json after = merged(*before, ch);
            if (!boundedString(after.value("name", Json()), kMaxShort, false))
                return Verdict::refuse("the organisation's name is text of at most " + std::to_string(kMaxShort) + " bytes");
            const Json zone = after.value("time_zone", Json());
            if (!zone.is_null() && !(zone.is_string() && zoneOffsetMinutes(zone.get<std::string>())))
                return Verdict::refuse("the organisation's time_zone is not a zone this version knows");
            return Verdict::accept();
        }
        if (op.kind == "unit") {
            if (auto f = unknownField(ch, {"code", "name", "unit_kind"})) return Verdict::refuse("a unit has no field '" + *f + "'");
            Json after = merged(*before, ch);
            if (!boundedString(after.value("code", Json()), 64, true) || !boundedString(after.value("name", Json()), kMaxShort, true) ||
                !boundedString(after.value("unit_kind", Json()), 64, false))
                return Verdict::refuse("a unit needs a code and a name");
            return Verdict::accept();
        }
        if (op.kind == "round") {
            if (auto f = unknownField(ch, {"name", "start_year", "end_year"})) return Verdict::refuse("a round has no field '" + *f + "'");
            Json after = merged(*before, ch);
            // Bounded before the sum: start_year + 2 overflowed for 2^63 - 1, and 2^64 - 1 read as -1.
            const Json start = after.value("start_year", Json());
            const bool startOk = start.is_number_integer() && start.get<std::int64_t>() >= kFirstRoundYear &&
                                 start.get<std::int64_t>() <= kLastRoundYear;
            if (!boundedString(after.value("name", Json()), kMaxShort, true) || !startOk ||
                after.value("end_year", Json()) != start.get<std::int64_t>() + 2)
                return Verdict::refuse("a round has a name and covers start_year (" + std::to_string(kFirstRoundYear) + "-" +
                                       std::to_string(kLastRoundYear) + ") to start_year + 2 (article 4)");
            return Verdict::accept();
        }
        // person
        if (auto f = unknownField(ch, {"code", "name", "role", "title", "unit_id"}))
            return Verdict::refuse("a person has no field '" + *f + "'");
        if (!ctx.rootPrincipal.empty() && op.recordId == ctx.rootPrincipal && !a.root)
            return Verdict::refuse("the audit office's own record is the audit office's to change");
        Json after = merged(*before, ch);
        if (!boundedString(after.value("name", Json()), kMaxShort, true) || !enumValue<Role>(after.value("role", Json())) ||
            !boundedString(after.value("code", Json()), 64, false) || !boundedString(after.value("title", Json()), kMaxShort, false))
            return Verdict::refuse("a person needs a name and one of the roles " + allSpellings<Role>());
        if (op.recordId == ctx.rootPrincipal && stringOf(after, "role") != toString(Role::AuditOffice))
            return Verdict::refuse("the registrar's person keeps the audit office's role");
        // Roles are the audit office's to give (a person's role is what the office's records say):
        // no other device writes the field at all, not even to repeat it — a repeat from a
        // position that had not seen the office's change would win the merge and undo it.
        if (!a.root && ch.contains("role")) return Verdict::refuse("only the audit office gives people their roles");
        if (ch.contains("unit_id") && !ch["unit_id"].is_null()) {
            auto unit = exists(view, "unit", stringOf(ch, "unit_id"));
            if (!unit) return unit.error();
            if (!*unit) return Verdict::refuse("person " + op.recordId + " names a unit that does not exist");
        }
        return Verdict::accept();
    }
    if (op.kind == "inspection") {
        if (!a.root) {
            auto may = mayPlanInspection(a.role);
            if (!may.ok()) return may;
        }
        static const std::set<std::string> fields = {"title",  "round_id",  "inspection_kind", "mode",         "unit_id",   "team",
                                                     "lead_id", "onsite_start", "onsite_days", "status", "created_by"};
        if (auto f = unknownField(ch, fields)) return Verdict::refuse("an inspection has no field '" + *f + "'");
        if (*before && ch.contains("created_by") && ch["created_by"] != (**before).value("created_by", Json()))
            return Verdict::refuse("who planned an inspection cannot be changed");
        if (!*before && stringOf(ch, "created_by") != a.person)
            return Verdict::refuse("an inspection is planned in its planner's own name");
        if (!*before && !sync::isOwnedBy(op.recordId, ctx.changeSet.device))
            return Verdict::refuse("an inspection's id is one only the planning device can make (sync/uuid.h)");
        Json after = merged(*before, ch);
        if (!boundedString(after.value("title", Json()), kMaxTitle, true)) return Verdict::refuse("an inspection needs a title");
        if (!enumValue<InspectionKind>(after.value("inspection_kind", Json())) || !enumValue<InspectionMode>(after.value("mode", Json())))
            return Verdict::refuse("an inspection's kind and mode must be among " + allSpellings<InspectionKind>() + " and " +
                                   allSpellings<InspectionMode>());
        if (!parseDate(stringOf(after, "onsite_start"))) return Verdict::refuse("an inspection needs an on-site start date");
        auto days = after.value("onsite_days", Json());
        if (!days.is_number_integer()) return Verdict::refuse("an inspection needs its on-site days");
        if (auto d = onsiteDays(days.get<std::int64_t>()); !d.ok()) return d;
        if (stringOf(after, "status") != "open" && stringOf(after, "status") != "closed")
            return Verdict::refuse("an inspection is open or closed");
        auto unit = exists(view, "unit", stringOf(after, "unit_id"));
        if (!unit) return unit.error();
        if (!*unit) return Verdict::refuse("an inspection's unit must be one of the organisation's units");
        if (!stringOf(after, "round_id").empty()) {
            auto round = exists(view, "round", stringOf(after, "round_id"));
            if (!round) return round.error();
            if (!*round) return Verdict::refuse("an inspection's round must be one of the organisation's rounds");
        }
        const Json team = after.value("team", Json::array());
        if (!team.is_array() || team.size() > 200) return Verdict::refuse("an inspection's team is a list of people");
        std::vector<std::string> people;
        for (const auto& p : team) people.push_back(p.is_string() ? p.get<std::string>() : std::string());
        if (!stringOf(after, "lead_id").empty()) people.push_back(stringOf(after, "lead_id"));
        for (const auto& p : people) {
            auto person = exists(view, "person", p);
            if (!person) return person.error();
            if (!*person) return Verdict::refuse("an inspection's team and lead must be people of the organisation");
        }
        return Verdict::accept();
    }
    return Verdict::refuse("the organisation holds no record of kind " + op.kind);
}

// ------------------------------------------------------------------------- sys

sync::SResult<Verdict> checkSys(const sync::OpValidator::Context& ctx, sync::StateView& view) {
    const sync::Op& op = ctx.op;
    if (op.kind == sync::kDeviceKind) {
        for (const auto& c : op.changes) {
            if (c.field != "principal") continue;
            auto person = exists(view, "person", c.value.is_string() ? c.value.get<std::string>() : std::string());
            if (!person) return person.error();
            if (!*person) return Verdict::refuse("a device is registered for a person of the organisation");
        }
        return Verdict::accept();
    }
    if (op.kind == sync::kChannelKind) {
        auto before = view.record(sync::kChannelKind, op.recordId);
        if (!before) return before.error();
        if (*before) return Verdict::accept();
        // A channel is one of an inspection's, made with the inspection in one change set.
        std::optional<std::string> inspection;
        for (const char* suffix : {"team", "unit", "clue"})
            if (!inspection) inspection = inspectionOf(op.recordId, suffix);
        if (!inspection) return Verdict::refuse("channel " + op.recordId + " is not one of an inspection's");
        auto planned = exists(view, "inspection", *inspection);
        if (!planned) return planned.error();
        bool creates = std::any_of(ctx.changeSet.ops.begin(), ctx.changeSet.ops.end(), [&](const sync::Op& o) {
            return o.channel == sync::kOrgChannel && o.kind == "inspection" && o.recordId == *inspection;
        });
        if (*planned || !creates)
            return Verdict::refuse("the channels of inspection " + *inspection + " are made with it, by the device that plans it");
        return Verdict::accept();
    }
    return Verdict::accept();  // membership, epochs and acknowledgements: sync's rules
}

// ------------------------------------------------------------------------- team

sync::SResult<Verdict> checkFinding(const sync::OpValidator::Context& ctx, const Author& a, const std::string& inspectionId,
                                    const Json& inspection, sync::StateView& view) {
    const sync::Op& op = ctx.op;
    Json ch = changesOf(op);
    static const std::set<std::string> fields = {"inspection_id", "title",  "description", "category",   "audit_category",
                                                 "severity",      "tags",   "immediate_fix", "responsible_person",
                                                 "status",        "author", "created_at",    "review_note"};
    if (auto f = unknownField(ch, fields)) return Verdict::refuse("a finding has no field '" + *f + "'");
    if (auto v = findingFields(ch); !v.ok()) return v;
    auto before = view.record("finding", op.recordId);
    if (!before) return before.error();
    if (!*before) {
        auto may = mayCapture(a.role, a.person, inspection);
        if (!may.ok()) return may;
        // Only its capturing device makes a finding of this id (no device re-creates another's
        // "concurrently" elsewhere: a record lives in the channel it was made in).
        if (!sync::isOwnedBy(op.recordId, ctx.changeSet.device))
            return Verdict::refuse("finding " + op.recordId + " is not an id the capturing device made");
        if (stringOf(ch, "inspection_id") != inspectionId) return Verdict::refuse("a finding belongs to the inspection of its channel");
        if (stringOf(ch, "status") != toString(FindingStatus::Draft)) return Verdict::refuse("a finding is captured as a draft");
        if (stringOf(ch, "author") != a.person) return Verdict::refuse("a finding is captured in its author's own name");
        if (!ch.value("created_at", Json()).is_number_integer()) return Verdict::refuse("a finding records when it was captured");
        if (!boundedString(ch.value("title", Json()), kMaxTitle, true)) return Verdict::refuse("title is required");
        if (a.role == Role::ThirdPartyAuditor && stringOf(ch, "audit_category").empty())
            return Verdict::refuse("a third-party auditor records audit matters only: give an audit_category (article 5)");
        return Verdict::accept();
    }
    if (stringOf(**before, "inspection_id") != inspectionId) return Verdict::refuse("the finding belongs to another inspection");
    for (const char* fixed : {"inspection_id", "author", "created_at"})
        if (ch.contains(fixed) && ch[fixed] != (**before).value(fixed, Json()))
            return Verdict::refuse(std::string("a finding's ") + fixed + " cannot be changed");
    auto status = parseEnum<FindingStatus>(stringOf(**before, "status")).value_or(FindingStatus::Draft);
    bool content = false;
    for (auto it = ch.begin(); it != ch.end(); ++it)
        if (it.key() != "status" && it.key() != "review_note") content = true;
    if (ch.contains("review_note")) {
        auto to = parseEnum<FindingStatus>(stringOf(ch, "status"));
        if (!to || *to == status || (*to != FindingStatus::Returned && *to != FindingStatus::Confirmed))
            return Verdict::refuse("a review note is written only with the review's decision: the move to returned or confirmed");
        if (!boundedString(ch["review_note"], kMaxReviewNote, false))
            return Verdict::refuse("a review note is text of at most " + std::to_string(kMaxReviewNote) + " bytes");
    }
    if (content) {
        auto may = mayEditContent(a.role, status);
        if (!may.ok()) return may;
        auto onTeam = mayCapture(a.role, a.person, inspection);
        if (!onTeam.ok()) return onTeam;
        if (ch.contains("title") && !boundedString(ch["title"], kMaxTitle, true)) return Verdict::refuse("title is required");
        std::string audit = ch.contains("audit_category") ? stringOf(ch, "audit_category") : stringOf(**before, "audit_category");
        if (a.role == Role::ThirdPartyAuditor && audit.empty())
            return Verdict::refuse("a third-party auditor may edit audit matters only (article 5)");
    }
    if (ch.contains("status")) {
        auto to = parseEnum<FindingStatus>(stringOf(ch, "status"));
        if (!to) return Verdict::refuse("status must be one of " + allSpellings<FindingStatus>());
        if (*to != status) {
            bool verified = false;
            if (*to == FindingStatus::Closed) {
                auto atts = view.find("attachment", "finding_id", op.recordId);
                if (!atts) return atts.error();
                for (const auto& id : *atts) {
                    auto att = view.record("attachment", id);
                    if (!att) return att.error();
                    if (*att && stringOf(**att, "purpose") == toString(EvidencePurpose::Verification)) verified = true;
                }
            }
            auto v = transition(status, *to, a.role, verified);
            if (!v.ok()) {
                if (*to == FindingStatus::Closed && !verified && transition(status, *to, a.role, true).ok())
                    return Verdict::refuse(v.refusal + "; attach it with: finding attach " + op.recordId +
                                           " --evidence FILE --purpose verification");
                return v;
            }
        }
    }
    return Verdict::accept();
}

sync::SResult<Verdict> checkAttachment(const sync::OpValidator::Context& ctx, const Author& a, const std::string& inspectionId,
                                       const Json& inspection, sync::StateView& view) {
    const sync::Op& op = ctx.op;
    Json ch = changesOf(op);
    if (auto f = unknownField(ch, {"finding_id", "hash", "name", "size", "purpose", "added_by", "blob", "blob_key", "blob_size"}))
        return Verdict::refuse("an attachment has no field '" + *f + "'");
    auto before = view.record("attachment", op.recordId);
    if (!before) return before.error();
    if (*before) {
        for (auto it = ch.begin(); it != ch.end(); ++it)
            if ((**before).value(it.key(), Json()) != it.value()) return Verdict::refuse("an attachment is fixed once made");
        return Verdict::accept();
    }
    auto finding = view.record("finding", stringOf(ch, "finding_id"));
    if (!finding) return finding.error();
    if (!*finding || stringOf(**finding, "inspection_id") != inspectionId)
        return Verdict::refuse("an attachment belongs to a finding of the inspection of its channel");
    auto purpose = parseEnum<EvidencePurpose>(stringOf(ch, "purpose"));
    if (!purpose || !isHash(ch.value("hash", Json())) || !boundedString(ch.value("name", Json()), 255, true) ||
        !ch.value("size", Json()).is_number_integer() || ch["size"].get<std::int64_t>() < 0)
        return Verdict::refuse("an attachment names its file's hash, name, size and purpose");
    // The encrypted file as the server holds it: all three or none (captured before evidence went online).
    const bool anyBlob = ch.contains("blob") || ch.contains("blob_key") || ch.contains("blob_size");
    if (anyBlob && (!isHash(ch.value("blob", Json())) || !isHash(ch.value("blob_key", Json())) ||
                    !ch.value("blob_size", Json()).is_number_integer() || ch["blob_size"].get<std::int64_t>() < 0))
        return Verdict::refuse("an attachment names its encrypted file by blob, blob_key and blob_size together");
    if (!sync::isOwnedBy(op.recordId, ctx.changeSet.device))
        return Verdict::refuse("attachment " + op.recordId + " is not an id the attaching device made");
    if (stringOf(ch, "added_by") != a.person) return Verdict::refuse("an attachment is added in its author's own name");
    if (*purpose == EvidencePurpose::Evidence) {
        auto may = mayCapture(a.role, a.person, inspection);
        if (!may.ok()) return may;
    }
    return mayAttach(*purpose, a.role);
}

// A record that data left an encrypted store: made once, in its author's own name.
sync::SResult<Verdict> checkExport(const sync::OpValidator::Context& ctx, const Author& a, const std::string& inspectionId,
                                   sync::StateView& view) {
    const sync::Op& op = ctx.op;
    Json ch = changesOf(op);
    if (auto f = unknownField(ch, {"inspection_id", "what", "subject", "file_name", "bytes", "exported_by", "exported_at"}))
        return Verdict::refuse("an export record has no field '" + *f + "'");
    auto before = view.record("export", op.recordId);
    if (!before) return before.error();
    if (*before) return Verdict::refuse("an export record is fixed once made");
    if (!sync::isOwnedBy(op.recordId, ctx.changeSet.device))
        return Verdict::refuse("export record " + op.recordId + " is not an id the exporting device made");
    const std::string what = stringOf(ch, "what");
    if (stringOf(ch, "inspection_id") != inspectionId || (what != "evidence" && what != "handover") ||
        !boundedString(ch.value("subject", Json()), 200, false) || !boundedString(ch.value("file_name", Json()), 255, true) ||
        !ch.value("bytes", Json()).is_number_integer() || ch["bytes"].get<std::int64_t>() < 0 ||
        !ch.value("exported_at", Json()).is_number_integer())
        return Verdict::refuse("an export record names the inspection, evidence or handover, what, the file, its size and when");
    if (stringOf(ch, "exported_by") != a.person) return Verdict::refuse("an export is recorded in its author's own name");
    return Verdict::accept();
}

sync::SResult<Verdict> checkExtension(const sync::OpValidator::Context& ctx, const Author& a, const std::string& inspectionId,
                                      sync::StateView& view) {
    const sync::Op& op = ctx.op;
    Json ch = changesOf(op);
    if (auto f = unknownField(ch, {"inspection_id", "days", "reason", "status", "requested_by", "decided_by"}))
        return Verdict::refuse("an extension request has no field '" + *f + "'");
    auto before = view.record("extension", op.recordId);
    if (!before) return before.error();
    if (*before && stringOf(**before, "inspection_id") != inspectionId)
        return Verdict::refuse("the extension request belongs to another inspection");
    if (!*before) {
        auto may = mayRequestExtension(a.role);
        if (!may.ok()) return may;
        if (!sync::isOwnedBy(op.recordId, ctx.changeSet.device))
            return Verdict::refuse("extension request " + op.recordId + " is not an id the requesting device made");
        auto days = ch.value("days", Json());
        if (stringOf(ch, "inspection_id") != inspectionId || !days.is_number_integer() || days.get<std::int64_t>() < 1 ||
            days.get<std::int64_t>() > kMaxExtensionDays || !boundedString(ch.value("reason", Json()), 2000, true) ||
            stringOf(ch, "status") != toString(ExtensionStatus::Pending) || stringOf(ch, "requested_by") != a.person || ch.contains("decided_by"))
            return Verdict::refuse("an extension request is 1 to 30 days with a reason, pending, in its author's name");
        return Verdict::accept();
    }
    for (auto it = ch.begin(); it != ch.end(); ++it)
        if (it.key() != "status" && it.key() != "decided_by") return Verdict::refuse("an extension request is fixed once made");
    auto current = parseEnum<ExtensionStatus>(stringOf(**before, "status")).value_or(ExtensionStatus::Pending);
    auto may = mayDecideExtension(a.role, current);
    if (!may.ok()) return may;
    auto to = parseEnum<ExtensionStatus>(stringOf(ch, "status"));
    if (!to || *to == ExtensionStatus::Pending || stringOf(ch, "decided_by") != a.person)
        return Verdict::refuse("a decision approves or rejects, in the decider's own name");
    return Verdict::accept();
}

// A notice, its acknowledgement or a reply: new records only (fixed once written), in the
// inspection's own unit channel, by whom the procedure names.
sync::SResult<Verdict> checkUnitRecord(const sync::OpValidator::Context& ctx, const Author& a, const std::string& inspectionId,
                                       const Json& inspection, sync::StateView& view) {
    const sync::Op& op = ctx.op;
    Json ch = changesOf(op);
    auto before = view.record(op.kind, op.recordId);
    if (!before) return before.error();
    if (*before) return Verdict::refuse("a " + op.kind + " is fixed once written");
    auto timeOk = [&](const char* field) { return ch.contains(field) && ch[field].is_number_integer() && ch[field].get<std::int64_t>() > 0; };
    if (op.kind == "notice") {
        if (auto f = unknownField(ch, {"inspection_id", "finding_id", "problem", "action", "deadline", "issued_by", "issued_at"}))
            return Verdict::refuse("a notice has no field '" + *f + "'");
        auto may = mayIssueNotice(a.role, a.person, inspection);
        if (!may.ok()) return may;
        if (!sync::isOwnedBy(op.recordId, ctx.changeSet.device))
            return Verdict::refuse("notice " + op.recordId + " is not an id the issuing device made");
        if (stringOf(ch, "inspection_id") != inspectionId || !sync::isUuid(stringOf(ch, "finding_id")) ||
            !boundedString(ch.value("problem", Json()), 4000, true) || !boundedString(ch.value("action", Json()), 4000, true) ||
            !parseDate(stringOf(ch, "deadline")) || stringOf(ch, "issued_by") != a.person || !timeOk("issued_at"))
            return Verdict::refuse("a notice names its inspection and finding, the problem and the action (up to 4000 bytes "
                                   "each), a deadline date, and is issued in its author's name with a time");
        return Verdict::accept();
    }
    auto personRec = view.record("person", a.person);
    if (!personRec) return personRec.error();
    const std::string unit = *personRec ? stringOf(**personRec, "unit_id") : std::string();
    auto may = mayAnswerNotice(a.role, unit, inspection);
    if (!may.ok()) return may;
    const char* by = op.kind == "notice_ack" ? "acknowledged_by" : "replied_by";
    const char* at = op.kind == "notice_ack" ? "acknowledged_at" : "replied_at";
    if (op.kind == "notice_ack") {
        if (auto f = unknownField(ch, {"notice_id", "acknowledged_by", "acknowledged_at"}))
            return Verdict::refuse("an acknowledgement has no field '" + *f + "'");
        // One acknowledgement per notice: its record id is the notice's.
        if (stringOf(ch, "notice_id") != op.recordId) return Verdict::refuse("an acknowledgement's id is its notice's");
    } else {
        if (auto f = unknownField(ch, {"notice_id", "text", "replied_by", "replied_at", "file_hash", "file_name", "file_size", "blob",
                                       "blob_key", "blob_size"}))
            return Verdict::refuse("a reply has no field '" + *f + "'");
        if (!sync::isOwnedBy(op.recordId, ctx.changeSet.device))
            return Verdict::refuse("reply " + op.recordId + " is not an id the replying device made");
        if (!boundedString(ch.value("text", Json()), 8000, true)) return Verdict::refuse("a reply has a text of up to 8000 bytes");
        // A rectification file (整改材料), optional: all six fields or none.
        const char* fileFields[] = {"file_hash", "file_name", "file_size", "blob", "blob_key", "blob_size"};
        const auto present = std::count_if(std::begin(fileFields), std::end(fileFields), [&](const char* f) { return ch.contains(f); });
        if (present != 0) {
            auto sizeOk = [&](const char* f) { return ch[f].is_number_integer() && ch[f].get<std::int64_t>() >= 0; };
            if (present != 6 || !isHash(ch["file_hash"]) || !isHash(ch["blob"]) || !isHash(ch["blob_key"]) ||
                !boundedString(ch["file_name"], 255, true) || !sizeOk("file_size") || !sizeOk("blob_size") ||
                ch["blob_size"].get<std::int64_t>() < ch["file_size"].get<std::int64_t>())
                return Verdict::refuse("a reply's rectification file names its hash, name (up to 255 bytes), size, and the "
                                       "encrypted blob with its key and size, all six or none");
            auto attach = mayAttach(EvidencePurpose::Rectification, a.role);
            if (!attach.ok()) return attach;
        }
    }
    auto notice = view.record("notice", stringOf(ch, "notice_id"));
    if (!notice) return notice.error();
    if (!*notice || stringOf(**notice, "inspection_id") != inspectionId)
        return Verdict::refuse("no notice " + stringOf(ch, "notice_id") + " of this inspection to answer");
    if (stringOf(ch, by) != a.person || !timeOk(at)) return Verdict::refuse("an answer is written in its author's name with a time");
    return Verdict::accept();
}

// A clue for the discipline commission: drafted by the audit office in its own name, then only
// its status moves (transferred by the office, received by the commission), each step in its
// author's name with a time. What it says is fixed once written.
sync::SResult<Verdict> checkClue(const sync::OpValidator::Context& ctx, const Author& a, const std::string& inspectionId,
                                 sync::StateView& view) {
    const sync::Op& op = ctx.op;
    Json ch = changesOf(op);
    if (auto f = unknownField(ch, {"inspection_id", "finding_id", "summary", "transferred_to", "status", "created_by", "created_at",
                                   "transferred_by", "transferred_at", "received_by", "received_at"}))
        return Verdict::refuse("a clue has no field '" + *f + "'");
    auto before = view.record("clue", op.recordId);
    if (!before) return before.error();
    auto timeOk = [&](const char* field) { return ch.contains(field) && ch[field].is_number_integer() && ch[field].get<std::int64_t>() > 0; };
    if (!*before) {
        auto may = mayDraftClue(a.role);
        if (!may.ok()) return may;
        if (!sync::isOwnedBy(op.recordId, ctx.changeSet.device))
            return Verdict::refuse("clue " + op.recordId + " is not an id the drafting device made");
        // The finding is in the team channel, which the commission cannot read: its id's shape only.
        const Json finding = ch.value("finding_id", Json());
        const bool findingOk = finding.is_null() || (finding.is_string() && sync::isUuid(finding.get<std::string>()));
        const bool later = ch.contains("transferred_by") || ch.contains("transferred_at") || ch.contains("received_by") ||
                           ch.contains("received_at");
        if (stringOf(ch, "inspection_id") != inspectionId || !findingOk || !boundedString(ch.value("summary", Json()), kMaxClueSummary, true) ||
            !boundedString(ch.value("transferred_to", Json()), kMaxClueRecipient, false) || stringOf(ch, "status") != toString(ClueStatus::Drafted) ||
            later || stringOf(ch, "created_by") != a.person || !timeOk("created_at"))
            return Verdict::refuse("a clue names its inspection (and the id of the finding it came from, if any), a summary of up to " +
                                   std::to_string(kMaxClueSummary) + " bytes and to whom it goes (up to " + std::to_string(kMaxClueRecipient) +
                                   "), starts drafted, and is drafted in its author's name with a time");
        return Verdict::accept();
    }
    if (stringOf(**before, "inspection_id") != inspectionId) return Verdict::refuse("the clue belongs to another inspection");
    const ClueStatus from = parseEnum<ClueStatus>(stringOf(**before, "status")).value_or(ClueStatus::Drafted);
    auto to = parseEnum<ClueStatus>(stringOf(ch, "status"));
    if (!to) return Verdict::refuse("a clue is fixed once written: only its status moves, to transferred, then received");
    auto v = clueTransition(from, *to, a.role);
    if (!v.ok()) return v;
    const bool transfer = *to == ClueStatus::Transferred;
    const char* by = transfer ? "transferred_by" : "received_by";
    const char* at = transfer ? "transferred_at" : "received_at";
    for (auto it = ch.begin(); it != ch.end(); ++it)
        if (it.key() != "status" && it.key() != by && it.key() != at)
            return Verdict::refuse("a clue is fixed once written: only its status moves, to transferred, then received");
    if (stringOf(ch, by) != a.person || !timeOk(at))
        return Verdict::refuse(std::string("a clue is ") + (transfer ? "transferred" : "received") + " in its author's name with a time");
    return Verdict::accept();
}

// A signed confidentiality agreement: made once, by the person it names, for an inspection whose
// working group they are on, with the hash of a text this build knows. Nothing changes it later.
sync::SResult<Verdict> checkAgreement(const sync::OpValidator::Context& ctx, const Author& a, const std::string& inspectionId,
                                      const Json& inspection, sync::StateView& view) {
    const sync::Op& op = ctx.op;
    Json ch = changesOf(op);
    if (auto f = unknownField(ch, {"inspection_id", "person_id", "text_version", "text_sha256", "signed_at"}))
        return Verdict::refuse("an agreement has no field '" + *f + "'");
    auto before = view.record("agreement", op.recordId);
    if (!before) return before.error();
    if (*before) return Verdict::refuse("a signed confidentiality agreement is fixed: it is neither edited nor signed again");
    const std::string person = stringOf(ch, "person_id");
    if (person != a.person)
        return Verdict::refuse("a confidentiality agreement is signed by the person it names, on their own device (it names " +
                               person + ", the author is " + a.person + ")");
    if (stringOf(ch, "inspection_id") != inspectionId || op.recordId != agreementRecordId(inspectionId, person))
        return Verdict::refuse("an agreement names the inspection of its channel and is the record " +
                               agreementRecordId(inspectionId, person));
    auto may = maySignAgreement(a.role, a.person, inspection);
    if (!may.ok()) return may;
    const AgreementText* text = agreementText(stringOf(ch, "text_version"));
    if (!text) return Verdict::refuse("the agreement's text_version '" + stringOf(ch, "text_version") + "' is not a text this version knows");
    if (stringOf(ch, "text_sha256") != text->sha256)
        return Verdict::refuse("the agreement's text_sha256 is not the hash of the text of version " + text->version);
    const Json at = ch.value("signed_at", Json());
    if (!at.is_number_integer() || at.get<std::int64_t>() <= 0) return Verdict::refuse("an agreement is signed with a time");
    return Verdict::accept();
}

}  // namespace

// ------------------------------------------------------------------------- the rules

Verdict mayIssueNotice(Role role, const std::string& person, const Json& inspection) {
    if (role == Role::AuditOffice || (role == Role::WorkingGroupLead && stringOf(inspection, "lead_id") == person))
        return Verdict::accept();
    return Verdict::refuse("only the inspection's working-group lead (or the audit office) issues an immediate-fix notice");
}

Verdict mayAnswerNotice(Role role, const std::string& personUnit, const Json& inspection) {
    if (role == Role::UnitHead && !personUnit.empty() && personUnit == stringOf(inspection, "unit_id")) return Verdict::accept();
    return Verdict::refuse("only a head of the inspected unit acknowledges or answers its notices");
}

Verdict mayDraftClue(Role role) {
    if (role == Role::AuditOffice) return Verdict::accept();
    return Verdict::refuse("only the audit office drafts a clue for the discipline commission (your role: " + toString(role) + ")");
}

Verdict clueTransition(ClueStatus from, ClueStatus to, Role role) {
    using C = ClueStatus;
    if (from == C::Received) return Verdict::refuse("the clue was received by the discipline commission; it is final");
    if (from == to) return Verdict::refuse("the clue is " + toString(from) + " already");
    if (from == C::Drafted && to == C::Transferred) {
        if (role == Role::AuditOffice) return Verdict::accept();
        return Verdict::refuse("only the audit office transfers a clue to the discipline commission (your role: " + toString(role) + ")");
    }
    if (from == C::Transferred && to == C::Received) {
        if (role == Role::DisciplineCommission) return Verdict::accept();
        return Verdict::refuse("only the discipline commission marks a transferred clue received (your role: " + toString(role) + ")");
    }
    if (from == C::Drafted && to == C::Received) return Verdict::refuse("a clue is received only after the audit office transferred it");
    return Verdict::refuse("a " + toString(from) + " clue cannot become " + toString(to));
}

bool agreementRequired(Role role, const std::string& person, const std::vector<std::string>& team, const std::string& leadId) {
    if (person.empty() || role == Role::AuditOffice || role == Role::UnitHead) return false;
    return std::find(team.begin(), team.end(), person) != team.end() || leadId == person;
}

bool agreementRequired(Role role, const std::string& person, const Json& inspection) {
    std::vector<std::string> team;
    auto t = inspection.find("team");
    if (t != inspection.end() && t->is_array())
        for (const auto& m : *t)
            if (m.is_string()) team.push_back(m.get<std::string>());
    return agreementRequired(role, person, team, stringOf(inspection, "lead_id"));
}

Verdict maySignAgreement(Role role, const std::string& person, const Json& inspection) {
    if (agreementRequired(role, person, inspection)) return Verdict::accept();
    return Verdict::refuse("the confidentiality agreement of an inspection is signed by its working group (the people its plan "
                           "names on the team or as its lead); the audit office and the inspected unit's heads do not sign it");
}

Verdict mayWriteOrganisation(Role role) {
    if (role == Role::AuditOffice || isLeadingGroup(role)) return Verdict::accept();
    return Verdict::refuse("only the audit office and the leading group change the organisation (article 5); your role is " +
                           toString(role));
}

Verdict mayPlanInspection(Role role) {
    if (role == Role::AuditOffice || role == Role::WorkingGroupLead || role == Role::Leader || role == Role::ExecutiveDeputy)
        return Verdict::accept();
    return Verdict::refuse("only the audit office, the working-group lead or the leading group's leader may create an "
                           "inspection (article 5)");
}

Verdict onsiteDays(std::int64_t days) {
    if (days < 1) return Verdict::refuse("the on-site stay must be at least one day");
    if (days > kStandardOnsiteDays)
        return Verdict::refuse("the on-site stay is at most 7 days; a longer stay needs an extension approved by the leading "
                               "group (article 7(2))");
    return Verdict::accept();
}

Verdict mayCapture(Role role, const std::string& person, const Json& inspection) {
    if (!canCapture(role))
        return Verdict::refuse("your role (" + toString(role) + ") may not capture findings; inspectors, the working-group "
                               "lead, the audit office and third-party auditors may (articles 5-6)");
    if (isOfficeSide(role)) return Verdict::accept();
    auto t = inspection.find("team");
    const Json team = t != inspection.end() && t->is_array() ? *t : Json::array();
    bool member = std::find(team.begin(), team.end(), Json(person)) != team.end() || stringOf(inspection, "lead_id") == person;
    if (!member) return Verdict::refuse("you are not on the team of this inspection");
    return Verdict::accept();
}

bool contentEditable(FindingStatus s) {
    return s == FindingStatus::Draft || s == FindingStatus::Submitted || s == FindingStatus::Returned;
}

Verdict mayEditContent(Role role, FindingStatus status) {
    if (!canCapture(role)) return Verdict::refuse("your role (" + toString(role) + ") may not edit findings");
    if (!contentEditable(status)) return Verdict::refuse("the finding is " + toString(status) + "; its content is fixed once confirmed");
    return Verdict::accept();
}

Verdict transition(FindingStatus from, FindingStatus to, Role role, bool hasVerification) {
    if (from == to) return Verdict::accept();
    const TransitionRule* rule = nullptr;
    std::string next;
    for (const auto& t : transitions()) {
        if (t.from != from) continue;
        next += (next.empty() ? "" : ", ") + toString(t.to);
        if (t.to == to) rule = &t;
    }
    if (!rule)
        return Verdict::refuse("a " + toString(from) + " finding cannot become " + toString(to) +
                               (next.empty() ? std::string(" (it is final)") : " (allowed next: " + next + ")"));
    if (!rule->allowed(role))
        return Verdict::refuse("only " + std::string(rule->who) + " may move a finding from " + toString(from) + " to " +
                               toString(to) + " (your role: " + toString(role) + ")");
    if (to == FindingStatus::Closed && !hasVerification)
        return Verdict::refuse("a finding is closed only with verification evidence of its rectification (article 8(2))");
    return Verdict::accept();
}

Verdict mayAttach(EvidencePurpose purpose, Role role) {
    if (purpose == EvidencePurpose::Evidence && !canCapture(role))
        return Verdict::refuse("your role (" + toString(role) + ") may not capture evidence");
    if (purpose == EvidencePurpose::Verification && !isOfficeSide(role))
        return Verdict::refuse("verification evidence is attached by the working-group lead or the audit office");
    if (purpose == EvidencePurpose::Rectification && !unitOrOffice(role))
        return Verdict::refuse("rectification material is attached by the unit head or the office");
    return Verdict::accept();
}

Verdict mayRequestExtension(Role role) {
    if (!canCapture(role)) return Verdict::refuse("only the inspection team or the office may request an extension");
    return Verdict::accept();
}

Verdict mayDecideExtension(Role role, ExtensionStatus current) {
    if (!isLeadingGroup(role))
        return Verdict::refuse("only a member of the leading group may approve or reject an extension (article 7(2))");
    if (current != ExtensionStatus::Pending) return Verdict::refuse("this extension was already decided");
    return Verdict::accept();
}

InspectionReaders inspectionReaders(const std::vector<std::string>& team, const std::string& lead, const std::string& unitId,
                                    const std::vector<PersonRole>& people) {
    std::set<std::string> readers(team.begin(), team.end()), office, commission, heads;
    if (!lead.empty()) readers.insert(lead);
    for (const auto& p : people) {
        if (p.role == Role::AuditOffice) office.insert(p.id);
        if (p.role == Role::DisciplineCommission) commission.insert(p.id);
        if (p.role == Role::AuditOffice || isLeadingGroup(p.role)) readers.insert(p.id);
        if (p.role == Role::UnitHead && !unitId.empty() && p.unitId == unitId) heads.insert(p.id);
    }
    auto all = [](const std::set<std::string>& who) {
        std::vector<ChannelReader> out;
        for (const auto& p : who) out.push_back({p, {"*"}});
        return out;
    };
    // The inspected unit's head reads what is told to the unit, never the team's work, even when
    // a plan names them on the team or as its lead.
    for (const auto& h : heads) readers.erase(h);
    InspectionReaders r{all(readers), all(readers), all(office)};
    for (const auto& h : heads) r.unit.push_back({h, {"unit_reply", "notice_ack"}});
    // The commission reads the clues and writes only that it received one.
    for (const auto& c : commission) r.clue.push_back({c, {"clue"}});
    auto byPerson = [](const ChannelReader& a, const ChannelReader& b) { return a.person < b.person; };
    std::sort(r.unit.begin(), r.unit.end(), byPerson);
    std::sort(r.clue.begin(), r.clue.end(), byPerson);
    return r;
}

Verdict findingFields(const Json& f) {
    auto bad = [](const std::string& why) { return Verdict::refuse(why); };
    if (f.contains("title") && !boundedString(f["title"], kMaxTitle, false)) return bad("title is longer than 300 bytes");
    if (f.contains("description") && !boundedString(f["description"], kMaxText, false)) return bad("description is too long");
    if (f.contains("category") && !enumValue<FindingCategory>(f["category"]))
        return bad("category must be one of " + allSpellings<FindingCategory>());
    if (f.contains("severity") && !enumValue<Severity>(f["severity"])) return bad("severity must be one of " + allSpellings<Severity>());
    if (f.contains("status") && !enumValue<FindingStatus>(f["status"])) return bad("status must be one of " + allSpellings<FindingStatus>());
    if (f.contains("audit_category") && !f["audit_category"].is_null()) {
        const auto& all = auditCategories();
        if (!f["audit_category"].is_string() || std::find(all.begin(), all.end(), f["audit_category"].get<std::string>()) == all.end())
            return bad("audit_category is not one of the audit categories");
    }
    if (f.contains("tags")) {
        if (!f["tags"].is_array() || f["tags"].size() > 3) return bad("tags must be a list");
        for (const auto& t : f["tags"])
            if (!enumValue<FindingTag>(t)) return bad("tags must be among " + allSpellings<FindingTag>());
    }
    if (f.contains("immediate_fix") && !f["immediate_fix"].is_boolean()) return bad("immediate_fix must be true or false");
    if (f.contains("responsible_person") && !boundedString(f["responsible_person"], kMaxShort, false))
        return bad("responsible_person is too long");
    return Verdict::accept();
}

// ------------------------------------------------------------------------- the validator

sync::SResult<Verdict> ProcedureValidator::check(const Context& ctx, sync::StateView& view) {
    const sync::Op& op = ctx.op;
    if (op.channel == sync::kSysChannel) return checkSys(ctx, view);
    auto a = authorOf(ctx, view);
    if (!a) return a.error();
    if (!*a)
        return Verdict::refuse("device " + ctx.changeSet.device + " acts for no person of the organisation where it wrote " + op.kind);
    if (op.channel == sync::kOrgChannel) return checkOrg(ctx, **a, view);
    if (auto inspectionId = inspectionOf(op.channel, "team")) {
        auto inspection = view.record("inspection", *inspectionId);
        if (!inspection) return inspection.error();
        if (!*inspection) return Verdict::refuse("no inspection " + *inspectionId + " where " + op.kind + " was written");
        if (op.kind == "finding") return checkFinding(ctx, **a, *inspectionId, **inspection, view);
        if (op.kind == "attachment") return checkAttachment(ctx, **a, *inspectionId, **inspection, view);
        if (op.kind == "extension") return checkExtension(ctx, **a, *inspectionId, view);
        if (op.kind == "export") return checkExport(ctx, **a, *inspectionId, view);
        if (op.kind == "agreement") return checkAgreement(ctx, **a, *inspectionId, **inspection, view);
        return Verdict::refuse("the team channel holds no record of kind " + op.kind);
    }
    if (auto inspectionId = inspectionOf(op.channel, "unit")) {
        auto inspection = view.record("inspection", *inspectionId);
        if (!inspection) return inspection.error();
        if (!*inspection) return Verdict::refuse("no inspection " + *inspectionId + " where " + op.kind + " was written");
        if (op.kind == "notice" || op.kind == "notice_ack" || op.kind == "unit_reply")
            return checkUnitRecord(ctx, **a, *inspectionId, **inspection, view);
        return Verdict::refuse("the unit channel holds no record of kind " + op.kind);
    }
    if (auto inspectionId = inspectionOf(op.channel, "clue")) {
        if ((**a).role != Role::AuditOffice && (**a).role != Role::DisciplineCommission)
            return Verdict::refuse("only the audit office and the discipline commission write in a clue channel (the author's role: " +
                                   toString((**a).role) + ")");
        auto inspection = view.record("inspection", *inspectionId);
        if (!inspection) return inspection.error();
        if (!*inspection) return Verdict::refuse("no inspection " + *inspectionId + " where " + op.kind + " was written");
        if (op.kind == "clue") return checkClue(ctx, **a, *inspectionId, view);
        return Verdict::refuse("the clue channel holds no record of kind " + op.kind);
    }
    return Verdict::refuse("channel " + op.channel + " holds no record of kind " + op.kind + " in this version");
}

}  // namespace xs::app::rules
