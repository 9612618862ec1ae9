// Reading a record's fields (as projected: a JSON object) and an op's changes, tolerant of
// missing or mistyped fields: a judge compares what it reads with what a rule wants.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>

#include "sync/changeset.h"

namespace xs::sync {

// The field as a string; empty when absent or not a string.
inline std::string stringOf(const Json& rec, const char* key) {
    auto it = rec.find(key);
    return it != rec.end() && it->is_string() ? it->get<std::string>() : std::string();
}

inline std::optional<std::int64_t> intOf(const Json& rec, const char* key) {
    auto it = rec.find(key);
    if (it == rec.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<std::int64_t>();
}

// True only for a boolean true.
inline bool boolOf(const Json& rec, const char* key) {
    auto it = rec.find(key);
    return it != rec.end() && it->is_boolean() && it->get<bool>();
}

// The op's field changes as an object (each field is changed once per op: trust::checkChanges).
inline Json changesOf(const Op& op) {
    Json o = Json::object();
    for (const auto& c : op.changes) o[c.field] = c.value;
    return o;
}

// `before` with the changes on top.
inline Json merged(const std::optional<Json>& before, const Json& changes) {
    Json out = before ? *before : Json::object();
    for (auto it = changes.begin(); it != changes.end(); ++it) out[it.key()] = it.value();
    return out;
}

// The first changed field not in `allowed`.
inline std::optional<std::string> unknownField(const Json& changes, std::initializer_list<const char*> allowed) {
    for (auto it = changes.begin(); it != changes.end(); ++it)
        if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return it.key() == a; })) return it.key();
    return std::nullopt;
}
inline std::optional<std::string> unknownField(const Json& changes, const std::set<std::string>& allowed) {
    for (auto it = changes.begin(); it != changes.end(); ++it)
        if (!allowed.count(it.key())) return it.key();
    return std::nullopt;
}

}  // namespace xs::sync
