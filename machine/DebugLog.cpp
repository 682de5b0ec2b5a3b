#include "machine/DebugLog.h"

#include <algorithm>
#include <charconv>
#include <fstream>

#include <fmt/format.h>

#include "nt/rtl/Printf.h"

namespace ntbox::machine {

namespace fs = std::filesystem;

namespace {

fs::path Rotated(const fs::path& file) { return file.string() + ".1"; }

// The sequence number of the newest record: the last line of the log, or of its rotated part
// when the log is still empty. Reads a file's tail only: boot must not scan megabytes.
std::optional<std::uint64_t> LastSequence(const fs::path& file) {
  for (const fs::path& p : {file, Rotated(file)}) {
    std::ifstream in(p, std::ios::binary | std::ios::ate);
    if (!in) continue;
    const std::streamoff size = in.tellg();
    const std::streamoff start = std::max<std::streamoff>(0, size - 8192);  // > two longest records
    std::string tail(static_cast<std::size_t>(size - start), '\0');
    in.seekg(start);
    in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
    std::optional<std::uint64_t> last;
    std::size_t begin = tail.find('\n') + 1;  // skip a line cut by the tail's start
    if (start == 0) begin = 0;
    while (begin < tail.size()) {
      std::size_t end = tail.find('\n', begin);
      if (end == std::string::npos) break;  // a line still being written
      if (auto r = DebugLog::Decode(std::string_view(tail).substr(begin, end - begin))) last = r->sequence;
      begin = end + 1;
    }
    if (last) return last;
  }
  return std::nullopt;
}

}  // namespace

DebugLog::DebugLog(fs::path file, std::uint64_t limit) : file_(std::move(file)), limit_(limit) {
  if (const auto last = LastSequence(file_)) next_ = *last + 1;
  out_ = std::fopen(file_.c_str(), "a");
  std::error_code ec;
  size_ = fs::file_size(file_, ec);
  if (ec) size_ = 0;
}

DebugLog::~DebugLog() {
  if (out_) std::fclose(out_);
}

std::string DebugLog::Encode(const LoggedRecord& r) {
  std::string text;
  for (char c : r.text) {
    if (c == '\\') {
      text += "\\\\";
    } else if (c == '\n') {
      text += "\\n";
    } else if (c == '\r') {
      text += "\\r";
    } else if (c == '\t') {
      text += "\\t";
    } else {
      text += c;
    }
  }
  return fmt::format("{}\t{:.6f}\t{}\t{}\t{}\t{}\n", r.sequence, r.seconds, r.component, r.level, r.passed ? 1 : 0,
                     text);
}

std::optional<LoggedRecord> DebugLog::Decode(std::string_view line) {
  LoggedRecord r;
  std::string_view fields[6];
  for (int i = 0; i < 5; ++i) {
    const auto tab = line.find('\t');
    if (tab == std::string_view::npos) return std::nullopt;
    fields[i] = line.substr(0, tab);
    line.remove_prefix(tab + 1);
  }
  fields[5] = line;
  auto number = [](std::string_view s, auto& out) {
    return std::from_chars(s.data(), s.data() + s.size(), out).ec == std::errc{};
  };
  if (!number(fields[0], r.sequence) || !number(fields[2], r.component) || !number(fields[3], r.level)) {
    return std::nullopt;
  }
  try {
    r.seconds = std::stod(std::string(fields[1]));
  } catch (...) {
    return std::nullopt;
  }
  r.passed = fields[4] == "1";
  for (std::size_t i = 0; i < fields[5].size(); ++i) {
    const char c = fields[5][i];
    if (c == '\\' && i + 1 < fields[5].size()) {
      const char e = fields[5][++i];
      r.text += e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
    } else {
      r.text += c;
    }
  }
  return r;
}

LoggedRecord DebugLog::Append(const nt::DebugRecord& record) {
  std::lock_guard lock(mutex_);
  LoggedRecord r{next_++, record.seconds, record.component, record.level, record.passed,
                 nt::rtl::AnsiToUtf8(record.text)};
  const std::string line = Encode(r);
  if (size_ + line.size() > limit_ && out_) {
    std::fclose(out_);
    std::error_code ec;
    fs::rename(file_, Rotated(file_), ec);
    out_ = std::fopen(file_.c_str(), "w");
    size_ = 0;
  }
  if (out_) {
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fflush(out_);  // a crash of the machine must not lose what the driver printed
    size_ += line.size();
  }
  return r;
}

std::vector<LoggedRecord> DebugLog::ReadAll(const fs::path& file) {
  std::vector<LoggedRecord> out;
  for (const fs::path& p : {Rotated(file), file}) {
    std::ifstream in(p);
    std::string line;
    while (std::getline(in, line)) {
      if (auto r = Decode(line)) out.push_back(std::move(*r));
    }
  }
  return out;
}

}  // namespace ntbox::machine
