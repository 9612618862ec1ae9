// Helpers the workspace's parts share (app/workspace*.cpp): reading fields of untrusted JSON,
// mapping errors, reading projection rows. Internal to app/; front ends never include it.
#pragma once
#include <ctime>
#include <string>
#include <utility>
#include <vector>
#include "app/workspace.h"

namespace xs::app::parts {

constexpr std::size_t kMaxTitle = 300;
constexpr std::size_t kMaxText = 50000;
constexpr int kStandardOnsiteDays = 7;  // article 7(2): one week on site

template <typename E>
inline AResult<E> enumField(const Json& j, const char* key, E fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_string()) return refused(std::string(key) + " must be a string");
    auto v = parseEnum<E>(it->get<std::string>());
    if (!v) return refused(std::string(key) + " must be one of " + allSpellings<E>() + ", not '" + it->get<std::string>() + "'");
    return *v;
}

inline AResult<std::string> stringField(const Json& j, const char* key, std::size_t maxLen) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::string();
    if (!it->is_string()) return refused(std::string(key) + " must be a string");
    auto s = it->get<std::string>();
    if (s.size() > maxLen) return refused(std::string(key) + " is longer than " + std::to_string(maxLen) + " bytes");
    return s;
}

inline std::string isoTime(std::uint64_t hlc) {
    std::int64_t ms = sync::hlcMillis(hlc);
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

inline std::int64_t intOf(const Json& rec, const char* key, std::int64_t fallback) {
    auto it = rec.find(key);
    return it != rec.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

inline AStatus fromVerdict(const rules::Verdict& v) {
    if (v.ok()) return {};
    return refused(v.refusal);
}

// A refusal by a rule on commit comes back as Forbidden with the rule's reason.
inline Error<AppError> fromCommit(const Error<sync::SyncError>& e) {
    if (e.code == sync::SyncError::Forbidden) return refused(e.message);
    return fromSync(e);
}


inline AResult<Json> rowsToJson(sync::Stmt& s, const std::vector<std::pair<std::string, ColumnType>>& cols) {
    Json out = Json::array();
    for (;;) {
        auto row = s.step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        Json o = Json::object();
        for (std::size_t i = 0; i < cols.size(); ++i) {
            int c = static_cast<int>(i);
            if (s.isNull(c)) {
                o[cols[i].first] = nullptr;
                continue;
            }
            switch (cols[i].second) {
                case ColumnType::Text: o[cols[i].first] = s.text(c); break;
                case ColumnType::Int: o[cols[i].first] = s.int64(c); break;
                case ColumnType::Bool: o[cols[i].first] = s.int64(c) != 0; break;
                case ColumnType::Json: o[cols[i].first] = Json::parse(s.text(c), nullptr, false); break;
            }
        }
        out.push_back(std::move(o));
    }
    return out;
}

inline std::vector<std::pair<std::string, ColumnType>> columnsOf(const char* kind) {
    std::vector<std::pair<std::string, ColumnType>> cols = {{"id", ColumnType::Text}};
    for (const auto& c : findRecordType(kind)->columns) cols.emplace_back(c.field, c.type);
    return cols;
}

inline std::string selectAll(const char* kind) {
    const RecordType* t = findRecordType(kind);
    std::string sql = "SELECT id";
    for (const auto& c : t->columns) sql += std::string(", ") + c.field;
    return sql + " FROM " + t->table;
}

}  // namespace xs::app::parts
