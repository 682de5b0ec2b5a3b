#include "support/Colour.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace ntbox {
namespace {

constexpr std::string_view kStop = "\x1b[1;31m";  // bold red
constexpr std::string_view kError = "\x1b[31m";
constexpr std::string_view kWarning = "\x1b[33m";
constexpr std::string_view kReset = "\x1b[0m";

bool Has(std::string_view line, std::string_view part) { return line.find(part) != std::string_view::npos; }

// The colour of one line (without its newline), or empty.
std::string_view ColourOf(std::string_view line, bool error) {
  if (line.starts_with("*** STOP:") || line.starts_with("ntbox: the machine stopped with") ||
      Has(line, ": the machine stopped with ")) {
    return kStop;
  }
  if (Has(line, "the machine restarted after") || Has(line, "warning:")) return kWarning;
  // Windows' own failure lines (sc, reg, DeviceIoControl) and ntbox's errors on stderr.
  if (line.starts_with("ERROR:") || (line.starts_with("[SC]") && Has(line, "FAILED")) || Has(line, " FAILED ")) {
    return kError;
  }
  if (error && line.starts_with("ntbox") && Has(line, ": ") && !line.starts_with("ntbox: (")) return kError;
  return {};
}

std::string Colour(std::string_view text, bool error) {
  std::string out;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    const std::string_view colour = ColourOf(line, error);
    if (colour.empty() || line.empty()) {
      out += line;
    } else {
      out += colour;
      out += line;
      out += kReset;
    }
    if (end == std::string_view::npos) break;
    out += '\n';
    text.remove_prefix(end + 1);
  }
  return out;
}

}  // namespace

bool ColourWanted(int fd) {
  const char* no = std::getenv("NO_COLOR");
  if (no && *no) return false;
  const char* term = std::getenv("TERM");
  if (term && std::string_view(term) == "dumb") return false;
  return ::isatty(fd) == 1;
}

std::string ColourText(std::string_view text, int fd) {
  return ColourWanted(fd) ? Colour(text, fd == STDERR_FILENO) : std::string(text);
}

void PrintError(std::string_view text) {
  std::fflush(stdout);
  std::fputs(ColourText(text, STDERR_FILENO).c_str(), stderr);
}

std::string LineColourer::Feed(std::string_view chunk) {
  if (!on_) return std::string(chunk);
  pending_ += chunk;
  const auto end = pending_.rfind('\n');
  if (end == std::string::npos) return {};
  std::string out = Colour(std::string_view(pending_).substr(0, end + 1), fd_ == STDERR_FILENO);
  pending_.erase(0, end + 1);
  return out;
}

std::string LineColourer::Flush() {
  std::string out = on_ ? Colour(pending_, fd_ == STDERR_FILENO) : std::string();
  pending_.clear();
  return out;
}

}  // namespace ntbox
