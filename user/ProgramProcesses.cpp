// A program starting another (CreateProcess on Wine's DLLs reaches NtCreateUserProcess, which asks
// the creator's runner here): the new program is loaded as ntbox run loads one, with its
// creator's parameters, inherits its creator's inheritable handles at the same values, shares its
// creator's console, and runs on a thread the machine gives it once its creator resumes it.
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "nt/Kernel.h"
#include "nt/Status.h"
#include "nt/kd/DebugPrint.h"
#include "nt/ob/Object.h"
#include "support/Utf16.h"
#include "user/Program.h"

namespace ntbox::user {
namespace {

// RTL_USER_PROCESS_PARAMETERS.ConsoleHandle when the process is to allocate a console of its own
// (kernelbase's CONSOLE_HANDLE_ALLOC and CONSOLE_HANDLE_ALLOC_NO_WINDOW).
constexpr std::uint64_t kConsoleAlloc = ~std::uint64_t{0}, kConsoleAllocNoWindow = ~std::uint64_t{0} - 1;
constexpr std::uint32_t kStartfUseStdHandles = 0x100;

}  // namespace

// A process that was to allocate its console gets it from the kernel instead (kernelbase's
// allocation needs a conhost): its console handle, and console handles for the standard handles
// its creator did not give it.
void Program::OpenOwnConsole() {
  const nt::ps::ProcessParameters& p = options_.child->parameters;
  WriteConsoleHandles(OpenConsoleHandle(u"\\Device\\ConDrv\\CurrentIn"), [&](int i) -> std::optional<std::uint64_t> {
    if (p.startup[7] & kStartfUseStdHandles) return std::nullopt;
    return OpenConsoleHandle(i == 0 ? u"\\Device\\ConDrv\\Input" : u"\\Device\\ConDrv\\Output");
  });
}

std::expected<nt::ps::ThreadHost::CreatedProcess, nt::NTSTATUS> Program::CreateProcess(const ProcessRequest& request) {
  const nt::ps::ProcessParameters& parameters = request.parameters;
  ProgramOptions options;
  options.hostPath = request.hostPath;
  options.name = request.hostPath.filename().string();
  options.currentDirectory = Utf16ToUtf8(parameters.currentDirectory);
  ProgramOptions::Child child;
  child.parameters = parameters;
  child.parentId = process_->id();
  child.hostFiles = process_->hostFiles;
  nt::ob::HandleTable& creatorHandles = process_->handles();
  // The console its ConsoleHandle names, when that is a handle of the creator's to a console. One
  // of its own (CREATE_NEW_CONSOLE): ntbox shows every console window on the one terminal, its
  // creator's; one without a window (CREATE_NO_WINDOW) reads nothing and shows nothing.
  const bool ownConsole = parameters.consoleHandle == kConsoleAlloc || parameters.consoleHandle == kConsoleAllocNoWindow;
  if (ownConsole) {
    if (parameters.consoleHandle == kConsoleAlloc && console_) {
      child.console = console_;
    } else {
      const int none = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      child.console = std::make_shared<Console>(none, none);
      if (none >= 0) ::close(none);
    }
  } else if (auto entry = creatorHandles.Reference(parameters.consoleHandle)) {
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
  if (ownConsole) program.OpenOwnConsole();
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
