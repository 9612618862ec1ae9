// Thumbnails of evidence images for the finding editor: decoded off the UI thread and scaled
// down to at most kMaxSide pixels a side, RGBA. The decoder is the window's (app/ui/image.h,
// stb_image from Debian's libstb: image parsing stays with the drawing code, not in the model);
// without one, nothing is previewed. The window turns thumbnails into textures
// (app/ui/textures.h); nothing here draws.
//
// The bytes come from a file being attached (read on the decoding thread, bounded) or from the
// store (Session::previewEvidence, read by the caller on the UI thread: the session is the UI's).
//
// Thread-safety: request(), poll() and get() on the UI thread; decodes run on threads of their
// own and hand their result back under m_mutex.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace xs::ui {

struct Thumbnail {
    int width = 0, height = 0;
    std::vector<unsigned char> rgba;  // width * height * 4
    std::string problem;              // not decoded: why (not an image, too large, unreadable)
    std::uint64_t serial = 0;         // distinct per thumbnail (texture caches key on it)
};

class Thumbnails {
public:
    static constexpr int kMaxSide = 160;
    static constexpr std::uint64_t kMaxFileBytes = std::uint64_t{64} << 20;  // larger images are listed, not previewed

    Thumbnails() = default;
    ~Thumbnails();
    Thumbnails(const Thumbnails&) = delete;
    Thumbnails& operator=(const Thumbnails&) = delete;

    // Whether a file of this name is an image stb_image decodes (by its extension).
    static bool isImage(const std::string& name);
    // Decodes `path` (at most kMaxFileBytes) unless `key` was requested before.
    void requestFile(const std::string& key, const std::string& path);
    // Decodes bytes already in memory.
    void requestBytes(const std::string& key, std::vector<unsigned char> bytes);
    bool requested(const std::string& key) const { return m_requested.count(key) != 0; }
    // Takes finished decodes; whether any arrived.
    bool poll();
    const Thumbnail* get(const std::string& key) const;  // null: not decoded (yet)
    // Drops every thumbnail (on lock: they are pictures of evidence).
    void clear();
    void setWake(std::function<void()> wake) { m_wake = std::move(wake); }

    // Decodes and scales bytes to a thumbnail of at most kMaxSide a side (problem set when not an
    // image). Called on the decoding threads: must be thread-safe.
    using Decoder = std::function<Thumbnail(const std::vector<unsigned char>& bytes)>;
    void setDecoder(Decoder d) { m_decoder = std::move(d); }
    bool canDecode() const { return static_cast<bool>(m_decoder); }

private:
    // Runs read + decode on a thread of its own; the result lands in m_done.
    void start(const std::string& key, std::function<std::vector<unsigned char>(std::string& problem)> read);
    std::function<void()> m_wake;
    Decoder m_decoder;                                 // set before the first request
    std::map<std::string, Thumbnail> m_ready;          // UI thread
    std::map<std::string, bool> m_requested;           // UI thread
    std::vector<std::thread> m_threads;                // UI thread; joined by poll() once done, and on clear/destruction
    std::uint64_t m_serial = 0;                        // UI thread
    std::mutex m_mutex;
    std::vector<std::pair<std::string, Thumbnail>> m_done;  // guarded by m_mutex
    std::uint64_t m_generation = 0;                         // guarded by m_mutex: clear() drops late results
    std::size_t m_running = 0;                              // guarded by m_mutex
};

}  // namespace xs::ui
