// The characters the client has to be able to draw: every text of the string table, every text
// of the open store it shows, every text a person typed. The font layer (app/ui/fonts.h) builds
// its glyph ranges from this set and rebuilds the atlas when generation() moves.
//
// Thread-safety: UI thread only.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

namespace xs::ui {

// The code points of UTF-8 text; a malformed sequence yields U+FFFD and resynchronises.
std::u32string decodeUtf8(std::string_view text);

// Every character of GB2312 (its 6,763 hanzi and its symbol rows) as Unicode, read through
// glibc's iconv tables (no data file of ours); empty if this system's iconv lacks GB2312. The
// font's glyph ranges take all of it: "SimplifiedCommon" alone lacks 履, 赂, 账 and 簿.
const std::u32string& gb2312Characters();

class GlyphSet {
public:
    // Adds the characters of `text` that are not in the set yet (controls below U+0020 are
    // skipped; code points beyond the BMP too: ImGui 1.86 here draws 16-bit ImWchar only).
    // Returns whether anything was new; then generation() moves.
    bool add(std::string_view text);
    const std::set<char32_t>& codepoints() const { return m_points; }
    std::uint64_t generation() const { return m_generation; }

private:
    std::set<char32_t> m_points;
    std::uint64_t m_generation = 0;
};

}  // namespace xs::ui
