// The client's font draws every text it has: each entry of the string table and every character
// of the demo data, with no glyph falling back (ImFont::FindGlyphNoFallback), in a real atlas
// built by app/ui/fonts.h from Noto Sans CJK SC — and it would notice one that did.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <imgui.h>

#include "app/ui/fonts.h"
#include "app/ui/model/glyphs.h"
#include "app/ui/model/strings.h"

namespace xs::ui {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    REQUIRE_MESSAGE(in, file.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string show(const std::u32string& chars) {
    std::string out;
    for (char32_t c : chars) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "U+%04X ", static_cast<unsigned>(c));
        out += buf;
    }
    return out;
}

// An ImGui context of its own, without a window: the atlas is built on the CPU.
struct Context {
    Context() { ImGui::CreateContext(); }
    ~Context() { ImGui::DestroyContext(); }
};

TEST_CASE("ui fonts: every string-table entry and every character of the demo data has its own glyph") {
    Context ctx;
    auto strings = Strings::load(fs::path(XS_SOURCE_DIR) / "assets/i18n/strings.json");
    REQUIRE(strings.ok());
    GlyphSet glyphs;
    std::u32string wanted;
    for (const auto& t : strings->allTexts()) {
        glyphs.add(t);
        wanted += decodeUtf8(t);
    }
    // The store text the client shows comes from these files (titles, descriptions, names).
    for (const char* file : {"assets/demo/findings.json", "assets/demo/org.json"}) {
        const std::string text = slurp(fs::path(XS_SOURCE_DIR) / file);
        glyphs.add(text);
        wanted += decodeUtf8(text);
    }
    Fonts fonts({kCjkFontFile, kCjkFontFace, 18.0f});
    auto built = fonts.update(glyphs);
    REQUIRE_MESSAGE(built.ok(), (built.ok() ? std::string() : built.message()));
    CHECK(*built);
    const std::u32string missing = fonts.missing(wanted);
    CHECK_MESSAGE(missing.empty(), "no glyph for: " << show(missing));
    // Characters the common set lacks (履, 账, 簿) are there because the data asked for them.
    CHECK(fonts.missing(U"履账簿").empty());

    // Nothing changed: no rebuild.
    auto again = fonts.update(glyphs);
    REQUIRE(again.ok());
    CHECK_FALSE(*again);
}

TEST_CASE("ui fonts: a character the data did not ask for and neither GB2312 nor the common set holds falls back (the check can fail)") {
    Context ctx;
    GlyphSet glyphs;
    glyphs.add("巡审");
    Fonts fonts({kCjkFontFile, kCjkFontFace, 18.0f});
    auto built = fonts.update(glyphs);
    REQUIRE(built.ok());
    CHECK(fonts.missing(U"巡审").empty());
    CHECK(fonts.missing(U"臺灣") == U"臺灣");  // traditional forms: in no range the atlas starts with
    glyphs.add("臺灣");
    built = fonts.update(glyphs);  // the set grew: rebuilt with it
    REQUIRE(built.ok());
    CHECK(*built);
    CHECK(fonts.missing(U"臺灣").empty());
}

TEST_CASE("ui fonts: the launch atlas is the set alone, and with the first character beyond it comes all of GB2312 - 履, 赂, 账, 簿 that the common set lacks among them") {
    const std::u32string& gb = gb2312Characters();
    REQUIRE_MESSAGE(gb.size() > 7000, "glibc's iconv has GB2312: 6,763 hanzi and 682 symbols");
    CHECK(gb.size() == 6763 + 682);
    for (char32_t c : std::u32string(U"履赂账簿巡审")) CHECK(gb.find(c) != std::u32string::npos);
    CHECK(gb.find(U'臺') == std::u32string::npos);
    Context ctx;
    GlyphSet glyphs;
    glyphs.add("解锁");
    Fonts fonts({kCjkFontFile, kCjkFontFace, 18.0f});
    REQUIRE(fonts.update(glyphs).ok());
    CHECK_FALSE(fonts.full());
    CHECK(fonts.missing(U"解锁 /tmp/a.b ~").empty());    // the set and printable ASCII
    CHECK(fonts.missing(U"履赂账簿") == U"履赂账簿");  // the launch's atlas has no GB2312 yet

    glyphs.add("巡");  // one character beyond it: typed, or the store's data at unlock
    auto built = fonts.update(glyphs);
    REQUIRE(built.ok());
    CHECK(*built);
    CHECK(fonts.full());
    CHECK_MESSAGE(fonts.missing(U"履赂账簿").empty(), show(fonts.missing(U"履赂账簿")));
    // Every hanzi of GB2312 has its own glyph in the font (the symbols include a few the font
    // draws from elsewhere, so only the hanzi rows are checked).
    std::u32string hanzi;
    for (char32_t c : gb)
        if (c >= 0x4E00 && c <= 0x9FFF) hanzi.push_back(c);
    CHECK(hanzi.size() == 6763);
    CHECK_MESSAGE(fonts.missing(hanzi).empty(), show(fonts.missing(hanzi).substr(0, 20)));

    // Characters the atlas draws already (GB2312, ASCII) arriving later rebuild nothing.
    glyphs.add("履q");
    auto again = fonts.update(glyphs);
    REQUIRE(again.ok());
    CHECK_FALSE(*again);
}

TEST_CASE("ui fonts: asked to complete the launch atlas (the window quiet), GB2312 is built with nothing new in the set, once") {
    Context ctx;
    GlyphSet glyphs;
    glyphs.add("解锁");
    Fonts fonts({kCjkFontFile, kCjkFontFace, 18.0f});
    auto launch = fonts.update(glyphs, true);  // the first build is the launch's, asked or not
    REQUIRE(launch.ok());
    CHECK(*launch);
    CHECK_FALSE(fonts.full());
    auto completed = fonts.update(glyphs, true);
    REQUIRE(completed.ok());
    CHECK(*completed);
    CHECK(fonts.full());
    CHECK(fonts.missing(U"履赂账簿解锁").empty());
    auto again = fonts.update(glyphs, true);
    REQUIRE(again.ok());
    CHECK_FALSE(*again);
}

TEST_CASE("ui fonts: a missing font file is an error a person can act on") {
    Context ctx;
    GlyphSet glyphs;
    Fonts fonts({"/nonexistent/font.ttc", 2, 18.0f});
    auto built = fonts.update(glyphs);
    REQUIRE_FALSE(built.ok());
    CHECK(built.message().find("fonts-noto-cjk") != std::string::npos);
}

}  // namespace
}  // namespace xs::ui
