// WPP's trace message format files (.tmf, what tracepdb extracts from a driver's PDB): for each
// message GUID the module's name and, per message number, the format string and its arguments'
// item types. tracefmt formats a WmiTraceMessage event with them, as tracefmt.exe -tmf/-p does.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nt/etw/Etw.h"
#include "support/Result.h"

namespace ntbox::nt::etw {

struct TmfMessage {
  std::string module;    // the GUID line's name (the driver's)
  std::string location;  // the #typev name: source file and line, "driver_c123"
  std::string function;  // FUNC= in the comment, when given
  std::string format;    // the format string, %0 dropped; %10… are the arguments
  std::vector<std::string> items;  // the arguments' item types (ItemLong, ItemString …), %10 first
};

class TmfSet {
 public:
  // Adds the messages of one file's text; an error naming the line for a malformed one.
  Result<void> Add(std::string_view text, std::string_view origin);
  const TmfMessage* Find(const GUID& guid, USHORT number) const;
  std::size_t size() const { return messages_.size(); }

 private:
  std::map<std::pair<std::string, USHORT>, TmfMessage> messages_;  // by lower-case GUID text
};

// A WPP event's message text: the format with each %N!spec! replaced (arguments by their item
// type and printf spec; %1 the module, %2 the location, %3 the thread, %4 the time, %7 the
// sequence, %8 the process, %9 the processor).
std::string FormatWppMessage(const TmfMessage& message, const Event& event);

}  // namespace ntbox::nt::etw
