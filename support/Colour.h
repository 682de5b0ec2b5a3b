// Colour where a person reads: on a terminal, stops and errors in red, warnings in yellow; never in
// a pipe or a file, nor with NO_COLOR set (no-color.org) or TERM=dumb. Colour goes by whole lines,
// so a line split across writes is held until its end.
#pragma once
#include <string>
#include <string_view>

namespace ntbox {

// Whether text written to fd (1 or 2) gets colour.
bool ColourWanted(int fd);
// text (whole lines) as it should reach fd: coloured when ColourWanted(fd), unchanged otherwise.
std::string ColourText(std::string_view text, int fd);
// fputs to stderr, coloured.
void PrintError(std::string_view text);

// For a stream that arrives in pieces (the server's answer): Feed returns the complete lines so far,
// coloured; Flush the rest.
class LineColourer {
 public:
  explicit LineColourer(int fd) : fd_(fd), on_(ColourWanted(fd)) {}
  std::string Feed(std::string_view chunk);
  std::string Flush();

 private:
  int fd_;
  bool on_;
  std::string pending_;
};

}  // namespace ntbox
