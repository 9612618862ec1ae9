#include "app/ui/image.h"

#include <algorithm>
#include <stb_image.h>

namespace xs::ui {

Thumbnail decodeThumbnail(const std::vector<unsigned char>& bytes) {
    Thumbnail t;
    if (bytes.empty()) {
        t.problem = "empty";
        return t;
    }
    int w = 0, h = 0, n = 0;
    unsigned char* px = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &n, 4);
    if (!px) {
        t.problem = stbi_failure_reason() ? stbi_failure_reason() : "not an image";
        return t;
    }
    // Box-average down to kMaxSide on the longer side (no upscaling).
    const int maxSide = Thumbnails::kMaxSide;
    const double scale = std::max(1.0, static_cast<double>(std::max(w, h)) / maxSide);
    t.width = std::max(1, static_cast<int>(w / scale));
    t.height = std::max(1, static_cast<int>(h / scale));
    t.rgba.assign(static_cast<std::size_t>(t.width) * static_cast<std::size_t>(t.height) * 4, 0);
    for (int y = 0; y < t.height; ++y) {
        const int y0 = static_cast<int>(y * scale), y1 = std::min(h, std::max(y0 + 1, static_cast<int>((y + 1) * scale)));
        for (int x = 0; x < t.width; ++x) {
            const int x0 = static_cast<int>(x * scale), x1 = std::min(w, std::max(x0 + 1, static_cast<int>((x + 1) * scale)));
            unsigned sum[4] = {0, 0, 0, 0};
            unsigned count = 0;
            for (int yy = y0; yy < y1; ++yy)
                for (int xx = x0; xx < x1; ++xx) {
                    const unsigned char* p = px + (static_cast<std::size_t>(yy) * static_cast<std::size_t>(w) + static_cast<std::size_t>(xx)) * 4;
                    for (int k = 0; k < 4; ++k) sum[k] += p[k];
                    ++count;
                }
            unsigned char* out = t.rgba.data() + (static_cast<std::size_t>(y) * static_cast<std::size_t>(t.width) + static_cast<std::size_t>(x)) * 4;
            for (int k = 0; k < 4; ++k) out[k] = static_cast<unsigned char>(sum[k] / std::max(1u, count));
        }
    }
    stbi_image_free(px);
    return t;
}

}  // namespace xs::ui
