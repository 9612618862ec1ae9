#include "app/cli/args.h"

namespace xs::app::cli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& flags) {
    bool onlyPositional = false;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (onlyPositional || a.size() < 3 || a.rfind("--", 0) != 0) {
            if (a == "--") {
                onlyPositional = true;
                continue;
            }
            m_positional.push_back(a);
            continue;
        }
        std::string name = a.substr(2);
        std::string value;
        auto eq = name.find('=');
        if (eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        } else if (flags.count(name)) {
            value = "true";
        } else {
            if (i + 1 >= argv.size()) {
                m_error = "option --" + name + " needs a value";
                return;
            }
            value = argv[++i];
        }
        m_values[name].push_back(value);
        m_ordered.emplace_back(name, value);
    }
}

std::optional<std::string> Args::get(const std::string& name) const {
    auto it = m_values.find(name);
    if (it == m_values.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
    auto it = m_values.find(name);
    return it == m_values.end() ? std::vector<std::string>{} : it->second;
}

bool Args::flag(const std::string& name) const {
    auto v = get(name);
    return v && *v != "false" && *v != "0";
}

std::string Args::unknown(const std::set<std::string>& allowed) const {
    for (const auto& [name, values] : m_values)
        if (!allowed.count(name)) return "unknown option --" + name;
    return {};
}

}  // namespace xs::app::cli
