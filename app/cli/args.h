// Command-line parsing for xunshenctl: positional words and --options (`--k v` or `--k=v`),
// repeatable options, flags. Unknown options are a usage error, reported by name.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace xs::app::cli {

class Args {
public:
    // flags: options without a value. Everything else that starts with -- takes a value.
    Args(const std::vector<std::string>& argv, const std::set<std::string>& flags);

    const std::string& error() const { return m_error; }  // empty when parsing succeeded
    const std::vector<std::string>& positional() const { return m_positional; }
    std::optional<std::string> get(const std::string& name) const;  // last occurrence
    std::vector<std::string> all(const std::string& name) const;
    bool flag(const std::string& name) const;
    bool has(const std::string& name) const { return m_values.count(name) > 0; }
    // Usage error text if any option outside `allowed` was given.
    std::string unknown(const std::set<std::string>& allowed) const;
    // Options in the order given: (name, value) — for `finding edit --field VALUE...`.
    const std::vector<std::pair<std::string, std::string>>& ordered() const { return m_ordered; }

private:
    std::vector<std::string> m_positional;
    std::map<std::string, std::vector<std::string>> m_values;
    std::vector<std::pair<std::string, std::string>> m_ordered;
    std::string m_error;
};

}  // namespace xs::app::cli
