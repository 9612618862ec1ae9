// The desktop client's string table (assets/i18n/strings.json): every text a view shows, keyed,
// in Chinese (the default) and English. Views never hold literals; they ask this table by key.
//
// label(key) gives "文字###key": the visible text changes with the language, the ImGui id stays
// the key's, so layout, focus and open state survive a language switch.
//
// Thread-safety: read from the UI thread only (the language is switched there, between frames).
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include "app/error.h"

namespace xs::ui {

enum class Lang { Zh, En };
const char* langCode(Lang lang);  // "zh" | "en"
std::optional<Lang> parseLang(std::string_view code);

class Strings {
public:
    // Parses the table; Failed with the key and problem when an entry lacks a language.
    static app::AResult<Strings> parse(std::string_view json);
    static app::AResult<Strings> load(const std::filesystem::path& file);
    // assets/i18n/strings.json beside an installed binary, else the source tree's.
    static std::filesystem::path defaultFile();

    void setLang(Lang lang) { m_lang = lang; }
    Lang lang() const { return m_lang; }

    // The text in the current language; a missing key shows as itself (and is counted).
    const char* text(std::string_view key) const;
    // "文字###key", for widgets whose id must not change with the language.
    const char* label(std::string_view key) const;
    // text(key) with each "{name}" replaced by its value.
    std::string format(std::string_view key, const std::vector<std::pair<std::string, std::string>>& args) const;

    bool has(std::string_view key) const { return m_entries.count(std::string(key)) != 0; }
    // Every text of both languages (for the font's glyph ranges).
    std::vector<std::string> allTexts() const;
    std::vector<std::string> keys() const;
    std::size_t missingLookups() const { return m_missing.size(); }

private:
    struct Entry {
        std::string zh, en, zhLabel, enLabel;
    };
    std::map<std::string, Entry, std::less<>> m_entries;
    mutable std::map<std::string, std::string, std::less<>> m_missing;  // key -> shown text
    Lang m_lang = Lang::Zh;
};

}  // namespace xs::ui
