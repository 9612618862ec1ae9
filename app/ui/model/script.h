// The client's scripted mode (`xunshen --script FILE --screenshot-dir DIR`): one UI action a
// line, performed through the same intents a click posts (app/ui/model/controller.h), for tests
// and for the screenshots in the docs.
//
//   # a comment; blank lines are skipped
//   type FIELD TEXT…          store | passphrase | filter (the rest of the line, spaces kept)
//   passphrase-env VAR        types the value of the environment variable VAR as the passphrase
//   press BUTTON              unlock | lock
//   view NAME                 unlock | findings
//   lang zh|en                switches the language
//   screenshot NAME           writes NAME.png (the window as drawn) and NAME.json (state())
//   expect KEY VALUE…         fails unless state()[KEY] is VALUE (titles: "|"-joined)
//   wait SECONDS              1 to 3600: the window idles as with nobody at it (it blocks in
//                             glfwWaitEvents*, drawing only on input), then the script goes on
//
// Each action waits until the previous one has been drawn (two frames, and no unlock running).
// An unknown line is refused before any window opens; an action that the client cannot perform
// where it stands (a field of another view) or an expect that does not hold fails the run.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "app/error.h"
#include "app/ui/model/controller.h"

namespace xs::ui {

struct ScriptStep {
    int line = 0;
    std::string verb;
    std::string arg;   // the first word after the verb
    std::string rest;  // everything after that word (type's text, expect's value)
};

// Usage with "line N: …" on the first line that is not an action this version knows.
app::AResult<std::vector<ScriptStep>> parseScript(std::string_view text);

class ScriptRunner {
public:
    struct Next {
        enum class Kind { Wait, Screenshot, Idle, Done, Failed };
        Kind kind = Kind::Wait;
        std::string text;  // Screenshot: the name; Failed: why, with the line
        int seconds = 0;   // Idle: for how long
    };
    using Env = std::function<std::optional<std::string>(const std::string&)>;

    explicit ScriptRunner(std::vector<ScriptStep> steps, Env env = {});
    // After each frame, once the frame's own intents were applied: performs the next line when
    // the last one has been drawn, applying its intents at once.
    Next afterFrame(Controller& c);

private:
    std::optional<std::string> perform(Controller& c, const ScriptStep& s);  // the failure, if any
    std::vector<ScriptStep> m_steps;
    Env m_env;
    std::size_t m_next = 0;
    int m_settled = 0;  // frames drawn since the last action
};

}  // namespace xs::ui
