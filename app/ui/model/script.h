// The client's scripted mode (`xunshen --script FILE --screenshot-dir DIR`): one UI action a
// line, performed through the same intents a click posts (app/ui/model/controller.h), for tests
// and for the screenshots in the docs.
//
//   # a comment; blank lines are skipped
//   type FIELD TEXT…          a field (controller.h Field: store, passphrase, filter, title, …),
//                             the rest of the line, spaces kept; an editor field is then left
//                             (LeaveField: the draft is saved, as when a person tabs on)
//   passphrase-env VAR        types the value of the environment variable VAR as the passphrase
//   press BUTTON              a button (controller.h Button: unlock, lock, new_finding, save, …)
//   view NAME                 a view (unlock, today, findings, editor, review, inbox, handover, settings)
//   select LIST TEXT…         picks the row showing TEXT: finding / review (a title), notice (its
//                             problem), inspection (a title); in the file dialog file (a name of
//                             the folder shown, ".." up: a folder opens, a file is the answer)
//                             and place (a place's path or its last part: home, a USB stick)
//   browse FIELD              opens the file dialog for a path field (evidence_path,
//                             handover_path, receipt_path, enrolment_file, identity_path, store);
//                             press pick_folder takes the folder shown, close_picker cancels
//   drop PATH…                drops a file on the window (evidence for the open finding)
//   resolve FIELD N           takes version N of the conflict on FIELD of the open finding
//   await KEY VALUE…          waits (frame by frame, at most 120 s) until state()[KEY] is VALUE
//   await-row LIST TEXT…      waits the same way until the list has a row showing TEXT
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
#include <chrono>
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
    static constexpr std::chrono::seconds kAwaitLimit{120};
    std::size_t m_next = 0;
    std::optional<std::chrono::steady_clock::time_point> m_awaitSince;  // the await line's first try
    int m_settled = 0;  // frames drawn since the last action
};

}  // namespace xs::ui
