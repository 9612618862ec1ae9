// The client's font: Noto Sans CJK SC (fonts-noto-cjk, NotoSansCJK-Regular.ttc face 2) with glyph
// ranges built from ImGui's ChineseSimplifiedCommon set, all of GB2312, and every character the
// client may draw (app/ui/model/glyphs.h): the common set alone lacks everyday words of this domain
// (履职, 贿赂, 账簿). The atlas is rebuilt when that set grows.
//
// The launch's atlas (the first build) is the glyph set alone: the string table and the store's
// path, what the unlock view draws (a passphrase is drawn masked), a few hundred glyphs. GB2312
// and the common set (7,847 glyphs, 110-240 ms with stb_truetype) come with the next build: when
// the window has been quiet a moment (the client asks: `complete`), or with the first character
// beyond the launch's set, typed or read from the store at unlock. So the window shows that much
// sooner, and the full build is usually done before the unlock rather than after it.
//
// Memory: the font collection (19 MB) is mapped read-only for a build, so only the pages the
// build reads become resident, and unmapped after it (ImGui 1.86 would copy font data it does not
// own: the collection was in memory twice). The 8-bit pixels stay until the renderer has uploaded
// them (releasePixels()).
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
    // Rebuilds the current context's atlas when `glyphs` holds a character it lacks, or when
    // `complete` and the atlas is the launch's (GB2312 and the common set then, nothing new asked).
    // Returns whether it did (the renderer must upload the texture again); Failed: the font is
    // unreadable.
    app::AResult<bool> update(const GlyphSet& glyphs, bool complete = false);
    // Whether the atlas holds GB2312 and the common set (every build after the launch's).
    bool full() const { return m_builds > 1; }
    // Frees the atlas's pixels once the renderer has them (the glyph tables stay: missing() works).
    void releasePixels();
    // The characters of `chars` the built font would draw with its fallback glyph.
    std::u32string missing(const std::u32string& chars) const;
    float pixels() const { return m_spec.pixels; }

private:
    bool drawsAll(const GlyphSet& glyphs) const;

    FontSpec m_spec;
    std::vector<unsigned short> m_ranges;   // ImWchar pairs, alive as long as the atlas uses them
    std::uint64_t m_builtGeneration = ~std::uint64_t{0};
    int m_builds = 0;
};

}  // namespace xs::ui
