// The inputs of the session's commands (app/session.h) that carry more than a few values: what
// a front end fills in from a form or a command line. Checked by the workspace before anything
// is committed.
#pragma once
#include <filesystem>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "app/error.h"
#include "app/model.h"

namespace xs::app {

struct InspectionInput {
    std::string unit;   // id, code or name
    std::string start;  // YYYY-MM-DD, first on-site day
    int days = 7;
    InspectionKind kind = InspectionKind::Full;
    InspectionMode mode = InspectionMode::Synchronous;
    std::string title;
    std::string round;                // id or name, optional
    std::vector<std::string> team;    // person ids, codes or names
    std::string lead;                 // person id, code or name, optional
};

// A finding as given by `finding add` or one line of `finding import` (same keys).
struct FindingInput {
    std::string inspection;
    std::string title;
    std::string description;
    FindingCategory category = FindingCategory::Other;
    std::string auditCategory;
    Severity severity = Severity::Medium;
    std::vector<FindingTag> tags;
    bool immediateFix = false;
    std::string responsiblePerson;
    std::vector<std::filesystem::path> evidence;

    // Strict: unknown keys, wrong types and bad enum spellings are refused.
    static AResult<FindingInput> fromJson(const nlohmann::json& j);
};

}  // namespace xs::app
