// A program starting another (CreateProcess on Wine's DLLs reaches NtCreateUserProcess, which asks
// the creator's runner here): the new program is loaded as ntbox run loads one, with its
// creator's parameters, inherits its creator's inheritable handles at the same values, shares its
// creator's console, and runs on a thread the machine gives it once its creator resumes it.
#include <fmt/format.h>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/kd/DebugPrint.h"
#include "nt/ob/Object.h"
#include "support/Utf16.h"
#include "user/Program.h"

namespace ntbox::user {

std::expected<nt::ps::ThreadHost::CreatedProcess, nt::NTSTATUS> Program::CreateProcess(const ProcessRequest& request) {
  const nt::ps::ProcessParameters& parameters = request.parameters;
  ProgramOptions options;
  options.hostPath = request.hostPath;
  options.name = request.hostPath.filename().string();
  options.currentDirectory = Utf16ToUtf8(parameters.currentDirectory);
  ProgramOptions::Child child;
  child.parameters = parameters;
  child.parentId = process_->id();
  nt::ob::HandleTable& creatorHandles = process_->handles();
  // The console its ConsoleHandle names, when that is a handle of the creator's to a console.
  if (auto entry = creatorHandles.Reference(parameters.consoleHandle)) {
    child.console = ConsoleOfFile(entry->body);
    nt::ob::DereferenceObject(entry->body);
  }
  options.child = std::move(child);
  auto loaded = Program::Load(options, gate_);
  if (!loaded) {
    // Said where the developer looks (DebugView), as the creator only gets a status.
    nt::Kernel::Current().DebugOutput(nt::kNtboxComponent, 0,
                                      fmt::format("{}: CreateProcess of {} refused: {}\n", options_.name,
                                                  request.hostPath.string(), loaded.error().message));
    const auto status = static_cast<nt::NTSTATUS>(loaded.error().ntstatus);
    return std::unexpected(status < 0 ? status : nt::STATUS_INVALID_IMAGE_FORMAT);
  }
  Program& program = **loaded;
  nt::ob::HandleTable& handles = program.process().handles();
  if (request.inheritHandles) {
    if (request.handleList) {
      for (const std::uint64_t value : *request.handleList) {
        auto entry = creatorHandles.Reference(value);
        if (!entry) continue;
        if (entry->attributes & nt::ob::kHandleInherit) {
          (void)handles.InsertAt(value, entry->body, entry->access, entry->attributes);
        }
        nt::ob::DereferenceObject(entry->body);
      }
    } else {
      handles.Inherit(creatorHandles);
    }
  }
  // On its creator's console it has its own handles to it, inherited or not: the console handle
  // and the standard handles that are the console's, at the values its parameters give.
  if (const auto& console = program.options().child->console) {
    std::array<std::uint64_t, 4> values{parameters.consoleHandle, parameters.standardHandles[0],
                                        parameters.standardHandles[1], parameters.standardHandles[2]};
    for (const std::uint64_t value : values) {
      auto entry = creatorHandles.Reference(value);
      if (!entry) continue;
      if (ConsoleOfFile(entry->body) == console) {
        (void)handles.InsertAt(value, entry->body, entry->access, entry->attributes);
      }
      nt::ob::DereferenceObject(entry->body);
    }
  }
  // On the console from now on: its ntbox run waits for it even if it has not begun to run.
  program.AttachToConsole();
  CreatedProcess created;
  created.thread = program.CreateFirstThread(true);
  created.process = program.process().object();
  nt::ob::ReferenceObject(created.process);
  gate_.StartProgram(std::move(*loaded));
  return created;
}

}  // namespace ntbox::user
