// The machine's bugcheck reports as `ntbox crash` lists them: crashes/ holds one text report per
// stop (named by time and code) and last.txt, a copy of the newest.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ntbox::machine {

struct CrashEntry {
  std::filesystem::path file;
  std::string time;      // "2026-11-21 14:57:12"
  std::uint32_t code = 0;
  std::string name;      // IRQL_NOT_LESS_OR_EQUAL
  std::string module;    // the driver the report blames, if any
};

// Oldest first.
std::vector<CrashEntry> ListCrashes(const std::filesystem::path& crashes);
// One line for a report: "0x0000000A IRQL_NOT_LESS_OR_EQUAL in mydrv.sys" (the stop code, its name
// and the image the report blames, when it blames one).
std::string CrashSummary(const std::string& report);
// What a report's last lines say: its stop code (nullopt when it names none), name and image.
struct CrashFacts {
  std::optional<std::uint32_t> code;
  std::string name, module, image;
};
CrashFacts ParseCrash(const std::string& report);
// Left in crashes/ by a stop, taken by the next boot, which says what ended the last run.
inline constexpr const char* kUnseenCrashMarker = "unseen";
std::optional<std::string> ReadCrash(const std::filesystem::path& file);

}  // namespace ntbox::machine
