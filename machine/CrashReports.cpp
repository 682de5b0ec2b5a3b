#include "machine/CrashReports.h"

#include <charconv>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <regex>

#include <fmt/format.h>

namespace ntbox::machine {

namespace fs = std::filesystem;

std::optional<std::string> ReadCrash(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

CrashFacts ParseCrash(const std::string& text) {
  static const std::regex kStop(R"(\*\*\* STOP: 0x([0-9A-F]+) \([^)]*\) ?([A-Z0-9_]*))");
  static const std::regex kModule(R"(\nMODULE_NAME: (\S+))");
  static const std::regex kImage(R"(\nIMAGE_NAME: +(\S+))");
  CrashFacts f;
  std::smatch s;
  if (std::regex_search(text, s, kStop)) {
    std::uint32_t code = 0;
    const std::string hex = s[1].str();
    if (std::from_chars(hex.data(), hex.data() + hex.size(), code, 16).ptr == hex.data() + hex.size()) f.code = code;
    f.name = s[2].str();
  }
  if (std::regex_search(text, s, kModule)) f.module = s[1].str();
  if (std::regex_search(text, s, kImage)) f.image = s[1].str();
  return f;
}

std::string CrashSummary(const std::string& report) {
  const CrashFacts f = ParseCrash(report);
  if (!f.code) return "a bugcheck";
  std::string out = fmt::format("0x{:08X}", *f.code);
  if (!f.name.empty()) out += " " + f.name;
  if (!f.image.empty()) out += " in " + f.image;
  return out;
}

std::vector<CrashEntry> ListCrashes(const fs::path& crashes) {
  static const std::regex kName(R"((\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})-([0-9a-f]+)(-\d+)?\.txt)");
  std::vector<CrashEntry> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(crashes, ec)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (!std::regex_match(name, m, kName)) continue;
    CrashEntry c;
    c.file = e.path();
    c.time = m[1].str() + "-" + m[2].str() + "-" + m[3].str() + " " + m[4].str() + ":" + m[5].str() + ":" + m[6].str();
    // The name is the folder's, not necessarily ntbox's: a code too long for 32 bits is no report.
    const std::string code = m[7].str();
    if (std::from_chars(code.data(), code.data() + code.size(), c.code, 16).ptr != code.data() + code.size()) continue;
    if (const auto text = ReadCrash(e.path())) {
      const CrashFacts f = ParseCrash(*text);
      c.name = f.name;
      c.module = f.module;
    }
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.file.filename().string() < b.file.filename().string();
  });
  return out;
}

}  // namespace ntbox::machine
