#include "app/ui/fonts.h"

#include <fstream>
#include <imgui.h>

namespace xs::ui {

static_assert(sizeof(ImWchar) == sizeof(unsigned short), "ImGui built with 16-bit ImWchar");

namespace {

// The whole font collection in memory ImGui allocated, for the atlas to own and free.
app::AResult<void*> readFont(const std::filesystem::path& file, int& size) {
    std::ifstream in(file, std::ios::binary | std::ios::ate);
    if (!in) return xs::fail(app::AppError::NotFound, "cannot read the font " + file.string() + " (Debian package fonts-noto-cjk)");
    const std::streamoff n = in.tellg();
    if (n <= 0 || n > (std::streamoff{1} << 30)) return xs::fail(app::AppError::Failed, "the font " + file.string() + " is empty or too large");
    void* data = IM_ALLOC(static_cast<std::size_t>(n));
    in.seekg(0);
    if (!in.read(static_cast<char*>(data), n)) {
        IM_FREE(data);
        return xs::fail(app::AppError::Failed, "cannot read the font " + file.string());
    }
    size = static_cast<int>(n);
    return data;
}

}  // namespace

app::AResult<bool> Fonts::update(const GlyphSet& glyphs) {
    if (glyphs.generation() == m_builtGeneration) return false;
    if (m_builds > 0 && drawsAll(glyphs)) {  // what arrived is drawn already (ASCII, GB2312)
        m_builtGeneration = glyphs.generation();
        return false;
    }
    int size = 0;
    auto data = readFont(m_spec.file, size);
    if (!data) return data.error();
    ImFontAtlas* atlas = ImGui::GetIO().Fonts;
    atlas->Clear();

    ImFontGlyphRangesBuilder builder;
    for (ImWchar c = 0x20; c < 0x7F; ++c) builder.AddChar(c);  // printable ASCII: paths, numbers
    if (m_builds > 0) {
        builder.AddRanges(atlas->GetGlyphRangesChineseSimplifiedCommon());
        for (char32_t c : gb2312Characters()) builder.AddChar(static_cast<ImWchar>(c));
    }
    for (char32_t c : glyphs.codepoints()) builder.AddChar(static_cast<ImWchar>(c));
    ImVector<ImWchar> ranges;
    builder.BuildRanges(&ranges);
    m_ranges.assign(ranges.begin(), ranges.end());

    ImFontConfig config;
    config.FontNo = m_spec.face;
    config.FontDataOwnedByAtlas = true;  // freed by ClearInputData below
    config.OversampleH = 1;              // CJK: thousands of glyphs, keep the atlas small
    config.OversampleV = 1;
    config.PixelSnapH = true;
    ImFont* font = atlas->AddFontFromMemoryTTF(*data, size, m_spec.pixels, &config, m_ranges.data());
    if (!font) IM_FREE(*data);
    if (!font || !atlas->Build())
        return xs::fail(app::AppError::Failed, "the font " + m_spec.file.string() + " could not be built");
    atlas->ClearInputData();  // the 19 MB collection: the glyphs are baked
    m_builtGeneration = glyphs.generation();
    ++m_builds;
    return true;
}

bool Fonts::drawsAll(const GlyphSet& glyphs) const {
    const ImFontAtlas* atlas = ImGui::GetIO().Fonts;
    if (atlas->Fonts.empty()) return false;
    const ImFont* font = atlas->Fonts[0];
    for (char32_t c : glyphs.codepoints())
        if (c <= 0xFFFF && !font->FindGlyphNoFallback(static_cast<ImWchar>(c))) return false;
    return true;
}

void Fonts::releasePixels() { ImGui::GetIO().Fonts->ClearTexData(); }

std::u32string Fonts::missing(const std::u32string& chars) const {
    std::u32string out;
    ImFontAtlas* atlas = ImGui::GetIO().Fonts;
    if (atlas->Fonts.empty()) return chars;
    const ImFont* font = atlas->Fonts[0];
    for (char32_t c : chars) {
        if (c < 0x20) continue;
        if (c > 0xFFFF || !font->FindGlyphNoFallback(static_cast<ImWchar>(c))) out.push_back(c);
    }
    return out;
}

}  // namespace xs::ui
