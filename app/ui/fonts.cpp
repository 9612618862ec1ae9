#include "app/ui/fonts.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <imgui.h>

namespace xs::ui {

static_assert(sizeof(ImWchar) == sizeof(unsigned short), "ImGui built with 16-bit ImWchar");

namespace {

// The font collection mapped read-only for one build: stb_truetype reads the tables and the
// glyphs it bakes (a few MB of the 19), and the pages go with the mapping.
class MappedFont {
public:
    MappedFont() = default;
    ~MappedFont() {
        if (m_data) ::munmap(m_data, m_size);
    }
    MappedFont(const MappedFont&) = delete;
    MappedFont& operator=(const MappedFont&) = delete;
    app::AStatus open(const std::filesystem::path& file) {
        const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return xs::fail(app::AppError::NotFound, "cannot read the font " + file.string() + " (Debian package fonts-noto-cjk)");
        struct stat st {};
        const bool sized = ::fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size < (off_t{1} << 30);
        void* p = sized ? ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
        ::close(fd);
        if (p == MAP_FAILED) return xs::fail(app::AppError::Failed, "cannot read the font " + file.string() + " (empty, too large or unmappable)");
        m_data = p;
        m_size = static_cast<std::size_t>(st.st_size);
        return {};
    }
    void* data() const { return m_data; }
    int size() const { return static_cast<int>(m_size); }

private:
    void* m_data = nullptr;
    std::size_t m_size = 0;
};

}  // namespace

app::AResult<bool> Fonts::update(const GlyphSet& glyphs, bool complete) {
    const bool fillIn = complete && m_builds == 1;
    if (glyphs.generation() == m_builtGeneration && !fillIn) return false;
    if (m_builds > 0 && !fillIn && drawsAll(glyphs)) {  // what arrived is drawn already (ASCII, GB2312)
        m_builtGeneration = glyphs.generation();
        return false;
    }
    MappedFont file;
    XS_TRY_APP(file.open(m_spec.file));
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
    // "Owned" so that ImGui 1.86 does not copy all 19 MB; the mapping is taken back from the atlas
    // before anything could free it (the glyphs are baked by then).
    config.FontDataOwnedByAtlas = true;
    config.OversampleH = 1;  // CJK: thousands of glyphs, keep the atlas small
    config.OversampleV = 1;
    config.PixelSnapH = true;
    ImFont* font = atlas->AddFontFromMemoryTTF(file.data(), file.size(), m_spec.pixels, &config, m_ranges.data());
    const bool built = font && atlas->Build();
    for (ImFontConfig& c : atlas->ConfigData) c.FontData = nullptr;
    atlas->ClearInputData();
    if (!built) return xs::fail(app::AppError::Failed, "the font " + m_spec.file.string() + " could not be built");
    m_builtGeneration = glyphs.generation();
    ++m_builds;
    return true;
}

bool Fonts::drawsAll(const GlyphSet& glyphs) const {
    const auto& points = glyphs.codepoints();  // below U+0020 and beyond the BMP never in the set
    return missing(std::u32string(points.begin(), points.end())).empty();
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
