#include "app/model.h"

#include <charconv>

#include <ctime>
#include <cstdint>
#include <utility>

namespace xs::app {
namespace {

template <typename E>
struct Entry {
    E value;
    const char* spelling;
    const char* zh;
};

}  // namespace

#define XS_ENUM_TABLE(E, ...)                                                   \
    template <>                                                                 \
    struct EnumInfo<E> {                                                        \
        static constexpr Entry<E> kEntries[] = {__VA_ARGS__};                   \
    };

XS_ENUM_TABLE(Role,
              {Role::Leader, "leader", "领导小组组长"},
              {Role::ExecutiveDeputy, "executive_deputy", "领导小组常务副组长"},
              {Role::Deputy, "deputy", "领导小组副组长"},
              {Role::LeadingGroupMember, "leading_group_member", "领导小组成员"},
              {Role::WorkingGroupLead, "working_group_lead", "工作组组长"},
              {Role::WorkingGroupMember, "working_group_member", "工作组成员"},
              {Role::AuditOffice, "audit_office", "审计办公室"},
              {Role::ThirdPartyAuditor, "third_party_auditor", "第三方审计人员"},
              {Role::UnitHead, "unit_head", "被巡审单位主要负责人"},
              {Role::DeputyInCharge, "deputy_in_charge", "分管局领导"},
              {Role::DisciplineCommission, "discipline_commission", "纪委监委"})
XS_ENUM_TABLE(InspectionKind,
              {InspectionKind::Full, "full", "全面巡审"},
              {InspectionKind::Special, "special", "专项巡审"},
              {InspectionKind::LookBack, "look_back", "回头看"})
XS_ENUM_TABLE(InspectionMode,
              {InspectionMode::Synchronous, "synchronous", "同步并行式"},
              {InspectionMode::Targeted, "targeted", "靶向协同式"},
              {InspectionMode::RelayAuditFirst, "relay_audit_first", "接力跟进式（先审后巡）"},
              {InspectionMode::RelayInspectionFirst, "relay_inspection_first", "接力跟进式（先巡后审）"})
XS_ENUM_TABLE(FindingCategory,
              {FindingCategory::MainResponsibility, "main_responsibility", "全面从严治党主体责任"},
              {FindingCategory::EightPointRules, "eight_point_rules", "中央八项规定精神"},
              {FindingCategory::FinancialDiscipline, "financial_discipline", "财经纪律"},
              {FindingCategory::Other, "other", "其他"})
XS_ENUM_TABLE(Severity,
              {Severity::Low, "low", "一般"},
              {Severity::Medium, "medium", "较重"},
              {Severity::High, "high", "严重"})
XS_ENUM_TABLE(FindingTag,
              {FindingTag::Common, "common", "普遍性"},
              {FindingTag::Trending, "trending", "倾向性"},
              {FindingTag::Emerging, "emerging", "苗头性"})
XS_ENUM_TABLE(FindingStatus,
              {FindingStatus::Draft, "draft", "草稿"},
              {FindingStatus::Submitted, "submitted", "已提交"},
              {FindingStatus::Confirmed, "confirmed", "已确认"},
              {FindingStatus::Returned, "returned", "已退回"},
              {FindingStatus::FedBack, "fed_back", "已反馈"},
              {FindingStatus::Rectifying, "rectifying", "整改中"},
              {FindingStatus::Rectified, "rectified", "已整改"},
              {FindingStatus::Closed, "closed", "已销号"})
XS_ENUM_TABLE(ExtensionStatus,
              {ExtensionStatus::Pending, "pending", "待审批"},
              {ExtensionStatus::Approved, "approved", "已批准"},
              {ExtensionStatus::Rejected, "rejected", "未批准"})
XS_ENUM_TABLE(EvidencePurpose,
              {EvidencePurpose::Evidence, "evidence", "证据材料"},
              {EvidencePurpose::Rectification, "rectification", "整改材料"},
              {EvidencePurpose::Verification, "verification", "核查验证材料"})
XS_ENUM_TABLE(ClueStatus,
              {ClueStatus::Drafted, "drafted", "待移交"},
              {ClueStatus::Transferred, "transferred", "已移交"},
              {ClueStatus::Received, "received", "已接收"})
#undef XS_ENUM_TABLE

template <typename E>
std::string toString(E value) {
    for (const auto& e : EnumInfo<E>::kEntries)
        if (e.value == value) return e.spelling;
    return "?";
}
template <typename E>
std::string label(E value) {
    for (const auto& e : EnumInfo<E>::kEntries)
        if (e.value == value) return e.zh;
    return "?";
}
template <typename E>
std::optional<E> parseEnum(std::string_view text) {
    for (const auto& e : EnumInfo<E>::kEntries)
        if (text == e.spelling) return e.value;
    return std::nullopt;
}
template <typename E>
std::string allSpellings() {
    std::string out;
    for (const auto& e : EnumInfo<E>::kEntries) out += (out.empty() ? "" : "|") + std::string(e.spelling);
    return out;
}

#define XS_ENUM_INSTANTIATE(E)                                  \
    template std::string toString<E>(E);                        \
    template std::string label<E>(E);                           \
    template std::optional<E> parseEnum<E>(std::string_view);   \
    template std::string allSpellings<E>();
XS_ENUM_INSTANTIATE(Role)
XS_ENUM_INSTANTIATE(InspectionKind)
XS_ENUM_INSTANTIATE(InspectionMode)
XS_ENUM_INSTANTIATE(FindingCategory)
XS_ENUM_INSTANTIATE(Severity)
XS_ENUM_INSTANTIATE(FindingTag)
XS_ENUM_INSTANTIATE(FindingStatus)
XS_ENUM_INSTANTIATE(ExtensionStatus)
XS_ENUM_INSTANTIATE(EvidencePurpose)
XS_ENUM_INSTANTIATE(ClueStatus)
#undef XS_ENUM_INSTANTIATE

const std::vector<std::string>& auditCategories() {
    static const std::vector<std::string> c = {"budget_execution", "revenue",     "expenditure",
                                               "state_assets",     "procurement", "construction_projects",
                                               "internal_control", "special_funds", "other"};
    return c;
}

bool isLeadingGroup(Role r) {
    return r == Role::Leader || r == Role::ExecutiveDeputy || r == Role::Deputy || r == Role::LeadingGroupMember;
}
bool canCapture(Role r) {
    return r == Role::WorkingGroupLead || r == Role::WorkingGroupMember || r == Role::AuditOffice ||
           r == Role::ThirdPartyAuditor;
}
bool isOfficeSide(Role r) { return r == Role::WorkingGroupLead || r == Role::AuditOffice; }

std::optional<int> parseDate(std::string_view s) {
    if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
    auto num = [&](std::size_t from, std::size_t len) -> int {
        int v = 0;
        for (std::size_t i = from; i < from + len; ++i) {
            if (s[i] < '0' || s[i] > '9') return -1;
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    int y = num(0, 4), m = num(5, 2), d = num(8, 2);
    if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1) return std::nullopt;
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > kDays[m - 1] + (m == 2 && leap ? 1 : 0)) return std::nullopt;
    // Days from civil (Howard Hinnant's algorithm).
    y -= m <= 2;
    const int era = y / 400;
    const int yoe = y - era * 400;
    const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

std::string formatDate(int z) {
    z += 719468;
    const int era = z / 146097;
    const int doe = z - era * 146097;
    const int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int y = yoe + era * 400;
    const int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int mp = (5 * doy + 2) / 153;
    const int d = doy - (153 * mp + 2) / 5 + 1;
    const int m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
    return buf;
}

std::optional<int> zoneOffsetMinutes(std::string_view zone) {
    static const std::pair<std::string_view, int> kZones[] = {
        {"Asia/Shanghai", 480}, {"Asia/Chongqing", 480}, {"Asia/Harbin", 480}, {"PRC", 480},
        {"Asia/Urumqi", 360},   {"Asia/Hong_Kong", 480}, {"Asia/Macau", 480}, {"Asia/Taipei", 480},
        {"UTC", 0},             {"Etc/UTC", 0},
    };
    for (const auto& [name, offset] : kZones)
        if (zone == name) return offset;
    // UTC+HH:MM / UTC-HH:MM
    if (zone.size() == 9 && zone.substr(0, 3) == "UTC" && (zone[3] == '+' || zone[3] == '-') && zone[6] == ':') {
        auto h = parseInteger(zone.substr(4, 2), 0, 14);
        auto m = parseInteger(zone.substr(7, 2), 0, 59);
        if (!h || !m || (*h == 14 && *m != 0)) return std::nullopt;
        int minutes = static_cast<int>(*h * 60 + *m);
        return zone[3] == '-' ? -minutes : minutes;
    }
    return std::nullopt;
}

int dayAt(std::int64_t unixMs, int offsetMinutes) {
    constexpr std::int64_t kDayMs = 86400000;
    std::int64_t local = unixMs + std::int64_t{offsetMinutes} * 60000;
    std::int64_t day = local / kDayMs;
    if (local % kDayMs < 0) --day;  // floor, for times before 1970
    return static_cast<int>(day);
}

std::optional<std::int64_t> parseInteger(std::string_view text, std::int64_t min, std::int64_t max) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < min || v > max) return std::nullopt;
    return v;
}

std::string formatTimestampMs(std::int64_t unixMs) {
    std::time_t t = static_cast<std::time_t>(unixMs / 1000);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

}  // namespace xs::app
