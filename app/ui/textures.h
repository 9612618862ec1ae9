// OpenGL textures of the controller's thumbnails (app/ui/model/thumbnails.h), made on first use
// and dropped when their thumbnail is gone. UI thread only (the GL context's).
#pragma once
#include <cstdint>
#include <map>
#include "app/ui/model/thumbnails.h"

namespace xs::ui {

class Textures {
public:
    Textures() = default;
    ~Textures();
    Textures(const Textures&) = delete;
    Textures& operator=(const Textures&) = delete;
    // The texture of a decoded thumbnail (0 when it has no pixels), as ImGui's ImTextureID.
    void* of(const Thumbnail& t);
    // Deletes the textures of thumbnails not asked for since the last call (once a frame).
    void endFrame();

private:
    struct Entry {
        unsigned int id = 0;
        bool used = false;
    };
    std::map<std::uint64_t, Entry> m_bySerial;
};

}  // namespace xs::ui
