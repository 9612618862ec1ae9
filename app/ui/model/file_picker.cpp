#include "app/ui/model/file_picker.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

namespace xs::ui {

namespace fs = std::filesystem;

namespace {

bool isFolder(const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}

// A mount point as /proc/self/mounts writes it: space, tab, newline and backslash as \ooo.
std::string unescapeMount(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto octal = [&](std::size_t k) { return s[k] >= '0' && s[k] <= '7'; };
        if (s[i] == '\\' && i + 3 < s.size() && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
            out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

}  // namespace

void FilePicker::open(const std::string& current, bool folderTarget, const fs::path& home) {
    m_open = true;
    m_folderTarget = folderTarget;
    m_problem.clear();
    findPlaces(home);
    fs::path start = home;
    if (!current.empty()) {
        const fs::path p(current);
        if (isFolder(p)) start = p;
        else if (p.has_parent_path() && isFolder(p.parent_path())) start = p.parent_path();
    }
    if (!isFolder(start)) start = "/";
    m_folder.clear();
    list(start);
}

void FilePicker::findPlaces(const fs::path& home) {
    m_places.clear();
    if (!home.empty()) m_places.push_back({"picker.home", home});
    // Removable media: what is mounted under /media (udisks2 mounts a stick at
    // /media/<user>/<label>) or /run/media — only real mounts, not folders that happen to be
    // there (and not /mnt: an administrator's mounts, often network shares). The mount table is
    // read with a bound (it is a few KiB).
    std::ifstream mounts("/proc/self/mounts");
    std::string line;
    std::size_t read = 0;
    while (m_places.size() < 32 && read < (1u << 20) && std::getline(mounts, line)) {
        read += line.size() + 1;
        std::istringstream fields(line);
        std::string device, point;
        if (!(fields >> device >> point)) continue;
        point = unescapeMount(point);
        for (const char* root : {"/media/", "/run/media/"})
            if (point.rfind(root, 0) == 0 && point.size() > std::strlen(root)) m_places.push_back({"picker.usb", point});
    }
}

void FilePicker::list(const fs::path& folder) {
    std::error_code ec;
    fs::directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
        m_problem = folder.string() + ": " + ec.message();
        return;  // the listing shown stays
    }
    std::vector<Entry> entries;
    bool truncated = false;
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.empty() || name[0] == '.') continue;  // hidden, as file managers do
        if (entries.size() >= kMaxEntries) {
            truncated = true;
            break;
        }
        Entry e;
        e.name = name;
        std::error_code typeEc;
        e.folder = it->is_directory(typeEc);
        if (!e.folder) {
            std::error_code sizeEc;
            const auto size = it->file_size(sizeEc);
            e.size = sizeEc ? 0 : size;
        }
        entries.push_back(std::move(e));
    }
    if (ec) {
        m_problem = folder.string() + ": " + ec.message();
        return;
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        if (a.folder != b.folder) return a.folder;
        return a.name < b.name;
    });
    m_folder = fs::absolute(folder, ec).lexically_normal();
    if (ec) m_folder = folder;
    m_entries = std::move(entries);
    m_truncated = truncated;
    m_problem.clear();
}

std::optional<fs::path> FilePicker::enter(const std::string& name) {
    if (name == "..") {
        if (m_folder.has_parent_path() && m_folder != m_folder.root_path()) list(m_folder.parent_path());
        return std::nullopt;
    }
    auto e = std::find_if(m_entries.begin(), m_entries.end(), [&](const Entry& x) { return x.name == name; });
    if (e == m_entries.end()) {
        m_problem = name + ": not in " + m_folder.string();
        return std::nullopt;
    }
    if (e->folder) {
        list(m_folder / e->name);
        return std::nullopt;
    }
    if (m_folderTarget) {
        m_problem.clear();  // a file shown in a folder target only says what is there
        return std::nullopt;
    }
    m_open = false;
    return m_folder / e->name;
}

bool FilePicker::go(const fs::path& place) {
    for (const auto& p : m_places)
        if (p.path == place) {
            list(place);
            return m_problem.empty();
        }
    return false;
}

fs::path FilePicker::pickFolder(const std::string& fileName) {
    m_open = false;
    return fileName.empty() ? m_folder : m_folder / fileName;
}

}  // namespace xs::ui
