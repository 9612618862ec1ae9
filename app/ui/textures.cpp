#include "app/ui/textures.h"

#include <GL/gl.h>

namespace xs::ui {

Textures::~Textures() {
    for (auto& [serial, e] : m_bySerial) glDeleteTextures(1, &e.id);
}

void* Textures::of(const Thumbnail& t) {
    if (t.rgba.empty() || t.width <= 0 || t.height <= 0) return nullptr;
    auto& e = m_bySerial[t.serial];
    e.used = true;
    if (e.id == 0) {
        glGenTextures(1, &e.id);
        glBindTexture(GL_TEXTURE_2D, e.id);
        glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
        glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
        glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
        glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, t.width, t.height, 0, GL_RGBA, GL_UNSIGNED_BYTE, t.rgba.data());
    }
    return reinterpret_cast<void*>(static_cast<std::uintptr_t>(e.id));
}

void Textures::endFrame() {
    for (auto it = m_bySerial.begin(); it != m_bySerial.end();) {
        if (!it->second.used) {
            glDeleteTextures(1, &it->second.id);
            it = m_bySerial.erase(it);
        } else {
            it->second.used = false;
            ++it;
        }
    }
}

}  // namespace xs::ui
