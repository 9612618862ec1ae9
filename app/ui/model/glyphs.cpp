#include "app/ui/model/glyphs.h"

#include <iconv.h>

namespace xs::ui {

std::u32string decodeUtf8(std::string_view text) {
    std::u32string out;
    std::size_t i = 0;
    while (i < text.size()) {
        const auto b = static_cast<unsigned char>(text[i]);
        int extra = b < 0x80 ? 0 : (b >> 5) == 0x6 ? 1 : (b >> 4) == 0xE ? 2 : (b >> 3) == 0x1E ? 3 : -1;
        if (extra < 0 || i + static_cast<std::size_t>(extra) >= text.size()) {
            out.push_back(U'\uFFFD');
            ++i;
            continue;
        }
        char32_t cp = extra == 0 ? b : (b & (0x3Fu >> extra));
        bool ok = true;
        for (int k = 1; k <= extra; ++k) {
            const auto c = static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]);
            if ((c & 0xC0) != 0x80) {
                ok = false;
                break;
            }
            cp = (cp << 6) | (c & 0x3F);
        }
        if (!ok) {
            out.push_back(U'\uFFFD');
            ++i;
            continue;
        }
        out.push_back(cp);
        i += static_cast<std::size_t>(extra) + 1;
    }
    return out;
}

const std::u32string& gb2312Characters() {
    static const std::u32string all = [] {
        std::u32string out;
        iconv_t cd = iconv_open("UTF-32LE", "GB2312");
        if (cd == reinterpret_cast<iconv_t>(-1)) return out;
        // EUC-CN: rows 0xA1..0xF7 (symbols, then the two levels of hanzi), columns 0xA1..0xFE.
        for (int row = 0xA1; row <= 0xF7; ++row) {
            for (int col = 0xA1; col <= 0xFE; ++col) {
                char in[2] = {static_cast<char>(row), static_cast<char>(col)};
                unsigned char u[8] = {};
                char* ip = in;
                char* op = reinterpret_cast<char*>(u);
                std::size_t il = 2, ol = sizeof u;
                iconv(cd, nullptr, nullptr, nullptr, nullptr);  // a fresh state for each
                if (iconv(cd, &ip, &il, &op, &ol) == static_cast<std::size_t>(-1) || ol != 4) continue;  // unassigned
                out.push_back(static_cast<char32_t>(u[0] | (u[1] << 8) | (u[2] << 16) | (static_cast<char32_t>(u[3]) << 24)));
            }
        }
        iconv_close(cd);
        return out;
    }();
    return all;
}

bool GlyphSet::add(std::string_view text) {
    bool grew = false;
    for (char32_t c : decodeUtf8(text)) {
        if (c < 0x20 || c > 0xFFFF) continue;
        grew |= m_points.insert(c).second;
    }
    if (grew) ++m_generation;
    return grew;
}

}  // namespace xs::ui
