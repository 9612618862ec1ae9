// The window's back buffer as a PNG (glReadPixels + stb_image_write), for the scripted mode.
// Call after the frame was rendered and before the buffers are swapped, with its context current.
#pragma once
#include <filesystem>
#include "app/error.h"

namespace xs::ui {

app::AStatus writeScreenshot(const std::filesystem::path& file, int width, int height);

}  // namespace xs::ui
