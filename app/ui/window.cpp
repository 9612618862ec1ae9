#include "app/ui/window.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <utility>
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include "app/ui/fonts.h"
#include "app/ui/image.h"
#include "app/ui/model/controller.h"
#include "app/ui/model/script.h"
#include "app/ui/screenshot.h"
#include "app/ui/textures.h"
#include "app/ui/views.h"

namespace xs::ui {

namespace {

constexpr float kBaseFontPixels = 18.0f;

std::int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void glfwError(int code, const char* what) { std::fprintf(stderr, "xunshen: GLFW error %d: %s\n", code, what); }

bool writeText(const std::filesystem::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
    return static_cast<bool>(out);
}

std::int64_t steadyNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// --state-file: state() after each frame, replaced whole (a reader never sees half a file).
class StateFile {
public:
    explicit StateFile(std::filesystem::path file) : m_file(std::move(file)) {}
    void afterFrame(const Controller& c, GLFWwindow* window) {
        if (m_file.empty()) return;
        auto state = c.state();
        state["frames"] = ++m_frames;  // a reader knows a frame was drawn after what it sent
        state["focused"] = glfwGetWindowAttrib(window, GLFW_FOCUSED) ? "yes" : "no";
        state["item_active"] = ImGui::IsAnyItemActive() ? "yes" : "no";  // a field being edited, a button held
        const auto tmp = m_file.string() + ".tmp";
        std::error_code ec;
        if (writeText(tmp, state.dump(2) + "\n")) std::filesystem::rename(tmp, m_file, ec);
    }

private:
    std::filesystem::path m_file;
    long m_frames = 0;
};

// --timings: a JSON line per drawn frame (its view, the draw and the whole frame in ms) and per
// milestone, stamped with steadyNs(). "unlocked" is when the unlock task ended (its wake), so
// that "first_unlocked_frame" (the home view of the person's role, the store's data read) minus it
// is what the person waits for after the KDF.
class Timings {
public:
    explicit Timings(const std::filesystem::path& file) {
        if (file.empty()) return;
        m_out = std::fopen(file.c_str(), "w");
        if (m_out) milestone("start", steadyNs(), "none");
    }
    ~Timings() {
        if (m_out) std::fclose(m_out);
    }
    Timings(const Timings&) = delete;
    Timings& operator=(const Timings&) = delete;
    // The wake callback's thread: the last wake (the unlock task's, when one was running).
    void noteWake() { m_lastWakeNs.store(steadyNs()); }
    void frameStart() {
        m_frameStartNs = steadyNs();
        m_wakeBeforeFrameNs = m_lastWakeNs.load();  // before poll() starts anything that wakes
    }
    void drawn(double drawMs) { m_drawMs = drawMs; }
    // After the swap: the frame line, and the milestones it reached.
    void frameEnd(const Controller& c) {
        if (!m_out) return;
        const std::int64_t now = steadyNs();
        const char* view = viewName(c.view());
        if (m_frames++ == 0) milestone("first_frame", now, view);
        if (c.unlocked() && !m_sawUnlocked) {
            m_sawUnlocked = true;
            milestone("unlocked", m_wakeBeforeFrameNs, view);
            milestone("first_unlocked_frame", now, view);
        }
        if (c.view() == ViewId::Findings && !m_sawFindings) {
            m_sawFindings = true;
            milestone("first_findings_frame", now, view);
        }
        std::fprintf(m_out, "{\"event\":\"frame\",\"ns\":%lld,\"view\":\"%s\",\"draw_ms\":%.3f,\"frame_ms\":%.3f}\n",
                     static_cast<long long>(now), view, m_drawMs, static_cast<double>(now - m_frameStartNs) / 1e6);
        std::fflush(m_out);
    }

private:
    void milestone(const char* event, std::int64_t ns, const char* view) {
        std::fprintf(m_out, "{\"event\":\"%s\",\"ns\":%lld,\"view\":\"%s\"}\n", event, static_cast<long long>(ns), view);
    }
    std::FILE* m_out = nullptr;
    std::atomic<std::int64_t> m_lastWakeNs{0};
    std::int64_t m_frameStartNs = 0, m_wakeBeforeFrameNs = 0;
    double m_drawMs = 0;
    long m_frames = 0;
    bool m_sawUnlocked = false, m_sawFindings = false;
};

constexpr std::int64_t kQuietForFontMs = 300;  // no input this long: the full atlas is built

// Input events GLFW handed over since the loop last asked. Counted by callbacks installed before
// ImGui's backend, which calls them after its own: the loop keeps drawing without waiting while
// polls bring input. (The backend latches a press until the next frame; a press and its release
// taken by the last poll before a wait were drawn as "held" and the release never seen: the
// button stayed active and the click went nowhere until the mouse moved again.)
int g_inputEvents = 0;
int takeInputEvents() { return std::exchange(g_inputEvents, 0); }
void countInput() { ++g_inputEvents; }

// The window, its GL context and the ImGui context, torn down in the right order.
class Window {
public:
    ~Window() {
        if (m_fontTexture) glDeleteTextures(1, &m_fontTexture);
        if (m_imgui) {
            ImGui_ImplOpenGL3_Shutdown();
            ImGui_ImplGlfw_Shutdown();
            ImGui::DestroyContext();
        }
        if (m_window) glfwDestroyWindow(m_window);
        if (m_glfw) glfwTerminate();
    }
    // Empty on success, else why not.
    std::string open(const Options& o, bool scripted) {
        glfwSetErrorCallback(glfwError);
        if (!glfwInit()) return "no display: GLFW could not start (is DISPLAY set? under a test: xvfb-run -a)";
        m_glfw = true;
        glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
        glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
        glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
        if (scripted) glfwWindowHint(GLFW_RESIZABLE, GLFW_FALSE);
        float scale = 1.0f;
        if (GLFWmonitor* monitor = glfwGetPrimaryMonitor()) {
            float sx = 1.0f, sy = 1.0f;
            glfwGetMonitorContentScale(monitor, &sx, &sy);
            if (sx > 0.5f && sx < 8.0f) scale = sx;
        }
        m_scale = scale;
        const int w = o.sizeGiven || scripted ? o.width : static_cast<int>(static_cast<float>(o.width) * scale);
        const int h = o.sizeGiven || scripted ? o.height : static_cast<int>(static_cast<float>(o.height) * scale);
        m_window = glfwCreateWindow(w, h, "巡审 Xunshen", nullptr, nullptr);
        if (!m_window) return "no OpenGL 3.3 core context here (under Xvfb: LIBGL_ALWAYS_SOFTWARE=1)";
        glfwMakeContextCurrent(m_window);
        glfwSwapInterval(scripted ? 0 : 1);

        IMGUI_CHECKVERSION();
        ImGui::CreateContext();
        m_imgui = true;
        ImGuiIO& io = ImGui::GetIO();
        io.IniFilename = nullptr;  // nothing written beside wherever it was started
        io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;
        ImGui::StyleColorsLight();
        ImGui::GetStyle().ScaleAllSizes(scale);
        glfwSetMouseButtonCallback(m_window, [](GLFWwindow*, int, int, int) { countInput(); });
        glfwSetKeyCallback(m_window, [](GLFWwindow*, int, int, int, int) { countInput(); });
        glfwSetCharCallback(m_window, [](GLFWwindow*, unsigned) { countInput(); });
        glfwSetScrollCallback(m_window, [](GLFWwindow*, double, double) { countInput(); });
        glfwSetCursorPosCallback(m_window, [](GLFWwindow*, double, double) { countInput(); });
        ImGui_ImplGlfw_InitForOpenGL(m_window, true);  // chains the callbacks above
        ImGui_ImplOpenGL3_Init("#version 330");
        // The backend's device objects now, not at the first NewFrame: made then, they would
        // upload the atlas again as RGBA32 (rebuilding it from input data the atlas has freed).
        // Its font texture (ImGui's default font, the atlas being empty) is not used.
        ImGui_ImplOpenGL3_CreateDeviceObjects();
        ImGui_ImplOpenGL3_DestroyFontsTexture();
        return {};
    }
    GLFWwindow* get() const { return m_window; }
    float scale() const { return m_scale; }
    // Uploads the atlas just built as a one-channel texture and frees its pixels. ImGui's OpenGL3
    // backend would upload RGBA32: four times the bytes, kept by the atlas and again by Mesa. The
    // swizzle gives the shader (1, 1, 1, coverage), what it samples from the backend's white RGBA.
    void uploadFont(Fonts& fonts) {
        ImFontAtlas* atlas = ImGui::GetIO().Fonts;
        unsigned char* pixels = nullptr;
        int w = 0, h = 0;
        atlas->GetTexDataAsAlpha8(&pixels, &w, &h);
        if (m_fontTexture) glDeleteTextures(1, &m_fontTexture);
        glGenTextures(1, &m_fontTexture);
        glBindTexture(GL_TEXTURE_2D, m_fontTexture);
        glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
        glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
        const GLint swizzle[] = {GL_ONE, GL_ONE, GL_ONE, GL_RED};
        glTexParameteriv(GL_TEXTURE_2D, GL_TEXTURE_SWIZZLE_RGBA, swizzle);
        glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
        glTexImage2D(GL_TEXTURE_2D, 0, GL_R8, w, h, 0, GL_RED, GL_UNSIGNED_BYTE, pixels);
        atlas->SetTexID(reinterpret_cast<ImTextureID>(static_cast<std::intptr_t>(m_fontTexture)));
        fonts.releasePixels();
    }

private:
    GLuint m_fontTexture = 0;
    bool m_glfw = false, m_imgui = false;
    GLFWwindow* m_window = nullptr;
    float m_scale = 1.0f;
};

// Files dropped on the window: evidence for the finding being edited (an intent, like a click).
void onDrop(GLFWwindow* window, int count, const char** paths) {
    auto* c = static_cast<Controller*>(glfwGetWindowUserPointer(window));
    if (!c) return;
    DropFiles d;
    for (int i = 0; i < count; ++i) d.paths.emplace_back(paths[i]);
    c->post(std::move(d));
    glfwPostEmptyEvent();
}

// One frame: events already taken; draws the views and renders them into the back buffer.
// Returns the milliseconds from NewFrame to Render (the views and ImGui, no GL).
double renderFrame(GLFWwindow* window, Controller& c, ViewMemory& memory) {
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    const auto t0 = std::chrono::steady_clock::now();
    ImGui::NewFrame();
    drawFrame(c, memory);
    ImGui::Render();
    const double drawMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    int w = 0, h = 0;
    glfwGetFramebufferSize(window, &w, &h);
    glViewport(0, 0, w, h);
    glClearColor(0.94f, 0.94f, 0.94f, 1.0f);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    return drawMs;
}

}  // namespace

int runClient(const Options& options) {
    Timings timings(options.timingsFile);
    auto strings = Strings::load(Strings::defaultFile());
    if (!strings) {
        std::fprintf(stderr, "xunshen: %s\n", strings.message().c_str());
        return 2;
    }
    strings->setLang(options.lang);

    std::optional<ScriptRunner> runner;
    if (!options.script.empty()) {
        std::ifstream in(options.script, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "xunshen: cannot read the script %s\n", options.script.c_str());
            return 2;
        }
        std::ostringstream text;
        text << in.rdbuf();
        auto steps = parseScript(text.str());
        if (!steps) {
            std::fprintf(stderr, "xunshen: %s: %s\n", options.script.c_str(), steps.message().c_str());
            return 2;
        }
        std::error_code ec;
        std::filesystem::create_directories(options.screenshotDir, ec);
        if (ec) {
            std::fprintf(stderr, "xunshen: cannot create %s: %s\n", options.screenshotDir.c_str(), ec.message().c_str());
            return 2;
        }
        runner.emplace(std::move(*steps));
    }

    Window window;
    if (auto why = window.open(options, runner.has_value()); !why.empty()) {
        std::fprintf(stderr, "xunshen: %s\n", why.c_str());
        return 3;
    }
    Fonts fonts({kCjkFontFile, kCjkFontFace, kBaseFontPixels * window.scale()});
    StateFile stateFile(options.stateFile);
    int rc = 0;
    {
        Controller c(*strings, options.store);
        c.setWake([&timings] {
            timings.noteWake();
            glfwPostEmptyEvent();
        });
        c.thumbnails().setDecoder(decodeThumbnail);
        ViewMemory memory;
        Textures textures;  // before the GL context goes (it is the Window's, outlives this block)
        memory.textures = &textures;
        glfwSetWindowUserPointer(window.get(), &c);
        glfwSetDropCallback(window.get(), onDrop);
        std::optional<std::string> pendingShot;
        std::int64_t idleUntilMs = 0;  // a script's `wait`: till then the loop waits as unscripted
        int eagerFrames = 2;  // frames drawn without waiting, so ImGui settles after an event
        std::int64_t quietSinceMs = nowMs();  // the last input ImGui saw
        takeInputEvents();
        while (!glfwWindowShouldClose(window.get())) {
            const bool idling = runner && nowMs() < idleUntilMs;
            if (runner && !idling) {
                glfwWaitEventsTimeout(0.005);  // a script's frames, without spinning a core
            } else if (eagerFrames > 0) {
                glfwPollEvents();
                eagerFrames = takeInputEvents() > 0 ? 2 : eagerFrames - 1;
            } else {
                // Idle costs nothing: sleep until input or a wake (the unlock task, the sync
                // worker); with a server, the status line's clock also wants a frame a second.
                // And the auto-lock must fire with nobody touching the window.
                const auto due = c.lockDueMs();
                const double untilLock = due ? std::max(0.0, static_cast<double>(*due - nowMs()) / 1000.0 + 0.01) : -1.0;
                if (idling)  // the script goes on at the end of its wait, input or not
                    glfwWaitEventsTimeout(std::min(std::max(0.0, static_cast<double>(idleUntilMs - nowMs()) / 1000.0),
                                                   due ? untilLock : 3600.0));
                else if (c.busy())
                    glfwWaitEventsTimeout(0.05);
                else if (c.working())  // a progress bar moves
                    glfwWaitEventsTimeout(0.1);
                else if (!fonts.full())  // the full atlas is built once nobody has touched the window for a while
                    glfwWaitEventsTimeout(static_cast<double>(kQuietForFontMs) / 1000.0);
                else if (c.status().haveServer)
                    glfwWaitEventsTimeout(due ? std::min(1.0, untilLock) : 1.0);
                else if (due)
                    glfwWaitEventsTimeout(untilLock);
                else
                    glfwWaitEvents();
                takeInputEvents();
                eagerFrames = 2;
            }
            timings.frameStart();
            {
                // Input counts as activity for the auto-lock (a script's lines count through
                // their intents).
                const ImGuiIO& io = ImGui::GetIO();
                bool input = io.MouseDelta.x != 0 || io.MouseDelta.y != 0 || io.InputQueueCharacters.Size > 0 ||
                             io.MouseWheel != 0;
                for (int b = 0; b < 5 && !input; ++b) input = io.MouseDown[b];
                for (int k = 0; k < IM_ARRAYSIZE(io.KeysDown) && !input; ++k) input = io.KeysDown[k];
                if (input) {
                    c.noteActivity(nowMs());
                    quietSinceMs = nowMs();
                }
            }
            c.poll(nowMs());
            // GB2312 and the common set while the window is quiet (a person reading the unlock
            // view, typing nothing yet), not after unlock with the store's data in memory: the
            // data's characters are then mostly drawn already, and the build's peak (the mapped
            // font) is not on top of the data's.
            auto rebuilt = fonts.update(c.glyphs(), !fonts.full() && nowMs() - quietSinceMs >= kQuietForFontMs);
            if (!rebuilt) {
                std::fprintf(stderr, "xunshen: %s\n", rebuilt.message().c_str());
                rc = 3;
                break;
            }
            if (*rebuilt) window.uploadFont(fonts);
            timings.drawn(renderFrame(window.get(), c, memory));
            if (pendingShot) {
                int w = 0, h = 0;
                glfwGetFramebufferSize(window.get(), &w, &h);
                const auto png = options.screenshotDir / (*pendingShot + ".png");
                if (auto s = writeScreenshot(png, w, h); !s) {
                    std::fprintf(stderr, "xunshen: %s\n", s.message().c_str());
                    rc = 1;
                    break;
                }
                auto state = c.state();
                const auto& points = c.glyphs().codepoints();
                state["missing_glyphs"] = fonts.missing(std::u32string(points.begin(), points.end())).size();
                writeText(options.screenshotDir / (*pendingShot + ".json"), state.dump(2) + "\n");
                pendingShot.reset();
            }
            glfwSwapBuffers(window.get());
            timings.frameEnd(c);
            for (const auto& problem : c.applyIntents()) std::fprintf(stderr, "xunshen: %s\n", problem.c_str());
            stateFile.afterFrame(c, window.get());
            if (!runner || nowMs() < idleUntilMs) continue;
            auto next = runner->afterFrame(c);
            if (next.kind == ScriptRunner::Next::Kind::Screenshot) {
                pendingShot = next.text;
            } else if (next.kind == ScriptRunner::Next::Kind::Idle) {
                idleUntilMs = nowMs() + 1000 * static_cast<std::int64_t>(next.seconds);
            } else if (next.kind == ScriptRunner::Next::Kind::Failed) {
                std::fprintf(stderr, "xunshen: %s: %s\n", options.script.c_str(), next.text.c_str());
                writeText(options.screenshotDir / "state.json", c.state().dump(2) + "\n");
                rc = 1;
                break;
            } else if (next.kind == ScriptRunner::Next::Kind::Done) {
                writeText(options.screenshotDir / "state.json", c.state().dump(2) + "\n");
                break;
            }
        }
        glfwSetDropCallback(window.get(), nullptr);
        glfwSetWindowUserPointer(window.get(), nullptr);
    }
    return rc;
}

}  // namespace xs::ui
