#include "app/ui/model/strings.h"

#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

namespace xs::ui {

const char* langCode(Lang lang) { return lang == Lang::Zh ? "zh" : "en"; }

std::optional<Lang> parseLang(std::string_view code) {
    if (code == "zh" || code == "zh-CN") return Lang::Zh;
    if (code == "en") return Lang::En;
    return std::nullopt;
}

app::AResult<Strings> Strings::parse(std::string_view json) {
    nlohmann::json doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        return xs::fail(app::AppError::Failed, "the string table is not a JSON object");
    Strings s;
    for (const auto& [key, value] : doc.items()) {
        if (!value.is_object() || !value.contains("zh") || !value.contains("en") || !value["zh"].is_string() ||
            !value["en"].is_string())
            return xs::fail(app::AppError::Failed, "string table entry \"" + key + "\" needs \"zh\" and \"en\" texts");
        Entry e;
        e.zh = value["zh"].get<std::string>();
        e.en = value["en"].get<std::string>();
        e.zhLabel = e.zh + "###" + key;
        e.enLabel = e.en + "###" + key;
        s.m_entries.emplace(key, std::move(e));
    }
    return s;
}

app::AResult<Strings> Strings::load(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return xs::fail(app::AppError::NotFound, "cannot read the string table " + file.string());
    std::ostringstream text;
    text << in.rdbuf();
    auto s = parse(text.str());
    if (!s) return xs::fail(s.error().code, file.string() + ": " + s.error().message);
    return s;
}

std::filesystem::path Strings::defaultFile() {
    std::error_code ec;
    std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto installed = exe.parent_path().parent_path() / "share/xunshen/i18n/strings.json";
        if (std::filesystem::exists(installed, ec)) return installed;
    }
    return std::filesystem::path(XS_ASSETS_DIR) / "i18n/strings.json";
}

const char* Strings::text(std::string_view key) const {
    auto it = m_entries.find(key);
    if (it == m_entries.end()) return m_missing.try_emplace(std::string(key), std::string(key)).first->second.c_str();
    return m_lang == Lang::Zh ? it->second.zh.c_str() : it->second.en.c_str();
}

const char* Strings::label(std::string_view key) const {
    auto it = m_entries.find(key);
    if (it == m_entries.end()) {
        std::string k(key);
        return m_missing.try_emplace(k + "###", k + "###" + k).first->second.c_str();
    }
    return m_lang == Lang::Zh ? it->second.zhLabel.c_str() : it->second.enLabel.c_str();
}

std::string Strings::format(std::string_view key, const std::vector<std::pair<std::string, std::string>>& args) const {
    std::string out = text(key);
    for (const auto& [name, value] : args) {
        const std::string slot = "{" + name + "}";
        for (std::size_t at = out.find(slot); at != std::string::npos; at = out.find(slot, at + value.size()))
            out.replace(at, slot.size(), value);
    }
    return out;
}

std::vector<std::string> Strings::allTexts() const {
    std::vector<std::string> out;
    for (const auto& [key, e] : m_entries) {
        out.push_back(e.zh);
        out.push_back(e.en);
    }
    return out;
}

std::vector<std::string> Strings::keys() const {
    std::vector<std::string> out;
    for (const auto& [key, e] : m_entries) out.push_back(key);
    return out;
}

}  // namespace xs::ui
