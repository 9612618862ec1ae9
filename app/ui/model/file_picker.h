// The client's file dialog, window-free: a folder's listing, the places a person starts from (the
// home folder, mounted USB sticks) and what choosing a row means. The views draw it as a modal
// (app/ui/views.cpp); the controller opens it for a path field (Browse) and applies a choice
// (Select{ListId::File | ListId::Place}, PickFolder, ClosePicker) by setting that field.
//
// Two kinds of target: a file to read (evidence, a receipt, an enrolment file: choosing a file
// is the answer) and a place to write or a store folder (a handover bundle, an identity file, a
// store: the folder shown is the answer, with the file name the field already had).
//
// Thread-safety: UI thread only. Listing a folder reads the file system on that thread: it is
// bounded (kMaxEntries) so that a folder of a million files does not stall a frame for long.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xs::ui {

class FilePicker {
public:
    static constexpr std::size_t kMaxEntries = 5000;  // more in one folder: the first ones, and `truncated`

    struct Entry {
        std::string name;
        bool folder = false;
        std::uintmax_t size = 0;  // bytes, files only
    };
    struct Place {
        std::string labelKey;  // string-table key: "picker.home", "picker.usb"
        std::filesystem::path path;
    };

    // Opens on the folder of `current` (a path the field holds) when it exists, else `home`.
    // `folderTarget`: the answer is a folder (PickFolder) rather than a file.
    void open(const std::string& current, bool folderTarget, const std::filesystem::path& home);
    void close() { m_open = false; }
    bool isOpen() const { return m_open; }
    bool folderTarget() const { return m_folderTarget; }

    // Into a sub-folder of the listing, ".." up; a file of the listing is the answer (returned;
    // the picker closes). nullopt: moved (or nothing of that name: problem() says so).
    std::optional<std::filesystem::path> enter(const std::string& name);
    // To one of places() by its path.
    bool go(const std::filesystem::path& place);
    // The answer of a folder target: the folder shown, joined with `fileName` when that is not
    // empty (the name the field held: a bundle's, an identity file's). Closes the picker.
    std::filesystem::path pickFolder(const std::string& fileName);

    const std::filesystem::path& folder() const { return m_folder; }
    const std::vector<Entry>& entries() const { return m_entries; }  // folders first, each part by name
    const std::vector<Place>& places() const { return m_places; }
    bool truncated() const { return m_truncated; }
    const std::string& problem() const { return m_problem; }  // the folder could not be read: the OS's words

private:
    void list(const std::filesystem::path& folder);
    void findPlaces(const std::filesystem::path& home);

    bool m_open = false;
    bool m_folderTarget = false;
    bool m_truncated = false;
    std::filesystem::path m_folder;
    std::vector<Entry> m_entries;
    std::vector<Place> m_places;
    std::string m_problem;
};

}  // namespace xs::ui
