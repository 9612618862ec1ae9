#include "app/ui/screenshot.h"

#include <cstring>
#include <vector>
#include <GLFW/glfw3.h>
#include <stb_image_write.h>

namespace xs::ui {

app::AStatus writeScreenshot(const std::filesystem::path& file, int width, int height) {
    if (width <= 0 || height <= 0) return xs::fail(app::AppError::Failed, "the window has no pixels to capture");
    const std::size_t stride = static_cast<std::size_t>(width) * 3;
    std::vector<unsigned char> pixels(stride * static_cast<std::size_t>(height));
    glPixelStorei(GL_PACK_ALIGNMENT, 1);
    glReadBuffer(GL_BACK);
    glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE, pixels.data());  // opaque RGB: no alpha to blank it
    if (glGetError() != GL_NO_ERROR) return xs::fail(app::AppError::Failed, "glReadPixels failed");
    // OpenGL's rows go bottom to top, a PNG's top to bottom.
    std::vector<unsigned char> row(stride);
    for (int y = 0; y < height / 2; ++y) {
        unsigned char* a = pixels.data() + static_cast<std::size_t>(y) * stride;
        unsigned char* b = pixels.data() + static_cast<std::size_t>(height - 1 - y) * stride;
        std::memcpy(row.data(), a, stride);
        std::memcpy(a, b, stride);
        std::memcpy(b, row.data(), stride);
    }
    if (!stbi_write_png(file.c_str(), width, height, 3, pixels.data(), static_cast<int>(stride)))
        return xs::fail(app::AppError::Failed, "cannot write " + file.string());
    return {};
}

}  // namespace xs::ui
