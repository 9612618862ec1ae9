// The domain vocabulary: enum spellings and labels, dates.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "app/model.h"
#include "tests/app/app_test_util.h"

namespace xs::app {
namespace {

bool isSnakeCase(const std::string& s) {
    if (s.empty() || s.front() == '_' || s.back() == '_') return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

bool hasNonAscii(const std::string& s) {
    for (unsigned char c : s)
        if (c >= 0x80) return true;
    return false;
}

// Every value of E (its values are 0..count-1), spelled, labelled and parsed back.
template <typename E>
void checkEnum(int count, const char* name) {
    CAPTURE(std::string(name));
    std::set<std::string> spellings, labels;
    for (int i = 0; i < count; ++i) {
        const E v = static_cast<E>(i);
        const std::string s = toString(v);
        const std::string zh = label(v);
        CAPTURE(s);
        CHECK(s != "?");
        CHECK(isSnakeCase(s));
        CHECK(zh != "?");
        CHECK(hasNonAscii(zh));
        auto back = parseEnum<E>(s);
        REQUIRE(back.has_value());
        CHECK((*back == v));
        CHECK(spellings.insert(s).second);  // spellings are distinct
        CHECK(labels.insert(zh).second);    // labels too
        // Near misses are not accepted.
        std::string upper = s;
        for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        CHECK_FALSE(parseEnum<E>(upper).has_value());
        CHECK_FALSE(parseEnum<E>(" " + s).has_value());
        CHECK_FALSE(parseEnum<E>(s + " ").has_value());
        CHECK_FALSE(parseEnum<E>(zh).has_value());
        // allSpellings lists it.
        const std::string all = "|" + allSpellings<E>() + "|";
        CHECK(all.find("|" + s + "|") != std::string::npos);
    }
    CHECK_FALSE(parseEnum<E>("").has_value());
    CHECK_FALSE(parseEnum<E>("nonsense").has_value());
    // Out-of-range values are not silently given a real spelling.
    CHECK(toString(static_cast<E>(count)) == "?");
}

}  // namespace

TEST_CASE("model: every enum round-trips through toString and parseEnum and has a Chinese label") {
    checkEnum<Role>(11, "Role");
    checkEnum<InspectionKind>(3, "InspectionKind");
    checkEnum<InspectionMode>(4, "InspectionMode");
    checkEnum<FindingCategory>(4, "FindingCategory");
    checkEnum<Severity>(3, "Severity");
    checkEnum<FindingTag>(3, "FindingTag");
    checkEnum<FindingStatus>(8, "FindingStatus");
    checkEnum<ExtensionStatus>(3, "ExtensionStatus");
    checkEnum<EvidencePurpose>(3, "EvidencePurpose");

    // Spot checks against the procedure's wording.
    CHECK(toString(Role::WorkingGroupLead) == "working_group_lead");
    CHECK(toString(Role::ThirdPartyAuditor) == "third_party_auditor");
    CHECK(toString(FindingStatus::FedBack) == "fed_back");
    CHECK(toString(InspectionKind::LookBack) == "look_back");
    CHECK(label(InspectionKind::LookBack) == "回头看");
    CHECK(label(FindingCategory::EightPointRules) == "中央八项规定精神");
    CHECK(label(InspectionMode::Synchronous) == "同步并行式");
    CHECK(label(FindingTag::Emerging) == "苗头性");
    CHECK(label(Role::Leader) == "领导小组组长");
}

TEST_CASE("model: role predicates follow articles 5 and 6") {
    for (Role r : {Role::Leader, Role::ExecutiveDeputy, Role::Deputy, Role::LeadingGroupMember}) {
        CAPTURE(toString(r));
        CHECK(isLeadingGroup(r));
        CHECK_FALSE(canCapture(r));
    }
    for (Role r : {Role::WorkingGroupLead, Role::WorkingGroupMember, Role::AuditOffice, Role::ThirdPartyAuditor}) {
        CAPTURE(toString(r));
        CHECK(canCapture(r));
        CHECK_FALSE(isLeadingGroup(r));
    }
    for (Role r : {Role::UnitHead, Role::DeputyInCharge, Role::DisciplineCommission}) {
        CAPTURE(toString(r));
        CHECK_FALSE(canCapture(r));
        CHECK_FALSE(isLeadingGroup(r));
        CHECK_FALSE(isOfficeSide(r));
    }
    CHECK(isOfficeSide(Role::WorkingGroupLead));
    CHECK(isOfficeSide(Role::AuditOffice));
    CHECK_FALSE(isOfficeSide(Role::WorkingGroupMember));
    CHECK_FALSE(isOfficeSide(Role::ThirdPartyAuditor));

    const auto& cats = auditCategories();
    CHECK(std::find(cats.begin(), cats.end(), "special_funds") != cats.end());
    CHECK(std::find(cats.begin(), cats.end(), "procurement") != cats.end());
}

TEST_CASE("model: parseDate and formatDate round-trip across leap years") {
    CHECK(parseDate("1970-01-01") == 0);
    CHECK(parseDate("1970-01-02") == 1);
    CHECK(formatDate(0) == "1970-01-01");

    // Leap days.
    REQUIRE(parseDate("2024-02-29").has_value());
    CHECK(formatDate(*parseDate("2024-02-29")) == "2024-02-29");
    CHECK(*parseDate("2024-03-01") - *parseDate("2024-02-28") == 2);
    CHECK(*parseDate("2023-03-01") - *parseDate("2023-02-28") == 1);
    CHECK(parseDate("2000-02-29").has_value());     // divisible by 400
    CHECK_FALSE(parseDate("2100-02-29").has_value());  // divisible by 100 only
    CHECK(*parseDate("2025-01-01") - *parseDate("2024-01-01") == 366);
    CHECK(*parseDate("2026-01-01") - *parseDate("2025-01-01") == 365);

    // Invalid dates.
    for (const char* bad : {"2023-02-29", "2026-13-01", "2026-00-10", "2026-01-00", "2026-04-31", "2026-01-32",
                            "2026-1-01", "2026/01/01", "20260101", "2026-01-01 ", " 2026-01-01", "2026-01-0a",
                            "abcd-ef-gh", "", "2026-01", "-026-01-01", "1969-12-31", "2026-02-30"}) {
        CAPTURE(std::string(bad));
        CHECK_FALSE(parseDate(bad).has_value());
    }

    // Every day for several years, including 2024's leap day and 2100's missing one, round-trips
    // and consecutive days are one apart.
    const int from = *parseDate("2023-01-01");
    int previous = from - 1;
    for (int d = from; d < from + 4 * 366; ++d) {
        const std::string s = formatDate(d);
        auto back = parseDate(s);
        REQUIRE_MESSAGE(back.has_value(), s);
        CHECK(*back == d);
        CHECK(*back == previous + 1);
        previous = *back;
    }
    for (const char* iso : {"2099-12-31", "2100-02-28", "2100-03-01", "9999-12-31", "2400-02-29"}) {
        CAPTURE(std::string(iso));
        auto d = parseDate(iso);
        REQUIRE(d.has_value());
        CHECK(formatDate(*d) == iso);
    }
    CHECK(*parseDate("2100-03-01") - *parseDate("2100-02-28") == 1);
}

TEST_CASE("model: the day of a time is the organisation's, at its zone's offset") {
    // kBaseMs is 2026-03-10 12:00 UTC.
    CHECK(formatDate(dayAt(test::kBaseMs, 480)) == "2026-03-10");
    CHECK(formatDate(dayAt(test::kBaseMs + test::kDayMs, 480)) == "2026-03-11");
    // 16:30 UTC is already the next day in Shanghai, still the same day in UTC.
    const std::int64_t evening = test::kBaseMs + (4 * 60 + 30) * 60000;
    CHECK(formatDate(dayAt(evening, *zoneOffsetMinutes("Asia/Shanghai"))) == "2026-03-11");
    CHECK(formatDate(dayAt(evening, *zoneOffsetMinutes("UTC"))) == "2026-03-10");
    CHECK(formatDate(dayAt(evening, *zoneOffsetMinutes("Asia/Urumqi"))) == "2026-03-10");  // UTC+6: 22:30
    CHECK(formatDate(dayAt(-1, 0)) == "1969-12-31");
    CHECK(zoneOffsetMinutes("UTC+05:30") == 330);
    CHECK(zoneOffsetMinutes("UTC-03:00") == -180);
    for (const char* bad : {"", "Europe/Paris", "UTC+15:00", "UTC+08:60", "UTC+8", "asia/shanghai", "UTC+08:00 "})
        CHECK_FALSE(zoneOffsetMinutes(bad).has_value());
}

TEST_CASE("model: numbers parse strictly - 7x, spaces, signs and overflow are refused") {
    CHECK(parseInteger("7", 1, 7) == 7);
    CHECK(parseInteger("-3", -5, 5) == -3);
    for (const char* bad : {"7x", " 7", "7 ", "", "+7", "0x7", "7.0", "3 weeks", "99999999999999999999", "8"})
        CHECK_FALSE(parseInteger(bad, 1, 7).has_value());
}

}  // namespace xs::app
