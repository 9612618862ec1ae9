#include "app/ui/headless.h"

#include <chrono>
#include <imgui.h>
#include <imgui_internal.h>  // the hovered window's scroll
#include "app/ui/fonts.h"
#include "app/ui/views.h"

namespace xs::ui {

namespace {
constexpr int kBackspaceIndex = ImGuiKey_Backspace + 1;  // KeysDown indices of our own (no GLFW)
}

struct HeadlessClient::Imgui {
    Imgui(int width, int height) {
        IMGUI_CHECKVERSION();
        ImGui::CreateContext();
        ImGuiIO& io = ImGui::GetIO();
        io.IniFilename = nullptr;
        io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;
        io.DisplaySize = ImVec2(static_cast<float>(width), static_cast<float>(height));
        io.DeltaTime = 1.0f / 60.0f;
        io.MousePos = ImVec2(static_cast<float>(width) / 2, static_cast<float>(height) / 2);
        for (int k = 0; k < ImGuiKey_COUNT; ++k) io.KeyMap[k] = k + 1;
        ImGui::StyleColorsLight();
    }
    ~Imgui() { ImGui::DestroyContext(); }
    Fonts fonts{{kCjkFontFile, kCjkFontFace, 18.0f}};
    ViewMemory memory;
};

HeadlessClient::HeadlessClient(Strings& strings, const std::filesystem::path& store, int width, int height)
    : m_imgui(std::make_unique<Imgui>(width, height)), m_c(strings, store) {}

HeadlessClient::~HeadlessClient() = default;

FrameParts HeadlessClient::frame(const HeadlessInput& input, std::string& problem) {
    using Clock = std::chrono::steady_clock;
    auto ms = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
    ImGuiIO& io = ImGui::GetIO();
    if (!input.characters.empty()) io.AddInputCharactersUTF8(input.characters.c_str());
    io.KeysDown[kBackspaceIndex] = input.backspaceDown;
    io.MouseWheel = input.wheel;
    FrameParts p;
    const auto t0 = Clock::now();
    m_c.poll(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    const auto t1 = Clock::now();
    if (auto r = m_imgui->fonts.update(m_c.glyphs()); !r)
        problem = r.message();
    else if (*r)
        m_imgui->fonts.releasePixels();  // nothing uploads them here
    const auto t2 = Clock::now();
    ImGui::NewFrame();
    const auto t3 = Clock::now();
    drawFrame(m_c, m_imgui->memory);
    const auto t4 = Clock::now();
    ImGui::Render();
    const auto t5 = Clock::now();
    for (const auto& refused : m_c.applyIntents()) problem = "intent refused: " + refused;
    const auto t6 = Clock::now();
    p.poll = ms(t0, t1);
    p.fonts = ms(t1, t2);
    p.newFrame = ms(t2, t3);
    p.draw = ms(t3, t4);
    p.render = ms(t4, t5);
    p.apply = ms(t5, t6);
    return p;
}

int HeadlessClient::atlasWidth() const { return ImGui::GetIO().Fonts->TexWidth; }
int HeadlessClient::atlasHeight() const { return ImGui::GetIO().Fonts->TexHeight; }
int HeadlessClient::atlasGlyphs() const {
    const ImFontAtlas* a = ImGui::GetIO().Fonts;
    return a->Fonts.empty() ? 0 : a->Fonts[0]->Glyphs.Size;
}
float HeadlessClient::hoveredScrollY() const {
    const ImGuiWindow* w = ImGui::GetCurrentContext()->HoveredWindow;
    return w ? w->Scroll.y : 0.0f;
}

}  // namespace xs::ui
