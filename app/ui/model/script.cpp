#include "app/ui/model/script.h"

#include <chrono>

#include <cstdlib>
#include "app/model.h"

namespace xs::ui {

namespace {

std::string trim(std::string_view s) {
    std::size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
    return std::string(s.substr(b, e - b));
}

// Splits off the first word.
std::pair<std::string, std::string> word(const std::string& s) {
    std::size_t sp = s.find_first_of(" \t");
    if (sp == std::string::npos) return {s, ""};
    return {s.substr(0, sp), trim(std::string_view(s).substr(sp + 1))};
}

std::string lineError(int line, const std::string& why) { return "line " + std::to_string(line) + ": " + why; }

std::string stateText(const nlohmann::json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_array()) {
        std::string out;
        for (const auto& e : v) out += (out.empty() ? "" : "|") + (e.is_string() ? e.get<std::string>() : e.dump());
        return out;
    }
    return v.dump();
}

}  // namespace

app::AResult<std::vector<ScriptStep>> parseScript(std::string_view text) {
    std::vector<ScriptStep> steps;
    int line = 0;
    std::size_t at = 0;
    while (at <= text.size()) {
        std::size_t nl = text.find('\n', at);
        if (nl == std::string_view::npos) nl = text.size();
        ++line;
        std::string l = trim(text.substr(at, nl - at));
        at = nl + 1;
        if (l.empty() || l[0] == '#') continue;
        ScriptStep s;
        s.line = line;
        auto [verb, after] = word(l);
        auto [arg, rest] = word(after);
        s.verb = verb;
        s.arg = arg;
        s.rest = rest;
        auto bad = [&](const std::string& why) { return xs::fail(app::AppError::Usage, lineError(line, why + ": " + l)); };
        if (verb == "type") {
            if (!parseField(arg)) return bad("type needs a field (store, passphrase, filter, title, …)");
        } else if (verb == "select") {
            if (!parseList(arg) || rest.empty()) return bad("select needs a list (finding, review, notice, inspection, file, place) and a row's text");
        } else if (verb == "drop") {
            if (arg.empty()) return bad("drop needs a file path");
        } else if (verb == "browse") {
            if (!parseField(arg) || !rest.empty()) return bad("browse needs a path field (evidence_path, handover_path, receipt_path, …)");
        } else if (verb == "resolve") {
            if (arg.empty() || !app::parseInteger(rest, 0, 16)) return bad("resolve needs a field and a version number");
        } else if (verb == "await") {
            if (arg.empty()) return bad("await needs a key and a value");
        } else if (verb == "await-row") {
            if (!parseList(arg) || rest.empty()) return bad("await-row needs a list (finding, review, notice, inspection) and a row's text");
        } else if (verb == "passphrase-env") {
            if (arg.empty() || !rest.empty()) return bad("passphrase-env needs one variable name");
        } else if (verb == "press") {
            if (!parseButton(arg) || !rest.empty()) return bad("press needs a button (unlock, lock, save, …)");
        } else if (verb == "view") {
            if (!parseView(arg) || !rest.empty()) return bad("view needs a view (unlock, today, findings, …)");
        } else if (verb == "lang") {
            if (!parseLang(arg) || !rest.empty()) return bad("lang needs zh or en");
        } else if (verb == "screenshot") {
            if (arg.empty() || !rest.empty() || arg.find('/') != std::string::npos || arg[0] == '.')
                return bad("screenshot needs one file name without a directory");
        } else if (verb == "expect") {
            if (arg.empty()) return bad("expect needs a key and a value");
        } else if (verb == "wait") {
            if (!app::parseInteger(arg, 1, 3600) || !rest.empty()) return bad("wait needs whole seconds (1 to 3600)");
        } else {
            return bad("unknown action");
        }
        steps.push_back(std::move(s));
    }
    return steps;
}

ScriptRunner::ScriptRunner(std::vector<ScriptStep> steps, Env env) : m_steps(std::move(steps)), m_env(std::move(env)) {
    if (!m_env)
        m_env = [](const std::string& name) -> std::optional<std::string> {
            const char* v = std::getenv(name.c_str());
            if (!v) return std::nullopt;
            return std::string(v);
        };
}

ScriptRunner::Next ScriptRunner::afterFrame(Controller& c) {
    ++m_settled;
    while (true) {
        if (c.busy() || m_settled < 2) return {};
        if (m_next >= m_steps.size()) return {Next::Kind::Done, {}, 0};
        const ScriptStep& s = m_steps[m_next++];
        if (s.verb == "await" || s.verb == "await-row") {
            // Stays on this line, a frame at a time, until the state says so (sync, a task).
            std::string is;
            bool holds;
            if (s.verb == "await") {
                auto state = c.state();
                is = state.contains(s.arg) ? stateText(state[s.arg]) : std::string("(no such key)");
                holds = is == s.rest;
            } else {
                holds = !c.findInList(*parseList(s.arg), s.rest).empty();
                is = "not in the list";
            }
            if (holds) {
                m_awaitSince.reset();
                continue;
            }
            const auto now = std::chrono::steady_clock::now();
            if (!m_awaitSince) m_awaitSince = now;
            if (now - *m_awaitSince > kAwaitLimit)
                return {Next::Kind::Failed, lineError(s.line, "await " + s.arg + " \"" + s.rest + "\": still \"" + is + "\" after " +
                                                                  std::to_string(kAwaitLimit.count()) + " s")};
            --m_next;
            m_settled = 1;
            return {};
        }
        if (s.verb == "screenshot") {
            m_settled = 0;
            return {Next::Kind::Screenshot, s.arg, 0};
        }
        if (s.verb == "wait") {
            m_settled = 0;
            return {Next::Kind::Idle, {}, static_cast<int>(*app::parseInteger(s.arg, 1, 3600))};
        }
        if (auto failure = perform(c, s)) return {Next::Kind::Failed, lineError(s.line, *failure), 0};
        // Applied now, after the frame, exactly where a click's intents are applied.
        if (auto problems = c.applyIntents(); !problems.empty()) return {Next::Kind::Failed, lineError(s.line, problems.front()), 0};
        if (s.verb != "expect") {  // an expect changes nothing: the next line may run at once
            m_settled = 0;
            return {};
        }
    }
}

std::optional<std::string> ScriptRunner::perform(Controller& c, const ScriptStep& s) {
    if (s.verb == "type") {
        const Field f = *parseField(s.arg);
        c.post(EditField{f, s.rest});
        if (viewOf(f) == ViewId::Editor) c.post(LeaveField{f});  // a person types, then moves on
    } else if (s.verb == "select") {
        const ListId list = *parseList(s.arg);
        const std::string id = c.findInList(list, s.rest);
        if (id.empty()) return "select: no row \"" + s.rest + "\" in the " + s.arg + " list";
        c.post(Select{list, id});
    } else if (s.verb == "browse") {
        c.post(Browse{*parseField(s.arg)});
    } else if (s.verb == "drop") {
        std::vector<std::string> paths{s.arg};
        if (!s.rest.empty()) paths[0] += " " + s.rest;
        c.post(DropFiles{paths});
    } else if (s.verb == "resolve") {
        c.post(Resolve{s.arg, static_cast<std::size_t>(*app::parseInteger(s.rest, 0, 16))});
    } else if (s.verb == "passphrase-env") {
        auto v = m_env(s.arg);
        if (!v) return "the environment variable " + s.arg + " is not set";
        c.post(EditField{Field::Passphrase, *v});
    } else if (s.verb == "press") {
        c.post(Press{*parseButton(s.arg)});
    } else if (s.verb == "view") {
        c.post(ShowView{*parseView(s.arg)});
    } else if (s.verb == "lang") {
        c.post(SetLanguage{*parseLang(s.arg)});
    } else if (s.verb == "expect") {
        auto state = c.state();
        if (!state.contains(s.arg)) return "expect: the state has no " + s.arg;
        std::string is = stateText(state[s.arg]);
        if (is != s.rest) return "expected " + s.arg + " \"" + s.rest + "\", it is \"" + is + "\"";
    }
    return std::nullopt;
}

}  // namespace xs::ui
