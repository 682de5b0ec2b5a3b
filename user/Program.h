// A Win32 console program running as a process of the machine (ntbox run) on Wine's DLLs: its image
// and ntdll in the process's user range, its stack, TEB and PEB there too, its console (the client's
// descriptors behind \Device\ConDrv) and its threads. Its system calls go through the machine's
// SystemGate, so a driver fault during one bugchecks the machine while a fault in the program only
// ends the program.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cpu/UserMode.h"
#include "nt/io/IoServices.h"
#include "nt/ps/Process.h"
#include "nt/ps/ProcessParameters.h"
#include "nt/ps/UserThreads.h"
#include "pe/PeLoader.h"
#include "support/FunctionRef.h"
#include "support/Result.h"
#include "user/Console.h"
#include "user/SystemCall.h"

namespace ntbox::user {

class Program;

// The machine as its programs see it.
class SystemGate {
 public:
  virtual ~SystemGate() = default;
  // How programs enter the kernel: the machine runs call for the process under its lock, guarded.
  // False when the machine has stopped with a bugcheck (during this call or before).
  virtual bool Call(nt::ps::Process& process, FunctionRef<void()> call) = 0;
  // Runs a program another program started (NtCreateUserProcess) on a thread of its own until it
  // ends; the machine ends it at shutdown. Called under the kernel lock.
  virtual void StartProgram(std::unique_ptr<Program> program) = 0;
  // A process whose handles cannot close because the machine stopped (no driver code runs again):
  // the machine keeps it and frees its address space once the kernel's threads are gone.
  virtual void Abandon(std::unique_ptr<nt::ps::Process> process) = 0;
};

// The host file descriptors that are the program's console (not owned).
struct StdIo {
  int in = 0, out = 1, err = 2;
};

struct ProgramOptions {
  std::filesystem::path hostPath;  // the .exe on the host
  std::string name;                // argv[0] as the program sees it
  std::vector<std::string> args;   // argv[1..]
  std::string currentDirectory;    // a Win32 path (Z:\home\me, C:\...)
  StdIo stdio;
  // A program another program started (NtCreateUserProcess): its parameters as its creator gave
  // them (command line, environment, standard handles ...), its creator's id, and the console it
  // shares with its creator (nullptr: none). Its handles come from its creator, not from stdio.
  struct Child {
    nt::ps::ProcessParameters parameters;
    nt::ULONG parentId = 0;
    std::shared_ptr<Console> console;
    std::shared_ptr<HostFileOpener> hostFiles;  // its creator's: the same client opens its files
  };
  std::optional<Child> child;
};

// What the end of a program looks like to its caller.
struct ProgramExit {
  cpu::UserExit exit;
  std::uint32_t exitCode = 0;  // what GetExitCodeProcess says
  // For an exception: a line that says what happened and where (module+offset).
  std::string description;
};

// Threads: the thread that calls Run is the program's first; the others (CreateThread, on Wine's
// DLLs) run on host threads of their own (ProgramThreads.cpp). The process ends when a thread ends
// it (ExitProcess, an unhandled exception, Ctrl-C) or its last thread ends; Run returns once every
// thread has.
class Program : private nt::ps::ThreadHost {
 public:
  // Maps the image and prepares the process; refuses (with every missing DLL!function) a program
  // whose imports ntbox cannot satisfy, before any of its code runs.
  static Result<std::unique_ptr<Program>> Load(const ProgramOptions& options, SystemGate& gate);
  ~Program() override;
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  // Runs the program on the calling thread until it ends; then closes its handles (drivers get
  // IRP_MJ_CLEANUP and IRP_MJ_CLOSE). Call once.
  ProgramExit Run();
  // From any thread: ends the program with code (STATUS_CONTROL_C_EXIT for Ctrl-C). Call again
  // until Run returns: a program inside a DLL function ends when that function returns.
  void Terminate(std::uint32_t code);
  // From any thread: Ctrl-C (CTRL_C_EVENT 0) or Ctrl-Break (1) as its console delivers it, to the
  // program's handlers (SetConsoleCtrlHandler) on a thread of its own, as Windows does; the
  // default handler ends the program with STATUS_CONTROL_C_EXIT. False when the program has no
  // console handlers (it is not on Wine's DLLs, or has not got that far): end it instead.
  bool Interrupt(std::uint32_t event);
  // ntbox run's session is the program and every program on its console (the ones it started that
  // share it): EndSession ends them all, as closing a console window does; WaitForSession returns
  // once every one has ended (after Run).
  void EndSession(std::uint32_t code);
  void WaitForSession();

  nt::ps::Process& process() { return *process_; }
  SystemGate& gate() { return gate_; }
  const StdIo& stdio() const { return options_.stdio; }
  const ProgramOptions& options() const { return options_; }
  const pe::LoadedImage& image() const { return *image_; }
  std::string Win32Path() const;  // the image's path as the program sees it: Z:\home\...
  std::uint64_t teb() const { return teb_; }
  // Runs a system service for the program through the machine's gate; ends the program when the
  // machine has stopped.
  void Syscall(FunctionRef<void()> call);

  // Imports that Wine's DLLs have only as stubs (calling one raises an exception): DLL!function.
  const std::vector<std::string>& stubImports() const { return stubImports_; }

 private:
  Program(const ProgramOptions& options, SystemGate& gate) : options_(options), gate_(gate) {}
  Result<void> Prepare();
  std::string Describe(const cpu::UserExit& exit) const;

  ProgramOptions options_;
  SystemGate& gate_;
  std::unique_ptr<nt::ps::Process> process_;
  std::unique_ptr<pe::LoadedImage> image_;
  // Every program runs on the NT system-call layer beside Wine's ntdll. One that imports only
  // ntdll.dll (a native program) starts at its entry point; the others are started by ntdll's
  // LdrInitializeThunk and load Wine's DLLs.
  bool wine_ = false;
  Result<void> PrepareWineProcess();
  std::uint64_t startContext_ = 0;  // the CONTEXT LdrInitializeThunk starts from
  std::uint64_t params_ = 0;        // RTL_USER_PROCESS_PARAMETERS
  // The standard handles: file objects over the client's descriptors, in the process's table.
  void OpenStandardHandles();
  std::unique_ptr<pe::LoadedImage> ntdll_;
  std::shared_ptr<const ServiceBinding> binding_;
  SystemCallFrame frame_;
  std::uint64_t stackBottom_ = 0, stackTop_ = 0, guardPage_ = 0;
  std::uint64_t teb_ = 0, peb_ = 0, tlsArray_ = 0;
  std::vector<std::string> stubImports_;
  std::string commandLine_;

  // A thread beyond the first (ProgramThreads.cpp).
  struct Thread {
    std::uint64_t id = 0;
    void* object = nullptr;  // its thread object (the runner's reference)
    nt::ps::ThreadControl* control = nullptr;
    std::uint64_t teb = 0, stack = 0, stackTop = 0, startContext = 0;
    SystemCallFrame frame;
    nt::ke::KernelThread* kernel = nullptr;  // while its code runs
    unsigned long pthread = 0;
    bool running = true;  // until its code has ended
    std::optional<std::uint32_t> endRequested;  // asked to end before it was attached
    std::thread host;
  };
  std::expected<void*, nt::NTSTATUS> CreateThread(const Request& request) override;
  std::expected<CreatedProcess, nt::NTSTATUS> CreateProcess(const ProcessRequest& request) override;
  // The first thread's object, made before Run for a process whose creator gets a handle to it
  // (suspended until resumed); Run makes it otherwise.
  void* CreateFirstThread(bool suspended);
  void OpenOwnConsole();
  // A handle of the process to its console's file name (\\Device\\ConDrv\\...), inheritable; 0
  // when it cannot be opened.
  std::uint64_t OpenConsoleHandle(std::u16string_view name);
  // Writes the console handle and, where standard(i) gives one, standard handle i into the
  // process parameters.
  void WriteConsoleHandles(std::uint64_t console, FunctionRef<std::optional<std::uint64_t>(int)> standard);
  nt::ps::ThreadControl* mainControl_ = nullptr;
  std::size_t LiveThreads() override;
  void TerminateOtherThreads(nt::NTSTATUS status) override;
  void* ThreadById(std::uint64_t id) override;
  nt::NTSTATUS TerminateThread(std::uint64_t id, nt::NTSTATUS status) override;
  void SuspendThread(std::uint64_t id) override;
  void ZeroTlsCell(nt::ULONG index) override;
  void TerminateProcess(nt::NTSTATUS status) override { Terminate(static_cast<std::uint32_t>(status)); }
  void ImageMapped(const pe::LoadedImage& image) override;
  // A console control event's thread: ntdll's __wine_ctrl_routine(event) runs the handlers.
  void StartControlThread(std::uint32_t event);
  std::shared_ptr<Console> console_;
  void AttachToConsole();
  bool ctrlHandlers_ = false;  // Windows' default handler is registered (ImageMapped)
  void RunThread(Thread& thread);
  // The TEB fields Windows' kernel sets for a thread on Wine's DLLs.
  void InitializeTeb(std::uint64_t teb, std::uint64_t stackTop, std::uint64_t stackBottom, std::uint64_t guard);
  // RtlUserThreadStart(start, argument) as the CONTEXT LdrInitializeThunk starts from, just below
  // stackTop; returns its address.
  std::uint64_t WriteStartContext(std::uint64_t stackTop, std::uint64_t start, std::uint64_t argument);
  // A thread ended the process (exit is how): the first one decides Run's result; every other
  // thread is asked to end.
  void EndProcess(const ProgramExit& exit);
  // Asks every thread but the caller to end with code, and returns once their code has ended.
  void EndOtherThreads(std::uint32_t code);
  void JoinThreads();
  std::mutex threadsMutex_;
  std::vector<std::unique_ptr<Thread>> threads_;
  void* mainThreadObject_ = nullptr;
  bool mainRunning_ = false;
  std::optional<ProgramExit> processExit_;
  std::uint32_t lastThreadStatus_ = 0;

  std::mutex runMutex_;
  nt::ke::KernelThread* runThread_ = nullptr;
  unsigned long runPthread_ = 0;
  bool terminateBeforeRun_ = false;
  std::uint32_t terminateCode_ = 0;
  bool ran_ = false;
};

}  // namespace ntbox::user
