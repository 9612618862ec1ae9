#include "app/ui/fonts.h"

#include <fstream>
#include <imgui.h>

namespace xs::ui {

static_assert(sizeof(ImWchar) == sizeof(unsigned short), "ImGui built with 16-bit ImWchar");

app::AResult<bool> Fonts::update(const GlyphSet& glyphs) {
    if (glyphs.generation() == m_builtGeneration) return false;
    if (m_file.empty()) {
        std::ifstream in(m_spec.file, std::ios::binary);
        if (!in) return xs::fail(app::AppError::NotFound, "cannot read the font " + m_spec.file.string() +
                                                             " (Debian package fonts-noto-cjk)");
        m_file.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        if (m_file.empty()) return xs::fail(app::AppError::Failed, "the font " + m_spec.file.string() + " is empty");
    }
    ImFontAtlas* atlas = ImGui::GetIO().Fonts;
    atlas->Clear();

    ImFontGlyphRangesBuilder builder;
    builder.AddRanges(atlas->GetGlyphRangesChineseSimplifiedCommon());
    for (char32_t c : gb2312Characters()) builder.AddChar(static_cast<ImWchar>(c));
    for (char32_t c : glyphs.codepoints()) builder.AddChar(static_cast<ImWchar>(c));
    ImVector<ImWchar> ranges;
    builder.BuildRanges(&ranges);
    m_ranges.assign(ranges.begin(), ranges.end());

    ImFontConfig config;
    config.FontNo = m_spec.face;
    config.FontDataOwnedByAtlas = false;  // m_file outlives the atlas's use of it
    config.OversampleH = 1;               // CJK: thousands of glyphs, keep the atlas small
    config.OversampleV = 1;
    config.PixelSnapH = true;
    ImFont* font = atlas->AddFontFromMemoryTTF(m_file.data(), static_cast<int>(m_file.size()), m_spec.pixels, &config,
                                               m_ranges.data());
    if (!font || !atlas->Build())
        return xs::fail(app::AppError::Failed, "the font " + m_spec.file.string() + " could not be built");
    m_builtGeneration = glyphs.generation();
    return true;
}

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
