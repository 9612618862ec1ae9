// The thumbnails' decoder (app/ui/model/thumbnails.h): stb_image from Debian's libstb, then a
// box filter down to Thumbnails::kMaxSide. Thread-safe (stb_image keeps no state between calls
// but its failure reason, which is only read right after the call on the same thread).
#pragma once
#include <vector>
#include "app/ui/model/thumbnails.h"

namespace xs::ui {

Thumbnail decodeThumbnail(const std::vector<unsigned char>& bytes);

}  // namespace xs::ui
