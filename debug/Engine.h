// The debugger engine (the part of ntbox that dbgeng is to WinDbg): WinDbg's commands over the
// machine this process runs, in WinDbg's output formats. Front ends (ntbox kd, ntbox gdbserver)
// hand it lines and show what it prints.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "debug/Session.h"

namespace ntbox::debug {

class Engine {
 public:
  // Attaches to the machine (the caller checked that none is); the destructor detaches: every
  // breakpoint goes and whatever is stopped runs on.
  Engine(Session::Output out, Session::Waiter wait);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // One line as typed: commands separated by ';' run in order; an unknown or malformed command
  // prints WinDbg's kind of error and the rest of the line still runs. False once q or qd ended
  // the session.
  // echo: each command is printed after the prompt first, as a log of the session shows it (for
  // a front end without a terminal).
  bool Execute(std::string_view line, bool echo = false);
  // "kd> ", or "0: kd> " with the processor's number while broken in.
  std::string Prompt() const;
  Session& session() { return *session_; }

 private:
  void Run(std::string_view command);
  std::unique_ptr<Session> session_;
};

}  // namespace ntbox::debug
