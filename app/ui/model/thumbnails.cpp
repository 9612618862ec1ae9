#include "app/ui/model/thumbnails.h"

#include <cctype>
#include <fstream>

namespace xs::ui {

Thumbnails::~Thumbnails() { clear(); }

bool Thumbnails::isImage(const std::string& name) {
    const auto dot = name.rfind('.');
    if (dot == std::string::npos) return false;
    std::string ext = name.substr(dot + 1);
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp" || ext == "gif" || ext == "tga";
}

void Thumbnails::start(const std::string& key, std::function<std::vector<unsigned char>(std::string&)> read) {
    m_requested[key] = true;
    std::uint64_t generation;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        generation = m_generation;
        ++m_running;
    }
    m_threads.emplace_back([this, key, read = std::move(read), generation, decoder = m_decoder] {
        std::string problem;
        std::vector<unsigned char> bytes = read(problem);
        if (problem.empty() && bytes.size() > kMaxFileBytes) problem = "too large to preview";
        Thumbnail t = problem.empty() ? decoder(bytes) : Thumbnail{};
        if (!problem.empty()) t.problem = problem;
        std::function<void()> wake;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            --m_running;
            if (generation == m_generation) m_done.emplace_back(key, std::move(t));
            wake = m_wake;
        }
        if (wake) wake();
    });
}

void Thumbnails::requestFile(const std::string& key, const std::string& path) {
    if (requested(key) || !m_decoder) return;
    start(key, [path](std::string& problem) {
        std::vector<unsigned char> bytes;
        std::ifstream in(path, std::ios::binary | std::ios::ate);
        if (!in) {
            problem = "cannot be read";
            return bytes;
        }
        const auto size = static_cast<std::uint64_t>(in.tellg());
        if (size > kMaxFileBytes) {
            problem = "too large to preview";
            return bytes;
        }
        bytes.resize(static_cast<std::size_t>(size));
        in.seekg(0);
        in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
        if (!in) problem = "cannot be read";
        return bytes;
    });
}

void Thumbnails::requestBytes(const std::string& key, std::vector<unsigned char> bytes) {
    if (requested(key) || !m_decoder) return;
    auto shared = std::make_shared<std::vector<unsigned char>>(std::move(bytes));
    start(key, [shared](std::string&) { return std::move(*shared); });
}

bool Thumbnails::poll() {
    std::vector<std::pair<std::string, Thumbnail>> done;
    bool idle;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        done.swap(m_done);
        idle = m_running == 0;
    }
    if (idle) {
        for (auto& t : m_threads) t.join();
        m_threads.clear();
    }
    for (auto& [key, t] : done) {
        t.serial = ++m_serial;
        m_ready[key] = std::move(t);
    }
    return !done.empty();
}

const Thumbnail* Thumbnails::get(const std::string& key) const {
    auto it = m_ready.find(key);
    return it == m_ready.end() ? nullptr : &it->second;
}

void Thumbnails::clear() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        ++m_generation;
        m_done.clear();
    }
    for (auto& t : m_threads) t.join();
    m_threads.clear();
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_done.clear();
    }
    m_ready.clear();
    m_requested.clear();
}

}  // namespace xs::ui
