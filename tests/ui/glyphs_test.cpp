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

TEST_CASE("ui fonts: a character the data did not ask for and the common set lacks falls back (the check can fail)") {
    Context ctx;
    GlyphSet glyphs;
    glyphs.add("巡审");
    Fonts fonts({kCjkFontFile, kCjkFontFace, 18.0f});
    auto built = fonts.update(glyphs);
    REQUIRE(built.ok());
    CHECK(fonts.missing(U"巡审").empty());
    CHECK(fonts.missing(U"簿赂") == U"簿赂");  // not in ChineseSimplifiedCommon
    glyphs.add("账簿 贿赂");
    built = fonts.update(glyphs);  // the set grew: rebuilt with it
    REQUIRE(built.ok());
    CHECK(*built);
    CHECK(fonts.missing(U"簿赂").empty());
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
