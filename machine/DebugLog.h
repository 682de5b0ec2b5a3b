// The machine's debug-output log: every DbgPrint record, one line each, appended as it is printed
// and rotated at a size bound (debug.log → debug.log.1), so `dbgview` can show what was printed
// before it started. Sequence numbers continue across boots.
#pragma once
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "nt/Kernel.h"

namespace ntbox::machine {

struct LoggedRecord {
  std::uint64_t sequence = 0;
  double seconds = 0;  // since that boot
  std::uint32_t component = 0;
  std::uint32_t level = 0;
  bool passed = true;
  std::string text;  // UTF-8
};

class DebugLog {
 public:
  static constexpr std::uint64_t kDefaultLimit = 4u << 20;
  explicit DebugLog(std::filesystem::path file, std::uint64_t limit = kDefaultLimit);
  ~DebugLog();
  DebugLog(const DebugLog&) = delete;
  DebugLog& operator=(const DebugLog&) = delete;

  // Appends (and numbers) a kernel record; returns it as logged.
  LoggedRecord Append(const nt::DebugRecord& record);
  // Everything still in the log files, oldest first.
  static std::vector<LoggedRecord> ReadAll(const std::filesystem::path& file);

  static std::string Encode(const LoggedRecord& r);
  static std::optional<LoggedRecord> Decode(std::string_view line);

 private:
  std::filesystem::path file_;
  std::uint64_t limit_;
  std::mutex mutex_;
  std::FILE* out_ = nullptr;
  std::uint64_t size_ = 0;
  std::uint64_t next_ = 1;
};

}  // namespace ntbox::machine
