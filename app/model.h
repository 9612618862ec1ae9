// The domain vocabulary of the procedure (../shared/seed/README.md): roles (articles 5-6),
// inspection kinds and modes (articles 4, 7(2)), finding categories, severities, tags (7(3)) and
// the finding lifecycle. Each enum has a stable snake_case spelling used in storage, JSON and the
// CLI, and a Chinese label for people.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xs::app {

enum class Role {
    Leader,               // 组长 (局长)
    ExecutiveDeputy,      // 常务副组长
    Deputy,               // 副组长
    LeadingGroupMember,   // 领导小组成员
    WorkingGroupLead,     // 工作组组长 (审计办公室牵头)
    WorkingGroupMember,   // 工作组成员
    AuditOffice,          // 审计办公室
    ThirdPartyAuditor,    // 第三方审计人员
    UnitHead,             // 被巡审单位主要负责人
    DeputyInCharge,       // 分管局领导
    DisciplineCommission, // 纪委监委
};

enum class InspectionKind { Full, Special, LookBack };
enum class InspectionMode { Synchronous, Targeted, RelayAuditFirst, RelayInspectionFirst };
enum class FindingCategory { MainResponsibility, EightPointRules, FinancialDiscipline, Other };
enum class Severity { Low, Medium, High };
enum class FindingTag { Common, Trending, Emerging };
enum class FindingStatus { Draft, Submitted, Confirmed, Returned, FedBack, Rectifying, Rectified, Closed };
enum class ExtensionStatus { Pending, Approved, Rejected };
enum class EvidencePurpose { Evidence, Rectification, Verification };
// A clue for the discipline commission (线索移交): drafted by the audit office, transferred by
// it, received by the commission.
enum class ClueStatus { Drafted, Transferred, Received };

// Audit categories a finding may carry in addition to its inspection category.
const std::vector<std::string>& auditCategories();

template <typename E>
struct EnumInfo;  // spelling/label tables, specialised in model.cpp

template <typename E>
std::string toString(E value);
template <typename E>
std::string label(E value);  // Chinese
template <typename E>
std::optional<E> parseEnum(std::string_view text);
template <typename E>
std::string allSpellings();  // "a|b|c", for messages

bool isLeadingGroup(Role r);   // may approve extensions, approve plans
bool canCapture(Role r);       // may add findings
bool isOfficeSide(Role r);     // audit office or working-group lead

// Dates are ISO YYYY-MM-DD strings; days since 1970-01-01 for arithmetic.
std::optional<int> parseDate(std::string_view iso);
std::string formatDate(int days);
// The organisation's time zone decides which day a capture falls on (the on-site window), never
// the process's TZ. Zones are IANA names of zones without daylight saving — Asia/Shanghai (the
// default, UTC+8; China has had no DST since 1991), Asia/Urumqi (UTC+6), Asia/Hong_Kong, Asia/Macau,
// Asia/Taipei, UTC — or a fixed offset "UTC+08:00". nullopt: not a zone this version knows.
inline constexpr const char* kDefaultTimeZone = "Asia/Shanghai";
std::optional<int> zoneOffsetMinutes(std::string_view zone);
// The day (days since 1970-01-01) of a Unix time at a UTC offset.
int dayAt(std::int64_t unixMs, int offsetMinutes);
// Parses a whole decimal integer within [min, max]: no sign but '-', no spaces, no trailing text.
std::optional<std::int64_t> parseInteger(std::string_view text, std::int64_t min, std::int64_t max);
// "YYYY-MM-DD HH:MM:SS" in local time.
std::string formatTimestampMs(std::int64_t unixMs);

}  // namespace xs::app
