// The client's font: Noto Sans CJK SC (fonts-noto-cjk, NotoSansCJK-Regular.ttc face 2) with glyph
// ranges built from ImGui's ChineseSimplifiedCommon set plus every character the client may draw
// (app/ui/model/glyphs.h): the common set alone lacks everyday words of this domain (履职, 贿赂,
// 账簿). The atlas is rebuilt when that set grows.
//
// Thread-safety: the UI thread, with the ImGui context current.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>
#include "app/error.h"
#include "app/ui/model/glyphs.h"

namespace xs::ui {

inline constexpr const char* kCjkFontFile = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
inline constexpr int kCjkFontFace = 2;  // Noto Sans CJK SC in the collection

struct FontSpec {
    std::filesystem::path file = kCjkFontFile;
    int face = kCjkFontFace;
    float pixels = 18.0f;  // already multiplied by the monitor's content scale
};

class Fonts {
public:
    explicit Fonts(FontSpec spec) : m_spec(std::move(spec)) {}
    // Rebuilds the current context's atlas when `glyphs` changed since the last build. Returns
    // whether it did (the renderer must upload the texture again); Failed: the font is unreadable.
    app::AResult<bool> update(const GlyphSet& glyphs);
    // The characters of `chars` the built font would draw with its fallback glyph.
    std::u32string missing(const std::u32string& chars) const;
    float pixels() const { return m_spec.pixels; }

private:
    FontSpec m_spec;
    std::vector<char> m_file;               // the font collection, read once
    std::vector<unsigned short> m_ranges;   // ImWchar pairs, alive as long as the atlas uses them
    std::uint64_t m_builtGeneration = ~std::uint64_t{0};
};

}  // namespace xs::ui
